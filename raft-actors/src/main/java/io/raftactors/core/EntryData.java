package io.raftactors.core;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/** What a log entry holds: a user command, a leader's no-op, or a cluster configuration. */
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

  static Command command(int serializerId, String manifest, byte[] bytes) {
    return new Command(serializerId, manifest, bytes);
  }

  static Configuration configuration(List<String> voters) {
    return new Configuration(new ClusterConfig(voters));
  }
}
