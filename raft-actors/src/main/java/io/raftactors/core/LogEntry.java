package io.raftactors.core;

import java.util.Objects;

/** One entry of the replicated log. */
public record LogEntry(long index, long term, EntryData data) {
  public LogEntry {
    if (index < 1) throw new IllegalArgumentException("log index must be >= 1, was " + index);
    if (term < 0) throw new IllegalArgumentException("term must be >= 0, was " + term);
    Objects.requireNonNull(data, "data");
  }

  public int sizeInBytes() {
    return 24 + data.sizeInBytes();
  }
}
