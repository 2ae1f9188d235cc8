package io.raftactors.core;

import java.io.DataInput;
import java.io.EOFException;
import java.io.IOException;
import java.io.UTFDataFormatException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * A {@link DataInput} over a {@link ByteBuffer}, reading what {@link BinaryOut} and {@link
 * java.io.DataOutputStream} write. Unsynchronized and without intermediate copies; reading past
 * the end throws {@link EOFException}, as a stream would, so a truncated record is refused.
 */
public final class BinaryIn implements DataInput {
  private final ByteBuffer buf;
  /**
   * The last ASCII string read: the entries of one message mostly repeat the same manifest, which
   * is then returned again instead of being copied into a new string for every entry.
   */
  private String lastAscii;

  public BinaryIn(ByteBuffer buf) {
    this.buf = buf;
  }

  public BinaryIn(byte[] bytes) {
    this(ByteBuffer.wrap(bytes));
  }

  /** Bytes not read yet. */
  public int remaining() {
    return buf.remaining();
  }

  private void need(int n) throws EOFException {
    if (buf.remaining() < n) throw new EOFException("needs " + n + " more bytes, " + buf.remaining() + " left");
  }

  @Override
  public void readFully(byte[] b) throws IOException {
    readFully(b, 0, b.length);
  }

  @Override
  public void readFully(byte[] b, int off, int len) throws IOException {
    need(len);
    buf.get(b, off, len);
  }

  @Override
  public int skipBytes(int n) {
    int k = Math.max(0, Math.min(n, buf.remaining()));
    buf.position(buf.position() + k);
    return k;
  }

  @Override
  public boolean readBoolean() throws IOException {
    return readByte() != 0;
  }

  @Override
  public byte readByte() throws IOException {
    need(1);
    return buf.get();
  }

  @Override
  public int readUnsignedByte() throws IOException {
    return readByte() & 0xff;
  }

  @Override
  public short readShort() throws IOException {
    need(2);
    return buf.getShort();
  }

  @Override
  public int readUnsignedShort() throws IOException {
    return readShort() & 0xffff;
  }

  @Override
  public char readChar() throws IOException {
    need(2);
    return buf.getChar();
  }

  @Override
  public int readInt() throws IOException {
    need(4);
    return buf.getInt();
  }

  @Override
  public long readLong() throws IOException {
    need(8);
    return buf.getLong();
  }

  @Override
  public float readFloat() throws IOException {
    return Float.intBitsToFloat(readInt());
  }

  @Override
  public double readDouble() throws IOException {
    return Double.longBitsToDouble(readLong());
  }

  @Override
  public String readLine() {
    throw new UnsupportedOperationException("readLine");
  }

  /** True if the buffer holds the characters of ASCII string {@code s} from {@code at}. */
  private boolean sameAscii(String s, int at) {
    for (int i = 0; i < s.length(); i++) if (buf.get(at + i) != s.charAt(i)) return false;
    return true;
  }

  /** Modified UTF-8 with a two-byte length; ASCII, the usual case for ids and manifests, is read in one step. */
  @Override
  public String readUTF() throws IOException {
    int size = readUnsignedShort();
    need(size);
    int start = buf.position();
    boolean ascii = true;
    for (int i = 0; i < size && ascii; i++) {
      byte b = buf.get(start + i);
      ascii = b > 0;
    }
    if (ascii) {
      String last = lastAscii;
      if (last != null && last.length() == size && sameAscii(last, start)) {
        buf.position(start + size);
        return last;
      }
      byte[] b = new byte[size];
      buf.get(b);
      return lastAscii = new String(b, StandardCharsets.ISO_8859_1);
    }
    char[] chars = new char[size];
    int n = 0;
    int end = start + size;
    int i = start;
    while (i < end) {
      int a = buf.get(i) & 0xff;
      if (a < 0x80) {
        chars[n++] = (char) a;
        i++;
      } else if ((a & 0xe0) == 0xc0) {
        if (i + 1 >= end) throw new UTFDataFormatException("truncated character at the end of a string");
        int b = buf.get(i + 1) & 0xff;
        if ((b & 0xc0) != 0x80) throw new UTFDataFormatException("malformed character in a string");
        chars[n++] = (char) (((a & 0x1f) << 6) | (b & 0x3f));
        i += 2;
      } else if ((a & 0xf0) == 0xe0) {
        if (i + 2 >= end) throw new UTFDataFormatException("truncated character at the end of a string");
        int b = buf.get(i + 1) & 0xff;
        int c = buf.get(i + 2) & 0xff;
        if ((b & 0xc0) != 0x80 || (c & 0xc0) != 0x80) throw new UTFDataFormatException("malformed character in a string");
        chars[n++] = (char) (((a & 0x0f) << 12) | ((b & 0x3f) << 6) | (c & 0x3f));
        i += 3;
      } else {
        throw new UTFDataFormatException("malformed character in a string");
      }
    }
    buf.position(end);
    return new String(chars, 0, n);
  }
}
