package io.raftactors.examples.kv;

import akka.actor.ExtendedActorSystem;
import akka.serialization.SerializerWithStringManifest;
import java.io.NotSerializableException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * A compact binary form of the KV store's commands, results and queries: a manifest letter per
 * type and its strings as length-prefixed UTF-8 (length -1 for null). Every command is serialized
 * once at propose and read by every replica at apply, so this is on the hot path of every write;
 * entries journaled in Jackson CBOR by earlier versions still read, by the serializer id they carry.
 */
public final class KvSerializer extends SerializerWithStringManifest {
  /** This serializer's id in Akka Serialization; fixed, since every member must agree on it. */
  public static final int IDENTIFIER = 7_217_101;

  public KvSerializer(ExtendedActorSystem system) {}

  @Override
  public int identifier() {
    return IDENTIFIER;
  }

  @Override
  public String manifest(Object o) {
    if (o instanceof KvCommand.Put) return "P";
    if (o instanceof KvCommand.Delete) return "D";
    if (o instanceof KvCommand.Cas) return "C";
    if (o instanceof KvCommand.CasResult) return "R";
    if (o instanceof KvCommand.Get) return "G";
    throw new IllegalArgumentException("not a KV message: " + o.getClass().getName());
  }

  @Override
  public byte[] toBinary(Object o) {
    if (o instanceof KvCommand.Put p) return strings(p.key(), p.value());
    if (o instanceof KvCommand.Delete d) return strings(d.key());
    if (o instanceof KvCommand.Cas c) return strings(c.key(), c.expected(), c.value());
    if (o instanceof KvCommand.CasResult r) {
      byte[] s = strings(r.current());
      byte[] b = new byte[s.length + 1];
      b[0] = (byte) (r.swapped() ? 1 : 0);
      System.arraycopy(s, 0, b, 1, s.length);
      return b;
    }
    if (o instanceof KvCommand.Get g) return strings(g.key());
    throw new IllegalArgumentException("not a KV message: " + o.getClass().getName());
  }

  @Override
  public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
    try {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      Object o = switch (manifest) {
        case "P" -> new KvCommand.Put(string(b), string(b));
        case "D" -> new KvCommand.Delete(string(b));
        case "C" -> new KvCommand.Cas(string(b), string(b), string(b));
        case "R" -> new KvCommand.CasResult(b.get() == 1, string(b));
        case "G" -> new KvCommand.Get(string(b));
        default -> throw new NotSerializableException("unknown KV manifest '" + manifest + "'");
      };
      if (b.hasRemaining()) throw new NotSerializableException(b.remaining() + " bytes left over in a KV message");
      return o;
    } catch (BufferUnderflowException | IllegalArgumentException e) {
      NotSerializableException n = new NotSerializableException("corrupt KV message (" + manifest + "): " + e);
      n.initCause(e);
      throw n;
    }
  }

  private static byte[] strings(String... values) {
    byte[][] utf8 = new byte[values.length][];
    int size = 0;
    for (int i = 0; i < values.length; i++) {
      utf8[i] = values[i] == null ? null : values[i].getBytes(StandardCharsets.UTF_8);
      size += 4 + (utf8[i] == null ? 0 : utf8[i].length);
    }
    ByteBuffer b = ByteBuffer.allocate(size);
    for (byte[] s : utf8) {
      b.putInt(s == null ? -1 : s.length);
      if (s != null) b.put(s);
    }
    return b.array();
  }

  private static String string(ByteBuffer b) {
    int n = b.getInt();
    if (n == -1) return null;
    if (n < 0 || n > b.remaining()) throw new IllegalArgumentException("bad string length " + n);
    String s = new String(b.array(), b.arrayOffset() + b.position(), n, StandardCharsets.UTF_8);
    b.position(b.position() + n);
    return s;
  }
}
