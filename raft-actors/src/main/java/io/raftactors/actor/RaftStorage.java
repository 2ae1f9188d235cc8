package io.raftactors.actor;

import io.raftactors.core.DurableState;
import io.raftactors.core.HardState;
import io.raftactors.core.LogEntry;
import io.raftactors.core.Snapshot;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * Where a node keeps its log, term and vote. A node issues at most one write at a time and waits
 * for it before the next (everything that arrives meanwhile is batched into the next write), so
 * implementations need no ordering logic of their own; they must make each write atomic and
 * durable before completing it.
 */
public interface RaftStorage {

  /** Reads the durable state at start (and after a restart of the node). */
  CompletionStage<DurableState> recover();

  /**
   * Writes, in this order: {@code hardState} (if not null); {@code snapshot} (if not null: it replaces
   * every entry up to its index, which may be past the last entry held); a truncation from
   * {@code truncateFrom} (if &gt; 0); then {@code entries}. The whole write is atomic.
   */
  CompletionStage<Void> write(Write write);

  /** One atomic write. */
  record Write(HardState hardState, Snapshot snapshot, long truncateFrom, List<LogEntry> entries) {
    public Write {
      entries = List.copyOf(entries);
    }

    /** A write without a snapshot. */
    public Write(HardState hardState, long truncateFrom, List<LogEntry> entries) {
      this(hardState, null, truncateFrom, entries);
    }
  }
}
