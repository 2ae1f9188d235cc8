package io.raftactors.core;

import java.util.Arrays;
import java.util.List;

/**
 * The Raft peer protocol. Every message carries the sender's id and term; the one exception is
 * {@link PreVote}, whose term is the term the sender <em>would</em> campaign in (thesis 9.6).
 */
public sealed interface RaftMessage {
  long term();

  String from();

  /**
   * RequestVote RPC (paper 5.2). {@code transfer}: the candidate campaigns because the leader told
   * it to ({@link TimeoutNow}, thesis 3.10), so voters that heard from that leader lately consider
   * it all the same (T4.2.3 does not apply).
   */
  record RequestVote(long term, String from, long lastLogIndex, long lastLogTerm, boolean transfer) implements RaftMessage {
    /** An ordinary election's request. */
    public RequestVote(long term, String from, long lastLogIndex, long lastLogTerm) {
      this(term, from, lastLogIndex, lastLogTerm, false);
    }
  }

  /**
   * Leadership transfer (thesis 3.10): the leader of {@code term} tells a caught-up voter to start
   * an election now, without waiting for its timer and without a pre-vote.
   */
  record TimeoutNow(long term, String from) implements RaftMessage {}

  record RequestVoteResponse(long term, String from, boolean granted) implements RaftMessage {}

  /** Pre-vote (thesis 9.6): {@code term} is the proposed term; answering never changes the voter's state. */
  record PreVote(long term, String from, long lastLogIndex, long lastLogTerm) implements RaftMessage {}

  /** A granted pre-vote carries the proposed term, a rejection the voter's own term. */
  record PreVoteResponse(long term, String from, boolean granted) implements RaftMessage {}

  /**
   * AppendEntries RPC (paper 5.3). An empty {@code entries} list is a heartbeat; heartbeats use
   * {@code prevLogIndex} = the follower's known match index so that they never disturb a pipeline.
   * {@code round} is the leader's heartbeat round when it was sent, echoed in the response: an echo
   * of round r proves the follower still followed this leader after r began (ReadIndex, leases).
   */
  record AppendEntries(
      long term,
      String from,
      long prevLogIndex,
      long prevLogTerm,
      List<LogEntry> entries,
      long leaderCommit,
      long round)
      implements RaftMessage {
    public AppendEntries {
      entries = List.copyOf(entries);
    }

    /** An AppendEntries of round 0. */
    public AppendEntries(long term, String from, long prevLogIndex, long prevLogTerm, List<LogEntry> entries, long leaderCommit) {
      this(term, from, prevLogIndex, prevLogTerm, entries, leaderCommit, 0);
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
      long hintTerm,
      long round)
      implements RaftMessage {

    /** A response that echoes round 0. */
    public AppendEntriesResponse(long term, String from, boolean success, long matchIndex, long rejectedIndex,
        long hintIndex, long hintTerm) {
      this(term, from, success, matchIndex, rejectedIndex, hintIndex, hintTerm, 0);
    }

    public static AppendEntriesResponse success(long term, String from, long matchIndex) {
      return new AppendEntriesResponse(term, from, true, matchIndex, 0, 0, 0);
    }

    public static AppendEntriesResponse reject(
        long term, String from, long rejectedIndex, long hintIndex, long hintTerm) {
      return new AppendEntriesResponse(term, from, false, 0, rejectedIndex, hintIndex, hintTerm);
    }

    /** The same response echoing the request's {@code round}. */
    public AppendEntriesResponse withRound(long r) {
      return new AppendEntriesResponse(term, from, success, matchIndex, rejectedIndex, hintIndex, hintTerm, r);
    }
  }

  /**
   * A follower asks the leader for a read index (thesis 6.4) on behalf of a client read;
   * {@code requestId} is the follower's own id for the read.
   */
  record ReadIndexRequest(long term, String from, long requestId) implements RaftMessage {}

  /**
   * The leader's answer: {@code readIndex} is its commit index when the read arrived, confirmed by a
   * heartbeat round; -1 means it cannot serve the read (it is not, or no longer, the leader).
   */
  record ReadIndexResponse(long term, String from, long requestId, long readIndex) implements RaftMessage {}

  /**
   * InstallSnapshot RPC (paper 7), one chunk of {@code data} at {@code offset} of a snapshot of
   * {@code totalBytes}; {@code done} marks the last chunk.
   */
  record InstallSnapshot(
      long term,
      String from,
      long lastIncludedIndex,
      long lastIncludedTerm,
      ClusterConfig config,
      long offset,
      byte[] data,
      boolean done,
      long totalBytes)
      implements RaftMessage {

    @Override
    public boolean equals(Object o) {
      return o instanceof InstallSnapshot m && m.term == term && m.from.equals(from)
          && m.lastIncludedIndex == lastIncludedIndex && m.lastIncludedTerm == lastIncludedTerm
          && m.config.equals(config) && m.offset == offset && Arrays.equals(m.data, data) && m.done == done
          && m.totalBytes == totalBytes;
    }

    @Override
    public int hashCode() {
      return Long.hashCode(lastIncludedIndex) * 31 + Long.hashCode(offset);
    }

    @Override
    public String toString() {
      return "InstallSnapshot[term=" + term + ", from=" + from + ", last=" + lastIncludedIndex + "/" + lastIncludedTerm
          + ", offset=" + offset + ", " + data.length + " bytes, done=" + done + ", total=" + totalBytes + "]";
    }
  }

  /**
   * Reply to InstallSnapshot: {@code installed} once the whole snapshot is durable (or the follower
   * already holds everything it covers); otherwise {@code nextOffset} is the offset the follower
   * expects next, so a lost or reordered chunk is resent from there.
   */
  record InstallSnapshotResponse(long term, String from, long lastIncludedIndex, long nextOffset, boolean installed)
      implements RaftMessage {}
}
