package io.raftactors.persistence;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.actor.InMemoryStorage;
import io.raftactors.actor.RaftStorage;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.DurableState;
import io.raftactors.core.EntryData;
import io.raftactors.core.HardState;
import io.raftactors.core.LogEntry;
import io.raftactors.core.MemberAddress;
import io.raftactors.core.Snapshot;
import io.raftactors.core.SnapshotMeta;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SegmentStorage} against {@link InMemoryStorage} as the model: the same writes, and every
 * recovery must give what the model holds; plus the faults a log file meets (a torn last write, a
 * corrupted record in the middle, a missing snapshot file).
 */
class SegmentStorageTest {
  private static final ClusterConfig THREE = ClusterConfig.of("n1", "n2", "n3");

  @TempDir
  Path dir;

  private SegmentStorage open(long segmentBytes) {
    return new SegmentStorage(dir, segmentBytes, true, THREE, "test");
  }

  static DurableState recover(RaftStorage s) throws Exception {
    return s.recover().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  static void write(RaftStorage s, RaftStorage.Write w) throws Exception {
    s.write(w).toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  static LogEntry entry(long index, long term, SplittableRandom r) {
    byte[] b = new byte[1 + r.nextInt(200)];
    r.nextBytes(b);
    b[b.length - 1] = 7; // never ends in a zero byte (the torn-write test cuts the tail of a record)
    EntryData data = switch (r.nextInt(6)) {
      case 0 -> new EntryData.Noop(term);
      case 1 -> new EntryData.Configuration(new ClusterConfig(List.of("n1", "n2", "n4"), List.of("n5"), List.of("n1", "n2", "n3"),
          Map.of("n4", new MemberAddress("akka://raft@127.0.0.1:2554", "127.0.0.1:8084"),
              "n5", new MemberAddress("akka://raft@127.0.0.1:2555", null))));
      case 2 -> new EntryData.SessionCommand(3, index, index, 1000 + index, new EntryData.Command(33, "kv.Put", b));
      case 3 -> new EntryData.KeyedCommand("key-" + index, 2000 + index, new EntryData.Command(20, "", b));
      default -> new EntryData.Command(33, "io.raftactors.examples.kv.KvCommand$Put", b);
    };
    return new LogEntry(index, term, data);
  }

  static void assertSameState(DurableState expected, DurableState actual, String when) {
    assertEquals(expected.hardState(), actual.hardState(), when + ": hard state");
    assertEquals(expected.snapshot(), actual.snapshot(), when + ": snapshot");
    assertEquals(expected.entries(), actual.entries(), when + ": entries");
    if (expected.snapshotData() == null) assertNull(actual.snapshotData(), when);
    else assertArrayEquals(expected.snapshotData(), actual.snapshotData(), when + ": snapshot data");
  }

  @Test
  void anEmptyDirectoryRecoversAsEmptyStorage() throws Exception {
    try (SegmentStorage s = open(1 << 20)) {
      DurableState st = recover(s);
      assertEquals(DurableState.empty(THREE).hardState(), st.hardState());
      assertEquals(DurableState.empty(THREE).snapshot(), st.snapshot());
      assertTrue(st.entries().isEmpty());
    }
  }

  /**
   * Random writes of the kinds a node makes (hard state, entries, truncations, snapshots inside and
   * past the log), small segments so that writes roll over and compaction deletes segments; the
   * storage is reopened now and then, and every recovery equals the model.
   */
  @Test
  void durability_T3_8_03_randomWritesRecoverExactlyAsTheModel_acrossSegmentsCompactionAndReopening() throws Exception {
    for (long seed = 1; seed <= 12; seed++) {
      Path d = dir.resolve("seed-" + seed);
      SplittableRandom r = new SplittableRandom(seed);
      InMemoryStorage model = new InMemoryStorage(THREE);
      SegmentStorage s = new SegmentStorage(d, 4096 + r.nextInt(8192), true, THREE, "seed-" + seed);
      recover(s);
      write(s, new RaftStorage.Write(null, 0, DurableState.bootstrap(THREE).entries()));
      RandomWrites writes = new RandomWrites(THREE);
      for (int i = 0; i < 300; i++) {
        RaftStorage.Write w = writes.next(r);
        model.write(w);
        write(s, w);
        if (r.nextInt(40) == 0) {
          s.close();
          s = new SegmentStorage(d, 4096 + r.nextInt(8192), true, THREE, "seed-" + seed);
          assertSameState(recover(model), recover(s), "seed " + seed + " after write " + i);
        }
      }
      assertSameState(recover(model), recover(s), "seed " + seed);
      s.close();
      assertTrue(s.segmentFiles().size() < 300, "compaction deleted segments: " + s.segmentFiles().size());
    }
  }

  private void writeSome(SegmentStorage s, int n, long from) throws Exception {
    SplittableRandom r = new SplittableRandom(from);
    for (int i = 0; i < n; i++) write(s, new RaftStorage.Write(new HardState(1, "n1"), 0, List.of(entry(from + i, 1, r))));
  }

  /** Offsets of the records of a segment file: [start, end) pairs, in order. */
  static List<long[]> records(Path segment) throws IOException {
    List<long[]> out = new ArrayList<>();
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(segment));
    long at = 16;
    while (at + 8 <= b.capacity()) {
      int length = b.getInt((int) at);
      if (length == 0) break;
      out.add(new long[] {at, at + 8 + length});
      at += 8 + length;
    }
    return out;
  }

  @Test
  void aTornLastWriteIsCutOff_andTheLogEndsWithTheWriteBeforeIt() throws Exception {
    Path seg;
    try (SegmentStorage s = open(1 << 20)) {
      recover(s);
      writeSome(s, 10, 1);
      seg = s.segmentFiles().get(0);
    }
    List<long[]> recs = records(seg);
    long[] lastRecord = recs.get(recs.size() - 1);
    try (FileChannel ch = FileChannel.open(seg, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.allocate(5), lastRecord[1] - 5); // the last sectors of the write never reached the disk
    }
    try (SegmentStorage s = open(1 << 20)) {
      DurableState st = recover(s);
      assertEquals(9, st.entries().size(), "entries 1..9; the torn 10th is gone");
      assertEquals(9, st.entries().get(8).index());
      writeSome(s, 1, 10); // and the log goes on where it ended
      assertEquals(10, recover(s).entries().size());
    }
    try (SegmentStorage s = open(1 << 20)) {
      assertEquals(10, recover(s).entries().size(), "the rewritten 10th survives a restart");
    }
  }

  @Test
  void aCorruptedRecordInTheMiddleStopsRecovery_namingFileAndOffset() throws Exception {
    Path seg;
    try (SegmentStorage s = open(1 << 20)) {
      recover(s);
      writeSome(s, 10, 1);
      seg = s.segmentFiles().get(0);
    }
    long[] third = records(seg).get(3);
    try (FileChannel ch = FileChannel.open(seg, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer one = ByteBuffer.allocate(1);
      ch.read(one, third[0] + 12);
      one.put(0, (byte) (one.get(0) ^ 0x40)).rewind();
      ch.write(one, third[0] + 12);
    }
    try (SegmentStorage s = open(1 << 20)) {
      ExecutionException e = assertThrows(ExecutionException.class, () -> recover(s));
      String m = e.getCause().getMessage();
      assertTrue(m.contains(seg.getFileName().toString()) && m.contains("offset " + third[0]), m);
    }
  }

  @Test
  void aSnapshotCompactsWholeSegments_andRecoveryGivesTheSnapshotAndTheSuffix() throws Exception {
    byte[] data = "state machine at 150".getBytes();
    try (SegmentStorage s = open(4096)) {
      recover(s);
      writeSome(s, 200, 1);
      int before = s.segmentFiles().size();
      write(s, new RaftStorage.Write(null, new Snapshot(new SnapshotMeta(150, 1, THREE), data), 0, List.of()));
      writeSome(s, 5, 201);
      assertTrue(s.segmentFiles().size() < before, before + " segments before, " + s.segmentFiles().size() + " after");
    }
    try (SegmentStorage s = open(4096)) {
      DurableState st = recover(s);
      assertEquals(150, st.snapshot().lastIncludedIndex());
      assertArrayEquals(data, st.snapshotData());
      assertEquals(55, st.entries().size());
      assertEquals(151, st.entries().get(0).index());
      assertEquals(205, st.entries().get(54).index());
    }
  }

  @Test
  void aMissingSnapshotFileStopsRecoveryWithItsName() throws Exception {
    try (SegmentStorage s = open(1 << 20)) {
      recover(s);
      writeSome(s, 3, 1);
      write(s, new RaftStorage.Write(null, new Snapshot(new SnapshotMeta(3, 1, THREE), new byte[] {1}), 0, List.of()));
    }
    try (var files = Files.walk(dir)) {
      for (Path p : files.filter(p -> p.getFileName().toString().startsWith("snapshot-")).toList()) Files.delete(p);
    }
    try (SegmentStorage s = open(1 << 20)) {
      ExecutionException e = assertThrows(ExecutionException.class, () -> recover(s));
      assertTrue(e.getCause().getMessage().contains("snapshot-"), e.getCause().getMessage());
    }
  }

  /**
   * A crash right after a new segment was put in place, before its first record: the empty segment
   * gets its checkpoint at recovery, so it can become the first segment once older ones are
   * compacted; a half-prepared segment of the crashed run is removed.
   */
  @Test
  void anEmptyLastSegmentGetsItsCheckpoint_andHalfPreparedSegmentsAreRemoved() throws Exception {
    byte[] data = {4, 2};
    try (SegmentStorage s = open(4096)) {
      recover(s);
      writeSome(s, 30, 1);
    }
    List<Path> before;
    try (var files = Files.list(dir)) {
      before = files.filter(p -> p.toString().endsWith(".log")).sorted().toList();
    }
    long next = before.size() + 1;
    ByteBuffer header = ByteBuffer.allocate(4096).putInt(0x52414654).putInt(2).putLong(next);
    Files.write(dir.resolve(String.format("segment-%020d.log", next)), header.array());
    Files.write(dir.resolve(String.format("segment-%020d.prealloc", next + 1)), new byte[100]);
    try (SegmentStorage s = open(4096)) {
      assertEquals(30, recover(s).entries().size());
      assertTrue(Files.notExists(dir.resolve(String.format("segment-%020d.prealloc", next + 1))));
      writeSome(s, 5, 31);
      // A snapshot covering everything so far deletes every segment before the once-empty one.
      write(s, new RaftStorage.Write(new HardState(2, "n2"), new Snapshot(new SnapshotMeta(35, 1, THREE), data), 0, List.of()));
      assertTrue(s.segmentFiles().get(0).getFileName().toString().compareTo(String.format("segment-%020d.log", next)) >= 0,
          "older segments deleted: " + s.segmentFiles());
    }
    try (SegmentStorage s = open(4096)) {
      DurableState st = recover(s);
      assertEquals(new HardState(2, "n2"), st.hardState());
      assertEquals(35, st.snapshot().lastIncludedIndex());
      assertArrayEquals(data, st.snapshotData());
      assertTrue(st.entries().isEmpty());
    }
  }
}
