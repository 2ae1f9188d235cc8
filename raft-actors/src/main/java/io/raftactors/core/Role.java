package io.raftactors.core;

/** The role a node plays in its current term. Roles are volatile: a restarted node is a Follower. */
public enum Role {
  FOLLOWER,
  /** Running a pre-vote round (thesis 9.6): still in its old term, nothing persisted. */
  PRE_CANDIDATE,
  CANDIDATE,
  LEADER
}
