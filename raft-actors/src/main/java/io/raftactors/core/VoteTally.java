package io.raftactors.core;

import java.util.HashSet;
import java.util.Set;

/**
 * The votes of one election or pre-vote round: sets of voter ids, so a duplicated grant counts once
 * (paper 5.2), and only members of the configuration count.
 */
final class VoteTally {
  private final ClusterConfig config;
  private final Set<String> granted = new HashSet<>();
  private final Set<String> rejected = new HashSet<>();

  VoteTally(ClusterConfig config, String self) {
    this.config = config;
    if (config.isVoter(self)) granted.add(self);
  }

  void record(String voter, boolean grant) {
    if (!config.isVoter(voter) || granted.contains(voter) || rejected.contains(voter)) return;
    (grant ? granted : rejected).add(voter);
  }

  boolean won() {
    return granted.size() >= config.quorum();
  }

  Set<String> granted() {
    return Set.copyOf(granted);
  }
}
