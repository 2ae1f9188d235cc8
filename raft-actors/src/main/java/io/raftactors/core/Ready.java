package io.raftactors.core;

import java.util.List;

/**
 * Everything one round of the core asks its driver to do, in this order:
 *
 * <ol>
 *   <li>send {@link #messages()} at once (the leader's AppendEntries may leave before its own
 *       write is durable, thesis 10.2.1);
 *   <li>write {@link #hardState()} (if not null), then {@link #snapshot()} (if not null: it replaces
 *       every entry up to its index), then truncate the log from {@link #truncateFrom()} (if &gt; 0)
 *       and append {@link #entries()}, as one atomic write ordered after every earlier write, and
 *       report its completion with {@link RaftCore#persisted(long, long)};
 *   <li>send {@link #messagesAfterPersist()} only once this and every earlier write is durable
 *       (votes, acknowledgements and anything stamped with a newly adopted term depend on it);
 *   <li>if {@link #restore()} is not null, load it into the state machine (a snapshot installed from
 *       the leader); then apply {@link #committed()} in order (they are already durable locally) and
 *       answer their callers; complete {@link #outcomes()};
 *   <li>serve each of {@link #reads()} once the state machine has applied its index (thesis 6.4).
 * </ol>
 */
public record Ready(
    HardState hardState,
    Snapshot snapshot,
    long truncateFrom,
    List<LogEntry> entries,
    List<Outbound> messages,
    List<Outbound> messagesAfterPersist,
    Snapshot restore,
    List<Committed> committed,
    List<ProposalOutcome> outcomes,
    List<ReadState> reads,
    List<String> violations) {

  public boolean hasWrite() {
    return hardState != null || snapshot != null || truncateFrom > 0 || !entries.isEmpty();
  }

  public boolean isEmpty() {
    return !hasWrite()
        && messages.isEmpty()
        && messagesAfterPersist.isEmpty()
        && restore == null
        && committed.isEmpty()
        && outcomes.isEmpty()
        && reads.isEmpty()
        && violations.isEmpty();
  }

  /** The last entry this round writes, or null; what to pass to {@link RaftCore#persisted} once durable. */
  public LogEntry lastEntry() {
    return entries.isEmpty() ? null : entries.get(entries.size() - 1);
  }
}
