package io.raftactors.core;

import java.util.List;

/**
 * Everything one round of the core asks its driver to do, in this order:
 *
 * <ol>
 *   <li>send {@link #messages()} at once (the leader's AppendEntries may leave before its own
 *       write is durable, thesis 10.2.1);
 *   <li>write {@link #hardState()} (if not null), then truncate the log from {@link #truncateFrom()}
 *       (if &gt; 0) and append {@link #entries()}, as one atomic write ordered after every earlier
 *       write, and report its completion with {@link RaftCore#persisted(long, long)};
 *   <li>send {@link #messagesAfterPersist()} only once this and every earlier write is durable
 *       (votes, acknowledgements and anything stamped with a newly adopted term depend on it);
 *   <li>apply {@link #committed()} in order (they are already durable locally) and answer their
 *       callers; complete {@link #outcomes()}.
 * </ol>
 */
public record Ready(
    HardState hardState,
    long truncateFrom,
    List<LogEntry> entries,
    List<Outbound> messages,
    List<Outbound> messagesAfterPersist,
    List<Committed> committed,
    List<ProposalOutcome> outcomes,
    List<String> violations) {

  public boolean hasWrite() {
    return hardState != null || truncateFrom > 0 || !entries.isEmpty();
  }

  public boolean isEmpty() {
    return !hasWrite()
        && messages.isEmpty()
        && messagesAfterPersist.isEmpty()
        && committed.isEmpty()
        && outcomes.isEmpty()
        && violations.isEmpty();
  }

  /** The last entry this round writes, or null; what to pass to {@link RaftCore#persisted} once durable. */
  public LogEntry lastEntry() {
    return entries.isEmpty() ? null : entries.get(entries.size() - 1);
  }
}
