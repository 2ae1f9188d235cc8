package io.raftactors.core;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The bookkeeping of linearizable reads (thesis 6.4) and lease reads (6.4.1); {@link RaftCore}
 * decides, this class remembers.
 *
 * <p>On a leader, reads wait first for the leader's first commit in its term (T6.4-01), then for a
 * heartbeat round: every AppendEntries carries the round current when it was sent and its response
 * echoes it, so a round acknowledged by a quorum proves that this node was still leader after the
 * round began (T6.4-03). The tick a confirmed round was sent at starts a lease (T6.4.1-01). On a
 * follower, reads forwarded to the leader wait for its answer (T6.4-09). On every node, confirmed
 * reads wait until their index is applied (T6.4-04).
 */
final class ReadTracker {

  /** A read on the leader; {@code from} is the follower that forwarded it, or null for a local one. */
  record PendingRead(long correlationId, String from, long index, long round, long since) {}

  /** Rounds whose start tick is kept; older ones are forgotten (their confirmation then extends no lease). */
  private static final int MAX_TRACKED_ROUNDS = 1024;

  private long round;
  private boolean roundRequested;
  /** Start tick of each round not yet known to be confirmed. */
  private final TreeMap<Long, Long> roundStarts = new TreeMap<>();
  private long confirmedRound;
  /** Reads may be served without a round before this tick. */
  private long leaseUntil = Long.MIN_VALUE;
  private final List<PendingRead> awaitingCommit = new ArrayList<>();
  private final ArrayDeque<PendingRead> awaitingRound = new ArrayDeque<>();
  /** Reads this follower forwarded to the leader: correlation id -> tick sent, in the order sent. */
  private final LinkedHashMap<Long, Long> forwarded = new LinkedHashMap<>();
  /** Confirmed reads, each handed out once its index is applied. */
  private final List<ReadState> confirmed = new ArrayList<>();

  // ---------------------------------------------------------------- leader

  /** The round of the heartbeats sent now. */
  long round() {
    return round;
  }

  /** A new leadership: rounds of an earlier one prove nothing now, and no lease holds. */
  void startLeadership() {
    confirmedRound = round;
    roundStarts.clear();
    leaseUntil = Long.MIN_VALUE;
  }

  void awaitCommit(PendingRead r) {
    awaitingCommit.add(r);
  }

  /** The reads that waited for the leader's first commit in its term, now to be read again. */
  List<PendingRead> takeAwaitingCommit() {
    if (awaitingCommit.isEmpty()) return List.of();
    List<PendingRead> out = new ArrayList<>(awaitingCommit);
    awaitingCommit.clear();
    return out;
  }

  /**
   * T6.4-02, T6.4-03: the read index is {@code commitIndex} now; it is served once a round that
   * starts after this point is confirmed. Reads arriving before the next round starts share it
   * (T6.4-07).
   */
  void awaitRound(PendingRead r, long commitIndex) {
    awaitingRound.addLast(new PendingRead(r.correlationId(), r.from(), commitIndex, round + 1, r.since()));
    roundRequested = true;
  }

  /** True if a read waits for a round that has not started. */
  boolean roundRequested() {
    return roundRequested;
  }

  /**
   * Starts round {@code round + 1} at tick {@code now}. {@code broadcast}: it is sent
   * to every member at once, which serves the reads waiting for a round; a heartbeat tick's round
   * reaches only the members without recent traffic, so they still ask for one.
   */
  void startRound(long now, boolean broadcast) {
    round++;
    if (broadcast) roundRequested = false;
    roundStarts.put(round, now);
    // Bounded even when no round is ever confirmed (an isolated leader without check-quorum).
    while (roundStarts.size() > MAX_TRACKED_ROUNDS) roundStarts.pollFirstEntry();
  }

  /**
   * A quorum has acknowledged every round up to {@code agreed}: extends the lease by
   * {@code leaseTicks} from when that round was sent (0: no leases) and returns the reads it serves.
   */
  List<PendingRead> confirm(long agreed, int leaseTicks) {
    if (agreed <= confirmedRound) return List.of();
    confirmedRound = agreed;
    Map.Entry<Long, Long> start = roundStarts.floorEntry(agreed);
    if (start != null && leaseTicks > 0) {
      // T6.4.1-01: the lease runs from when the round was SENT: every follower that acknowledged it
      // heard from this leader after that tick and ignores candidates for electionTimeoutMin (T4.2.3).
      leaseUntil = Math.max(leaseUntil, start.getValue() + leaseTicks);
    }
    roundStarts.headMap(agreed, true).clear();
    List<PendingRead> served = new ArrayList<>();
    while (!awaitingRound.isEmpty() && awaitingRound.peekFirst().round() <= agreed) served.add(awaitingRound.pollFirst());
    return served;
  }

  /** Ends the lease at once (T6.4.1-03: a leadership transfer begins). */
  void cancelLease() {
    leaseUntil = Long.MIN_VALUE;
  }

  /** True while this leader's lease holds at tick {@code now}. */
  boolean leaseHolds(long now) {
    return now < leaseUntil;
  }

  boolean leaderReadsWaiting() {
    return !awaitingRound.isEmpty() || !awaitingCommit.isEmpty();
  }

  /** T6.4-08: leadership ends; returns every read it had not served, and drops the lease. */
  List<PendingRead> endLeadership() {
    List<PendingRead> all = new ArrayList<>(awaitingCommit);
    all.addAll(awaitingRound);
    awaitingCommit.clear();
    awaitingRound.clear();
    roundStarts.clear();
    roundRequested = false;
    leaseUntil = Long.MIN_VALUE;
    return all;
  }

  /** Removes and returns the leader's reads that have waited since {@code limit} or earlier. */
  List<PendingRead> expireLeaderReads(long limit) {
    List<PendingRead> out = new ArrayList<>();
    expire(awaitingRound, limit, out);
    expire(awaitingCommit, limit, out);
    return out;
  }

  private static void expire(Collection<PendingRead> reads, long limit, List<PendingRead> out) {
    for (Iterator<PendingRead> it = reads.iterator(); it.hasNext(); ) {
      PendingRead r = it.next();
      if (r.since() > limit) continue;
      it.remove();
      out.add(r);
    }
  }

  // ---------------------------------------------------------------- follower

  void forward(long correlationId, long now) {
    forwarded.put(correlationId, now);
  }

  /** True if {@code correlationId} was forwarded and not yet answered; it is answered now. */
  boolean answered(long correlationId) {
    return forwarded.remove(correlationId) != null;
  }

  boolean anyForwarded() {
    return !forwarded.isEmpty();
  }

  /** Every forwarded read, now abandoned (the leader it went to is not followed any more). */
  List<Long> dropForwarded() {
    if (forwarded.isEmpty()) return List.of();
    List<Long> out = new ArrayList<>(forwarded.keySet());
    forwarded.clear();
    return out;
  }

  /** Forwarded reads sent at or before {@code limit}, whose answers are presumed lost. */
  List<Long> expireForwarded(long limit) {
    List<Long> out = new ArrayList<>();
    for (Iterator<Map.Entry<Long, Long>> it = forwarded.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Long, Long> e = it.next();
      if (e.getValue() > limit) break; // in the order sent
      out.add(e.getKey());
      it.remove();
    }
    return out;
  }

  // ---------------------------------------------------------------- every node

  void confirmed(ReadState rs) {
    confirmed.add(rs);
  }

  /** T6.4-04: the confirmed reads whose index is applied, removed from here. */
  List<ReadState> takeServable(long lastApplied) {
    if (confirmed.isEmpty()) return List.of();
    List<ReadState> out = new ArrayList<>();
    for (Iterator<ReadState> it = confirmed.iterator(); it.hasNext(); ) {
      ReadState rs = it.next();
      if (rs.index() <= lastApplied) {
        out.add(rs);
        it.remove();
      }
    }
    return out;
  }
}
