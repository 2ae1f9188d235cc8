package io.raftactors.actor;

import io.raftactors.core.LogEntry;
import io.raftactors.core.RaftMessage;
import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import io.raftactors.core.RaftMessage.InstallSnapshot;
import io.raftactors.core.RaftMessage.InstallSnapshotResponse;
import io.raftactors.core.RaftMessage.PreVote;
import io.raftactors.core.RaftMessage.RequestVote;

/**
 * Checks a peer message before it reaches the core: right group, addressed to this member, from a
 * known member, and with fields in range. A message from the network is never trusted to be well
 * formed; one that is not is dropped without touching any state.
 */
final class PeerMessageValidator {
  /** Snapshots are held in memory while received; larger announced sizes are refused. */
  static final long MAX_SNAPSHOT_BYTES = Integer.MAX_VALUE - 8;

  private PeerMessageValidator() {}

  /** Why {@code env} must be dropped, or null if it is acceptable. */
  static String problem(RaftNode.PeerEnvelope env, RaftSettings settings) {
    if (!settings.groupId().equals(env.groupId())) return "unknown group '" + env.groupId() + "'";
    if (!settings.memberId().equals(env.to())) return "addressed to member '" + env.to() + "', not to this node";
    RaftMessage m = env.message();
    if (m == null) return "no message";
    // Any member id is accepted: members added at run time are in no one's settings, and a new server
    // must accept a leader (T4.1-08) and grant votes (T4.1-09) from outside its own configuration.
    if (m.from() == null || m.from().isBlank()) return "no sender id";
    if (m.from().equals(settings.memberId())) return "sender claims to be this node";
    if (m.term() < 0) return "negative term " + m.term();
    if (m instanceof AppendEntries ae) return appendEntries(ae);
    if (m instanceof RequestVote rv) return logPosition(rv.lastLogIndex(), rv.lastLogTerm(), rv.term());
    if (m instanceof PreVote pv) return logPosition(pv.lastLogIndex(), pv.lastLogTerm(), pv.term());
    if (m instanceof InstallSnapshot is) {
      if (is.lastIncludedIndex() < 1 || is.lastIncludedTerm() < 0 || is.lastIncludedTerm() > is.term()) {
        return "InstallSnapshot with an invalid last included entry";
      }
      if (is.config() == null || is.data() == null) return "InstallSnapshot without configuration or data";
      if (is.offset() < 0 || is.totalBytes() > MAX_SNAPSHOT_BYTES || is.offset() + is.data().length > is.totalBytes()) {
        return "InstallSnapshot chunk outside its snapshot (offset " + is.offset() + ", total " + is.totalBytes() + ")";
      }
    }
    if (m instanceof InstallSnapshotResponse r) {
      if (r.lastIncludedIndex() < 0 || r.nextOffset() < 0) return "negative index or offset in InstallSnapshotResponse";
    }
    if (m instanceof RaftMessage.ReadIndexResponse r && r.readIndex() < -1) return "read index " + r.readIndex() + " below -1";
    if (m instanceof AppendEntriesResponse r) {
      if (r.matchIndex() < 0 || r.rejectedIndex() < 0 || r.hintIndex() < 0 || r.hintTerm() < 0 || r.round() < 0) {
        return "negative index or term in AppendEntriesResponse";
      }
    }
    return null;
  }

  private static String logPosition(long lastIndex, long lastTerm, long term) {
    if (lastIndex < 0 || lastTerm < 0) return "negative last log index or term";
    if (lastTerm > term) return "last log term " + lastTerm + " above the message term " + term;
    return null;
  }

  private static String appendEntries(AppendEntries ae) {
    if (ae.prevLogIndex() < 0 || ae.prevLogTerm() < 0 || ae.leaderCommit() < 0 || ae.round() < 0) return "negative index or term in AppendEntries";
    if (ae.prevLogTerm() > ae.term()) return "prevLogTerm " + ae.prevLogTerm() + " above the leader's term " + ae.term();
    long expected = ae.prevLogIndex() + 1;
    long lastTerm = ae.prevLogTerm();
    for (LogEntry e : ae.entries()) {
      if (e == null || e.data() == null) return "null entry";
      if (e.index() != expected) return "entries not contiguous after prevLogIndex (" + e.index() + " where " + expected + " was expected)";
      if (e.term() < lastTerm || e.term() > ae.term()) return "entry " + e.index() + " has term " + e.term() + " out of order";
      lastTerm = e.term();
      expected++;
    }
    return null;
  }
}
