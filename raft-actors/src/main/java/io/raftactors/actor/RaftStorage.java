package io.raftactors.actor;

import io.raftactors.core.DurableState;
import io.raftactors.core.HardState;
import io.raftactors.core.LogEntry;
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

  /** Writes {@code hardState} (if not null), truncates from {@code truncateFrom} (if &gt; 0), appends {@code entries}. */
  CompletionStage<Void> write(Write write);

  /** One atomic write. */
  record Write(HardState hardState, long truncateFrom, List<LogEntry> entries) {
    public Write {
      entries = List.copyOf(entries);
    }
  }
}
