package io.raftactors.examples.kv;

import io.raftactors.actor.StateMachine;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A key-value map as a Raft state machine. Deterministic: the result of a command depends only on
 * the map and the command. Reads through {@link #get} are local (possibly stale) reads.
 */
public final class KvStateMachine implements StateMachine {
  private final ConcurrentHashMap<String, String> map = new ConcurrentHashMap<>();
  private volatile long appliedIndex;

  @Override
  public Object apply(long index, Object command) {
    appliedIndex = index;
    if (command instanceof KvCommand.Put p) return map.put(p.key(), p.value());
    if (command instanceof KvCommand.Delete d) return map.remove(d.key());
    throw new IllegalArgumentException("not a KV command: " + command);
  }

  public String get(String key) {
    return map.get(key);
  }

  public Map<String, String> snapshot() {
    return new TreeMap<>(map);
  }

  public long appliedIndex() {
    return appliedIndex;
  }
}
