package io.raftactors.core;

import java.util.Arrays;
import java.util.Objects;

/**
 * A state machine snapshot and where it stands in the log: it replaces every entry up to and
 * including {@code meta.lastIncludedIndex()}.
 */
public record Snapshot(SnapshotMeta meta, byte[] data) {
  public Snapshot {
    Objects.requireNonNull(meta, "meta");
    Objects.requireNonNull(data, "data");
  }

  public long index() {
    return meta.lastIncludedIndex();
  }

  public long term() {
    return meta.lastIncludedTerm();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Snapshot s && s.meta.equals(meta) && Arrays.equals(s.data, data);
  }

  @Override
  public int hashCode() {
    return 31 * meta.hashCode() + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "Snapshot[" + meta + ", " + data.length + " bytes]";
  }
}
