package io.raftactors.it;

import io.raftactors.actor.StateMachine;
import java.util.ArrayList;
import java.util.List;

/** Records every applied command with its index; checks in-order, exactly-once application. */
final class RecordingStateMachine implements StateMachine {
  record AppliedCommand(long index, Object command) {}

  private final List<AppliedCommand> applied = new ArrayList<>();
  private long lastIndex;

  @Override
  public synchronized Object apply(long index, Object command) {
    if (index <= lastIndex) throw new IllegalStateException("index " + index + " applied after " + lastIndex);
    lastIndex = index;
    applied.add(new AppliedCommand(index, command));
    return "ok:" + index;
  }

  synchronized List<AppliedCommand> applied() {
    return List.copyOf(applied);
  }

  synchronized int size() {
    return applied.size();
  }
}
