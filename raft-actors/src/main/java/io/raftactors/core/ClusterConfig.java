package io.raftactors.core;

import java.util.List;
import java.util.TreeSet;

/** The voting members of a group. Held in the log as {@link EntryData.Configuration} entries. */
public record ClusterConfig(List<String> voters) {
  public ClusterConfig {
    if (voters == null || voters.isEmpty()) {
      throw new IllegalArgumentException("a configuration needs at least one voter");
    }
    TreeSet<String> sorted = new TreeSet<>();
    for (String v : voters) {
      if (v == null || v.isBlank()) throw new IllegalArgumentException("blank member id in " + voters);
      if (!sorted.add(v)) throw new IllegalArgumentException("duplicate member id '" + v + "' in " + voters);
    }
    voters = List.copyOf(sorted);
  }

  public static ClusterConfig of(String... voters) {
    return new ClusterConfig(List.of(voters));
  }

  public boolean isVoter(String id) {
    return voters.contains(id);
  }

  /** The number of votes (or durable copies) that make a majority. */
  public int quorum() {
    return voters.size() / 2 + 1;
  }
}
