package io.raftactors.persistence;

import io.raftactors.actor.RaftStorage;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.HardState;
import io.raftactors.core.LogEntry;
import io.raftactors.core.Snapshot;
import io.raftactors.core.SnapshotMeta;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Random writes of the kinds a node makes, one after the other, consistent with each other: hard
 * states, entries, truncations of the log's tail, snapshots inside and past the log.
 */
final class RandomWrites {
  private final ClusterConfig config;
  /** Whether snapshots are written (off: the log only grows and is truncated). */
  boolean snapshots = true;
  long term = 1;
  long last = 1;
  long snap;
  /** The largest index ever written (a truncated entry keeps its segment until a snapshot covers its index). */
  long highest = 1;

  RandomWrites(ClusterConfig config) {
    this.config = config;
  }

  RaftStorage.Write next(SplittableRandom r) {
    HardState hs = null;
    if (r.nextInt(5) == 0) hs = new HardState(++term, r.nextBoolean() ? "n" + (1 + r.nextInt(3)) : null);
    Snapshot snapshot = null;
    if (snapshots && r.nextInt(12) == 0) {
      long idx = snap + 1 + r.nextInt((int) (last - snap) + 5);
      byte[] data = new byte[r.nextInt(3000)];
      r.nextBytes(data);
      snapshot = new Snapshot(new SnapshotMeta(idx, term, config), data);
      if (idx >= last) last = idx;
      snap = idx;
    }
    long truncate = 0;
    if (last > snap + 1 && r.nextInt(6) == 0) {
      truncate = snap + 1 + r.nextInt((int) (last - snap));
      last = truncate - 1;
    }
    List<LogEntry> entries = new ArrayList<>();
    for (int k = r.nextInt(6); k > 0; k--) entries.add(SegmentStorageTest.entry(++last, term, r));
    highest = Math.max(highest, last);
    return new RaftStorage.Write(hs, snapshot, truncate, entries);
  }
}
