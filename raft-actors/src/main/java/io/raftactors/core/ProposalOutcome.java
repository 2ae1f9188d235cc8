package io.raftactors.core;

/**
 * How a proposal (or a membership change, or a leadership transfer) ended when it did not end by
 * being applied. {@link NotLeader} and {@link Rejected} guarantee that nothing was appended by this
 * node; {@link Unknown} means it was appended (or, for a transfer, under way) and may still take
 * effect, so the caller must not assume either way; {@link Transferred} ends a transfer that worked.
 */
public sealed interface ProposalOutcome {
  long correlationId();

  record NotLeader(long correlationId, String leaderHint) implements ProposalOutcome {}

  record Unknown(long correlationId, String reason) implements ProposalOutcome {}

  /**
   * Refused before anything was appended: {@code rejection} says why, as a value a program can act
   * on, and {@code reason} in words for people.
   */
  record Rejected(long correlationId, Rejection rejection, String reason) implements ProposalOutcome {
    public Rejected {
      if (rejection == null) rejection = Rejection.INVALID_REQUEST;
    }
  }

  /** Why a request was refused with nothing appended. */
  enum Rejection {
    /** The request itself is malformed (no change asked, a member changed twice, a bad command...). */
    INVALID_REQUEST,
    /** Another membership change is being prepared, or has not committed yet (one at a time, thesis 4.1). */
    CHANGE_IN_PROGRESS,
    /** A member to add is in the group already. */
    ALREADY_A_MEMBER,
    /** A member to promote is a voter already. */
    ALREADY_A_VOTER,
    /** A member to remove or promote is not in the group. */
    NOT_A_MEMBER,
    /** The change would leave the group without a voter. */
    LAST_VOTER,
    /** New voters did not catch up within the allowed rounds, or stopped answering (thesis 4.2.1). */
    CATCH_UP_FAILED,
    /** The leadership transfer target is not another voter (a learner, unknown, or the leader itself). */
    NOT_A_VOTER,
    /** Another leadership transfer is under way. */
    TRANSFER_IN_PROGRESS,
    /** The transfer target did not take over within an election timeout; the leader carries on. */
    TRANSFER_TIMED_OUT
  }

  /** The leader handed its leadership over: it stepped down for {@code target}'s election. */
  record Transferred(long correlationId, String target) implements ProposalOutcome {}
}
