package io.raftactors.actor;

import io.raftactors.core.Role;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * Everything a node measures, as one immutable value: where it stands in the group (role, term,
 * leader, indexes, the size of its log), how far each follower got (leaders), what it counted since
 * it started ({@link Counters}) and where the time went on its write path ({@link NodeMetrics}).
 *
 * <p>Asked for with {@link RaftNode.GetRaftMetrics}, or delivered every interval to a subscriber
 * ({@link RaftNode.SubscribeMetrics}, {@link RaftNode#subscribeMetrics}). The library depends on
 * no metrics library: an application hands these values to the one it uses (the KV example
 * registers them with Micrometer and serves them in the Prometheus text format).
 *
 * <p>A node that is not {@link RaftNode.Phase#RUNNING} (it reads its storage, waits for the other
 * founders, or refuses to start on lost storage) reports its phase, counters and write path, with
 * role FOLLOWER, term 0, no leader and every index 0, as its {@link RaftNode.Status} does.
 *
 * @param groupId the Raft group
 * @param memberId this member
 * @param takenAtMillis when this value was taken, epoch milliseconds
 * @param phase where the node is in its life; only a RUNNING node takes part in the group
 * @param role its role in {@code term}
 * @param term its current term
 * @param leaderId the leader of {@code term} as far as it knows, or null
 * @param commitIndex highest log index known committed
 * @param lastApplied highest log index applied to the state machine
 * @param firstIndex first index held in its in-memory log (the snapshot index + 1, or lower while the
 *     last entries the snapshot covers are kept for followers, {@code raft.snapshot.catch-up-entries})
 * @param lastIndex last index in its log (its snapshot index if the log is empty)
 * @param snapshotIndex last index covered by its latest snapshot (0: none)
 * @param followers leaders: every other member it replicates to, by id (voters, learners, members
 *     catching up or leaving); empty on any other node
 * @param counters what it counted since the node actor started
 * @param writePath stage latencies and batch sizes since the node's current incarnation started or
 *     since the last {@link RaftNode.GetMetrics} with reset, which resets them for subscribers too
 */
public record RaftMetrics(
    String groupId,
    String memberId,
    long takenAtMillis,
    RaftNode.Phase phase,
    Role role,
    long term,
    String leaderId,
    long commitIndex,
    long lastApplied,
    long firstIndex,
    long lastIndex,
    long snapshotIndex,
    Map<String, Follower> followers,
    Counters counters,
    NodeMetrics.Snapshot writePath) {

  public RaftMetrics {
    followers = Collections.unmodifiableMap(new TreeMap<>(followers));
  }

  /**
   * Entries in the in-memory log (from {@link #firstIndex} to {@link #lastIndex}), those kept behind
   * the snapshot for followers included; the snapshot holds the rest.
   */
  public long logEntries() {
    return Math.max(0, lastIndex - firstIndex + 1);
  }

  /** True if this node is the leader. */
  public boolean isLeader() {
    return role == Role.LEADER;
  }

  /**
   * How far the leader has brought one follower.
   *
   * @param matchIndex highest index known replicated on it
   * @param nextIndex next index the leader sends it
   * @param lag entries it lacks: the leader's last index minus {@code matchIndex}
   */
  public record Follower(long matchIndex, long nextIndex, long lag) {}

  /**
   * What a node counted since its actor started; a node restarted after a failed storage write
   * (an incarnation of the same actor) goes on counting. Counts only grow: a monitoring system
   * takes rates of them.
   *
   * <p>Proposals are commands proposed to this node ({@link RaftNode.Propose} and the client
   * protocol's {@link RaftNode.ClientCommand}); a command answered from the session table as a repeat
   * is none of them. Reads are queries ({@link RaftNode.Query}, {@link RaftNode.ClientQuery}).
   *
   * @param startedAtMillis when the node actor started, epoch milliseconds
   * @param restarts times the node restarted after a failure (a storage write or recovery failed)
   * @param preVoteRounds pre-vote rounds it started (thesis 9.6): a round that is won goes on to an
   *     election, counted in {@code electionsStarted} as well; a round that is not costs nothing
   * @param electionsStarted elections it started as a candidate, in a new term (leadership
   *     transfers included)
   * @param electionsWon elections it won: times it became leader
   * @param leaderChanges times it learned of the leader of a newer term (itself included)
   * @param proposalsAccepted proposals it appended to its log as leader
   * @param proposalsNotLeader proposals refused because it is not the leader (or hands its
   *     leadership over, or does not take part yet); nothing was appended
   * @param proposalsOverloaded proposals refused by flow control ({@code raft.flow-control}, or the
   *     idempotency key limits); nothing was appended
   * @param proposalsInvalid proposals refused as malformed (an idempotency key too long, a command
   *     that cannot be serialized); nothing was appended
   * @param readsLinearizable reads asked {@link ReadConsistency#LINEARIZABLE} that it answered with a result
   * @param readsLease reads asked {@link ReadConsistency#LEASE} that it answered with a result
   * @param readsStale reads asked {@link ReadConsistency#STALE} that it answered with a result
   * @param readsNotLeader reads refused because no leader could serve them through this node
   * @param snapshotsTaken snapshots of its state machine it took (and compacted its log to)
   * @param snapshotsInstalled snapshots it installed from the leader
   */
  public record Counters(
      long startedAtMillis,
      long restarts,
      long preVoteRounds,
      long electionsStarted,
      long electionsWon,
      long leaderChanges,
      long proposalsAccepted,
      long proposalsNotLeader,
      long proposalsOverloaded,
      long proposalsInvalid,
      long readsLinearizable,
      long readsLease,
      long readsStale,
      long readsNotLeader,
      long snapshotsTaken,
      long snapshotsInstalled) {

    /** Proposals refused before reaching the log, for any reason. */
    public long proposalsRejected() {
      return proposalsNotLeader + proposalsOverloaded + proposalsInvalid;
    }

    /** Reads answered with a result, whatever their consistency. */
    public long readsServed() {
      return readsLinearizable + readsLease + readsStale;
    }

    /** Reads answered with a result asked with {@code consistency}. */
    public long readsServed(ReadConsistency consistency) {
      return switch (consistency) {
        case LINEARIZABLE -> readsLinearizable;
        case LEASE -> readsLease;
        case STALE -> readsStale;
      };
    }
  }
}
