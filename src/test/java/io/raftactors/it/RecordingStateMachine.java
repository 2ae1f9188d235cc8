package io.raftactors.it;

import io.raftactors.actor.StateMachine;
import java.util.ArrayList;
import java.util.List;

/**
 * Records every applied command with its index; checks in-order, exactly-once application. Its
 * snapshot is the whole record (commands are {@link TestCommand}s), so a restored replica still
 * shows the full history.
 */
final class RecordingStateMachine implements StateMachine {
  record AppliedCommand(long index, Object command) {}

  private final List<AppliedCommand> applied = new ArrayList<>();
  private long lastIndex;

  /** Commands for which apply waits until {@link #release} (null: none). Set before they are applied. */
  private volatile java.util.function.Predicate<Object> gate;
  private final java.util.concurrent.CountDownLatch released = new java.util.concurrent.CountDownLatch(1);

  /** Makes this replica stall (its whole node actor) when it applies a command matching {@code which}. */
  void stallOn(java.util.function.Predicate<Object> which) {
    gate = which;
  }

  void release() {
    released.countDown();
  }

  @Override
  public Object apply(long index, Object command) {
    java.util.function.Predicate<Object> g = gate;
    if (g != null && g.test(command)) {
      try {
        released.await(60, java.util.concurrent.TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    return record(index, command);
  }

  private synchronized Object record(long index, Object command) {
    if (index <= lastIndex) throw new IllegalStateException("index " + index + " applied after " + lastIndex);
    lastIndex = index;
    applied.add(new AppliedCommand(index, command));
    return "ok:" + index;
  }

  /**
   * Queries: a {@link TestCommand} asks whether it was applied (how often, as a Long), the string
   * "count" how many commands were applied.
   */
  @Override
  public synchronized Object query(Object query) {
    if (query instanceof TestCommand c) return applied.stream().filter(a -> a.command().equals(c)).count();
    if ("count".equals(query)) return (long) applied.size();
    throw new IllegalArgumentException("unknown query " + query);
  }

  @Override
  public synchronized byte[] takeSnapshot() {
    StringBuilder b = new StringBuilder();
    for (AppliedCommand a : applied) {
      TestCommand c = (TestCommand) a.command();
      b.append(a.index()).append('\t').append(c.client()).append('\t').append(c.seq()).append('\n');
    }
    return b.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  @Override
  public synchronized void restoreSnapshot(byte[] snapshot) {
    applied.clear();
    lastIndex = 0;
    for (String line : new String(snapshot, java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
      if (line.isEmpty()) continue;
      String[] f = line.split("\t");
      lastIndex = Long.parseLong(f[0]);
      applied.add(new AppliedCommand(lastIndex, new TestCommand(f[1], Long.parseLong(f[2]))));
    }
    restores++;
  }

  private int restores;

  synchronized int restores() {
    return restores;
  }

  synchronized List<AppliedCommand> applied() {
    return List.copyOf(applied);
  }

  synchronized int size() {
    return applied.size();
  }
}
