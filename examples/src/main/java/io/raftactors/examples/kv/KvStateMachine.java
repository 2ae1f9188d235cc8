package io.raftactors.examples.kv;

import io.raftactors.actor.StateMachine;
import io.raftactors.core.BinaryOut;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A key-value map as a Raft state machine. Deterministic: the result of a command depends only on
 * the map and the command. {@link KvCommand.Get} queries are served through the node with the
 * consistency the caller asks for; {@link #get} reads this replica directly (possibly stale).
 */
public final class KvStateMachine implements StateMachine {
  private final ConcurrentHashMap<String, String> map = new ConcurrentHashMap<>();
  private volatile long appliedIndex;

  @Override
  public Object apply(long index, Object command) {
    appliedIndex = index;
    if (command instanceof KvCommand.Put p) return map.put(p.key(), p.value());
    if (command instanceof KvCommand.Delete d) return map.remove(d.key());
    if (command instanceof KvCommand.Cas c) {
      String current = map.get(c.key());
      if (!Objects.equals(current, c.expected())) return new KvCommand.CasResult(false, current);
      map.put(c.key(), c.value());
      return new KvCommand.CasResult(true, c.value());
    }
    throw new IllegalArgumentException("not a KV command: " + command);
  }

  @Override
  public Object query(Object query) {
    if (query instanceof KvCommand.Get g) return map.get(g.key());
    throw new IllegalArgumentException("not a KV query: " + query);
  }

  /** The map, sorted by key, as length-prefixed UTF-8 strings. */
  @Override
  public byte[] takeSnapshot() {
    TreeMap<String, String> sorted = new TreeMap<>(map);
    BinaryOut out = BinaryOut.growable(16 + 64 * sorted.size());
    out.writeLong(appliedIndex);
    out.writeInt(sorted.size());
    for (Map.Entry<String, String> e : sorted.entrySet()) {
      writeString(out, e.getKey());
      writeString(out, e.getValue());
    }
    return out.toByteArray();
  }

  @Override
  public void restoreSnapshot(byte[] snapshot) {
    try {
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(snapshot));
      long index = in.readLong();
      int n = in.readInt();
      Map<String, String> restored = new TreeMap<>();
      for (int i = 0; i < n; i++) restored.put(readString(in), readString(in));
      map.clear();
      map.putAll(restored);
      appliedIndex = index;
    } catch (IOException e) {
      throw new UncheckedIOException("corrupt KV snapshot", e);
    }
  }

  private static void writeString(BinaryOut out, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    out.writeInt(b.length);
    out.write(b);
  }

  private static String readString(DataInputStream in) throws IOException {
    byte[] b = new byte[in.readInt()];
    in.readFully(b);
    return new String(b, StandardCharsets.UTF_8);
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
