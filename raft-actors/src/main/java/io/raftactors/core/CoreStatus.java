package io.raftactors.core;

import java.util.Map;
import java.util.Set;

/**
 * A node's state at one moment, as {@link RaftCore#status()} reports it: for status pages, logs,
 * tests and invariant checks. A value: it does not change when the node does, so read it again
 * after the node took a step. It is how a node's state is read; {@link RaftCore} keeps single
 * accessors only for what a driver reads on every message and for a read-only view of the log.
 *
 * @param id this member
 * @param role its role in {@code term}
 * @param term its current term (durable once the Ready that raised it is written)
 * @param votedFor whom it voted for in {@code term}, or null
 * @param leaderId the leader of {@code term} as far as it knows, or null
 * @param commitIndex highest index known committed
 * @param lastApplied highest index handed out for applying
 * @param stableIndex highest index known durable in its own storage
 * @param firstIndex first index held in its in-memory log (snapshotIndex + 1, or lower while entries a
 *     snapshot covers are kept for followers, raft.snapshot.catch-up-entries)
 * @param lastIndex last index in its log
 * @param lastTerm term of the last entry (or of the snapshot point)
 * @param snapshotIndex last index covered by its snapshot (0: none)
 * @param configuration its active configuration: the latest in its log, committed or not
 * @param now logical ticks since it (re)started
 * @param electionElapsed ticks since its election timer was last reset
 * @param randomizedElectionTimeout the election timeout drawn at that reset
 * @param pendingProposals proposals made here that wait for their entry to be applied
 * @param votesGranted (pre-)candidates: the voters that granted so far, itself included
 * @param progress leaders: each other member's replication progress; empty otherwise
 * @param change leaders: the membership change being prepared (its new voters catching up, or
 *     waiting for a commit of this term), or null
 * @param transferTarget leaders: the member leadership is being handed to, or null
 */
public record CoreStatus(
    String id,
    Role role,
    long term,
    String votedFor,
    String leaderId,
    long commitIndex,
    long lastApplied,
    long stableIndex,
    long firstIndex,
    long lastIndex,
    long lastTerm,
    long snapshotIndex,
    ClusterConfig configuration,
    long now,
    int electionElapsed,
    int randomizedElectionTimeout,
    int pendingProposals,
    Set<String> votesGranted,
    Map<String, PeerProgress> progress,
    ChangeStatus change,
    String transferTarget) {

  /**
   * A membership change on its way into the log.
   *
   * @param target the configuration it will append
   * @param catchingUp new voters that have not caught up yet (empty: waiting for a commit of this term)
   * @param round the catch-up round under way (thesis 4.2.1)
   */
  public record ChangeStatus(ClusterConfig target, java.util.List<String> catchingUp, int round) {}

  /** How far the leader has brought one member: as paper Figure 2 names it, plus how it sends. */
  public record PeerProgress(long matchIndex, long nextIndex, int inflight, String mode) {}

  /** Leaders: the member's matchIndex; -1 if this node does not lead or the member is unknown. */
  public long matchIndex(String peer) {
    PeerProgress p = progress.get(peer);
    return p == null ? -1 : p.matchIndex();
  }

  /** Leaders: the member's nextIndex; -1 if this node does not lead or the member is unknown. */
  public long nextIndex(String peer) {
    PeerProgress p = progress.get(peer);
    return p == null ? -1 : p.nextIndex();
  }

  /** Leaders: AppendEntries outstanding to the member (pipelining window); -1 as above. */
  public int inflight(String peer) {
    PeerProgress p = progress.get(peer);
    return p == null ? -1 : p.inflight();
  }
}
