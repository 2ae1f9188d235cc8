package io.raftactors.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInput;
import java.io.DataInputStream;
import java.io.DataOutput;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UTFDataFormatException;
import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link BinaryOut} and {@link BinaryIn} write and read exactly the bytes of {@link
 * DataOutputStream} and {@link DataInputStream}: logs and messages written by either read with the
 * other, so switching between them changes no format.
 */
class BinaryCodecTest {

  /** Writes a random sequence of every kind of value; returns what was written, to compare on reading. */
  private static List<Object> writeRandom(DataOutput out, long seed) throws IOException {
    SplittableRandom rnd = new SplittableRandom(seed);
    List<Object> values = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      switch (rnd.nextInt(8)) {
        case 0 -> {
          long v = rnd.nextLong();
          out.writeLong(v);
          values.add(v);
        }
        case 1 -> {
          int v = rnd.nextInt();
          out.writeInt(v);
          values.add(v);
        }
        case 2 -> {
          byte v = (byte) rnd.nextInt(256);
          out.writeByte(v);
          values.add(v);
        }
        case 3 -> {
          boolean v = rnd.nextBoolean();
          out.writeBoolean(v);
          values.add(v);
        }
        case 4 -> {
          short v = (short) rnd.nextInt(65536);
          out.writeShort(v);
          values.add(v);
        }
        case 5 -> {
          byte[] v = new byte[rnd.nextInt(40)];
          rnd.nextBytes(v);
          out.writeInt(v.length);
          out.write(v);
          values.add(v);
        }
        default -> {
          String v = randomString(rnd);
          out.writeUTF(v);
          values.add(v);
        }
      }
    }
    return values;
  }

  /** ASCII, NUL (two bytes in modified UTF-8), two- and three-byte characters and lone surrogates. */
  private static String randomString(SplittableRandom rnd) {
    StringBuilder b = new StringBuilder();
    int n = rnd.nextInt(30);
    for (int i = 0; i < n; i++) {
      switch (rnd.nextInt(5)) {
        case 0 -> b.append((char) 0);
        case 1 -> b.append((char) (0x80 + rnd.nextInt(0x780)));
        case 2 -> b.append((char) (0x800 + rnd.nextInt(0xf7ff)));
        default -> b.append((char) (1 + rnd.nextInt(0x7f)));
      }
    }
    return b.toString();
  }

  private static void readAndCheck(DataInput in, List<Object> values) throws IOException {
    for (Object v : values) {
      if (v instanceof Long l) assertEquals(l, in.readLong());
      else if (v instanceof Integer x) assertEquals(x, in.readInt());
      else if (v instanceof Byte x) assertEquals(x, in.readByte());
      else if (v instanceof Boolean x) assertEquals(x, in.readBoolean());
      else if (v instanceof Short x) assertEquals(x, in.readShort());
      else if (v instanceof byte[] x) {
        byte[] got = new byte[in.readInt()];
        in.readFully(got);
        assertArrayEquals(x, got);
      } else assertEquals(v, in.readUTF());
    }
  }

  /**
   * A repeated ASCII string (a manifest in every entry of a message) is read back as the same
   * string; one of the same length that differs in any byte, or a longer or shorter one, is not
   * taken for it, and what follows is read from the right place.
   */
  @Test
  void aRepeatedStringIsReadBackAsTheLastOne_andOnlyWhenEveryByteMatches() throws IOException {
    List<String> strings = List.of("put", "put", "pat", "put", "pu", "putt", "", "", "put", "p\u00e9t", "put", "xut", "pux");
    BinaryOut out = BinaryOut.growable(16);
    for (String x : strings) {
      out.writeUTF(x);
      out.writeInt(x.length());
    }
    BinaryIn in = new BinaryIn(ByteBuffer.wrap(out.toByteArray()));
    String previous = null;
    for (String x : strings) {
      String got = in.readUTF();
      assertEquals(x, got);
      assertEquals(x.length(), in.readInt());
      if (x.equals(previous) && !x.isEmpty() && x.chars().allMatch(c -> c < 0x80)) {
        org.junit.jupiter.api.Assertions.assertSame(previous, got, "the repeat is the string read before");
      }
      previous = got;
    }
    assertEquals(0, in.remaining());
  }

  @Test
  void writesTheBytesOfDataOutputStream() throws IOException {
    for (long seed = 0; seed < 50; seed++) {
      ByteArrayOutputStream expected = new ByteArrayOutputStream();
      writeRandom(new DataOutputStream(expected), seed);
      BinaryOut out = BinaryOut.growable(16); // starts small, so it grows many times
      writeRandom(out, seed);
      assertArrayEquals(expected.toByteArray(), out.toByteArray(), "seed " + seed);
    }
  }

  @Test
  void readsWhatDataOutputStreamWrote() throws IOException {
    for (long seed = 0; seed < 50; seed++) {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      List<Object> values = writeRandom(new DataOutputStream(bytes), seed);
      BinaryIn in = new BinaryIn(bytes.toByteArray());
      readAndCheck(in, values);
      assertEquals(0, in.remaining());
      // and DataInputStream reads what BinaryOut wrote
      BinaryOut out = BinaryOut.growable(64);
      List<Object> again = writeRandom(out, seed);
      readAndCheck(new DataInputStream(new ByteArrayInputStream(out.toByteArray())), again);
    }
  }

  @Test
  void readingPastTheEndThrowsEof() throws IOException {
    BinaryOut out = BinaryOut.growable(16);
    out.writeLong(7);
    out.writeUTF("member-1");
    byte[] whole = out.toByteArray();
    for (int cut = 0; cut < whole.length; cut++) {
      BinaryIn in = new BinaryIn(java.util.Arrays.copyOf(whole, cut));
      assertThrows(EOFException.class, () -> {
        in.readLong();
        in.readUTF();
      }, "cut at " + cut);
    }
  }

  @Test
  void malformedUtf8IsRefused() {
    // length 2, then a lead byte of a two-byte character followed by a byte that does not continue it
    BinaryIn in = new BinaryIn(new byte[] {0, 2, (byte) 0xc3, 0x41});
    assertThrows(UTFDataFormatException.class, in::readUTF);
    BinaryIn truncated = new BinaryIn(new byte[] {0, 1, (byte) 0xe2});
    assertThrows(UTFDataFormatException.class, truncated::readUTF);
  }

  @Test
  void aFixedBufferOverflowsInsteadOfGrowing() {
    BinaryOut out = BinaryOut.into(ByteBuffer.allocate(10));
    assertThrows(BufferOverflowException.class, () -> {
      out.writeLong(1);
      out.writeLong(2);
    });
  }

  @Test
  void entriesRoundTripThroughTheCodec() throws IOException {
    List<LogEntry> entries = List.of(
        new LogEntry(1, 1, new EntryData.Noop(1)),
        new LogEntry(2, 1, new EntryData.Command(7, "P", new byte[] {1, 2, 3})),
        new LogEntry(3, 2, new EntryData.KeyedCommand("key-é", 42, new EntryData.Command(7, "", new byte[0]))),
        new LogEntry(4, 2, new EntryData.SessionCommand(5, 6, 4, 99, new EntryData.Command(9, "m", new byte[] {9}))),
        new LogEntry(5, 2, new EntryData.Configuration(new ClusterConfig(List.of("a", "b"), List.of("c"), List.of(),
            Map.of("a", new MemberAddress("akka://x@h:1", "h:8080"))))));
    BinaryOut out = BinaryOut.growable(16);
    for (LogEntry e : entries) EntryCodec.writeEntry(out, e);
    BinaryIn in = new BinaryIn(out.toByteArray());
    for (LogEntry e : entries) assertEquals(e, EntryCodec.readEntry(in));
    assertEquals(0, in.remaining());
  }

  @Test
  void aCommandLengthBeyondTheRecordIsRefusedBeforeAllocating() throws IOException {
    BinaryOut out = BinaryOut.growable(16);
    EntryCodec.writeEntry(out, new LogEntry(1, 1, new EntryData.Command(7, "P", new byte[] {1, 2, 3})));
    ByteBuffer b = out.buffer().duplicate().flip();
    // the command's length field sits just before its 3 bytes: make it claim 2 GiB
    b.putInt(b.limit() - 7, Integer.MAX_VALUE);
    IOException e = assertThrows(IOException.class, () -> EntryCodec.readEntry(new BinaryIn(b)));
    assertEquals("bad command length " + Integer.MAX_VALUE, e.getMessage());
  }
}
