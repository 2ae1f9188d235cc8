package io.raftactors.core;

import java.util.List;

/**
 * The Raft peer protocol. Every message carries the sender's id and term; the one exception is
 * {@link PreVote}, whose term is the term the sender <em>would</em> campaign in (thesis 9.6).
 */
public sealed interface RaftMessage {
  long term();

  String from();

  /** RequestVote RPC (paper 5.2). */
  record RequestVote(long term, String from, long lastLogIndex, long lastLogTerm) implements RaftMessage {}

  record RequestVoteResponse(long term, String from, boolean granted) implements RaftMessage {}

  /** Pre-vote (thesis 9.6): {@code term} is the proposed term; answering never changes the voter's state. */
  record PreVote(long term, String from, long lastLogIndex, long lastLogTerm) implements RaftMessage {}

  /** A granted pre-vote carries the proposed term, a rejection the voter's own term. */
  record PreVoteResponse(long term, String from, boolean granted) implements RaftMessage {}

  /**
   * AppendEntries RPC (paper 5.3). An empty {@code entries} list is a heartbeat; heartbeats use
   * {@code prevLogIndex} = the follower's known match index so that they never disturb a pipeline.
   */
  record AppendEntries(
      long term,
      String from,
      long prevLogIndex,
      long prevLogTerm,
      List<LogEntry> entries,
      long leaderCommit)
      implements RaftMessage {
    public AppendEntries {
      entries = List.copyOf(entries);
    }

    public long lastIndex() {
      return prevLogIndex + entries.size();
    }
  }

  /**
   * Reply to AppendEntries. On success {@code matchIndex} is the index of the last entry the request
   * carried (not the follower's last index), so replies arriving out of order can be matched to their
   * requests. On rejection {@code rejectedIndex} is the request's prevLogIndex and the hint tells the
   * leader where to retry: {@code hintTerm} is the follower's term at prevLogIndex and
   * {@code hintIndex} the first index it holds for that term; if the follower's log is too short,
   * {@code hintTerm} is 0 and {@code hintIndex} is its last index + 1.
   */
  record AppendEntriesResponse(
      long term,
      String from,
      boolean success,
      long matchIndex,
      long rejectedIndex,
      long hintIndex,
      long hintTerm)
      implements RaftMessage {

    public static AppendEntriesResponse success(long term, String from, long matchIndex) {
      return new AppendEntriesResponse(term, from, true, matchIndex, 0, 0, 0);
    }

    public static AppendEntriesResponse reject(
        long term, String from, long rejectedIndex, long hintIndex, long hintTerm) {
      return new AppendEntriesResponse(term, from, false, 0, rejectedIndex, hintIndex, hintTerm);
    }
  }
}
