package io.raftactors.core;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * What a log entry holds: a user command, a leader's no-op, a cluster configuration, or an entry of
 * the client session table ({@link SessionEntry}).
 */
public sealed interface EntryData {

  /** Approximate size in bytes, used to bound batches. */
  int sizeInBytes();

  /**
   * A user command, serialized once when proposed (serializer id + manifest + bytes, as Akka
   * Serialization produces them). The core never looks inside.
   */
  record Command(int serializerId, String manifest, byte[] bytes) implements EntryData {
    public Command {
      Objects.requireNonNull(manifest, "manifest");
      Objects.requireNonNull(bytes, "bytes");
    }

    @Override
    public int sizeInBytes() {
      return bytes.length + manifest.length() + 8;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Command c
          && c.serializerId == serializerId
          && c.manifest.equals(manifest)
          && Arrays.equals(c.bytes, bytes);
    }

    @Override
    public int hashCode() {
      return 31 * (31 * serializerId + manifest.hashCode()) + Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
      return "Command[" + serializerId + "/" + manifest + ", " + bytes.length + " bytes]";
    }
  }

  /** The entry a new leader appends in its own term so that earlier entries can commit (paper 8). */
  record Noop(long leaderTerm) implements EntryData {
    @Override
    public int sizeInBytes() {
      return 8;
    }
  }

  /** A cluster configuration; it takes effect as soon as it is in a node's log (thesis 4.1). */
  record Configuration(ClusterConfig config) implements EntryData {
    @Override
    public int sizeInBytes() {
      return 16 * config.voters().size() + 8;
    }
  }

  /**
   * An entry of the client session table (thesis 6.3), applied through {@link SessionTable} by the
   * {@link RaftDriver} on every replica alike. Each carries the proposing leader's clock; replicas
   * expire sessions on these logged times only, never on their own clocks.
   */
  sealed interface SessionEntry extends EntryData {
    /** The proposing leader's clock, in milliseconds. */
    long time();
  }

  /** Opens a session; its id is the index of this entry. */
  record OpenSession(long time) implements SessionEntry {
    @Override
    public int sizeInBytes() {
      return 8;
    }
  }

  /** An idle client's keep-alive for its session (T6.3-08). */
  record KeepAlive(long session, long time) implements SessionEntry {
    @Override
    public int sizeInBytes() {
      return 16;
    }
  }

  /**
   * Command {@code seq} of {@code session}: applied once however often the client sends it.
   * {@code lowestUnacked} is the lowest sequence number whose answer the client has not seen yet;
   * answers below it may be forgotten (T6.3-04).
   */
  record SessionCommand(long session, long seq, long lowestUnacked, long time, Command command)
      implements SessionEntry {
    public SessionCommand {
      Objects.requireNonNull(command, "command");
    }

    @Override
    public int sizeInBytes() {
      return 32 + command.sizeInBytes();
    }
  }

  /**
   * A command under a client-chosen idempotency key: at most one command is applied per key while
   * the key lives.
   */
  record KeyedCommand(String key, long time, Command command) implements SessionEntry {
    public KeyedCommand {
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(command, "command");
    }

    @Override
    public int sizeInBytes() {
      return 8 + 2 * key.length() + command.sizeInBytes();
    }
  }

  static Command command(int serializerId, String manifest, byte[] bytes) {
    return new Command(serializerId, manifest, bytes);
  }

  static Configuration configuration(List<String> voters) {
    return new Configuration(new ClusterConfig(voters));
  }
}
