package io.raftactors.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.ToLongFunction;

/**
 * What a node knows of the other members under its active configuration: the quorum that decides,
 * the votes of the current (pre-)election, and, while it leads, each other member's replication
 * {@link Progress}. Votes, commitment, read rounds and check-quorum all ask {@link #quorum()}, so a
 * change of configuration changes all of them at once (thesis 4.1: in force as soon as appended).
 */
final class ProgressTracker {
  private final String self;
  private ClusterConfig config;
  private Quorum quorum;
  /** The quorum's voters, both halves of a joint one (kept: a joint quorum builds the set anew on each call). */
  private Set<String> voters;
  /**
   * Members that are not in the configuration yet but receive the log to catch up before a change
   * makes them voters (thesis 4.2.1); they never count.
   */
  private final Set<String> staged = new java.util.TreeSet<>();
  /** Every other member's progress while this node leads; empty otherwise. */
  private final Map<String, Progress> progress = new LinkedHashMap<>();
  private final Set<String> granted = new HashSet<>();
  private final Set<String> rejected = new HashSet<>();

  ProgressTracker(String self, ClusterConfig config) {
    this.self = self;
    setConfig(config);
  }

  // ---------------------------------------------------------------- configuration

  /** Makes {@code c} the active configuration; the caller updates progress with {@link #syncProgress}. */
  void setConfig(ClusterConfig c) {
    config = c;
    quorum = Quorum.of(c);
    voters = quorum.voters();
  }

  ClusterConfig config() {
    return config;
  }

  Quorum quorum() {
    return quorum;
  }

  boolean isVoter(String id) {
    return voters.contains(id);
  }

  /** The voters other than this node, in id order: whom to ask for votes. */
  List<String> otherVoters() {
    List<String> out = new ArrayList<>();
    for (String v : new java.util.TreeSet<>(voters)) if (!v.equals(self)) out.add(v);
    return out;
  }

  /** Every member that receives the log but this node (staged ones included), in a stable order. */
  List<String> peers() {
    List<String> out = new ArrayList<>();
    for (String v : config.members()) if (!v.equals(self)) out.add(v);
    for (String v : staged) if (!v.equals(self) && !config.isMember(v)) out.add(v);
    return out;
  }

  /** Starts replicating to {@code id}, which is not in the configuration yet, from {@code nextIndex}. */
  void stage(String id, long nextIndex, long now) {
    staged.add(id);
    progress.computeIfAbsent(id, p -> new Progress(nextIndex, now));
  }

  /** Stops staging {@code id}; its progress goes unless the configuration now holds it. */
  void unstage(String id) {
    staged.remove(id);
    if (!config.isMember(id)) progress.remove(id);
  }

  // ---------------------------------------------------------------- replication (leader)

  /** A new leadership: every other member starts in probe mode at {@code nextIndex} (P5.2-03). */
  void startReplication(long nextIndex, long now) {
    progress.clear();
    for (String peer : peers()) progress.put(peer, new Progress(nextIndex, now));
  }

  /** A member the latest configuration removes: it gets the log until that configuration commits, and never counts. */
  void keepLeaving(String id, long nextIndex, long now) {
    progress.computeIfAbsent(id, p -> new Progress(nextIndex, now));
  }

  void stopReplication() {
    progress.clear();
    staged.clear();
  }

  /**
   * While leading, after a configuration change: members that joined start in probe mode at
   * {@code nextIndex}, the others keep their progress. Members that left are forgotten unless
   * {@code keepLeaving}: until the change commits they still receive the log, so that they learn
   * they were removed (they never count).
   */
  void syncProgress(long nextIndex, long now, boolean keepLeaving) {
    List<String> peers = peers();
    if (!keepLeaving) progress.keySet().retainAll(peers); // forgets the leaving()
    for (String peer : peers) progress.computeIfAbsent(peer, p -> new Progress(nextIndex, now));
  }

  /** Members that still get the log though neither the configuration nor a change being prepared holds them. */
  List<String> leaving() {
    List<String> peers = peers();
    return progress.keySet().stream().filter(p -> !peers.contains(p)).toList();
  }

  /** The member's progress while leading, else null. */
  Progress progress(String peer) {
    return progress.get(peer);
  }

  /** Every other member's progress while leading (empty otherwise), in a stable order. */
  Map<String, Progress> allProgress() {
    return Collections.unmodifiableMap(progress);
  }

  /**
   * The highest value the quorum has reached: this node counts with {@code mine}, every other
   * member with {@code of} its progress, or {@code absent} if it has none.
   */
  long agreed(long mine, ToLongFunction<Progress> of, long absent) {
    return quorum.agreed(v -> {
      if (v.equals(self)) return mine;
      Progress pr = progress.get(v);
      return pr == null ? absent : of.applyAsLong(pr);
    });
  }

  // ---------------------------------------------------------------- votes (candidate, pre-candidate)

  /** Starts a new round of votes; this node votes for itself if it is a voter. */
  void resetVotes() {
    granted.clear();
    rejected.clear();
    if (isVoter(self)) granted.add(self);
  }

  /** P5.2-04: each voter counts once, its first answer only; answers of non-voters never count. */
  void recordVote(String voter, boolean grant) {
    if (!isVoter(voter) || granted.contains(voter) || rejected.contains(voter)) return;
    (grant ? granted : rejected).add(voter);
  }

  Quorum.VoteResult tally() {
    return quorum.tally(granted, rejected);
  }

  Set<String> granted() {
    return Set.copyOf(granted);
  }

  void clearVotes() {
    granted.clear();
    rejected.clear();
  }
}
