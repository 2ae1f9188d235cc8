package io.raftactors.persistence;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A disk for {@link SegmentLog} that fills up, on the real file system underneath. Space is a
 * budget of bytes: a write takes what the file system would have to allocate for it, and once the
 * budget is spent a write fails with {@code IOException("No space left on device")}, after writing
 * what still fits, as write(2) does before it fails with ENOSPC. Space comes back with {@link #makeRoom}.
 *
 * <p>Two kinds of file system: by default only bytes written past a file's end take space (blocks
 * written once, zeros included, stay allocated, so a preallocated segment can be written into on a
 * full disk); with {@code copyOnWrite} every byte written takes space, as on a copy-on-write file
 * system, where writing into preallocated blocks allocates new ones.
 */
final class FullDisk implements SegmentLog.FileOpener {
  static final String ENOSPC = "No space left on device";

  private final boolean copyOnWrite;
  private long free = Long.MAX_VALUE;
  private final AtomicInteger refused = new AtomicInteger();
  private final AtomicInteger dataSyncs = new AtomicInteger();
  private final AtomicInteger syncsHeld = new AtomicInteger();
  /** While set, a data sync (fdatasync of a segment) waits until it opens. */
  private volatile java.util.concurrent.CountDownLatch syncGate;
  /** While set, a data sync fails with it. */
  private volatile String syncFailure;
  /** Data syncs that still succeed before the one sync that fails; -1: none is planned. */
  private final AtomicInteger syncsBeforeFailure = new AtomicInteger(-1);

  FullDisk(boolean copyOnWrite) {
    this.copyOnWrite = copyOnWrite;
  }

  /** No space left from now on. */
  synchronized void fill() {
    free = 0;
  }

  /** {@code bytes} left from now on. */
  synchronized void leave(long bytes) {
    free = bytes;
  }

  /** Space comes back (without limit). */
  synchronized void makeRoom() {
    free = Long.MAX_VALUE;
  }

  /** Writes refused for lack of space so far. */
  int refused() {
    return refused.get();
  }

  /** Data syncs ({@code force(false)}: a segment's fdatasync) so far. */
  int dataSyncs() {
    return dataSyncs.get();
  }

  /** Data syncs from now on wait until {@code gate} opens (null: they do not wait). */
  void holdSyncs(java.util.concurrent.CountDownLatch gate) {
    syncGate = gate;
  }

  /**
   * After {@code ok} more data syncs succeed, the next one fails once (as fsync reports a failed
   * writeback once on Linux: a sync after it succeeds, though the data may be lost).
   */
  void failOneSyncAfter(int ok) {
    syncsBeforeFailure.set(ok);
  }

  /** Data syncs waiting at the gate now. */
  int syncsHeld() {
    return syncsHeld.get();
  }

  /** Data syncs from now on fail with an IOException saying {@code message} (null: they work). */
  void failSyncs(String message) {
    syncFailure = message;
  }

  @Override
  public String toString() {
    return refused.get() + " refused";
  }

  @Override
  public FileChannel open(Path path, OpenOption... options) throws IOException {
    return new Channel(FileChannel.open(path, options));
  }

  /**
   * How many of {@code n} bytes written at {@code position} of a file of {@code size} bytes fit;
   * takes their space. Throws ENOSPC if none does.
   */
  private synchronized int take(long position, int n, long size) throws IOException {
    long overwritten = copyOnWrite ? 0 : Math.max(0, Math.min(n, size - position));
    long needed = n - overwritten;
    long granted = Math.min(needed, free);
    if (free != Long.MAX_VALUE) free -= granted;
    int fits = (int) (overwritten + granted);
    if (fits == 0) {
      refused.incrementAndGet();
      throw new IOException(ENOSPC);
    }
    return fits;
  }

  /** A file channel whose writes take space from the disk's budget; what SegmentStorage does not use is refused. */
  private final class Channel extends FileChannel {
    private final FileChannel file;

    Channel(FileChannel file) {
      this.file = file;
    }

    private int write(ByteBuffer src, long position, boolean positioned) throws IOException {
      if (!src.hasRemaining()) return 0;
      int fits = take(position, src.remaining(), file.size());
      ByteBuffer part = src.slice();
      part.limit(fits);
      int written = positioned ? file.write(part, position) : file.write(part);
      src.position(src.position() + written);
      return written;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
      return write(src, file.position(), false);
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
      return write(src, position, true);
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) {
      throw new UnsupportedOperationException("gathering writes are not counted");
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      return file.read(dst);
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
      return file.read(dsts, offset, length);
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
      return file.read(dst, position);
    }

    @Override
    public long position() throws IOException {
      return file.position();
    }

    @Override
    public FileChannel position(long newPosition) throws IOException {
      file.position(newPosition);
      return this;
    }

    @Override
    public long size() throws IOException {
      return file.size();
    }

    @Override
    public FileChannel truncate(long size) throws IOException {
      file.truncate(size);
      return this;
    }

    @Override
    public void force(boolean metaData) throws IOException {
      if (!metaData) {
        java.util.concurrent.CountDownLatch gate = syncGate;
        if (gate != null) {
          syncsHeld.incrementAndGet();
          try {
            gate.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while a sync was held");
          } finally {
            syncsHeld.decrementAndGet();
          }
        }
        String failure = syncFailure;
        if (failure != null) throw new IOException(failure);
        if (syncsBeforeFailure.get() >= 0 && syncsBeforeFailure.getAndDecrement() == 0) {
          throw new IOException("injected: the device failed this sync once");
        }
        dataSyncs.incrementAndGet();
      }
      file.force(metaData);
    }

    @Override
    public long transferTo(long position, long count, WritableByteChannel target) {
      throw new UnsupportedOperationException("not counted");
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long position, long count) {
      throw new UnsupportedOperationException("not counted");
    }

    @Override
    public MappedByteBuffer map(MapMode mode, long position, long size) {
      throw new UnsupportedOperationException("not counted");
    }

    @Override
    public FileLock lock(long position, long size, boolean shared) throws IOException {
      return file.lock(position, size, shared);
    }

    @Override
    public FileLock tryLock(long position, long size, boolean shared) throws IOException {
      return file.tryLock(position, size, shared);
    }

    @Override
    protected void implCloseChannel() throws IOException {
      file.close();
    }
  }
}
