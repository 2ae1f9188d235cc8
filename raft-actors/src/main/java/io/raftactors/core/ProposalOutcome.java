package io.raftactors.core;

/**
 * How a proposal ended when it did not end by being applied. {@link NotLeader} guarantees the
 * command was not appended anywhere by this node; {@link Unknown} means it was appended and may
 * still commit through a later leader, so the caller must not assume either way.
 */
public sealed interface ProposalOutcome {
  long correlationId();

  record NotLeader(long correlationId, String leaderHint) implements ProposalOutcome {}

  record Unknown(long correlationId, String reason) implements ProposalOutcome {}
}
