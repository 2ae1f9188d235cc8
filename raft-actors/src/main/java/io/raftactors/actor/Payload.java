package io.raftactors.actor;

import java.util.Arrays;
import java.util.Objects;

/**
 * An object serialized with Akka Serialization: serializer id, manifest and bytes. Client commands,
 * queries and results travel in this form, so a client in another ActorSystem needs no knowledge of
 * how the node's state machine types are serialized beyond Akka's own bindings.
 */
public record Payload(int serializerId, String manifest, byte[] bytes) implements RaftSerializable {
  public Payload {
    Objects.requireNonNull(manifest, "manifest");
    Objects.requireNonNull(bytes, "bytes");
  }

  /** {@code o} serialized with the serializer Akka binds to its class. */
  public static Payload of(akka.serialization.Serialization serialization, Object o) {
    if (o == null) throw new IllegalArgumentException("null cannot be serialized");
    akka.serialization.Serializer s = serialization.findSerializerFor(o);
    return new Payload(s.identifier(), akka.serialization.Serializers.manifestFor(s, o), s.toBinary(o));
  }

  /** The object this payload holds. */
  public Object deserialize(akka.serialization.Serialization serialization) throws Exception {
    return serialization.deserialize(bytes, serializerId, manifest).get();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Payload p && p.serializerId == serializerId && p.manifest.equals(manifest)
        && Arrays.equals(p.bytes, bytes);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * serializerId + manifest.hashCode()) + Arrays.hashCode(bytes);
  }

  @Override
  public String toString() {
    return "Payload[" + serializerId + "/" + manifest + ", " + bytes.length + " bytes]";
  }
}
