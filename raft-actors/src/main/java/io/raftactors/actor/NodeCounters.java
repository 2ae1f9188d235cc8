package io.raftactors.actor;

import akka.actor.typed.ActorRef;
import io.raftactors.core.RaftCore;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a node counts for {@link RaftMetrics.Counters}, and who subscribed to its metrics. The node
 * actor keeps one across its incarnations (a restart after a failed write builds a new {@link
 * RaftNode} and a new core; the counts go on, and so do the subscriptions). Only the actor's thread
 * touches it: plain fields, no locks, nothing allocated to count.
 */
final class NodeCounters {
  final long startedAtMillis = System.currentTimeMillis();
  private long incarnations;

  long proposalsAccepted;
  long proposalsNotLeader;
  long proposalsOverloaded;
  long proposalsInvalid;
  /** Reads answered with a result, by {@link ReadConsistency#ordinal()}. */
  final long[] readsServed = new long[ReadConsistency.values().length];
  long readsNotLeader;
  long snapshotsTaken;
  long snapshotsInstalled;

  private long leaderChanges;
  /** The term whose leader was counted last (-1: none yet). */
  private long leaderTerm = -1;

  /** The core of the running incarnation (null: none yet, or it is recovering); it counts campaigns. */
  private RaftCore core;
  /** Campaigns counted by the cores of earlier incarnations. */
  private long preVoteRoundsBefore;
  private long electionsStartedBefore;
  private long electionsWonBefore;

  /** Subscribers to the node's metrics and their intervals, in the order they subscribed. */
  final Map<ActorRef<RaftMetrics>, Duration> subscribers = new LinkedHashMap<>();

  /** A new incarnation starts: the core of the one before is done, its campaigns are added up. */
  void incarnationStarted() {
    incarnations++;
    if (core != null) {
      preVoteRoundsBefore += core.preVoteRounds();
      electionsStartedBefore += core.electionsStarted();
      electionsWonBefore += core.electionsWon();
      core = null;
    }
  }

  /** The running incarnation's core, whose campaigns count from now on. */
  void coreStarted(RaftCore running) {
    core = running;
  }

  /** After every input: a leader of a newer term than the last one counted is a leader change. */
  void observe(RaftCore c) {
    if (c.leaderId() != null && c.term() != leaderTerm) {
      leaderTerm = c.term();
      leaderChanges++;
    }
  }

  RaftMetrics.Counters snapshot() {
    long preVotes = preVoteRoundsBefore + (core == null ? 0 : core.preVoteRounds());
    long started = electionsStartedBefore + (core == null ? 0 : core.electionsStarted());
    long won = electionsWonBefore + (core == null ? 0 : core.electionsWon());
    return new RaftMetrics.Counters(startedAtMillis, Math.max(0, incarnations - 1), preVotes, started, won,
        leaderChanges, proposalsAccepted, proposalsNotLeader, proposalsOverloaded, proposalsInvalid,
        readsServed[ReadConsistency.LINEARIZABLE.ordinal()], readsServed[ReadConsistency.LEASE.ordinal()],
        readsServed[ReadConsistency.STALE.ordinal()], readsNotLeader, snapshotsTaken, snapshotsInstalled);
  }
}
