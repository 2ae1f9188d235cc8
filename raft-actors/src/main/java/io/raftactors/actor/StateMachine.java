package io.raftactors.actor;

/**
 * The replicated state machine a Raft group drives. Every node applies the same committed commands
 * in the same order, exactly once per node incarnation.
 *
 * <p>Determinism contract: {@link #apply} must depend only on the current state and the command,
 * never on the clock, randomness, the node's id or I/O; otherwise replicas diverge. It runs inside
 * the node actor, so it must not block.
 */
@FunctionalInterface
public interface StateMachine {
  /**
   * Applies a committed command and returns the result given to the proposer (may be null).
   *
   * @param index the log index of the command
   * @param command the command as proposed (deserialized with Akka Serialization)
   */
  Object apply(long index, Object command);
}
