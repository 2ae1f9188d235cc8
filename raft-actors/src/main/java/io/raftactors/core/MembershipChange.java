package io.raftactors.core;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * One change to a group's members, asked of the leader with {@link RaftCore#changeMembership}.
 * Several changes asked together take effect together: through one configuration entry if they
 * change at most one voter (thesis 4.1), else through a joint configuration (thesis 4.3).
 */
public sealed interface MembershipChange {

  /** The member the change is about. */
  String id();

  /**
   * Adds a new voter. It first receives the log as a non-voting member outside the configuration,
   * and becomes a voter only once it has caught up (thesis 4.2.1).
   */
  record AddVoter(String id, MemberAddress address) implements MembershipChange {
    public AddVoter {
      checkId(id);
    }
  }

  /** Adds a learner: it receives the log but never votes nor counts (thesis 4.2.1; a read replica). */
  record AddLearner(String id, MemberAddress address) implements MembershipChange {
    public AddLearner {
      checkId(id);
    }
  }

  /** Makes a learner a voter, once it has caught up. */
  record Promote(String id) implements MembershipChange {
    public Promote {
      checkId(id);
    }
  }

  /** Removes a voter or learner; the leader itself may be removed (thesis 4.2.2). */
  record Remove(String id) implements MembershipChange {
    public Remove {
      checkId(id);
    }
  }

  /** A change that cannot be made to the current configuration, and why. */
  final class Invalid extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    private final ProposalOutcome.Rejection rejection;

    Invalid(ProposalOutcome.Rejection rejection, String message) {
      super(message);
      this.rejection = rejection;
    }

    public ProposalOutcome.Rejection rejection() {
      return rejection;
    }
  }

  private static void checkId(String id) {
    if (id == null || id.isBlank()) throw new IllegalArgumentException("a member id must not be blank");
  }

  /**
   * The configuration that {@code changes} make of {@code current}, or throws {@link
   * IllegalArgumentException} saying why they cannot be made.
   */
  static ClusterConfig apply(ClusterConfig current, List<MembershipChange> changes) {
    if (changes == null || changes.isEmpty()) throw new Invalid(ProposalOutcome.Rejection.INVALID_REQUEST, "no membership change asked");
    if (current.joint()) throw new Invalid(ProposalOutcome.Rejection.CHANGE_IN_PROGRESS, "a joint configuration change is still in progress");
    Set<String> seen = new LinkedHashSet<>();
    List<String> voters = new ArrayList<>(current.voters());
    List<String> learners = new ArrayList<>(current.learners());
    ClusterConfig withAddresses = current;
    for (MembershipChange c : Objects.requireNonNull(changes)) {
      String id = c.id();
      if (!seen.add(id)) throw new Invalid(ProposalOutcome.Rejection.INVALID_REQUEST, "member " + id + " is changed twice in one request");
      if (c instanceof AddVoter a) {
        if (current.isMember(id)) throw new Invalid(ProposalOutcome.Rejection.ALREADY_A_MEMBER, "member " + id + " is already in the group");
        voters.add(id);
        withAddresses = withAddresses.withAddress(id, a.address());
      } else if (c instanceof AddLearner a) {
        if (current.isMember(id)) throw new Invalid(ProposalOutcome.Rejection.ALREADY_A_MEMBER, "member " + id + " is already in the group");
        learners.add(id);
        withAddresses = withAddresses.withAddress(id, a.address());
      } else if (c instanceof Promote) {
        if (current.isVoter(id)) throw new Invalid(ProposalOutcome.Rejection.ALREADY_A_VOTER, "member " + id + " is already a voter");
        if (!current.isLearner(id)) throw new Invalid(ProposalOutcome.Rejection.NOT_A_MEMBER, "member " + id + " is not in the group");
        learners.remove(id);
        voters.add(id);
      } else if (c instanceof Remove) {
        if (!current.isMember(id)) throw new Invalid(ProposalOutcome.Rejection.NOT_A_MEMBER, "member " + id + " is not in the group");
        voters.remove(id);
        learners.remove(id);
      }
    }
    if (voters.isEmpty()) throw new Invalid(ProposalOutcome.Rejection.LAST_VOTER, "the change would remove the last voter");
    boolean single = changedVoters(current.voters(), voters) <= 1;
    return withAddresses.withMembers(voters, learners, single ? List.of() : current.voters());
  }

  /** How many voters are added or removed between two voter lists. */
  private static int changedVoters(List<String> before, List<String> after) {
    int n = 0;
    for (String v : before) if (!after.contains(v)) n++;
    for (String v : after) if (!before.contains(v)) n++;
    return n;
  }
}
