package io.raftactors.persistence;

import static io.raftactors.persistence.SegmentStorageFullDiskTest.failedWrite;
import static io.raftactors.persistence.SegmentStorageTest.assertSameState;
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
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SegmentLog} with many members (the groups of a node) in one directory: they share its
 * syncs, each recovers exactly its own writes whatever the others did (truncations, snapshots,
 * compaction, reopening), and a failure stays with the members it touched.
 */
class SegmentLogTest {
  private static final ClusterConfig THREE = ClusterConfig.of("n1", "n2", "n3");

  @TempDir
  Path dir;

  private static RaftStorage.Write entries(long from, int n, long term) {
    List<LogEntry> es = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] data = new byte[100];
      java.util.Arrays.fill(data, (byte) (from + i));
      es.add(new LogEntry(from + i, term, new EntryData.Command(33, "kv", data)));
    }
    return new RaftStorage.Write(new HardState(term, "n1"), 0, es);
  }

  /** A member's storage and a model holding its acknowledged writes, founded and recovered. */
  private static final class Member {
    final String key;
    SegmentStorage storage;
    final InMemoryStorage model = new InMemoryStorage(THREE);
    long next = 2;

    Member(String key, SegmentStorage storage) {
      this.key = key;
      this.storage = storage;
    }

    /** Writes {@code n} entries to both; returns the write. */
    RaftStorage.Write writeEntries(int n) throws Exception {
      RaftStorage.Write w = entries(next, n, 1);
      write(storage, w);
      model.write(w);
      next += n;
      return w;
    }
  }

  /** Closes the members' storages, opens each again on the log and compares what it recovers with its model. */
  private void assertReopenedAsModels(long segmentBytes, Member... members) throws Exception {
    for (Member m : members) m.storage.close();
    for (Member m : members) {
      try (SegmentStorage again = new SegmentStorage(dir, segmentBytes, true, THREE, m.key)) {
        assertSameState(recover(m.model), recover(again), m.key + " reopened");
      }
    }
  }

  private Member open(String key, long segmentBytes, SegmentLog.FileOpener files) throws Exception {
    Member m = new Member(key, new SegmentStorage(dir, segmentBytes, true, THREE, key, files));
    recover(m.storage);
    RaftStorage.Write founding = new RaftStorage.Write(null, 0, DurableState.bootstrap(THREE).entries());
    write(m.storage, founding); // the model starts founded
    return m;
  }

  /**
   * Writes of eight groups queued while the writer syncs an earlier one are appended together and
   * made durable by one fdatasync; one storage per group would have taken eight.
   */
  @Test
  void writesOfManyGroupsQueuedTogetherShareOneSync() throws Exception {
    FullDisk disk = new FullDisk(false);
    List<Member> members = new ArrayList<>();
    for (int g = 0; g < 8; g++) members.add(open("g" + g + "/n1", 1 << 20, disk));
    CountDownLatch gate = new CountDownLatch(1);
    disk.holdSyncs(gate);
    CompletableFuture<Void> first = members.get(0).storage.write(entries(2, 1, 1)).toCompletableFuture();
    awaitCondition(() -> disk.syncsHeld() == 1, "the writer never reached the sync of the first write");
    List<CompletableFuture<Void>> rest = new ArrayList<>();
    for (Member m : members.subList(1, 8)) rest.add(m.storage.write(entries(2, 3, 1)).toCompletableFuture());
    int before = disk.dataSyncs();
    disk.holdSyncs(null);
    gate.countDown();
    first.get(30, TimeUnit.SECONDS);
    for (CompletableFuture<Void> f : rest) f.get(30, TimeUnit.SECONDS);
    assertEquals(2, disk.dataSyncs() - before, "one sync for the first write, one for the seven queued behind it");
    members.get(0).model.write(entries(2, 1, 1));
    for (Member m : members.subList(1, 8)) m.model.write(entries(2, 3, 1));
    assertReopenedAsModels(1 << 20, members.toArray(Member[]::new));
  }

  /** A hook that holds the thread calling it, for the paths it picks, until released. */
  private static final class Hold implements java.util.function.Consumer<Path> {
    private final java.util.function.Predicate<Path> which;
    private final CountDownLatch reached = new CountDownLatch(1);
    private final CountDownLatch released = new CountDownLatch(1);

    Hold(java.util.function.Predicate<Path> which) {
      this.which = which;
    }

    @Override
    public void accept(Path f) {
      if (!which.test(f)) return;
      reached.countDown();
      try {
        released.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    void awaitReached(String what) throws InterruptedException {
      assertTrue(reached.await(30, TimeUnit.SECONDS), what);
    }

    void release() {
      released.countDown();
    }
  }

  /** A member writing at random, with its model. */
  private static final class RandomMember {
    final String key;
    final InMemoryStorage model = new InMemoryStorage(THREE);
    final RandomWrites writes = new RandomWrites(THREE);
    SegmentStorage storage;

    RandomMember(String key, boolean snapshots) {
      this.key = key;
      writes.snapshots = snapshots;
    }

    RaftStorage.Write next(SplittableRandom r) {
      return writes.next(r);
    }
  }

  /**
   * Three groups write at random into one log with small segments, several at once (so their writes
   * share batches), one of them taking no snapshot for the first half (it keeps every segment until
   * it takes one, then compaction deletes them under the others too); now and then a member closes and opens again
   * while the others write on, a live member recovers, or the whole log is reopened. Every recovery
   * of every member equals its own model.
   */
  @Test
  void durability_T3_8_03_interleavedGroupsRecoverEachExactlyItsOwnWrites_acrossCompactionAndReopening() throws Exception {
    int after = SegmentLog.rewriteAfterSegments;
    int part = SegmentLog.rewriteMaxSegmentPart;
    int kept = SegmentLog.offsetsKept;
    SegmentLog.rewriteAfterSegments = 3; // live entries are moved forward often
    SegmentLog.rewriteMaxSegmentPart = 1;
    long moves = 0;
    try {
      for (long seed = 1; seed <= 6; seed++) {
        // Odd seeds: a member with more than 2 records in a segment is read back by reading the
        // whole segment; even seeds: by the offsets of its records.
        SegmentLog.offsetsKept = seed % 2 == 1 ? 2 : kept;
        moves += interleavedRun(seed);
      }
    } finally {
      SegmentLog.rewriteAfterSegments = after;
      SegmentLog.rewriteMaxSegmentPart = part;
      SegmentLog.offsetsKept = kept;
    }
    assertTrue(moves > 0, "no live entries were moved forward: the runs did not test it");
  }

  /** One seeded run of the test above; returns how many times live entries were moved forward. */
  private long interleavedRun(long seed) throws Exception {
    long moves = 0;
    {
      Path d = dir.resolve("seed-" + seed);
      SplittableRandom r = new SplittableRandom(seed);
      long segmentBytes = 4096 + r.nextInt(8192);
      Map<String, RandomMember> members = new LinkedHashMap<>();
      for (int g = 0; g < 3; g++) {
        RandomMember m = new RandomMember("g" + g + "/n" + (1 + g), g != 2);
        m.storage = new SegmentStorage(d, segmentBytes, true, THREE, m.key);
        recover(m.storage);
        RaftStorage.Write founding = new RaftStorage.Write(null, 0, DurableState.bootstrap(THREE).entries());
        write(m.storage, founding); // the model starts founded
        members.put(m.key, m);
      }
      List<RandomMember> all = new ArrayList<>(members.values());
      for (int i = 0; i < 400; i++) {
        if (i == 200) all.get(2).writes.snapshots = true;
        // One to three members write at once.
        List<CompletableFuture<Void>> pending = new ArrayList<>();
        for (RandomMember m : all) {
          if (r.nextInt(3) == 0 && !pending.isEmpty()) continue;
          RaftStorage.Write w = m.next(r);
          m.model.write(w);
          pending.add(m.storage.write(w).toCompletableFuture());
        }
        for (CompletableFuture<Void> f : pending) f.get(30, TimeUnit.SECONDS);
        int event = r.nextInt(60);
        RandomMember one = all.get(r.nextInt(all.size()));
        String when = "seed " + seed + " after step " + i;
        if (event == 0) {
          one.storage.close(); // the others write on while it is away
          one.storage = new SegmentStorage(d, segmentBytes, true, THREE, one.key);
          assertSameState(recover(one.model), recover(one.storage), when + ", " + one.key + " reopened");
        } else if (event == 1) {
          assertSameState(recover(one.model), recover(one.storage), when + ", " + one.key + " recovered while live");
        } else if (event == 2) {
          moves += all.get(0).storage.logMoves();
          for (RandomMember m : all) m.storage.close();
          segmentBytes = 4096 + r.nextInt(8192);
          for (RandomMember m : all) m.storage = new SegmentStorage(d, segmentBytes, true, THREE, m.key);
          for (RandomMember m : all) assertSameState(recover(m.model), recover(m.storage), when + ", " + m.key + " after the log reopened");
        }
      }
      for (RandomMember m : all) assertSameState(recover(m.model), recover(m.storage), "seed " + seed + ", " + m.key);
      // Snapshots covering every index written: only the segments written since are left.
      for (RandomMember m : all) {
        RaftStorage.Write w = new RaftStorage.Write(null, new Snapshot(new SnapshotMeta(m.writes.highest, m.writes.term, THREE), new byte[] {3}), 0, List.of());
        m.model.write(w);
        write(m.storage, w);
      }
      List<Path> left = all.get(0).storage.segmentFiles();
      assertTrue(left.size() <= 2, "left after snapshots of everything: " + left);
      moves += all.get(0).storage.logMoves();
      for (RandomMember m : all) m.storage.close();
      for (RandomMember m : all) {
        try (SegmentStorage again = new SegmentStorage(d, segmentBytes, true, THREE, m.key)) {
          assertSameState(recover(m.model), recover(again), "seed " + seed + ", " + m.key + " after the last compaction");
        }
      }
    }
    return moves;
  }

  /**
   * A snapshot file is written on a thread beside the writer: while one group's file is stuck, another
   * group's writes complete. The group's own calls keep their order: its recovery, asked for after
   * the write, comes after it and reads the snapshot back.
   */
  @Test
  void aSnapshotFileIsWrittenBesideTheWriter_soOtherGroupsWritesGoOn_andTheGroupsOwnCallsKeepTheirOrder() throws Exception {
    Member a = open("a/n1", 1 << 20, SegmentStorage.realFiles());
    Member b = open("b/n1", 1 << 20, SegmentStorage.realFiles());
    a.writeEntries(3);
    b.writeEntries(3);
    Hold hold = new Hold(f -> f.getParent().endsWith(Path.of("a", "n1")));
    SegmentLog.beforeSnapshotFile = hold;
    try {
      RaftStorage.Write snapshot = new RaftStorage.Write(null, new Snapshot(new SnapshotMeta(a.next - 1, 1, THREE), new byte[] {7}), 0,
          List.of());
      CompletableFuture<Void> aWrite = a.storage.write(snapshot).toCompletableFuture();
      hold.awaitReached("a's snapshot file is being written");
      CompletableFuture<DurableState> aRecovered = a.storage.recover().toCompletableFuture();
      b.writeEntries(2); // fails after 30 s if b's write waited for a's snapshot file
      assertTrue(!aWrite.isDone(), "a's write waits for its snapshot file");
      hold.release();
      aWrite.get(30, TimeUnit.SECONDS);
      a.model.write(snapshot);
      assertSameState(recover(a.model), aRecovered.get(30, TimeUnit.SECONDS),
          "a's recovery, asked for after its write, reads it back");
      a.writeEntries(2);
    } finally {
      SegmentLog.beforeSnapshotFile = f -> { };
      hold.release();
    }
    assertReopenedAsModels(1 << 20, a, b);
  }

  /**
   * Deleting the segments a snapshot covers is left to the janitor thread: with a deletion stuck
   * (an unlink took up to 14 ms on the writer thread), the snapshot's write and the writes after it
   * still complete; once the deletion goes on, the segments are gone and the group recovers exactly.
   */
  @Test
  void aWriteNeverWaitsForTheDeletionOfTheSegmentsASnapshotCovers() throws Exception {
    Member a = open("a/n1", 4096, SegmentStorage.realFiles());
    for (int i = 0; i < 100; i++) a.writeEntries(2);
    int segments = a.storage.segmentFiles().size();
    assertTrue(segments > 4, segments + " segments");
    Hold hold = new Hold(f -> true);
    SegmentLog.beforeDeleting = hold;
    try {
      RaftStorage.Write snapshot = new RaftStorage.Write(null, new Snapshot(new SnapshotMeta(a.next - 1, 1, THREE), new byte[] {1}), 0,
          List.of());
      write(a.storage, snapshot); // fails after 30 s if the write waited for the deletion
      a.model.write(snapshot);
      hold.awaitReached("the janitor was handed the covered segments");
      for (int i = 0; i < 5; i++) a.writeEntries(2); // ...and the writes after it too
    } finally {
      SegmentLog.beforeDeleting = f -> { };
      hold.release();
    }
    assertTrue(a.storage.segmentFiles().size() <= 2, "deleted once the janitor goes on: " + a.storage.segmentFiles());
    assertReopenedAsModels(4096, a);
  }

  /**
   * A later snapshot's file, written on the snapshot thread while the writer syncs and compacts the
   * snapshot before it, is not deleted by that compaction (only older files are): both writes are
   * acknowledged and the second's file stays, so the member recovers it.
   */
  @Test
  void aLaterSnapshotsFileWrittenWhileTheOneBeforeItIsCompactedStays() throws Exception {
    FullDisk disk = new FullDisk(false);
    Member a = open("a/n1", 1 << 20, disk);
    a.writeEntries(4); // entries 2..5
    RaftStorage.Write s1 = new RaftStorage.Write(null, new Snapshot(new SnapshotMeta(3, 1, THREE), new byte[] {1}), 0, List.of());
    RaftStorage.Write s2 = new RaftStorage.Write(null, new Snapshot(new SnapshotMeta(5, 1, THREE), new byte[] {2}), 0, List.of());
    Path s2File = dir.resolve("a/n1").resolve(String.format("snapshot-%020d-%d.bin", 5, 1));
    CountDownLatch gate = new CountDownLatch(1);
    disk.holdSyncs(gate); // holds the log's data syncs (not the snapshot files')
    CompletableFuture<Void> w1;
    CompletableFuture<Void> w2;
    try {
      w1 = a.storage.write(s1).toCompletableFuture();
      awaitCondition(() -> disk.syncsHeld() == 1, "the writer never reached the sync of s1");
      w2 = a.storage.write(s2).toCompletableFuture(); // pipelined: its file is written while s1 is synced
      awaitCondition(() -> java.nio.file.Files.exists(s2File), "s2's file was never written");
    } finally {
      disk.holdSyncs(null);
      gate.countDown();
    }
    w1.get(30, TimeUnit.SECONDS);
    w2.get(30, TimeUnit.SECONDS);
    a.model.write(s1);
    a.model.write(s2);
    a.storage.segmentFiles(); // waits for the janitor
    assertTrue(java.nio.file.Files.exists(s2File), "the acknowledged snapshot's file is kept; left: "
        + java.util.Arrays.toString(dir.resolve("a/n1").toFile().list()));
    assertEquals(Long.MAX_VALUE, SegmentLog.snapshotIndexOf(Path.of("snapshot-x-1.bin")), "a name without an index is never older");
    assertReopenedAsModels(1 << 20, a);
  }

  /**
   * A group that never takes a snapshot keeps every segment from its first entry on, the other
   * groups' records included; once it takes one, the segments every snapshot covers are deleted, and
   * both groups recover exactly.
   */
  @Test
  void aGroupWithoutSnapshotsKeepsTheSegments_andOnceItTakesOneTheyAreDeleted() throws Exception {
    Member a = open("a/n1", 4096, SegmentStorage.realFiles());
    Member b = open("b/n1", 4096, SegmentStorage.realFiles());
    for (int i = 0; i < 100; i++) {
      a.writeEntries(2);
      b.writeEntries(1);
    }
    int segments = a.storage.segmentFiles().size();
    assertTrue(segments > 10, segments + " segments");
    RaftStorage.Write aSnapshot = new RaftStorage.Write(null, new Snapshot(new SnapshotMeta(a.next - 1, 1, THREE), new byte[] {1}), 0, List.of());
    write(a.storage, aSnapshot);
    a.model.write(aSnapshot);
    assertEquals(segments, a.storage.segmentFiles().size(), "b's entries are in every segment: none is deleted");
    RaftStorage.Write bSnapshot = new RaftStorage.Write(null, new Snapshot(new SnapshotMeta(b.next - 1, 1, THREE), new byte[] {2}), 0, List.of());
    write(b.storage, bSnapshot);
    b.model.write(bSnapshot);
    assertTrue(a.storage.segmentFiles().size() <= 2, "left: " + a.storage.segmentFiles());
    a.writeEntries(3);
    b.writeEntries(3);
    a.storage.close();
    b.storage.close();
    for (Member m : List.of(a, b)) {
      try (SegmentStorage again = new SegmentStorage(dir, 4096, true, THREE, m.key)) {
        DurableState st = recover(again);
        assertSameState(recover(m.model), st, m.key);
        assertEquals(3, st.entries().size(), m.key);
      }
    }
  }

  /**
   * A quiet group whose records are all in old segments keeps its state when they are deleted: every
   * segment starts with a checkpoint of each group, so its hard state, snapshot and last index are
   * there when another group's snapshots let the old segments go.
   */
  @Test
  void aQuietGroupKeepsItsStateWhenTheSegmentsHoldingItsRecordsAreDeleted() throws Exception {
    Member quiet = open("quiet/n1", 4096, SegmentStorage.realFiles());
    Member busy = open("busy/n1", 4096, SegmentStorage.realFiles());
    RaftStorage.Write last = new RaftStorage.Write(new HardState(7, "n2"),
        new Snapshot(new SnapshotMeta(1, 1, THREE), new byte[] {7, 7}), 0, List.of());
    write(quiet.storage, last);
    quiet.model.write(last);
    Path first = busy.storage.segmentFiles().get(0);
    for (int i = 0; i < 100; i++) busy.writeEntries(2);
    RaftStorage.Write snapshot = new RaftStorage.Write(null, new Snapshot(new SnapshotMeta(busy.next - 1, 1, THREE), new byte[] {1}), 0, List.of());
    write(busy.storage, snapshot);
    busy.model.write(snapshot);
    assertTrue(!busy.storage.segmentFiles().contains(first), "the segment holding the quiet group's records is deleted");
    assertReopenedAsModels(4096, quiet, busy);
  }

  /**
   * A quiet group takes no snapshot for long: its few live entries keep the oldest segment. Once the
   * log holds more than a few segments they are copied forward, and the old segments go; both groups
   * recover exactly, also after reopening.
   */
  @Test
  void aQuietGroupsFewLiveEntriesAreMovedForward_soTheOldSegmentsGo() throws Exception {
    Member quiet = open("quiet/n1", 8192, SegmentStorage.realFiles());
    Member busy = open("busy/n1", 8192, SegmentStorage.realFiles());
    quiet.writeEntries(5);
    Path first = busy.storage.segmentFiles().get(0);
    int most = 0;
    for (int i = 1; i <= 600; i++) {
      busy.writeEntries(2);
      if (i % 20 == 0) {
        RaftStorage.Write w = new RaftStorage.Write(null, new Snapshot(new SnapshotMeta(busy.next - 1, 1, THREE), new byte[] {1}), 0, List.of());
        write(busy.storage, w);
        busy.model.write(w);
      }
      most = Math.max(most, busy.storage.segmentFiles().size());
    }
    assertTrue(busy.storage.logMoves() > 0, "the quiet group's entries were never moved");
    // Each move reads back the quiet group's two records (its checkpoint and its write), not the
    // segments they are in (8 KiB each, mostly the busy group's records).
    long perMove = busy.storage.logMoveBytesRead() / busy.storage.logMoves();
    assertTrue(perMove < 1024, perMove + " bytes read back per move");
    assertTrue(most <= SegmentLog.rewriteAfterSegments + 3, "up to " + most + " segments");
    assertTrue(!busy.storage.segmentFiles().contains(first), "the first segment, with the quiet group's entries, is gone");
    assertSameState(recover(quiet.model), recover(quiet.storage), "quiet, live");
    quiet.writeEntries(2);
    assertReopenedAsModels(8192, quiet, busy);
  }

  /**
   * A snapshot file that finds the disk full fails its member's write only: another group's write
   * at the same time succeeds, the failed member writes nothing more until it recovered, then goes on.
   */
  @Test
  void aSnapshotFileThatCannotBeWrittenFailsOnlyItsOwnMember() throws Exception {
    FullDisk disk = new FullDisk(false);
    Member a = open("a/n1", 1 << 20, disk);
    Member b = open("b/n1", 1 << 20, disk);
    a.writeEntries(5);
    disk.leave(1000);
    byte[] data = new byte[5000];
    RaftStorage.Write snapshot = new RaftStorage.Write(null, new Snapshot(new SnapshotMeta(4, 1, THREE), data), 0, List.of());
    assertTrue(failedWrite(a.storage, snapshot).getMessage().contains(FullDisk.ENOSPC));
    b.writeEntries(3); // into the preallocated segment: no space needed
    Throwable later = failedWrite(a.storage, entries(a.next, 1, 1));
    assertTrue(later.getMessage().contains("an earlier write failed"), later.getMessage());
    b.writeEntries(3);
    assertSameState(recover(a.model), recover(a.storage), "a recovered");
    a.writeEntries(2);
    disk.makeRoom();
    write(a.storage, snapshot);
    a.model.write(snapshot);
    assertReopenedAsModels(1 << 20, a, b);
  }

  /**
   * A sync that fails breaks the log: the writes of its batch fail, and so does any member's write
   * until one recovers (which reads the directory again). After that a member none of whose writes
   * failed writes on; a member whose write failed writes only after it recovered, and its recovery
   * does not hold the failed write (what was written after the last good sync is dropped).
   */
  @Test
  void aFailedSyncFailsItsBatch_andEveryMemberWhoseWriteFailedWritesAgainOnlyAfterItRecovered() throws Exception {
    FullDisk disk = new FullDisk(false);
    Member a = open("a/n1", 1 << 20, disk);
    Member b = open("b/n1", 1 << 20, disk);
    Member c = open("c/n1", 1 << 20, disk);
    a.writeEntries(2);
    b.writeEntries(2);
    c.writeEntries(2);
    disk.failSyncs("injected: the device failed the sync");
    RaftStorage.Write aLost = entries(a.next, 2, 1);
    assertTrue(failedWrite(a.storage, aLost).getMessage().contains("injected"));
    disk.failSyncs(null);
    RaftStorage.Write bLost = entries(b.next, 1, 1);
    Throwable broken = failedWrite(b.storage, bLost); // the log is broken until a member recovers
    assertTrue(broken.getMessage().contains("an earlier write failed"), broken.getMessage());
    // a recovers: the log is read again, and what was written after the last good sync is dropped (the
    // page cache still held a's failed write, but after a failed sync the disk may never get it).
    assertSameState(recover(a.model), recover(a.storage), "a recovered without its failed write");
    a.writeEntries(1);
    c.writeEntries(1); // none of c's writes failed: it writes on
    Throwable stillFailed = failedWrite(b.storage, entries(b.next, 1, 1));
    assertTrue(stillFailed.getMessage().contains("an earlier write failed"), stillFailed.getMessage());
    assertSameState(recover(b.model), recover(b.storage), "b recovered (its failed write never reached the file)");
    b.writeEntries(1);
    assertReopenedAsModels(1 << 20, a, b, c);
  }

  /**
   * A batch of two writes where the second needs a new segment, and the sync of the segment left
   * fails once: the first write is not acknowledged either, although a sync retried now would
   * succeed (a failed writeback is reported once), and recovery drops it.
   */
  @Test
  void aSyncThatFailsAtASwitchOfSegmentsFailsTheWholeBatch_evenIfASecondSyncWouldSucceed() throws Exception {
    FullDisk disk = new FullDisk(false);
    Member a = open("a/n1", 8192, disk);
    Member b = open("b/n1", 8192, disk);
    Member c = open("c/n1", 8192, disk);
    int segments = a.storage.segmentFiles().size();
    CountDownLatch gate = new CountDownLatch(1);
    disk.holdSyncs(gate);
    RaftStorage.Write cWrite = entries(c.next++, 1, 1);
    CompletableFuture<Void> first = c.storage.write(cWrite).toCompletableFuture();
    awaitCondition(() -> disk.syncsHeld() == 1, "the writer never reached the sync of c's write");
    RaftStorage.Write small = entries(a.next, 1, 1);
    RaftStorage.Write big = entries(b.next, 70, 1); // more than a segment of 8 KiB holds after what is in it
    CompletableFuture<Void> aWrite = a.storage.write(small).toCompletableFuture();
    CompletableFuture<Void> bWrite = b.storage.write(big).toCompletableFuture();
    disk.failOneSyncAfter(1); // c's sync succeeds; the next one, of the segment left at the switch, fails
    disk.holdSyncs(null);
    gate.countDown();
    first.get(30, TimeUnit.SECONDS);
    c.model.write(cWrite);
    ExecutionException aFailed = assertThrows(ExecutionException.class, () -> aWrite.get(30, TimeUnit.SECONDS),
        "a's write was acknowledged after a failed sync");
    assertTrue(aFailed.getCause().getMessage().contains("injected"), aFailed.getCause().getMessage());
    assertThrows(ExecutionException.class, () -> bWrite.get(30, TimeUnit.SECONDS));
    assertEquals(segments, a.storage.segmentFiles().size(), "no segment was started after the failed sync");
    assertSameState(recover(a.model), recover(a.storage), "a recovered without its failed write");
    assertSameState(recover(b.model), recover(b.storage), "b recovered without its failed write");
    a.writeEntries(2);
    b.writeEntries(2);
    c.writeEntries(2);
    assertReopenedAsModels(8192, a, b, c);
  }

  /**
   * Reading a log back goes through a window of 1 MiB: records that cross its end, and one larger
   * than it, are read whole, and the member recovers exactly what it wrote.
   */
  @Test
  void recordsAcrossTheReadingWindowAndLargerThanItAreRecoveredWhole() throws Exception {
    Member a = open("a/n1", 8 << 20, SegmentStorage.realFiles());
    java.util.SplittableRandom r = new java.util.SplittableRandom(7);
    long bytes = 0;
    for (int i = 0; i < 600; i++) {
      List<LogEntry> es = new ArrayList<>();
      int n = 1 + r.nextInt(60);
      for (int k = 0; k < n; k++) {
        byte[] data = new byte[1 + r.nextInt(200)];
        r.nextBytes(data);
        es.add(new LogEntry(a.next + k, 1, new EntryData.Command(33, "kv", data)));
      }
      if (i == 300) es.add(new LogEntry(a.next + n, 1, new EntryData.Command(33, "kv", new byte[(1 << 20) + 5000])));
      for (LogEntry e : es) bytes += e.sizeInBytes();
      RaftStorage.Write w = new RaftStorage.Write(new HardState(1, "n1"), 0, es);
      write(a.storage, w);
      a.model.write(w);
      a.next += es.size();
    }
    assertTrue(bytes >= 3 << 20, "the records span several windows: " + bytes + " bytes");
    assertEquals(1, a.storage.segmentFiles().size(), "in one segment");
    assertReopenedAsModels(8 << 20, a);
  }

  /**
   * A sync that fails suspects only what was written since the segment's last good sync. For a
   * segment read back at a start that is nothing before its end: the records read are acknowledged
   * (and synced once more by the reading), so the failed sync after a restart takes only its own write.
   */
  @Test
  void aSyncThatFailsRightAfterARestartTakesOnlyItsOwnWrite_notTheAcknowledgedOnesBeforeIt() throws Exception {
    FullDisk disk = new FullDisk(false);
    Member a = open("a/n1", 1 << 20, disk);
    a.writeEntries(3);
    a.storage.close();
    a.storage = new SegmentStorage(dir, 1 << 20, true, THREE, a.key, disk);
    int syncs = disk.dataSyncs();
    assertSameState(recover(a.model), recover(a.storage), "after the restart");
    assertEquals(syncs + 1, disk.dataSyncs(), "what the restart read back is synced before the member acts on it");
    disk.failOneSyncAfter(0);
    failedWrite(a.storage, entries(a.next, 1, 1));
    assertSameState(recover(a.model), recover(a.storage), "the failed write is gone, the acknowledged ones are not");
    a.writeEntries(2);
    assertReopenedAsModels(1 << 20, a);
  }

  /**
   * A crash while a new segment's checkpoints were written left it with the checkpoint of one member
   * only. Reading the log starts a new segment with every member's checkpoint, so when the older
   * segments are deleted the other member keeps its term, vote and snapshot.
   */
  @Test
  void aLastSegmentMissingACheckpointIsFollowedByOneWithAll_soCompactionLosesNoMembersState() throws Exception {
    Member a = open("a/n1", 4096, SegmentStorage.realFiles());
    Member x = open("x/n1", 4096, SegmentStorage.realFiles());
    RaftStorage.Write xState = new RaftStorage.Write(new HardState(2, "n2"),
        new Snapshot(new SnapshotMeta(1, 1, THREE), new byte[] {5}), 0, List.of());
    write(x.storage, xState);
    x.model.write(xState);
    int segments = a.storage.segmentFiles().size();
    RaftStorage.Write lastOfA = null;
    while (a.storage.segmentFiles().size() == segments) {
      if (lastOfA != null) a.model.write(lastOfA);
      lastOfA = entries(a.next++, 1, 1);
      write(a.storage, lastOfA);
    }
    a.next--; // the write that opened the new segment is lost with the crash below
    a.storage.close();
    x.storage.close();
    // The crash: of the new segment only a's checkpoint reached the disk.
    List<Path> files = SegmentLog.segmentFilesIn(dir);
    Path last = files.get(files.size() - 1);
    List<long[]> records = SegmentStorageTest.records(last);
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(last, java.nio.file.StandardOpenOption.WRITE)) {
      long from = records.get(1)[0];
      ch.write(java.nio.ByteBuffer.allocate((int) (records.get(records.size() - 1)[1] - from)), from);
    }
    a.storage = new SegmentStorage(dir, 4096, true, THREE, a.key);
    assertSameState(recover(a.model), recover(a.storage), "a after the crash");
    RaftStorage.Write aSnapshot = new RaftStorage.Write(null, new Snapshot(new SnapshotMeta(a.next - 1, 1, THREE), new byte[] {6}), 0, List.of());
    write(a.storage, aSnapshot);
    a.model.write(aSnapshot);
    assertTrue(a.storage.segmentFiles().size() <= 2, "the older segments are deleted: " + a.storage.segmentFiles());
    a.storage.close();
    try (SegmentStorage again = new SegmentStorage(dir, 4096, true, THREE, x.key)) {
      assertSameState(recover(x.model), recover(again), "x, whose records were all in deleted segments");
    }
  }

  /**
   * A member's recovery that finds a corrupt record fails, and the log stays shut for every member
   * (a live one's write fails instead of starting the log over): the segments are left as they were.
   */
  @Test
  void aReadingOfTheLogThatFailsShutsItForEveryMember_andNoSegmentIsWrittenOver() throws Exception {
    Member a = open("a/n1", 4096, SegmentStorage.realFiles());
    Member b = open("b/n1", 4096, SegmentStorage.realFiles());
    while (a.storage.segmentFiles().size() < 3) {
      a.writeEntries(3);
      b.writeEntries(3);
    }
    Path second = a.storage.segmentFiles().get(1);
    long[] record = SegmentStorageTest.records(second).get(2);
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(second, java.nio.file.StandardOpenOption.READ,
        java.nio.file.StandardOpenOption.WRITE)) {
      java.nio.ByteBuffer one = java.nio.ByteBuffer.allocate(1);
      ch.read(one, record[0] + 12);
      one.put(0, (byte) (one.get(0) ^ 0x40)).rewind();
      ch.write(one, record[0] + 12);
    }
    byte[] firstBefore = java.nio.file.Files.readAllBytes(a.storage.segmentFiles().get(0));
    a.storage.close();
    a.storage = new SegmentStorage(dir, 4096, true, THREE, a.key);
    ExecutionException corrupt = assertThrows(ExecutionException.class, () -> recover(a.storage));
    assertTrue(corrupt.getCause().getMessage().contains(second.getFileName().toString()), corrupt.getCause().getMessage());
    Throwable refused = failedWrite(b.storage, entries(b.next, 1, 1));
    assertTrue(refused.getMessage().contains("an earlier write failed"), refused.getMessage());
    assertTrue(java.util.Arrays.equals(firstBefore, java.nio.file.Files.readAllBytes(b.storage.segmentFiles().get(0))),
        "the first segment is as it was");
    a.storage.close();
    b.storage.close();
  }

  /** Zeros followed by records in a segment that is not the last: corruption, named, not a quiet end of the log. */
  @Test
  void recordsAfterZerosInASegmentBeforeTheLastStopRecovery() throws Exception {
    Member a = open("a/n1", 4096, SegmentStorage.realFiles());
    while (a.storage.segmentFiles().size() < 2) a.writeEntries(3);
    a.storage.close();
    Path first = SegmentLog.segmentFilesIn(dir).get(0);
    long[] record = SegmentStorageTest.records(first).get(2);
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(first, java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.allocate((int) (record[1] - record[0])), record[0]); // a write that vanished
    }
    try (SegmentStorage again = new SegmentStorage(dir, 4096, true, THREE, a.key)) {
      ExecutionException e = assertThrows(ExecutionException.class, () -> recover(again));
      String m = e.getCause().getMessage();
      assertTrue(m.contains(first.getFileName().toString()) && m.contains("records after zeros at offset " + record[0]), m);
    }
  }

  @Test
  void aMemberOpenTwiceOrALogOpenWithOtherSettingsIsRefused() throws Exception {
    long wait = SegmentLog.reopenWaitMs;
    SegmentLog.reopenWaitMs = 200;
    try (SegmentStorage a = new SegmentStorage(dir, 1 << 20, true, THREE, "g/n1")) {
      IllegalStateException twice = assertThrows(IllegalStateException.class,
          () -> new SegmentStorage(dir, 1 << 20, true, THREE, "g/n1"));
      assertTrue(twice.getMessage().contains("g/n1 is already open"), twice.getMessage());
      IllegalStateException other = assertThrows(IllegalStateException.class,
          () -> new SegmentStorage(dir, 1 << 21, true, THREE, "g/n2"));
      assertTrue(other.getMessage().contains("segment-size"), other.getMessage());
      IllegalArgumentException badKey = assertThrows(IllegalArgumentException.class,
          () -> new SegmentStorage(dir, 1 << 20, true, THREE, "../n1"));
      assertTrue(badKey.getMessage().contains("'../n1'"), badKey.getMessage());
      recover(a);
    } finally {
      SegmentLog.reopenWaitMs = wait;
    }
    try (SegmentStorage again = new SegmentStorage(dir, 1 << 20, true, THREE, "g/n1")) {
      recover(again); // closed, it can be opened again
    }
  }

  /** A member opened again while its storage is still being closed (a node restarted at once) waits for the close. */
  @Test
  void aMemberOpenedWhileItsOldStorageClosesWaitsForTheClose() throws Exception {
    Member a = open("g/n1", 1 << 20, SegmentStorage.realFiles());
    a.writeEntries(3);
    CompletableFuture<SegmentStorage> reopened = CompletableFuture.supplyAsync(
        () -> new SegmentStorage(dir, 1 << 20, true, THREE, "g/n1"));
    assertThrows(java.util.concurrent.TimeoutException.class, () -> reopened.get(300, TimeUnit.MILLISECONDS),
        "opened while the old storage was open");
    a.storage.close();
    try (SegmentStorage again = reopened.get(30, TimeUnit.SECONDS)) {
      assertSameState(recover(a.model), recover(again), "reopened");
    }
  }

  private interface Check {
    boolean holds() throws Exception;
  }

  private static void awaitCondition(Check c, String what) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!c.holds()) {
      if (System.nanoTime() > deadline) fail(what);
      TimeUnit.MILLISECONDS.sleep(5); // polling a condition with a deadline
    }
  }
}
