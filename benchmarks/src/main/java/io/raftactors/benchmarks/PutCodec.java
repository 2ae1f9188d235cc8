package io.raftactors.benchmarks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The put command the other libraries' runners log: the key's length in two bytes, the key in
 * ASCII, then the value, so a 100-byte value is about 105 bytes of command, as in the KV example.
 * Also what the runners share: applying a put to a map, and removing a run's data.
 */
final class PutCodec {
  private PutCodec() {}

  static byte[] encode(String key, byte[] value) {
    byte[] k = key.getBytes(StandardCharsets.US_ASCII);
    return ByteBuffer.allocate(2 + k.length + value.length).putShort((short) k.length).put(k).put(value).array();
  }

  /** Applies the put in {@code command} (read from its position on) to {@code map}. */
  static void apply(ByteBuffer command, Map<String, byte[]> map) {
    int n = command.getShort() & 0xffff;
    byte[] k = new byte[n];
    command.get(k);
    byte[] v = new byte[command.remaining()];
    command.get(v);
    map.put(new String(k, StandardCharsets.US_ASCII), v);
  }

  /** Deletes {@code dir} and everything under it, if it exists. */
  static void delete(Path dir) throws IOException {
    if (!Files.exists(dir)) return;
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }
}
