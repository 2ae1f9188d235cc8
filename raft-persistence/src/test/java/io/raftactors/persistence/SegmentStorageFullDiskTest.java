package io.raftactors.persistence;

import static io.raftactors.persistence.SegmentStorageTest.recover;
import static io.raftactors.persistence.SegmentStorageTest.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.raftactors.actor.InMemoryStorage;
import io.raftactors.actor.RaftStorage;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.DurableState;
import io.raftactors.core.EntryData;
import io.raftactors.core.HardState;
import io.raftactors.core.LogEntry;
import io.raftactors.core.Snapshot;
import io.raftactors.core.SnapshotMeta;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link SegmentStorage} on a disk that fills up ({@link FullDisk}): a write that finds no space
 * fails with the cause and so does every later one until recovery; nothing half-made is left in
 * the directory (a failed preallocation, a failed new segment, a failed snapshot file), so that
 * recovery reads exactly the writes that were acknowledged, on the full disk and once space is back.
 */
class SegmentStorageFullDiskTest {
  private static final ClusterConfig THREE = ClusterConfig.of("n1", "n2", "n3");
  private static final int SEGMENT = 8192;

  @TempDir
  Path dir;

  /** The cause of a write that must fail. */
  static Throwable failedWrite(RaftStorage s, RaftStorage.Write w) {
    return assertThrows(ExecutionException.class, () -> write(s, w), "the write succeeded").getCause();
  }

  private static RaftStorage.Write entryWrite(long index) {
    byte[] data = new byte[200];
    java.util.Arrays.fill(data, (byte) index);
    return new RaftStorage.Write(new HardState(1, "n1"), 0, List.of(new LogEntry(index, 1, new EntryData.Command(33, "kv", data))));
  }

  /** Files of the log other than segments, snapshots and its lock: what a failed write must not leave. */
  private List<String> strayFiles() throws IOException {
    try (var files = Files.walk(dir)) {
      return files.filter(Files::isRegularFile).map(p -> dir.relativize(p).toString())
          .filter(n -> !n.matches("segment-\\d{20}\\.log") && !n.matches("g-n1/snapshot-\\d{20}-\\d+\\.bin") && !n.equals("lock"))
          .sorted().toList();
    }
  }

  /** The storage and a model holding the acknowledged writes, after the founding write. */
  private record Opened(SegmentStorage storage, InMemoryStorage model) {}

  private Opened open(FullDisk disk) throws Exception {
    SegmentStorage s = new SegmentStorage(dir, SEGMENT, true, THREE, "g-n1", disk);
    recover(s);
    write(s, new RaftStorage.Write(null, 0, DurableState.bootstrap(THREE).entries()));
    return new Opened(s, new InMemoryStorage(THREE));
  }

  /**
   * Writes entries from {@code from} until one fails; each acknowledged one goes to the model too.
   * Returns the failure's cause and the index of the entry that was not written.
   */
  private static long writeUntilFailure(Opened o, long from, Throwable[] cause) throws Exception {
    for (long i = from; i < from + 2000; i++) {
      RaftStorage.Write w = entryWrite(i);
      try {
        write(o.storage(), w);
      } catch (ExecutionException e) {
        cause[0] = e.getCause();
        return i;
      }
      o.model().write(w);
    }
    return fail("2000 writes on a full disk all succeeded");
  }

  /**
   * Plain file system: writes go on into the preallocated active segment; the first one that needs
   * a new segment fails. Copy-on-write: the first write past the space left fails, after writing
   * part of its record.
   */
  @ParameterizedTest(name = "copy-on-write {0}")
  @ValueSource(booleans = {false, true})
  void aWriteOnAFullDiskFails_soDoLaterOnes_andRecoveryGivesExactlyTheAcknowledgedWrites(boolean copyOnWrite) throws Exception {
    FullDisk disk = new FullDisk(copyOnWrite);
    Opened o = open(disk);
    for (long i = 2; i <= 6; i++) {
      write(o.storage(), entryWrite(i));
      o.model().write(entryWrite(i));
    }
    disk.leave(copyOnWrite ? 1000 : 0);
    Throwable[] cause = new Throwable[1];
    long notWritten = writeUntilFailure(o, 7, cause);
    assertTrue(cause[0] instanceof IOException && cause[0].getMessage().contains(FullDisk.ENOSPC), String.valueOf(cause[0]));
    assertTrue(disk.refused() > 0);
    Throwable later = failedWrite(o.storage(), entryWrite(notWritten));
    assertTrue(later.getMessage().contains("an earlier write failed") && later.getMessage().contains(FullDisk.ENOSPC),
        later.getMessage());
    if (!copyOnWrite) {
      // Recovery writes nothing here (the active segment is full and whole), so it works on the full disk.
      SegmentStorageTest.assertSameState(recover(o.model()), recover(o.storage()), "recovered on the full disk");
    }
    disk.makeRoom();
    SegmentStorageTest.assertSameState(recover(o.model()), recover(o.storage()), "recovered with space again");
    assertEquals(List.of(), strayFiles(), "files left by the failed writes");
    for (long i = notWritten; i < notWritten + 40; i++) {
      write(o.storage(), entryWrite(i));
      o.model().write(entryWrite(i));
    }
    o.storage().close();
    try (SegmentStorage again = new SegmentStorage(dir, SEGMENT, true, THREE, "g-n1")) {
      SegmentStorageTest.assertSameState(recover(o.model()), recover(again), "reopened");
    }
  }

  /**
   * The next segment is prepared in the background once the active one is half full. On a full disk
   * the preparation fails after writing what fit: the half-made file is deleted at once (it must
   * never become a segment, and its space is needed), and once space is back the segment is created
   * when it is needed.
   */
  @Test
  void aFailedPreparationLeavesNoFile_andTheSegmentIsCreatedWhenItIsNeeded() throws Exception {
    FullDisk disk = new FullDisk(false);
    Opened o = open(disk);
    disk.leave(SEGMENT / 2); // the preparation fills half a segment, then finds the disk full
    long next = 2;
    while (!o.storage().preparingNextSegment()) {
      assertTrue(next < 100, "no preparation started");
      write(o.storage(), entryWrite(next));
      o.model().write(entryWrite(next++));
    }
    awaitCondition(() -> disk.refused() > 0, () -> "the preparation did not run out of space");
    awaitCondition(() -> strayFiles().isEmpty(), () -> "the half-prepared segment is still there: " + strayFiles());
    disk.makeRoom();
    int segments = o.storage().segmentFiles().size();
    for (long i = next; o.storage().segmentFiles().size() == segments; i++) {
      assertTrue(i < next + 200, "no new segment");
      write(o.storage(), entryWrite(i));
      o.model().write(entryWrite(i));
    }
    assertEquals(List.of(), strayFiles());
    o.storage().close();
    try (SegmentStorage again = new SegmentStorage(dir, SEGMENT, true, THREE, "g-n1")) {
      SegmentStorageTest.assertSameState(recover(o.model()), recover(again), "reopened");
    }
  }

  /**
   * The preparation fails and the disk is still full when the active segment is: the write that
   * needs the new segment fails, no file of it is left, and recovery on the full disk gives the
   * acknowledged writes. Once space is back the log goes on in a new segment.
   */
  @Test
  void aSegmentThatCannotBeCreatedFailsTheWrite_leavesNoFile_andTheLogGoesOnOnceThereIsRoom() throws Exception {
    FullDisk disk = new FullDisk(false);
    Opened o = open(disk);
    disk.leave(SEGMENT - 100); // the preparation fails a little before the end; creating the segment later too
    Throwable[] cause = new Throwable[1];
    long notWritten = writeUntilFailure(o, 2, cause);
    assertTrue(cause[0].getMessage().contains(FullDisk.ENOSPC), String.valueOf(cause[0]));
    assertEquals(List.of(), strayFiles(), "files left by the failed preparation and creation");
    assertEquals(1, o.storage().segmentFiles().size());
    SegmentStorageTest.assertSameState(recover(o.model()), recover(o.storage()), "recovered on the full disk");
    failedWrite(o.storage(), entryWrite(notWritten)); // still full: the new segment cannot be made
    disk.makeRoom();
    SegmentStorageTest.assertSameState(recover(o.model()), recover(o.storage()), "recovered with space again");
    for (long i = notWritten; i < notWritten + 10; i++) {
      write(o.storage(), entryWrite(i));
      o.model().write(entryWrite(i));
    }
    assertEquals(2, o.storage().segmentFiles().size());
    o.storage().close();
    try (SegmentStorage again = new SegmentStorage(dir, SEGMENT, true, THREE, "g-n1")) {
      SegmentStorageTest.assertSameState(recover(o.model()), recover(again), "reopened");
    }
  }

  /** A snapshot whose file cannot be written: the write fails, no file is left, the state before it stands. */
  @Test
  void aSnapshotThatFindsTheDiskFullFailsTheWrite_leavesNoFile_andTheStateBeforeItStands() throws Exception {
    FullDisk disk = new FullDisk(false);
    Opened o = open(disk);
    for (long i = 2; i <= 10; i++) {
      write(o.storage(), entryWrite(i));
      o.model().write(entryWrite(i));
    }
    byte[] data = new byte[5000];
    java.util.Arrays.fill(data, (byte) 9);
    RaftStorage.Write snapshot = new RaftStorage.Write(null, new Snapshot(new SnapshotMeta(8, 1, THREE), data), 0, List.of());
    disk.leave(1000);
    assertTrue(failedWrite(o.storage(), snapshot).getMessage().contains(FullDisk.ENOSPC));
    assertEquals(List.of(), strayFiles(), "the half-written snapshot file");
    SegmentStorageTest.assertSameState(recover(o.model()), recover(o.storage()), "recovered on the full disk");
    disk.makeRoom();
    write(o.storage(), snapshot);
    o.model().write(snapshot);
    o.storage().close();
    try (SegmentStorage again = new SegmentStorage(dir, SEGMENT, true, THREE, "g-n1")) {
      DurableState st = recover(again);
      SegmentStorageTest.assertSameState(recover(o.model()), st, "reopened");
      assertEquals(8, st.snapshot().lastIncludedIndex());
    }
  }

  private interface Check {
    boolean holds() throws Exception;
  }

  /** Polls {@code c} until it holds, failing after 10 s with {@code what()}. */
  private static void awaitCondition(Check c, java.util.concurrent.Callable<String> what) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!c.holds()) {
      if (System.nanoTime() > deadline) fail(what.call());
      TimeUnit.MILLISECONDS.sleep(10); // polling a condition with a deadline
    }
  }
}
