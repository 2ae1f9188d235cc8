package io.raftactors.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A configuration of a group (thesis chapter 4), held in the log as {@link
 * EntryData.Configuration} entries and in force on a node as soon as it is in its log.
 *
 * @param voters the members whose votes and acknowledgements count
 * @param learners members that receive the log but never vote and never count (thesis 4.2.1);
 *     new members catching up, or permanent read replicas
 * @param outgoingVoters during a joint change (thesis 4.3) the voters of the configuration being
 *     left: decisions then need a majority of {@code voters} and, separately, one of these. Empty
 *     otherwise
 * @param addresses where members can be reached, by id, as the driver understands addresses (the
 *     actor shell: Akka addresses). A member without an entry is found from local settings
 */
public record ClusterConfig(
    List<String> voters, List<String> learners, List<String> outgoingVoters, Map<String, MemberAddress> addresses) {

  public ClusterConfig {
    voters = sortedIds("voters", voters);
    learners = sortedIds("learners", learners);
    outgoingVoters = sortedIds("outgoing voters", outgoingVoters);
    if (voters.isEmpty()) throw new IllegalArgumentException("a configuration needs at least one voter");
    for (String l : learners) {
      if (voters.contains(l) || outgoingVoters.contains(l)) {
        throw new IllegalArgumentException("member '" + l + "' is both a voter and a learner");
      }
    }
    addresses = addresses == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(addresses));
  }

  /** Voters only, without addresses. */
  public ClusterConfig(List<String> voters) {
    this(voters, List.of(), List.of(), Map.of());
  }

  public static ClusterConfig of(String... voters) {
    return new ClusterConfig(List.of(voters));
  }

  private static List<String> sortedIds(String what, List<String> ids) {
    if (ids == null) return List.of();
    TreeSet<String> sorted = new TreeSet<>();
    for (String v : ids) {
      if (v == null || v.isBlank()) throw new IllegalArgumentException("blank member id in " + what + " " + ids);
      if (!sorted.add(v)) throw new IllegalArgumentException("duplicate member id '" + v + "' in " + what + " " + ids);
    }
    return List.copyOf(sorted);
  }

  /** True if {@code id}'s vote counts: a voter, or during a joint change an outgoing voter. */
  public boolean isVoter(String id) {
    return voters.contains(id) || outgoingVoters.contains(id);
  }

  public boolean isLearner(String id) {
    return learners.contains(id);
  }

  /** True if {@code id} receives the log: a voter, an outgoing voter or a learner. */
  public boolean isMember(String id) {
    return isVoter(id) || learners.contains(id);
  }

  /** True during a joint change (thesis 4.3). */
  public boolean joint() {
    return !outgoingVoters.isEmpty();
  }

  /** Every member that receives the log, in id order: voters, outgoing voters and learners. */
  public List<String> members() {
    TreeSet<String> all = new TreeSet<>(voters);
    all.addAll(outgoingVoters);
    all.addAll(learners);
    return List.copyOf(all);
  }

  /** The number of votes (or durable copies) that make a majority of {@link #voters()}. */
  public int quorum() {
    return voters.size() / 2 + 1;
  }

  /** The address recorded for {@code id}, or null. */
  public MemberAddress address(String id) {
    return addresses.get(id);
  }

  /** The configuration that ends a joint change: the new voters alone, without addresses of members that left. */
  public ClusterConfig leaveJoint() {
    return withMembers(voters, learners, List.of());
  }

  /** A configuration with these members, keeping the addresses of those that stay. */
  ClusterConfig withMembers(List<String> newVoters, List<String> newLearners, List<String> outgoing) {
    Map<String, MemberAddress> kept = new TreeMap<>();
    for (Map.Entry<String, MemberAddress> e : addresses.entrySet()) {
      String id = e.getKey();
      if (newVoters.contains(id) || newLearners.contains(id) || outgoing.contains(id)) kept.put(id, e.getValue());
    }
    return new ClusterConfig(newVoters, newLearners, outgoing, kept);
  }

  /** This configuration with {@code address} recorded for {@code id} (null: keep any known). */
  ClusterConfig withAddress(String id, MemberAddress address) {
    if (address == null) return this;
    Map<String, MemberAddress> a = new TreeMap<>(addresses);
    a.put(id, address);
    return new ClusterConfig(voters, learners, outgoingVoters, a);
  }

  /** The voters as a mutable list, for building a changed configuration. */
  List<String> votersCopy() {
    return new ArrayList<>(voters);
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("{voters=").append(voters);
    if (!outgoingVoters.isEmpty()) b.append(", outgoing=").append(outgoingVoters);
    if (!learners.isEmpty()) b.append(", learners=").append(learners);
    if (!addresses.isEmpty()) b.append(", addresses=").append(addresses);
    return b.append('}').toString();
  }
}
