package io.raftactors.core;

import java.util.ArrayList;
import java.util.List;

/**
 * What a node recovers from storage when it starts: hard state, snapshot metadata and the log
 * entries after the snapshot. The configuration in {@code snapshot} is used until the log holds one.
 */
public record DurableState(HardState hardState, SnapshotMeta snapshot, List<LogEntry> entries, byte[] snapshotData) {
  public DurableState {
    entries = List.copyOf(entries);

    long expected = snapshot.lastIncludedIndex() + 1;
    for (LogEntry e : entries) {
      if (e.index() != expected) {
        throw new IllegalArgumentException("log has a gap: expected index " + expected + ", found " + e.index());
      }
      expected++;
    }
  }

  /** State without snapshot data (the snapshot, if any, is only metadata). */
  public DurableState(HardState hardState, SnapshotMeta snapshot, List<LogEntry> entries) {
    this(hardState, snapshot, entries, null);
  }

  /**
   * The state of a founding member of a new group: the bootstrap configuration is the first log
   * entry (index 1, term 0), identical on every founder, so it is committed with the first leader's
   * no-op like any other entry and membership changes later are ordinary log entries.
   */
  public static DurableState bootstrap(ClusterConfig config) {
    List<LogEntry> log = new ArrayList<>();
    log.add(new LogEntry(1, 0, new EntryData.Configuration(config)));
    return new DurableState(HardState.INITIAL, SnapshotMeta.initial(config), log);
  }

  /** Fresh state whose configuration lives only in the (empty) snapshot; handy for tests. */
  public static DurableState empty(ClusterConfig config) {
    return new DurableState(HardState.INITIAL, SnapshotMeta.initial(config), List.of());
  }
}
