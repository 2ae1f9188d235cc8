package io.raftactors.core;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The layout of a node's snapshot: the client session table next to the state machine's own
 * snapshot, so both are restored together at the same index (T5.1-15). Layout: magic, version,
 * length of the session table, the table, then the state machine's bytes.
 */
public final class NodeSnapshot {
  private static final int MAGIC = 0x52534e31; // "RSN1"

  public record Parts(byte[] sessions, byte[] stateMachine) {}

  private NodeSnapshot() {}

  public static byte[] wrap(byte[] sessions, byte[] stateMachine) {
    ByteBuffer b = ByteBuffer.allocate(8 + sessions.length + stateMachine.length);
    b.putInt(MAGIC).putInt(sessions.length).put(sessions).put(stateMachine);
    return b.array();
  }

  /** Whether {@code data} starts like a node snapshot. */
  public static boolean isNodeSnapshot(byte[] data) {
    return data.length >= 8 && ByteBuffer.wrap(data).getInt() == MAGIC;
  }

  public static Parts unwrap(byte[] data) {
    if (data.length < 8 || ByteBuffer.wrap(data).getInt() != MAGIC) {
      throw new IllegalStateException("not a raft-actors node snapshot (" + data.length + " bytes, bad header)");
    }
    int n = ByteBuffer.wrap(data, 4, 4).getInt();
    if (n < 0 || 8L + n > data.length) throw new IllegalStateException("corrupt node snapshot: session table of " + n + " bytes");
    return new Parts(Arrays.copyOfRange(data, 8, 8 + n), Arrays.copyOfRange(data, 8 + n, data.length));
  }
}
