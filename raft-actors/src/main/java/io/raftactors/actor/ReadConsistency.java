package io.raftactors.actor;

/** How a query is served. */
public enum ReadConsistency {
  /**
   * Linearizable (thesis 6.4, ReadIndex): the answer reflects every command committed before the
   * query was sent. Served by the leader after one heartbeat round, or by a follower after it asked
   * the leader for the read index and applied up to it. The default.
   */
  LINEARIZABLE,
  /**
   * Linearizable as long as clocks drift less than {@code raft.lease-clock-drift-bound} (thesis
   * 6.4.1): the leader answers at once while its lease holds, without a round trip. Needs
   * {@code raft.lease-reads = on}; otherwise, and on followers, served as {@link #LINEARIZABLE}.
   */
  LEASE,
  /** Whatever this node has applied, which may be arbitrarily old. Never waits, never fails. */
  STALE
}
