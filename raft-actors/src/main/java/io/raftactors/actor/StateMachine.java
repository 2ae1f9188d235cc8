package io.raftactors.actor;

/**
 * The replicated state machine a Raft group drives. Every node applies the same committed commands
 * in the same order, each once. A node that restarts after a failure (a storage write that failed)
 * keeps its state machine and does not apply again what it has applied; a node created anew on
 * the same storage needs a new state machine, which is given the log (after the snapshot) again.
 *
 * <p>Determinism contract: {@link #apply} must depend only on the current state and the command,
 * never on the clock, randomness, the node's id or I/O; otherwise replicas diverge. It runs inside
 * the node actor, so it must not block.
 *
 * <p>Snapshots (optional): {@link #takeSnapshot} returns the complete state after the last applied
 * command, and {@link #restoreSnapshot} replaces the state with one such snapshot, possibly taken
 * on another node. Restoring a snapshot and then applying the commands after it must give exactly
 * the state that applying every command from the start gives. A state machine that returns null
 * from takeSnapshot is never snapshotted, and its log is never compacted.
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

  /** The whole state as bytes, as of the last applied command; null if snapshots are not supported. */
  default byte[] takeSnapshot() {
    return null;
  }

  /** Replaces the whole state with {@code snapshot} (from {@link #takeSnapshot}, maybe of another node). */
  default void restoreSnapshot(byte[] snapshot) {
    throw new UnsupportedOperationException(getClass().getName() + " does not support snapshots");
  }

  /**
   * Answers a read-only query from the current state ({@link RaftNode.Query}, {@link RaftClient#query}).
   * It must not change the state: queries are not replicated. It runs inside the node actor after
   * the read's index is applied, so it must not block. An exception fails this query only.
   */
  default Object query(Object query) {
    throw new UnsupportedOperationException(getClass().getName() + " does not answer queries");
  }
}
