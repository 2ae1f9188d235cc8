package io.raftactors.actor;

import io.raftactors.core.ClusterConfig;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * In-memory storage whose writes complete only when the test releases them (or fails them), so a
 * test can observe what a node does while a write is in flight.
 */
final class GatedStorage extends InMemoryStorage {
  private record Pending(Write write, CompletableFuture<Void> done) {}

  private final ArrayDeque<Pending> pending = new ArrayDeque<>();
  private volatile boolean gated = true;

  GatedStorage(ClusterConfig bootstrap) {
    super(bootstrap);
  }

  @Override
  public synchronized CompletionStage<Void> write(Write w) {
    if (!gated) return super.write(w);
    CompletableFuture<Void> done = new CompletableFuture<>();
    pending.add(new Pending(w, done));
    return done;
  }

  synchronized int pendingWrites() {
    return pending.size();
  }

  synchronized Write peek() {
    return pending.isEmpty() ? null : pending.peek().write();
  }

  /** Makes the oldest pending write durable and completes it. */
  synchronized void releaseOne() {
    Pending p = pending.poll();
    if (p == null) throw new AssertionError("no write is pending");
    apply(p.write());
    p.done().complete(null);
  }

  /** Fails the oldest pending write; nothing of it becomes durable. */
  synchronized void failOne() {
    Pending p = pending.poll();
    if (p == null) throw new AssertionError("no write is pending");
    p.done().completeExceptionally(new java.io.IOException("injected write failure"));
  }

  /** Holds later writes again until released. */
  synchronized void gate() {
    gated = true;
  }

  /** Lets every later write through at once (and releases those pending). */
  synchronized void open() {
    gated = false;
    while (!pending.isEmpty()) releaseOne();
  }
}
