package io.raftactors.core;

import java.io.DataOutput;
import java.io.UTFDataFormatException;
import java.nio.ByteBuffer;

/**
 * A {@link DataOutput} into a {@link ByteBuffer}, writing the same bytes as {@link
 * java.io.DataOutputStream} (big-endian numbers, modified UTF-8 strings), so records written either
 * way read alike. It is unsynchronized and copies nothing on the way: the write path encodes every
 * entry into one of these, either a growable heap buffer that a writer reuses from record to record,
 * or the buffer of the transport's envelope directly.
 */
public final class BinaryOut implements DataOutput {
  private ByteBuffer buf;
  private final boolean growable;

  private BinaryOut(ByteBuffer buf, boolean growable) {
    this.buf = buf;
    this.growable = growable;
  }

  /** A heap buffer that grows as needed, starting with {@code capacity} bytes. */
  public static BinaryOut growable(int capacity) {
    return new BinaryOut(ByteBuffer.allocate(Math.max(16, capacity)), true);
  }

  /**
   * Writes into {@code target} from its position on; a write past its limit throws {@link
   * java.nio.BufferOverflowException}.
   */
  public static BinaryOut into(ByteBuffer target) {
    return new BinaryOut(target, false);
  }

  /** Bytes written so far (for a growable buffer: from its start). */
  public int position() {
    return buf.position();
  }

  /** Forgets what was written; a growable buffer that grew past {@code keepCapacity} is replaced by a smaller one. */
  public void reset(int keepCapacity) {
    if (growable && buf.capacity() > keepCapacity) buf = ByteBuffer.allocate(keepCapacity);
    buf.clear();
  }

  /** Leaves {@code n} bytes to fill in later with {@link #putInt(int, int)}. */
  public void skip(int n) {
    ensure(n);
    buf.position(buf.position() + n);
  }

  /** Overwrites four bytes at {@code at}, which must have been written or skipped already. */
  public void putInt(int at, int v) {
    buf.putInt(at, v);
  }

  /** The buffer itself: what was written lies between 0 (for a growable one) and {@link #position()}. */
  public ByteBuffer buffer() {
    return buf;
  }

  /** A copy of what was written to a growable buffer. */
  public byte[] toByteArray() {
    byte[] b = new byte[buf.position()];
    buf.get(0, b);
    return b;
  }

  private void ensure(int n) {
    if (buf.remaining() >= n || !growable) return;
    int need = buf.position() + n;
    ByteBuffer bigger = ByteBuffer.allocate(Math.max(need, buf.capacity() * 2));
    buf.flip();
    bigger.put(buf);
    buf = bigger;
  }

  @Override
  public void write(int b) {
    ensure(1);
    buf.put((byte) b);
  }

  @Override
  public void write(byte[] b) {
    write(b, 0, b.length);
  }

  @Override
  public void write(byte[] b, int off, int len) {
    ensure(len);
    buf.put(b, off, len);
  }

  @Override
  public void writeBoolean(boolean v) {
    write(v ? 1 : 0);
  }

  @Override
  public void writeByte(int v) {
    write(v);
  }

  @Override
  public void writeShort(int v) {
    ensure(2);
    buf.putShort((short) v);
  }

  @Override
  public void writeChar(int v) {
    ensure(2);
    buf.putChar((char) v);
  }

  @Override
  public void writeInt(int v) {
    ensure(4);
    buf.putInt(v);
  }

  @Override
  public void writeLong(long v) {
    ensure(8);
    buf.putLong(v);
  }

  @Override
  public void writeFloat(float v) {
    writeInt(Float.floatToIntBits(v));
  }

  @Override
  public void writeDouble(double v) {
    writeLong(Double.doubleToLongBits(v));
  }

  @Override
  public void writeBytes(String s) {
    ensure(s.length());
    for (int i = 0; i < s.length(); i++) buf.put((byte) s.charAt(i));
  }

  @Override
  public void writeChars(String s) {
    ensure(2 * s.length());
    for (int i = 0; i < s.length(); i++) buf.putChar(s.charAt(i));
  }

  /** Modified UTF-8 with a two-byte length, as {@link java.io.DataOutputStream#writeUTF}. */
  @Override
  public void writeUTF(String s) throws UTFDataFormatException {
    int n = s.length();
    int size = 0;
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      size += c >= 1 && c <= 0x7f ? 1 : c <= 0x7ff ? 2 : 3;
    }
    if (size > 0xffff) throw new UTFDataFormatException("string of " + size + " bytes is too long for writeUTF");
    ensure(2 + size);
    buf.putShort((short) size);
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c >= 1 && c <= 0x7f) {
        buf.put((byte) c);
      } else if (c <= 0x7ff) {
        buf.put((byte) (0xc0 | (c >> 6))).put((byte) (0x80 | (c & 0x3f)));
      } else {
        buf.put((byte) (0xe0 | (c >> 12))).put((byte) (0x80 | ((c >> 6) & 0x3f))).put((byte) (0x80 | (c & 0x3f)));
      }
    }
  }
}
