package io.raftactors.core;

/** Where the log starts: the last entry a snapshot covers, and the configuration at that point. */
public record SnapshotMeta(long lastIncludedIndex, long lastIncludedTerm, ClusterConfig config) {
  public static SnapshotMeta initial(ClusterConfig config) {
    return new SnapshotMeta(0, 0, config);
  }
}
