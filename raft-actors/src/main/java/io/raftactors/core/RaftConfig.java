package io.raftactors.core;

/**
 * Tuning of one Raft node, in logical ticks. Validated on construction; every error names the
 * setting by its configuration key (see reference.conf).
 *
 * @param electionTimeoutMin lower bound of the randomized election timeout (ticks)
 * @param electionTimeoutMax upper bound, inclusive (ticks)
 * @param heartbeatInterval how often an idle leader contacts each follower (ticks)
 * @param preVote run a pre-vote round before a real election (thesis 9.6)
 * @param checkQuorum a leader that has not heard from a majority for electionTimeoutMin ticks
 *     steps down (thesis 6.2); followers and leaders that heard from a live leader within
 *     electionTimeoutMin ignore RequestVote of higher terms (thesis 4.2.3)
 * @param conflictHint followers answer rejections with a hint so leaders back up a term at a time
 * @param maxEntriesPerAppend most entries in one AppendEntries
 * @param maxBytesPerAppend most entry bytes in one AppendEntries (at least one entry is always sent)
 * @param maxInflightAppends pipelining window: AppendEntries outstanding per follower; also what a
 *     follower that stops answering is handed (plus one probe and one snapshot chunk) before it gets
 *     only empty messages until it answers
 * @param snapshotChunkBytes most snapshot bytes in one InstallSnapshot message
 * @param leaseTicks lease reads: how long a confirmed heartbeat round lets the leader serve reads
 *     alone (0: off)
 * @param catchUpRounds a new voter must catch up within this many rounds, the last one shorter
 *     than electionTimeoutMin, before it joins (thesis 4.2.1)
 * @param maxInflightPartialAppends of those, how many may carry a partial batch (one that stops at
 *     the end of the log without filling maxEntriesPerAppend or maxBytesPerAppend): entries
 *     proposed while that many are outstanding wait for a reply and leave together, so a busy
 *     leader sends fewer, larger messages; a follower catching up still gets a full window
 */
public record RaftConfig(
    int electionTimeoutMin,
    int electionTimeoutMax,
    int heartbeatInterval,
    boolean preVote,
    boolean checkQuorum,
    boolean conflictHint,
    int maxEntriesPerAppend,
    int maxBytesPerAppend,
    int maxInflightAppends,
    int snapshotChunkBytes,
    int leaseTicks,
    int catchUpRounds,
    int maxInflightPartialAppends) {

  /** Default catch-up rounds for new voters (thesis 4.2.1). */
  public static final int DEFAULT_CATCH_UP_ROUNDS = 10;

  /**
   * With at most one AppendEntries of a partial batch in flight per follower: an entry proposed
   * while one is outstanding waits for its reply and leaves in a larger batch; full batches (a
   * follower catching up) still fill the window.
   */
  public RaftConfig(int electionTimeoutMin, int electionTimeoutMax, int heartbeatInterval, boolean preVote,
      boolean checkQuorum, boolean conflictHint, int maxEntriesPerAppend, int maxBytesPerAppend, int maxInflightAppends,
      int snapshotChunkBytes, int leaseTicks, int catchUpRounds) {
    this(electionTimeoutMin, electionTimeoutMax, heartbeatInterval, preVote, checkQuorum, conflictHint,
        maxEntriesPerAppend, maxBytesPerAppend, maxInflightAppends, snapshotChunkBytes, leaseTicks, catchUpRounds, 1);
  }

  /** With the default catch-up rounds. */
  public RaftConfig(int electionTimeoutMin, int electionTimeoutMax, int heartbeatInterval, boolean preVote,
      boolean checkQuorum, boolean conflictHint, int maxEntriesPerAppend, int maxBytesPerAppend, int maxInflightAppends,
      int snapshotChunkBytes, int leaseTicks) {
    this(electionTimeoutMin, electionTimeoutMax, heartbeatInterval, preVote, checkQuorum, conflictHint,
        maxEntriesPerAppend, maxBytesPerAppend, maxInflightAppends, snapshotChunkBytes, leaseTicks, DEFAULT_CATCH_UP_ROUNDS);
  }

  /** Without lease reads. */
  public RaftConfig(int electionTimeoutMin, int electionTimeoutMax, int heartbeatInterval, boolean preVote,
      boolean checkQuorum, boolean conflictHint, int maxEntriesPerAppend, int maxBytesPerAppend, int maxInflightAppends,
      int snapshotChunkBytes) {
    this(electionTimeoutMin, electionTimeoutMax, heartbeatInterval, preVote, checkQuorum, conflictHint,
        maxEntriesPerAppend, maxBytesPerAppend, maxInflightAppends, snapshotChunkBytes, 0);
  }

  /** Settings with the default snapshot chunk size (256 KiB). */
  public RaftConfig(int electionTimeoutMin, int electionTimeoutMax, int heartbeatInterval, boolean preVote,
      boolean checkQuorum, boolean conflictHint, int maxEntriesPerAppend, int maxBytesPerAppend, int maxInflightAppends) {
    this(electionTimeoutMin, electionTimeoutMax, heartbeatInterval, preVote, checkQuorum, conflictHint,
        maxEntriesPerAppend, maxBytesPerAppend, maxInflightAppends, 256 * 1024);
  }

  public RaftConfig {
    positive("election-timeout-min", electionTimeoutMin);
    positive("election-timeout-max", electionTimeoutMax);
    positive("heartbeat-interval", heartbeatInterval);
    positive("max-entries-per-append", maxEntriesPerAppend);
    positive("max-bytes-per-append", maxBytesPerAppend);
    positive("max-inflight-appends", maxInflightAppends);
    positive("snapshot.chunk-size", snapshotChunkBytes);
    positive("membership.catch-up-rounds", catchUpRounds);
    positive("max-inflight-partial-appends", maxInflightPartialAppends);
    if (electionTimeoutMin > electionTimeoutMax) {
      throw new IllegalArgumentException(
          "raft.election-timeout-min (" + electionTimeoutMin + " ticks) must not exceed raft.election-timeout-max ("
              + electionTimeoutMax + " ticks)");
    }
    if (leaseTicks < 0 || leaseTicks > electionTimeoutMin) {
      throw new IllegalArgumentException("lease of " + leaseTicks + " ticks must be within 0 and raft.election-timeout-min");
    }
    if (leaseTicks > 0 && !checkQuorum) {
      // T6.4.1-04: without the rule that followers in contact with a leader ignore vote requests,
      // a new leader could be elected while the old one still serves reads on its lease.
      throw new IllegalArgumentException("raft.lease-reads = on requires raft.check-quorum = on");
    }
    if (heartbeatInterval >= electionTimeoutMin) {
      throw new IllegalArgumentException(
          "raft.heartbeat-interval (" + heartbeatInterval + " ticks) must be smaller than raft.election-timeout-min ("
              + electionTimeoutMin + " ticks): a leader must reach its followers well within their election timeout");
    }
  }

  private static void positive(String key, int value) {
    if (value <= 0) throw new IllegalArgumentException("raft." + key + " must be positive, was " + value);
  }

  /** The defaults of reference.conf, in ticks: 10-20 ticks election timeout, heartbeat every 2. */
  public static RaftConfig defaults() {
    return new RaftConfig(10, 20, 2, true, true, true, 256, 1 << 20, 8);
  }

  public RaftConfig withPreVote(boolean on) {
    return new RaftConfig(electionTimeoutMin, electionTimeoutMax, heartbeatInterval, on, checkQuorum,
        conflictHint, maxEntriesPerAppend, maxBytesPerAppend, maxInflightAppends, snapshotChunkBytes, leaseTicks, catchUpRounds, maxInflightPartialAppends);
  }

  public RaftConfig withCheckQuorum(boolean on) {
    return new RaftConfig(electionTimeoutMin, electionTimeoutMax, heartbeatInterval, preVote, on,
        conflictHint, maxEntriesPerAppend, maxBytesPerAppend, maxInflightAppends, snapshotChunkBytes, leaseTicks, catchUpRounds, maxInflightPartialAppends);
  }

  public RaftConfig withConflictHint(boolean on) {
    return new RaftConfig(electionTimeoutMin, electionTimeoutMax, heartbeatInterval, preVote, checkQuorum,
        on, maxEntriesPerAppend, maxBytesPerAppend, maxInflightAppends, snapshotChunkBytes, leaseTicks, catchUpRounds, maxInflightPartialAppends);
  }

  public RaftConfig withBatching(int maxEntries, int maxBytes, int maxInflight) {
    return new RaftConfig(electionTimeoutMin, electionTimeoutMax, heartbeatInterval, preVote, checkQuorum,
        conflictHint, maxEntries, maxBytes, maxInflight, snapshotChunkBytes, leaseTicks, catchUpRounds, maxInflightPartialAppends);
  }

  public RaftConfig withSnapshotChunkBytes(int bytes) {
    return new RaftConfig(electionTimeoutMin, electionTimeoutMax, heartbeatInterval, preVote, checkQuorum,
        conflictHint, maxEntriesPerAppend, maxBytesPerAppend, maxInflightAppends, bytes, leaseTicks, catchUpRounds, maxInflightPartialAppends);
  }

  public RaftConfig withCatchUpRounds(int rounds) {
    return new RaftConfig(electionTimeoutMin, electionTimeoutMax, heartbeatInterval, preVote, checkQuorum,
        conflictHint, maxEntriesPerAppend, maxBytesPerAppend, maxInflightAppends, snapshotChunkBytes, leaseTicks, rounds, maxInflightPartialAppends);
  }

  public RaftConfig withTimeouts(int min, int max, int heartbeat) {
    return new RaftConfig(min, max, heartbeat, preVote, checkQuorum, conflictHint, maxEntriesPerAppend,
        maxBytesPerAppend, maxInflightAppends, snapshotChunkBytes, leaseTicks, catchUpRounds, maxInflightPartialAppends);
  }

  /**
   * At most {@code n} AppendEntries carrying a partial batch (one that does not fill
   * max-entries-per-append and reaches the end of the log) in flight per follower; up to
   * maxInflightAppends lets every proposal leave at once (the most messages, the smallest batches).
   */
  public RaftConfig withPartialAppendsInFlight(int n) {
    return new RaftConfig(electionTimeoutMin, electionTimeoutMax, heartbeatInterval, preVote, checkQuorum,
        conflictHint, maxEntriesPerAppend, maxBytesPerAppend, maxInflightAppends, snapshotChunkBytes, leaseTicks,
        catchUpRounds, n);
  }
}
