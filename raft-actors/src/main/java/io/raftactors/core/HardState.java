package io.raftactors.core;

/** The state Raft must persist before acting on it: current term and the vote cast in it. */
public record HardState(long term, String votedFor) {
  public static final HardState INITIAL = new HardState(0, null);
}
