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

  /** Refused before anything was appended: {@code reason} says why (a change in progress, a bad target...). */
  record Rejected(long correlationId, String reason) implements ProposalOutcome {}

  /** The leader handed its leadership over: it stepped down for {@code target}'s election. */
  record Transferred(long correlationId, String target) implements ProposalOutcome {}
}
