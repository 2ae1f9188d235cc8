package io.raftactors.core;

/**
 * A committed entry, durable on this node, to apply to the state machine in log order.
 * {@code correlationId} is the id this node's caller gave the proposal, or -1 if no local caller
 * waits for it (a follower, or an entry proposed in another term).
 */
public record Committed(LogEntry entry, long correlationId) {
  public boolean hasCaller() {
    return correlationId >= 0;
  }
}
