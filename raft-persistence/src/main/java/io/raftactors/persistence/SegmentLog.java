package io.raftactors.persistence;

import io.raftactors.actor.RaftStorage.Write;
import io.raftactors.core.BinaryIn;
import io.raftactors.core.BinaryOut;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.DurableState;
import io.raftactors.core.EntryCodec;
import io.raftactors.core.HardState;
import io.raftactors.core.LogEntry;
import io.raftactors.core.Snapshot;
import io.raftactors.core.SnapshotMeta;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The segment log of one directory, shared by every member whose storage is there: all the Raft
 * groups of a node write into one stream of records, on one writer thread, and each batch of writes
 * takes one {@code fdatasync}, however many groups it holds. A member is named by a key ({@code
 * group/member}); its snapshot files are in the directory of that name below the log's.
 *
 * <p><b>Layout.</b> The directory holds {@code segment-N.log} files (N counts up) and a {@code lock}
 * file that keeps a second process out. A segment starts with a header (magic, version, N), then one
 * checkpoint record per member with state (its hard state, snapshot and last index when the segment
 * was opened), then one record per write, each {@code [length][CRC32C][payload]}, the payload
 * starting with the member's key. A segment is filled with zeros when it is created, so a write
 * never changes the file's size and its sync carries no metadata; a zero length marks the end of
 * what was written. The next segment is prepared (filled with zeros, as {@code segment-N.prealloc})
 * on a thread of its own while the active one is past half full.
 *
 * <p><b>Batches.</b> The writer takes every write queued, appends one record for each and syncs the
 * active segment once before completing any of them. A switch to a new segment first syncs the one
 * it leaves, so a record never becomes durable before one written ahead of it. A write with a
 * snapshot reaches the queue once its snapshot file is written (and synced, with its directory) by
 * a thread of its own, so the writer is not held by it; each member's calls reach the queue in the
 * order they were made.
 *
 * <p><b>Failures.</b> A member's snapshot file that cannot be written fails that member's write only.
 * A record that cannot be appended, or a sync that fails, breaks the log: the writes of that batch not
 * yet durable fail, and so does every later write of any member, until a member recovers, which reads
 * the directory again (repairing a torn tail). A member whose write failed fails every later write
 * until it has recovered itself, so no member writes on top of state it has not read back.
 *
 * <p><b>Recovery.</b> The first recovery of a member reads every record of every member (once, for
 * all of them: the others take theirs when they recover). A bad record at the end of the last
 * segment, followed only by zeros, is a torn write: it is cut off (with a warning naming file and
 * offset). A bad record anywhere else is corruption: recovery fails, naming the file and offset.
 *
 * <p><b>Compaction.</b> The oldest segment is deleted once, for every member with entries in it, the
 * member's durable snapshot covers them (every later segment starts with a checkpoint of each
 * member, so nothing else is lost with it). When the log holds more than a few segments and the
 * oldest is kept by members whose live entries are few (quiet groups, whose snapshots do not come),
 * those entries are copied into one record at the end of the log, and the old segments go. A member
 * whose live entries are many keeps the segments from its first one on until its snapshot comes.
 * The files compaction drops (segments, older snapshot files) are deleted by a thread of their own,
 * the janitor, so that no write waits for an unlink; a reading of the directory waits for it.
 */
final class SegmentLog {
  private static final Logger LOG = LoggerFactory.getLogger(SegmentLog.class);
  private static final int MAGIC = 0x52414654; // "RAFT"
  /** Version 2: records name their member (version 1 held one member's log per directory). */
  private static final int VERSION = 2;
  private static final int HEADER = 16;
  private static final byte CHECKPOINT = 1;
  private static final byte WRITE = 2;
  /** Zeros written at a time when a segment is preallocated. */
  private static final int ZERO_CHUNK = 1 << 20;
  /** A record is [payload length][CRC32C of the payload][payload]. */
  private static final int RECORD_HEADER = 8;
  /** The record buffer keeps up to this capacity between writes; a larger one (after a big write) is dropped. */
  private static final int RECORD_BUFFER_KEPT = 1 << 20;

  /** How the log opens its files: {@code FileChannel::open}, or in tests a disk that fills up. */
  @FunctionalInterface
  interface FileOpener {
    FileChannel open(Path path, OpenOption... options) throws IOException;
  }

  // ------------------------------------------------------------------ the logs open in this process

  /** The open logs, by absolute directory; guarded by its own lock. */
  private static final Map<Path, SegmentLog> OPEN = new HashMap<>();

  /** How long a member being opened waits for the same member to be closed (a restart racing the stop before it). */
  static volatile long reopenWaitMs = 10_000;
  /** The log looks at moving live entries forward once it holds more segments than this. */
  static volatile int rewriteAfterSegments = 4;
  /** A member's live entries are moved forward only if there are at most this many... */
  static volatile long rewriteMaxEntries = 10_000;
  /** ...and they take at most this part of a segment (1/8). */
  static volatile int rewriteMaxSegmentPart = 8;
  /** For tests: runs on the janitor before it deletes each file. */
  static volatile java.util.function.Consumer<Path> beforeDeleting = f -> { };

  /**
   * The log of {@code dir} (opened if no member of this process uses it yet), with {@code key}
   * registered as one of its members. A key still open is waited for (up to 10 s: a node started
   * again while its old storage is still being closed), then refused (IllegalStateException); so are
   * a log open with other settings and a directory another process holds.
   */
  static SegmentLog acquire(Path dir, long segmentBytes, boolean fsync, FileOpener files, String key) {
    Path at = dir.toAbsolutePath().normalize();
    long deadline = System.currentTimeMillis() + reopenWaitMs;
    synchronized (OPEN) {
      while (true) {
        SegmentLog log = OPEN.get(at);
        if (log != null && log.closed) {
          // Being closed: its writer still holds the directory until it has exited.
          if (!log.writer.isAlive()) {
            OPEN.remove(at);
            log = null;
          } else {
            // Its writer's exit is not signalled: looked at again every 100 ms.
            awaitRegistry(deadline, 100, at, key, () -> "the segment log in " + at + " is still being closed: its writer "
                + "thread has not finished its last writes (a sync may be stuck); member " + key + " cannot open it yet");
            continue;
          }
        }
        if (log == null) {
          log = new SegmentLog(at, segmentBytes, fsync, files);
          OPEN.put(at, log);
        } else if (log.keys.contains(key)) {
          awaitRegistry(deadline, Long.MAX_VALUE, at, key, () -> "member " + key + " is already open on the segment log in "
              + at + " (a storage is closed before the member is started on it again)");
          continue;
        } else if (log.segmentBytes != segmentBytes || log.fsync != fsync || log.files != files) {
          throw new IllegalStateException("the segment log in " + at + " is open with segment-size = " + log.segmentBytes
              + " and fsync = " + log.fsync + "; member " + key + " asked for " + segmentBytes + " and " + fsync
              + ": every member of one directory shares its log and its settings");
        }
        log.keys.add(key);
        return log;
      }
    }
  }

  /**
   * Waits (holding {@link #OPEN}'s monitor) until the registry changes, at most {@code pollMs} and
   * never past {@code deadline}; past it, refuses with {@code refusal}.
   */
  private static void awaitRegistry(long deadline, long pollMs, Path at, String key,
      java.util.function.Supplier<String> refusal) {
    long left = deadline - System.currentTimeMillis();
    if (left <= 0) throw new IllegalStateException(refusal.get());
    try {
      OPEN.wait(Math.min(left, pollMs));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while member " + key + " waited to open the segment log in " + at);
    }
  }

  /**
   * Unregisters {@code key}; the last member out closes the log (before another can open it again).
   * Call it once the member's writes are done.
   */
  void release(String key) {
    synchronized (OPEN) {
      keys.remove(key);
      if (keys.isEmpty()) {
        close();
        if (!writer.isAlive()) OPEN.remove(dir); // else it stays, closing, until its writer has let the directory go
      }
      OPEN.notifyAll();
    }
  }

  // ------------------------------------------------------------------ the log

  private final Path dir;
  private final FileOpener files;
  private final long segmentBytes;
  private final boolean fsync;
  private final String name;
  /** Members open on this log; changed only under the lock of {@link #OPEN}. */
  private final Set<String> keys = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final FileChannel lockFile;
  private final FileLock lock;
  private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
  private final Thread writer;
  private volatile boolean closed;
  /** Prepares the next segment in the background. */
  private final ExecutorService preparer;
  /**
   * Deletes the files compaction no longer needs (segments, snapshot files), off the writer thread:
   * unlinking a segment took up to 14 ms there, and every group's writes waited. In order, one at a
   * time; a reading of the directory waits for the deletions decided before it.
   */
  private final ExecutorService janitor;
  /**
   * Writes the members' snapshot files before their writes are queued: the writer thread goes on
   * with the other members' writes meanwhile (a file of 112 KB took 0.9 ms at the median there, and
   * 2.8 ms at p90, with its syncs and rename).
   */
  private final ExecutorService snapshotFiles;
  /**
   * Per member: done once the member's last call (write, recovery, close) is in the writer's queue.
   * A member's calls reach the queue in the order they were made, a snapshot file or not.
   */
  private final java.util.concurrent.ConcurrentHashMap<String, CompletableFuture<Void>> queuedInOrder =
      new java.util.concurrent.ConcurrentHashMap<>();
  /** Files handed to the janitor and not yet deleted. */
  private final Set<Path> deleting = java.util.concurrent.ConcurrentHashMap.newKeySet();
  /** The next segment being prepared (its file, filled with zeros and with its header), or null. */
  private volatile Future<Path> prepared;
  private long preparedSeq;

  // Owned by the writer thread.
  private final TreeMap<Long, Segment> segments = new TreeMap<>();
  private Segment active;
  /** Every member the log knows: those with records, and those that recovered since it was read. */
  private final Map<String, Member> members = new LinkedHashMap<>();
  /** Whether the directory has been read since the log opened (or was broken). */
  private boolean scanned;
  /** Set when a record or a sync failed: every write fails until a member recovers, which reads the directory again. */
  private IOException broken;
  /**
   * After a failed sync, the part of a segment written since its last good sync: it may or may not
   * be on the disk whatever the page cache says, so the next reading of the directory zeroes it
   * (the writes in it failed) before it reads anything.
   */
  private Path suspect;
  private long suspectFrom;
  private long suspectTo;
  /** Set by the writer thread once it takes nothing more from the queue. */
  private volatile boolean writerDone;
  /** Data syncs of segments so far (written by the writer thread only). */
  private volatile long syncs;
  /** Members whose live entries were moved forward so far (written by the writer thread only). */
  private volatile long moves;
  /** Bytes of records read back to move live entries forward (written by the writer thread only). */
  private volatile long moveBytesRead;
  /** Writes made durable so far (written by the writer thread only). */
  private volatile long writesSynced;
  /** The record being written; reused from write to write. */
  private final BinaryOut record = BinaryOut.growable(64 * 1024);

  /**
   * A write of member {@code key}, or (write null) a turn of the writer thread: {@code done} runs on
   * it. {@code snapshotFile}: done once the write's snapshot file was written on the snapshot thread,
   * before the write was queued, or failed to be (done at once for a call without a snapshot).
   */
  private record Pending(String key, Write write, CompletableFuture<Void> done, CompletableFuture<Void> snapshotFile) {}

  /** What the log knows of one member. */
  private static final class Member {
    final String key;
    HardState hardState = HardState.INITIAL;
    /** The member's durable snapshot, or null if it has none (its initial configuration is the member's own). */
    SnapshotMeta snapshot;
    long lastIndex;
    /** Whether the member has read its state since it was opened (or since its last failure). */
    boolean recovered;
    /** Set when one of its writes failed: every later one fails too, until it recovers. */
    IOException failed;
    /** Its state as the last reading of the directory found it, until it recovers from it. */
    Replay replay;
    /** Its snapshot index when its live entries were found too large to move (until a snapshot shrinks them); -1: not so. */
    long tooLargeAtSnapshot = -1;
    /** Its snapshot index when it was last logged as keeping segments; -1: never. */
    long keepsSegmentsWarnedAt = -1;

    Member(String key) {
      this.key = key;
    }

    long snapshotIndex() {
      return snapshot == null ? 0 : snapshot.lastIncludedIndex();
    }

    boolean hasState() {
      return lastIndex > 0 || snapshot != null || !hardState.equals(HardState.INITIAL);
    }
  }

  /** An open segment: its channel, where its next record goes, and each member's largest entry index in it. */
  private static final class Segment {
    final long seq;
    final Path path;
    final FileChannel channel;
    final long size;
    long position;
    /** Where the last sync of this segment reached: what is before it is durable. */
    long synced;
    final Map<String, Long> maxEntryIndex = new HashMap<>();
    /** Members with a checkpoint in it. */
    final Set<String> checkpointed = new HashSet<>();
    /** Members with a write record in it (not only a checkpoint). */
    final Set<String> writers = new HashSet<>();
    /**
     * Where each member's records (checkpoint and writes) start in it, while it has at most
     * {@link #offsetsKept}: moving a quiet member's entries forward reads just those. Members with
     * more are in {@link #manyRecords}, and a move that needs them reads the whole segment.
     */
    final Map<String, Offsets> offsets = new HashMap<>();
    final Set<String> manyRecords = new HashSet<>();

    Segment(long seq, Path path, FileChannel channel, long size, long position) {
      this.seq = seq;
      this.path = path;
      this.channel = channel;
      this.size = size;
      this.position = position;
      this.synced = position;
    }

    /** Member {@code key} has a write record at offset {@code at} in it, with entries up to {@code maxEntry} (0: none). */
    void wrote(String key, long maxEntry, long at) {
      writers.add(key);
      if (maxEntry > 0) maxEntryIndex.merge(key, maxEntry, Math::max);
      noteRecord(key, at);
    }

    /** Member {@code key} has a checkpoint at offset {@code at} in it. */
    void checkpointed(String key, long at) {
      checkpointed.add(key);
      noteRecord(key, at);
    }

    private void noteRecord(String key, long at) {
      if (manyRecords.contains(key)) return;
      Offsets o = offsets.computeIfAbsent(key, k -> new Offsets());
      if (o.n == offsetsKept) {
        offsets.remove(key);
        manyRecords.add(key);
        return;
      }
      if (o.n == o.at.length) o.at = java.util.Arrays.copyOf(o.at, o.n * 2);
      o.at[o.n++] = at;
    }

    /** Member {@code key}'s records before a copy of them later in the log: this segment no longer counts them. */
    void forget(String key) {
      maxEntryIndex.remove(key);
      writers.remove(key); // its state before the copy is in the checkpoint of the copy's segment
      offsets.remove(key);
      manyRecords.remove(key);
    }
  }

  /** Offsets of one member's records in one segment, in the order written. */
  private static final class Offsets {
    long[] at = new long[4];
    int n;
  }

  /** A segment indexes the offsets of at most this many records per member. */
  static volatile int offsetsKept = 128;

  private SegmentLog(Path dir, long segmentBytes, boolean fsync, FileOpener files) {
    if (segmentBytes < 4096) throw new IllegalArgumentException("segment size must be at least 4096 bytes, was " + segmentBytes);
    this.dir = dir;
    this.files = files;
    this.segmentBytes = segmentBytes;
    this.fsync = fsync;
    this.name = dir.getFileName() == null ? dir.toString() : dir.getFileName().toString();
    JournalStorage.ensureDirectory(dir.toFile(), "the segment directory");
    try {
      lockFile = FileChannel.open(dir.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the lock file of the segment log in " + dir, e);
    }
    FileLock l = null;
    boolean lockable = true;
    try {
      l = lockFile.tryLock();
    } catch (java.nio.channels.OverlappingFileLockException e) {
      l = null; // this process holds it already (through another path to the same directory)
    } catch (IOException e) {
      lockable = false; // a file system without locks: the process-wide registry is all there is
      LOG.warn("Raft segment log in {}: its lock file cannot be locked ({}); nothing keeps a second process out", dir, e.toString());
    }
    if (lockable && l == null) {
      try {
        lockFile.close();
      } catch (IOException e) {
        // closing a file that was only opened
      }
      throw new IllegalStateException("the segment log in " + dir + " is in use by another process (it holds "
          + dir.resolve("lock") + "); two processes writing one log would corrupt it");
    }
    lock = l;
    this.preparer = oneThread("raft-segment-preparer-" + name);
    this.snapshotFiles = oneThread("raft-segment-snapshots-" + name);
    this.janitor = oneThread("raft-segment-janitor-" + name);
    this.writer = new Thread(this::writeLoop, "raft-segment-writer-" + name);
    writer.setDaemon(true);
    writer.start();
  }

  /** An executor with one daemon thread of that name. */
  private static ExecutorService oneThread(String threadName) {
    return Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, threadName);
      t.setDaemon(true);
      return t;
    });
  }

  Path directory() {
    return dir;
  }

  /** Where member {@code key} keeps its snapshot files. */
  Path memberDirectory(String key) {
    return dir.resolve(key);
  }

  // ------------------------------------------------------------------ the members' calls

  CompletableFuture<Void> write(String key, Write write) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    if (closed) {
      done.completeExceptionally(new IllegalStateException("the segment log in " + dir + " is closed"));
      return done;
    }
    enqueueInOrder(key, write, done);
    return done;
  }

  /**
   * Queues a call of member {@code key} (a write, or with {@code write} null a turn) behind the
   * member's earlier ones; a write with a snapshot reaches the queue once its snapshot file is written
   * (or failed to be: the writer then fails the write).
   */
  private void enqueueInOrder(String key, Write write, CompletableFuture<Void> done) {
    CompletableFuture<Void> queued = new CompletableFuture<>(); // done once this call is in the queue
    CompletableFuture<Void> before = queuedInOrder.put(key, queued);
    Runnable step = () -> {
      CompletableFuture<Void> file = write == null || write.snapshot() == null ? CompletableFuture.completedFuture(null)
          : writeSnapshotFileAside(key, write.snapshot());
      file.whenComplete((x, e) -> {
        enqueue(new Pending(key, write, done, file)); // a file that failed fails the write there
        queuedInOrder.remove(key, queued);
        queued.complete(null);
      });
    };
    if (before == null || before.isDone()) step.run();
    else before.whenComplete((x, e) -> step.run());
  }

  /** Writes member {@code key}'s snapshot file on the snapshot thread; done once written, or failed. */
  private CompletableFuture<Void> writeSnapshotFileAside(String key, Snapshot snapshot) {
    CompletableFuture<Void> file = new CompletableFuture<>();
    try {
      snapshotFiles.execute(() -> {
        try {
          writeSnapshotFile(key, snapshot);
          file.complete(null);
        } catch (Throwable e) { // an Error too: the write must not be left without an answer
          file.completeExceptionally(e);
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      file.completeExceptionally(new IOException("the segment log in " + dir + " is closed", e));
    }
    return file;
  }

  /** Queues {@code p}; if the writer has already stopped taking from the queue, fails what is left in it. */
  private void enqueue(Pending p) {
    queue.add(p);
    if (writerDone) failQueued();
  }

  private void failQueued() {
    for (Pending p; (p = queue.poll()) != null; ) {
      p.done().completeExceptionally(new IllegalStateException("the segment log in " + dir + " is closed"));
    }
  }

  /**
   * Reads member {@code key}'s state on the writer thread (after the writes queued before); a member
   * whose write failed works again after it recovered. {@code initialConfig} is its configuration
   * before any snapshot.
   */
  CompletableFuture<DurableState> recover(String key, ClusterConfig initialConfig) {
    CompletableFuture<DurableState> result = new CompletableFuture<>();
    if (closed) return CompletableFuture.failedFuture(new IllegalStateException("the segment log in " + dir + " is closed"));
    CompletableFuture<Void> turn = new CompletableFuture<>();
    turn.whenComplete((ok, closedMeanwhile) -> {
      if (closedMeanwhile != null) {
        result.completeExceptionally(closedMeanwhile);
        return;
      }
      try {
        result.complete(recoverMember(key, initialConfig));
      } catch (Throwable e) { // an Error too: the recovery must not be left without an answer
        LOG.error("Raft segment log in {} cannot recover member {}: {}", dir, key, e.toString());
        result.completeExceptionally(e);
      }
    });
    enqueueInOrder(key, null, turn);
    return result;
  }

  /**
   * Completes once the writes of {@code key} queued before it are done; from then on the member must
   * recover again before it writes.
   */
  CompletableFuture<Void> closeMember(String key) {
    if (closed) return CompletableFuture.completedFuture(null);
    CompletableFuture<Void> done = new CompletableFuture<>();
    CompletableFuture<Void> turn = new CompletableFuture<>();
    turn.thenRun(() -> {
      Member m = members.get(key);
      if (m != null) {
        m.recovered = false; // it writes again only after it has recovered...
        m.failed = null; // ...so a failure of its own no longer keeps its entries from moving forward
      }
      done.complete(null);
    });
    turn.exceptionally(e -> {
      done.complete(null); // the log closed meanwhile: nothing of the member is left to wait for
      return null;
    });
    enqueueInOrder(key, null, turn);
    return done;
  }

  // ------------------------------------------------------------------ the writer thread

  private void writeLoop() {
    List<Pending> batch = new ArrayList<>();
    List<Pending> unsynced = new ArrayList<>();
    while (!closed || !queue.isEmpty()) {
      try {
        Pending first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) continue;
        batch.add(first);
        queue.drainTo(batch);
        for (Pending p : batch) {
          if (p.write() == null) {
            sync(unsynced); // a turn (a recovery reads the directory) comes after the writes before it are done
            p.done().complete(null);
          } else {
            append(p, unsynced);
          }
        }
        sync(unsynced);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      } catch (Throwable e) { // an Error (out of memory): the log stops writing, and says so, instead of dying
        if (broken != null) LOG.error("Raft segment log in {}: the writer failed ({})", dir, e.toString()); // the log was broken already
        breakLog("the writer", e);
        for (Pending p : batch) if (!p.done().isDone()) p.done().completeExceptionally(e);
        unsynced.clear();
      } finally {
        batch.clear();
      }
    }
    writerDone = true;
    failQueued(); // queued after the writer's last look: failed, not left waiting
    closeSegments();
    snapshotFiles.shutdown(); // (what it still writes is failed by the queue: the writer is done)
    janitor.shutdown();
    try {
      // The next owner of the directory must not see files appear or vanish.
      if (!snapshotFiles.awaitTermination(10, TimeUnit.SECONDS)) {
        LOG.warn("Raft segment log in {}: writing a snapshot file has not finished after 10 s", dir);
      }
      if (!janitor.awaitTermination(10, TimeUnit.SECONDS)) {
        LOG.warn("Raft segment log in {}: deleting the files compaction left has not finished after 10 s", dir);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      if (lock != null) lock.release();
      lockFile.close();
    } catch (IOException e) {
      LOG.warn("Raft segment log in {}: releasing its lock file failed: {}", dir, e.toString());
    }
  }

  /** Appends the record of one write (not yet synced), or fails the write. */
  private void append(Pending p, List<Pending> unsynced) {
    Member m = member(p.key());
    Write w = p.write();
    try {
      if (broken != null) throw new IOException("an earlier write failed and broke the log: " + broken.getMessage(), broken);
      if (!scanned) throw new IOException("the log has not been read since it opened");
      if (m.failed != null) throw new IOException("an earlier write failed: " + m.failed.getMessage(), m.failed);
      if (!m.recovered) throw new IOException("write before recovery");
      if (w.snapshot() != null) snapshotFileWritten(p.snapshotFile()); // this member's own failure if it failed
    } catch (IOException | RuntimeException e) {
      fail(m, p, e);
      return;
    }
    try {
      encodeWrite(p.key(), w, record);
      Segment s = segmentFor(record.position() - RECORD_HEADER);
      long at = s.position;
      writeRecord(s, record);
      s.wrote(p.key(), w.entries().isEmpty() ? 0 : w.entries().get(w.entries().size() - 1).index(), at);
      if (s.position > s.size / 2 && prepared == null) prepareNext(s.seq + 1);
      unsynced.add(p);
    } catch (IOException | RuntimeException e) {
      IOException io = breakLog("a write of member " + p.key(), e);
      fail(m, p, io);
      if (suspect != null) {
        failAll(unsynced, io); // a sync failed: nothing written since the last good one can be acknowledged
      } else {
        sync(unsynced); // the records before it are whole: made durable, they are acknowledged
      }
      return;
    }
    // The in-memory view of the member, as it is once this record is durable.
    if (w.hardState() != null) m.hardState = w.hardState();
    if (w.snapshot() != null && w.snapshot().index() > m.snapshotIndex()) {
      m.snapshot = w.snapshot().meta();
      m.lastIndex = Math.max(m.lastIndex, m.snapshot.lastIncludedIndex());
    }
    if (w.truncateFrom() > 0) m.lastIndex = Math.min(m.lastIndex, w.truncateFrom() - 1);
    if (!w.entries().isEmpty()) m.lastIndex = w.entries().get(w.entries().size() - 1).index();
  }

  /** Makes the appended records durable with one sync and completes their writes; then compacts. */
  private void sync(List<Pending> unsynced) {
    if (unsynced.isEmpty()) return;
    try {
      force(active);
      writesSynced += unsynced.size();
    } catch (IOException | RuntimeException e) {
      failAll(unsynced, breakLog("a sync", e));
      return;
    }
    Set<String> snapshots = new HashSet<>();
    for (Pending p : unsynced) if (p.write().snapshot() != null) snapshots.add(p.key());
    if (!snapshots.isEmpty()) compact(snapshots); // before the writes complete: what a snapshot covers is gone once it is acknowledged
    for (Pending p : unsynced) p.done().complete(null);
    unsynced.clear();
    if (segments.size() > rewriteAfterSegments) moveForward();
  }

  /**
   * The oldest segment is kept only by members whose snapshots do not cover their entries in it
   * (quiet groups take no snapshot for long): if each such member's live entries are few, they are
   * copied into one record at the end of the log (truncating the member's log to its snapshot and
   * appending them again), made durable, and the segments before that record no longer keep the
   * member. The oldest segments nothing else keeps are then deleted. A member whose live entries are
   * many keeps the segments until its snapshot comes.
   */
  private void moveForward() {
    Segment oldest = segments.firstEntry().getValue();
    if (oldest == active || broken != null) return;
    List<Member> pinning = new ArrayList<>();
    for (Map.Entry<String, Long> e : oldest.maxEntryIndex.entrySet()) {
      Member m = members.get(e.getKey());
      if (m.snapshotIndex() >= e.getValue()) continue;
      boolean tooLarge = m.tooLargeAtSnapshot == m.snapshotIndex();
      if (m.failed != null || tooLarge || m.lastIndex - m.snapshotIndex() > rewriteMaxEntries) {
        if (m.failed == null && m.keepsSegmentsWarnedAt != m.snapshotIndex()) {
          m.keepsSegmentsWarnedAt = m.snapshotIndex();
          LOG.warn("Raft segment log in {}: member {} keeps {} segments of the log: its {} entries after its snapshot "
              + "(at {}) are too many to move forward; they go once a snapshot covers index {}", dir, m.key,
              segments.size(), m.lastIndex - m.snapshotIndex(), m.snapshotIndex(), e.getValue());
        }
        return;
      }
      pinning.add(m);
    }
    if (pinning.isEmpty()) {
      compact(Set.of());
      return;
    }
    List<Write> copies;
    long started = System.nanoTime();
    long readBefore = moveBytesRead;
    try {
      copies = liveEntries(pinning);
    } catch (IOException | RuntimeException e) {
      LOG.warn("Raft segment log in {}: the live entries of {} cannot be read to move them forward ({}); the segments "
          + "they are in stay until snapshots cover them", dir, pinning.stream().map(m -> m.key).toList(), e.toString());
      for (Member m : pinning) m.tooLargeAtSnapshot = m.snapshotIndex(); // not read again until its snapshot changes
      return;
    }
    if (copies == null) return;
    Map<Member, Segment> movedTo = new LinkedHashMap<>();
    try {
      for (int i = 0; i < pinning.size(); i++) {
        Member m = pinning.get(i);
        Write w = copies.get(i);
        encodeWrite(m.key, w, record);
        Segment s = segmentFor(record.position() - RECORD_HEADER);
        long at = s.position;
        writeRecord(s, record);
        s.wrote(m.key, m.lastIndex, at);
        movedTo.put(m, s);
        moves++;
      }
      force(active);
    } catch (IOException | RuntimeException e) {
      breakLog("moving live entries forward", e);
      return;
    }
    LOG.debug("Raft segment log in {}: moved the live entries of {} forward ({} bytes read back, {} us)", dir,
        movedTo.keySet().stream().map(m -> m.key).toList(), moveBytesRead - readBefore, (System.nanoTime() - started) / 1000);
    for (Map.Entry<Member, Segment> e : movedTo.entrySet()) {
      for (Segment s : segments.headMap(e.getValue().seq).values()) s.forget(e.getKey().key);
    }
    compact(Set.of());
  }

  /**
   * The records that hold the live entries of {@code ms} again, read back from the segments in one
   * pass; null if those of one of them take too large a part of a segment to be copied (remembered
   * until its snapshot changes).
   */
  private List<Write> liveEntries(List<Member> ms) throws IOException {
    Map<String, Replay> replays = new HashMap<>();
    for (Member m : ms) replays.put(m.key, new Replay());
    ByteBuffer head = ByteBuffer.allocate(RECORD_HEADER);
    for (Segment s : segments.values()) {
      // In a segment without its writes a member has only its checkpoint: the state its replay has reached.
      List<String> wrote = new ArrayList<>();
      for (String key : replays.keySet()) if (s.writers.contains(key)) wrote.add(key);
      if (wrote.isEmpty()) continue;
      if (java.util.Collections.disjoint(s.manyRecords, wrote)) {
        // Few records each: read just those, each member's in the order written.
        Reader direct = (dst, at) -> readFully(s.channel, dst, at);
        for (String key : wrote) {
          Offsets o = s.offsets.get(key);
          for (int i = 0; i < o.n; i++) readRecord(s, direct, o.at[i], head, replays, key);
        }
        continue;
      }
      Window window = new Window(s.channel);
      for (long at = HEADER; at < s.position; ) {
        at += RECORD_HEADER + readRecord(s, window, at, head, replays, null);
      }
    }
    List<Write> out = new ArrayList<>();
    for (Member m : ms) {
      Replay r = replays.get(m.key);
      List<LogEntry> live = r.entries();
      if (!r.hardState.equals(m.hardState) || r.lastIndex() != m.lastIndex || r.snapshotIndex() != m.snapshotIndex()) {
        throw new IllegalStateException("what the segments hold of " + m.key + " (last index " + r.lastIndex()
            + ", snapshot " + r.snapshotIndex() + ") is not what was written (" + m.lastIndex + ", " + m.snapshotIndex() + ")");
      }
      Write w = new Write(m.hardState, m.snapshotIndex() + 1, live);
      encodeWrite(m.key, w, record);
      if (record.position() > segmentBytes / rewriteMaxSegmentPart) {
        m.tooLargeAtSnapshot = m.snapshotIndex();
        return null;
      }
      out.add(w);
    }
    return out;
  }

  /**
   * Reads the record at {@code at} in {@code s} through {@code from} for a move and applies it to its
   * member's replay in {@code replays}, if it has one there and wrote in {@code s}. With
   * {@code expected} not null the record must be that member's. Returns the payload length.
   */
  private int readRecord(Segment s, Reader from, long at, ByteBuffer head, Map<String, Replay> replays, String expected)
      throws IOException {
    head.clear();
    from.read(head, at);
    int length = head.getInt(0);
    if (length <= 0 || at + RECORD_HEADER + length > s.position) {
      throw new IOException("no record at offset " + at + " of " + s.path + " (length " + length + ")");
    }
    ByteBuffer payload = ByteBuffer.allocate(length);
    from.read(payload, at + RECORD_HEADER);
    moveBytesRead += RECORD_HEADER + length;
    BinaryIn in = new BinaryIn(payload.array());
    byte type = in.readByte();
    String key = in.readUTF();
    if (expected != null && !key.equals(expected)) {
      throw new IOException("the record at offset " + at + " of " + s.path + " is of " + key + ", not " + expected);
    }
    Replay r = s.writers.contains(key) ? replays.get(key) : null;
    if (r != null) r.apply(type, in);
    return length;
  }

  /**
   * {@code what} failed with {@code e}: the log is broken (the first cause is kept and logged) and
   * every write fails until a member recovers. Returns {@code e} as an IOException.
   */
  private IOException breakLog(String what, Throwable e) {
    IOException io = e instanceof IOException x ? x : new IOException(e);
    if (broken == null) {
      broken = io;
      LOG.error("Raft segment log in {}: {} failed ({}); no member writes until one recovers", dir, what, io.toString());
    }
    return io;
  }

  private void failAll(List<Pending> unsynced, IOException cause) {
    for (Pending p : unsynced) fail(member(p.key()), p, cause);
    unsynced.clear();
  }

  /**
   * Syncs {@code s}. If that fails, what was written to it since its last good sync is suspect: the
   * kernel may have dropped it, and a later sync would not say so.
   */
  private void force(Segment s) throws IOException {
    if (!fsync) {
      s.synced = s.position;
      return;
    }
    try {
      s.channel.force(false);
    } catch (IOException | RuntimeException e) {
      if (suspect == null) {
        suspect = s.path;
        suspectFrom = s.synced;
        suspectTo = s.position;
      }
      throw e;
    }
    syncs++; // the writer thread is the only one that writes it
    s.synced = s.position;
  }

  private void fail(Member m, Pending p, Throwable e) {
    IOException io = e instanceof IOException x ? x : new IOException(e);
    if (m.failed == null) {
      m.failed = io;
      LOG.error("Raft segment log in {}: a write of member {} failed ({}); the member writes nothing more until it recovers",
          dir, m.key, io.toString());
    }
    p.done().completeExceptionally(io);
  }

  private Member member(String key) {
    return members.computeIfAbsent(key, k -> {
      Member m = new Member(k);
      m.replay = new Replay(); // nothing of it was read (a reading of the directory gives every member a new one)
      return m;
    });
  }

  /** Encodes {@code w} as one record into {@code out}: room for the header, then the payload. */
  private static void encodeWrite(String key, Write w, BinaryOut out) throws IOException {
    out.reset(RECORD_BUFFER_KEPT);
    out.skip(RECORD_HEADER);
    out.writeByte(WRITE);
    out.writeUTF(key);
    out.writeBoolean(w.hardState() != null);
    if (w.hardState() != null) EntryCodec.writeHardState(out, w.hardState());
    out.writeBoolean(w.snapshot() != null);
    if (w.snapshot() != null) EntryCodec.writeSnapshotMeta(out, w.snapshot().meta());
    out.writeLong(w.truncateFrom());
    out.writeInt(w.entries().size());
    for (LogEntry e : w.entries()) EntryCodec.writeEntry(out, e);
  }

  private static BinaryOut encodeCheckpoint(Member m) throws IOException {
    BinaryOut out = BinaryOut.growable(256);
    out.skip(RECORD_HEADER);
    out.writeByte(CHECKPOINT);
    out.writeUTF(m.key);
    EntryCodec.writeHardState(out, m.hardState);
    out.writeBoolean(m.snapshot != null);
    if (m.snapshot != null) EntryCodec.writeSnapshotMeta(out, m.snapshot);
    out.writeLong(m.lastIndex);
    return out;
  }

  /** The checkpoints of every member with state, as a new segment starts with them. */
  private Map<String, BinaryOut> checkpoints() throws IOException {
    Map<String, BinaryOut> out = new LinkedHashMap<>();
    for (Member m : members.values()) if (m.hasState()) out.put(m.key, encodeCheckpoint(m));
    return out;
  }

  /** Fills in the header of the record in {@code record} (payload length, CRC32C) and appends it to {@code s}. */
  private static void writeRecord(Segment s, BinaryOut record) throws IOException {
    int end = record.position();
    CRC32C crc = new CRC32C();
    crc.update(record.buffer().duplicate().position(RECORD_HEADER).limit(end));
    record.putInt(0, end - RECORD_HEADER);
    record.putInt(4, (int) crc.getValue());
    ByteBuffer b = record.buffer().duplicate().position(0).limit(end);
    long at = s.position;
    while (b.hasRemaining()) at += s.channel.write(b, at);
    s.position = at;
  }

  /** The segment the next record of {@code payloadBytes} goes to: the active one, or a new one. */
  private Segment segmentFor(int payloadBytes) throws IOException {
    long need = RECORD_HEADER + (long) payloadBytes;
    // A zero length after the last record marks the end, so a record never fills a segment to its last byte.
    if (active != null && active.position + need + 4 <= active.size) return active;
    return newSegment(need);
  }

  /** A new active segment with room for a record of {@code need} bytes after the checkpoints it starts with. */
  private Segment newSegment(long need) throws IOException {
    // What is appended to the segment left must be durable before anything in the next one.
    if (active != null) force(active);
    long seq = active == null ? 1 : active.seq + 1;
    Map<String, BinaryOut> checkpoints = checkpoints();
    long size = HEADER + need + 4;
    for (BinaryOut c : checkpoints.values()) size += c.position();
    size = Math.max(segmentBytes, size);
    Segment s = size == segmentBytes ? takePrepared(seq) : null;
    if (s == null) s = createSegment(seq, size);
    for (Map.Entry<String, BinaryOut> c : checkpoints.entrySet()) {
      long at = s.position;
      writeRecord(s, c.getValue());
      s.checkpointed(c.getKey(), at);
    }
    segments.put(seq, s);
    active = s;
    return s;
  }

  private Path segmentPath(long seq) {
    return dir.resolve(String.format("segment-%020d.log", seq));
  }

  /** Starts preparing segment {@code seq} in the background. */
  private void prepareNext(long seq) {
    preparedSeq = seq;
    Path file = dir.resolve(String.format("segment-%020d.prealloc", seq));
    prepared = preparer.submit(() -> {
      zeroFile(file, seq, segmentBytes);
      return file;
    });
  }

  /** The prepared segment {@code seq} renamed into place, or null if there is none (or it failed). */
  private Segment takePrepared(long seq) throws IOException {
    Future<Path> f = prepared;
    prepared = null;
    if (f == null) return null;
    Path file;
    try {
      file = f.get();
    } catch (ExecutionException e) {
      LOG.warn("Raft segment log in {}: preparing segment {} failed ({}); creating it now", dir, seq, e.getCause().toString());
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for the next segment", e);
    }
    if (preparedSeq != seq) {
      Files.deleteIfExists(file);
      return null;
    }
    Path path = segmentPath(seq);
    if (Files.exists(path)) throw new IOException("segment file " + path + " exists already: it is never replaced");
    move(dir, file, path);
    return openNew(seq, path, segmentBytes);
  }

  /** A new segment file filled with zeros, with its header, durable with its directory entry. */
  private Segment createSegment(long seq, long size) throws IOException {
    Path path = segmentPath(seq);
    if (Files.exists(path)) throw new IOException("segment file " + path + " exists already: it is never replaced");
    Path tmp = dir.resolve(path.getFileName() + ".tmp");
    zeroFile(tmp, seq, size);
    try {
      move(dir, tmp, path);
    } catch (IOException | RuntimeException e) {
      deleteAfterFailure(tmp, e);
      throw e;
    }
    return openNew(seq, path, size);
  }

  /** A segment just put in place: only its header is written. */
  private Segment openNew(long seq, Path path, long size) throws IOException {
    return new Segment(seq, path, files.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE), size, HEADER);
  }

  /**
   * Writes {@code file}: {@code size} zero bytes with the header of segment {@code seq}, synced. If
   * that fails (a full disk), the file is deleted: a half-made file would hold space the active
   * segment may need, and only a complete one is ever renamed into place.
   */
  private void zeroFile(Path file, long seq, long size) throws IOException {
    try (FileChannel ch = files.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(ZERO_CHUNK, size));
      long at = 0;
      while (at < size) {
        zeros.clear().limit((int) Math.min(zeros.capacity(), size - at));
        at += ch.write(zeros, at);
      }
      ByteBuffer h = ByteBuffer.allocate(HEADER).putInt(MAGIC).putInt(VERSION).putLong(seq);
      h.flip();
      while (h.hasRemaining()) ch.write(h, h.position());
      ch.force(true);
    } catch (IOException | RuntimeException e) {
      deleteAfterFailure(file, e);
      throw e;
    }
  }

  /** Deletes what a failed write left of {@code file}; a failure to delete is added to {@code cause}. */
  private static void deleteAfterFailure(Path file, Exception cause) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException | RuntimeException e) {
      cause.addSuppressed(e);
    }
  }

  /** The snapshot file written on the snapshot thread, or the reason it is not. */
  private static void snapshotFileWritten(CompletableFuture<Void> file) throws IOException {
    try {
      file.join();
    } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw cause instanceof IOException io ? io : new IOException("the snapshot file was not written: " + cause, cause);
    }
  }

  /** For tests: runs on the snapshot thread before it writes each snapshot file. */
  static volatile java.util.function.Consumer<Path> beforeSnapshotFile = f -> { };

  private void writeSnapshotFile(String key, Snapshot s) throws IOException {
    Path memberDir = memberDirectory(key);
    Path path = snapshotPath(memberDir, s.index(), s.term());
    beforeSnapshotFile.accept(path);
    if (deleting.contains(path)) awaitDeletions(); // never kept because the janitor deletes it a moment later
    if (Files.exists(path)) return;
    Path tmp = memberDir.resolve(path.getFileName() + ".tmp");
    try {
      try (FileChannel ch = files.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
          StandardOpenOption.WRITE)) {
        CRC32C crc = new CRC32C();
        crc.update(s.data());
        ByteBuffer b = ByteBuffer.allocate(12 + s.data().length);
        b.putInt(s.data().length).putLong(crc.getValue()).put(s.data()).flip();
        while (b.hasRemaining()) ch.write(b);
        ch.force(true);
      }
      move(memberDir, tmp, path);
    } catch (IOException | RuntimeException e) {
      deleteAfterFailure(tmp, e);
      throw e;
    }
  }

  /** Renames {@code from} to {@code to} (both in {@code in}) atomically and makes the rename durable. */
  private void move(Path in, Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
    syncDirectory(in);
  }

  private void syncDirectory(Path d) throws IOException {
    if (!fsync) return;
    FileChannel ch;
    try {
      ch = files.open(d, StandardOpenOption.READ);
    } catch (IOException e) {
      return; // some platforms cannot open a directory for syncing; the rename is then as durable as they allow
    }
    try (ch) {
      ch.force(true); // a failure here is the rename's: it may not be durable
    }
  }

  private static Path snapshotPath(Path memberDir, long index, long term) {
    return memberDir.resolve(String.format("snapshot-%020d-%d.bin", index, term));
  }

  /** The index in a snapshot file's name ({@link #snapshotPath}); Long.MAX_VALUE (never older) if it has none. */
  static long snapshotIndexOf(Path f) {
    String n = f.getFileName().toString();
    int from = "snapshot-".length();
    int dash = n.indexOf('-', from);
    try {
      return n.startsWith("snapshot-") && dash > from ? Long.parseLong(n.substring(from, dash)) : Long.MAX_VALUE;
    } catch (NumberFormatException e) {
      return Long.MAX_VALUE;
    }
  }

  /**
   * After snapshots of {@code changed} became durable: deletes their older snapshot files, and the
   * oldest segments whose entries every member's snapshot covers. A failure is logged: the writes are
   * durable, and the files are looked at again after the next snapshot.
   */
  private void compact(Set<String> changed) {
    List<Path> gone = new ArrayList<>();
    try {
      while (segments.size() > 1) {
        Segment oldest = segments.firstEntry().getValue();
        if (oldest == active || !covered(oldest)) break;
        segments.pollFirstEntry();
        gone.add(oldest.path);
        oldest.channel.close();
      }
      for (String key : changed) {
        Member m = members.get(key);
        Path memberDir = memberDirectory(key);
        try (DirectoryStream<Path> snapshotFiles = Files.newDirectoryStream(memberDir, "snapshot-*.bin")) {
          // Only older ones: a newer file may be that of a later write of the member, written on the
          // snapshot thread while this one was synced (its record not yet queued).
          for (Path f : snapshotFiles) if (snapshotIndexOf(f) < m.snapshot.lastIncludedIndex()) gone.add(f);
        }
      }
    } catch (IOException | RuntimeException e) {
      LOG.warn("Raft segment log in {}: deleting what snapshots cover failed ({}); it is tried again after the next "
          + "snapshot", dir, e.toString());
    }
    deleteLater(gone);
  }

  /** Hands {@code files} to the janitor (named on the writer thread). */
  private void deleteLater(List<Path> files) {
    if (files.isEmpty()) return;
    deleting.addAll(files);
    try {
      janitor.execute(() -> {
        for (Path f : files) {
          try {
            beforeDeleting.accept(f);
            Files.deleteIfExists(f);
          } catch (IOException | RuntimeException e) {
            LOG.warn("Raft segment log in {}: deleting {}, which snapshots cover, failed ({}); it is tried again after the "
                + "next snapshot", dir, f, e.toString());
          } finally {
            deleting.remove(f);
          }
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) { // the log is closing: they go at its next reading
      deleting.removeAll(files);
    }
  }

  /** Waits until the files handed to the janitor before this call are deleted (or failed to be). */
  private void awaitDeletions() {
    try {
      janitor.submit(() -> { }).get();
    } catch (java.util.concurrent.RejectedExecutionException | ExecutionException e) {
      // shut down: the writer drains it before it lets the directory go
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Whether every member's entries in {@code s} are covered by the member's durable snapshot. */
  private boolean covered(Segment s) {
    for (Map.Entry<String, Long> e : s.maxEntryIndex.entrySet()) {
      Member m = members.get(e.getKey());
      if (m == null || m.snapshotIndex() < e.getValue()) return false;
    }
    return true;
  }

  private void closeSegments() {
    for (Segment s : segments.values()) {
      try {
        s.channel.close();
      } catch (IOException e) {
        LOG.warn("Raft segment log in {}: closing {} failed: {}", dir, s.path, e.toString());
      }
    }
    segments.clear();
    active = null;
  }

  // ------------------------------------------------------------------ recovery (on the writer thread)

  private DurableState recoverMember(String key, ClusterConfig initialConfig) throws IOException {
    Member m = member(key);
    m.recovered = false; // until it has: a write queued after this recovery by mistake fails
    if (!scanned || broken != null || m.replay == null) scan();
    Replay r = m.replay;
    m.replay = null; // taken: a later recovery of this member reads the directory again
    SnapshotMeta snapshot = r.snapshot != null ? r.snapshot : SnapshotMeta.initial(initialConfig);
    List<LogEntry> entries = r.entries();
    Path memberDir = memberDirectory(key);
    JournalStorage.ensureDirectory(memberDir.toFile(), "the snapshot directory of member " + key);
    try (DirectoryStream<Path> stale = Files.newDirectoryStream(memberDir, "*.tmp")) {
      for (Path f : stale) Files.deleteIfExists(f); // a half-made snapshot file of an earlier run
    }
    byte[] data = r.snapshot != null && r.snapshot.lastIncludedIndex() > 0 ? readSnapshotFile(memberDir, r.snapshot) : null;
    m.failed = null;
    m.recovered = true; // only now: writes after a recovery that failed half way fail too
    return new DurableState(r.hardState, snapshot, entries, data);
  }

  /**
   * Reads the whole directory again: every member's state (kept until each recovers), the segments
   * and where the next record goes. A log that was broken works again after it.
   */
  private void scan() throws IOException {
    closeSegments();
    scanned = false;
    try {
      awaitPreparation();
      awaitDeletions(); // the directory as compaction left it: no file vanishes while it is read
      if (suspect != null) zeroSuspect();
      broken = null;
      try (DirectoryStream<Path> stale = Files.newDirectoryStream(dir, "*.{prealloc,tmp}")) {
        for (Path f : stale) if (Files.isRegularFile(f)) Files.deleteIfExists(f); // half-made files of an earlier run
      }
      for (Member m : members.values()) m.replay = new Replay();
      List<Path> paths = listSegments();
      for (int i = 0; i < paths.size(); i++) {
        Segment s = readSegment(paths.get(i), i == paths.size() - 1);
        segments.put(s.seq, s);
        active = s;
      }
      Set<String> open = Set.copyOf(keys);
      for (Member m : members.values()) {
        Replay r = m.replay;
        m.hardState = r.hardState;
        m.snapshot = r.snapshot;
        m.lastIndex = r.lastIndex();
        // Kept only for members that will recover from it: not for one writing on (it recovered and nothing
        // failed), nor for one not open here (it reads the directory again when it opens).
        if (!open.contains(m.key) || (m.recovered && m.failed == null)) m.replay = null;
      }
      if (active != null && !checkpointsComplete()) {
        // The last segment lacks the checkpoint of a member with records before it (a crash or a failure while
        // its checkpoints were written): the log goes on in a new segment, which starts with all of them, so
        // that deleting the segments before it never loses a member's state.
        newSegment(0);
      }
      // What was read back may be in the page cache only (the process stopped between a write and its
      // sync): it is made durable before any member acts on it, so that no member answers for a record a
      // crash of the machine could still take. (A new segment started above is made durable here too.)
      if (active != null) force(active);
      scanned = true;
    } catch (IOException | RuntimeException e) {
      closeSegments();
      broken = e instanceof IOException x ? x : new IOException(e); // nothing is written on a log that was not read
      throw e;
    }
  }

  /** Whether the active segment has the checkpoint of every member with state and records in older segments. */
  private boolean checkpointsComplete() {
    Set<String> older = new HashSet<>();
    for (Segment s : segments.headMap(active.seq).values()) {
      older.addAll(s.writers);
      older.addAll(s.checkpointed);
    }
    for (Member m : members.values()) {
      if (m.hasState() && older.contains(m.key) && !active.checkpointed.contains(m.key)) return false;
    }
    return true;
  }

  /**
   * Zeroes what was written to a segment after its last good sync, before a sync failed: those
   * writes failed, and the page cache may hold them although the disk never will. The zeros are
   * synced; if that fails too, the log stays broken.
   */
  private void zeroSuspect() throws IOException {
    if (Files.exists(suspect) && suspectTo > suspectFrom) {
      try (FileChannel ch = files.open(suspect, StandardOpenOption.WRITE)) {
        zero(ch, suspectFrom, suspectTo);
      }
      LOG.warn("Raft segment log in {}: {} bytes of {} written after its last good sync (offset {}) are dropped: the "
          + "sync that followed them failed", dir, suspectTo - suspectFrom, suspect, suspectFrom);
    }
    suspect = null;
  }

  private byte[] readSnapshotFile(Path memberDir, SnapshotMeta m) throws IOException {
    Path path = snapshotPath(memberDir, m.lastIncludedIndex(), m.lastIncludedTerm());
    if (!Files.exists(path)) throw new IOException("the snapshot file " + path + " named by the log is missing");
    byte[] all = Files.readAllBytes(path);
    ByteBuffer b = ByteBuffer.wrap(all);
    if (all.length < 12) throw new IOException("the snapshot file " + path + " is truncated");
    int n = b.getInt();
    long crc = b.getLong();
    if (n < 0 || 12L + n != all.length) throw new IOException("the snapshot file " + path + " has a bad length");
    byte[] data = new byte[n];
    b.get(data);
    CRC32C c = new CRC32C();
    c.update(data);
    if (c.getValue() != crc) throw new IOException("the snapshot file " + path + " fails its checksum");
    return data;
  }

  /**
   * Waits until a preparation of the next segment has ended, so that its file is not created again
   * after the half-made files are deleted (cancelling a running preparation would not stop it).
   */
  private void awaitPreparation() {
    Future<Path> f = prepared;
    prepared = null;
    if (f == null) return;
    try {
      f.get();
    } catch (ExecutionException | java.util.concurrent.CancellationException e) {
      // It left no file (a failed preparation deletes its own); a complete one is deleted with the others.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Reads one segment's records into the members' replays; cuts off a torn write at the end of the last one. */
  private Segment readSegment(Path path, boolean last) throws IOException {
    FileChannel ch = files.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
    try {
      long size = ch.size();
      ByteBuffer h = ByteBuffer.allocate(HEADER);
      readFully(ch, h, 0);
      h.flip();
      if (size < HEADER || h.getInt() != MAGIC) throw new IOException("corrupt segment " + path + ": bad header");
      int version = h.getInt();
      if (version != VERSION) {
        throw new IOException("segment " + path + " has format version " + version + ", this version reads " + VERSION
            + (version == 1 ? " (version 1 kept one member's log per directory; it is not read by this version)" : ""));
      }
      long seq = h.getLong();
      Segment s = new Segment(seq, path, ch, size, HEADER);
      long at = HEADER;
      ByteBuffer head = ByteBuffer.allocate(8);
      Window window = new Window(ch);
      while (at + 8 <= size) {
        head.clear();
        window.read(head, at);
        head.flip();
        int length = head.getInt();
        int crc = head.getInt();
        if (length == 0 && crc == 0) {
          // The end of what was written; in a segment with one after it, nothing may follow (a write that
          // a later one was acknowledged after can only have vanished in a crash if its sync lied).
          if (!last && !zerosFrom(ch, at, size)) {
            throw new IOException("corrupt segment " + path + ": records after zeros at offset " + at
                + "; the log cannot be read past it; the node does not start");
          }
          break;
        }
        String problem = null;
        byte[] payload = null;
        if (length <= 0 || at + 8 + length > size) {
          problem = "bad record length " + length;
        } else {
          ByteBuffer p = ByteBuffer.allocate(length);
          window.read(p, at + 8);
          payload = p.array();
          CRC32C c = new CRC32C();
          c.update(payload);
          if ((int) c.getValue() != crc) problem = "checksum mismatch";
        }
        if (problem != null) {
          long end = length > 0 ? Math.min(size, at + 8 + (long) length) : at + 8;
          if (last && zerosFrom(ch, end, size)) {
            LOG.warn("Raft segment log in {}: a torn write at the end of {} (offset {}, {}) is cut off; the log ends "
                + "with the record before it", dir, path, at, problem);
            zero(ch, at, end);
            break;
          }
          throw new IOException("corrupt record in " + path + " at offset " + at + " (" + problem
              + "): the log cannot be read past it; the node does not start");
        }
        try {
          BinaryIn in = new BinaryIn(payload);
          byte type = in.readByte();
          String key = in.readUTF();
          long max = member(key).replay.apply(type, in);
          if (type == WRITE) s.wrote(key, max, at);
          else s.checkpointed(key, at);
        } catch (IOException | RuntimeException e) {
          throw new IOException("corrupt record in " + path + " at offset " + at + ": " + e.getMessage(), e);
        }
        at += 8 + length;
      }
      s.position = at;
      s.synced = at; // what a segment read back holds is durable: a failed sync after this must not zero it
      return s;
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /** Reads from a file at an offset, as {@link #readFully} does. */
  @FunctionalInterface
  private interface Reader {
    void read(ByteBuffer dst, long at) throws IOException;
  }

  /**
   * Reads a file through a window of 1 MiB: a scan of small records makes one read per MiB instead of
   * two per record (a million one-entry records took 5.8 s to recover with those).
   */
  private static final class Window implements Reader {
    private final FileChannel ch;
    private final ByteBuffer buf = ByteBuffer.allocate(1 << 20);
    private long start = -1;
    private int filled;

    Window(FileChannel ch) {
      this.ch = ch;
    }

    /** Fills {@code dst} from offset {@code at} as {@link #readFully} does (short only at the end of the file). */
    @Override
    public void read(ByteBuffer dst, long at) throws IOException {
      int n = dst.remaining();
      if (n > buf.capacity()) {
        readFully(ch, dst, at);
        return;
      }
      if (start < 0 || at < start || at + n > start + filled) {
        buf.clear();
        readFully(ch, buf, at);
        start = at;
        filled = buf.position();
      }
      int from = (int) (at - start);
      dst.put(buf.array(), from, Math.max(0, Math.min(n, filled - from)));
    }
  }

  private static void readFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
    while (b.hasRemaining()) {
      int n = ch.read(b, at);
      if (n < 0) break;
      at += n;
    }
  }

  private static boolean zerosFrom(FileChannel ch, long from, long to) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(64 * 1024);
    for (long at = from; at < to; ) {
      b.clear().limit((int) Math.min(b.capacity(), to - at));
      readFully(ch, b, at);
      b.flip();
      while (b.hasRemaining()) if (b.get() != 0) return false;
      at += b.limit();
    }
    return true;
  }

  /** Writes zeros over {@code [from, to)} of {@code ch} and syncs them. */
  private void zero(FileChannel ch, long from, long to) throws IOException {
    ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(ZERO_CHUNK, to - from));
    for (long at = from; at < to; ) {
      zeros.clear().limit((int) Math.min(zeros.capacity(), to - at));
      at += ch.write(zeros, at);
    }
    if (fsync) ch.force(false);
  }

  /** One member's state as its records are replayed. */
  private static final class Replay {
    HardState hardState = HardState.INITIAL;
    /** The last snapshot recorded, or null (the member's initial configuration). */
    SnapshotMeta snapshot;
    /** Entries from {@code base}; indexes below it are covered by a snapshot, or must be by the last one. */
    final ArrayList<LogEntry> log = new ArrayList<>();
    long base = 1;
    /** Entries up to this index were in deleted segments: the last snapshot must cover them. */
    long missingUpTo;

    long snapshotIndex() {
      return snapshot == null ? 0 : snapshot.lastIncludedIndex();
    }

    long lastIndex() {
      return log.isEmpty() ? Math.max(snapshotIndex(), base - 1) : log.get(log.size() - 1).index();
    }

    /** Applies one record (after its type and key); returns the largest entry index it wrote (0 if none). */
    long apply(byte type, BinaryIn in) throws IOException {
      if (type == CHECKPOINT) {
        hardState = EntryCodec.readHardState(in);
        if (in.readBoolean()) {
          SnapshotMeta m = EntryCodec.readSnapshotMeta(in);
          if (snapshot == null || m.lastIncludedIndex() > snapshotIndex()) installSnapshot(m);
        }
        long last = in.readLong();
        if (log.isEmpty() && base <= last) {
          // The first segment left: what came before it was compacted away.
          missingUpTo = Math.max(missingUpTo, last);
          base = last + 1;
        }
        return 0;
      }
      if (type != WRITE) throw new IOException("unknown record type " + type);
      if (in.readBoolean()) hardState = EntryCodec.readHardState(in);
      if (in.readBoolean()) {
        SnapshotMeta m = EntryCodec.readSnapshotMeta(in);
        if (snapshot == null || m.lastIncludedIndex() > snapshotIndex()) installSnapshot(m);
      }
      long truncateFrom = in.readLong();
      // Entries from truncateFrom on are gone: none of them can be missing any more (a member's live
      // entries moved forward truncate from past its snapshot and come again).
      if (truncateFrom > 0) missingUpTo = Math.min(missingUpTo, truncateFrom - 1);
      if (truncateFrom > 0 && truncateFrom < base + log.size()) {
        if (truncateFrom <= base) {
          log.clear();
          base = Math.max(truncateFrom, snapshotIndex() + 1);
        } else {
          log.subList((int) (truncateFrom - base), log.size()).clear();
        }
      }
      int n = in.readInt();
      long max = 0;
      for (int i = 0; i < n; i++) {
        LogEntry e = EntryCodec.readEntry(in);
        max = e.index();
        if (e.index() <= snapshotIndex()) continue;
        long next = base + log.size();
        if (e.index() < next) {
          log.subList((int) (e.index() - base), log.size()).clear();
        } else if (e.index() > next) {
          if (!log.isEmpty()) throw new IOException("entry " + e.index() + " follows entry " + (next - 1));
          missingUpTo = Math.max(missingUpTo, e.index() - 1);
          base = e.index();
        }
        log.add(e);
      }
      if (in.remaining() > 0) throw new IOException(in.remaining() + " bytes left over in a write record");
      return max;
    }

    private void installSnapshot(SnapshotMeta m) {
      long idx = m.lastIncludedIndex();
      snapshot = m;
      if (idx >= base + log.size() - 1) {
        log.clear();
        base = idx + 1;
      } else if (idx >= base) {
        log.subList(0, (int) (idx - base + 1)).clear();
        base = idx + 1;
      }
    }

    List<LogEntry> entries() throws IOException {
      if (missingUpTo > snapshotIndex()) {
        throw new IOException("entries up to " + missingUpTo + " are missing and the snapshot (at "
            + snapshotIndex() + ") does not cover them");
      }
      List<LogEntry> out = new ArrayList<>(log.size());
      for (LogEntry e : log) if (e.index() > snapshotIndex()) out.add(e);
      return out;
    }
  }

  /** Stops the writer after the writes already queued (later writes fail), and lets the directory go. */
  private void close() {
    closed = true; // the writer sees it within its poll interval; never interrupted, which would close its files
    preparer.shutdown(); // (the writer lets the snapshot thread and the janitor finish before it lets the directory go)
    try {
      writer.join(10_000);
      preparer.awaitTermination(10, TimeUnit.SECONDS); // no file left open behind
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (writer.isAlive()) {
      LOG.error("Raft segment log in {}: its writer thread has not finished its last writes after 10 s (a sync, a "
          + "snapshot file or a deletion may be stuck); the directory stays locked until it has", dir);
    }
  }

  /** The segment files in the directory, oldest first (their names sort by sequence number). */
  private List<Path> listSegments() throws IOException {
    return list(dir, "segment-*.log");
  }

  private static List<Path> list(Path dir, String glob) throws IOException {
    List<Path> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) return out;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, glob)) {
      for (Path f : ds) out.add(f);
    }
    out.sort(null);
    return out;
  }

  /** The segment files in {@code dir} (none if it does not exist), oldest first. */
  static List<Path> segmentFilesIn(Path dir) {
    try {
      return list(dir, "segment-*.log");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + dir.toAbsolutePath(), e);
    }
  }

  /** Data syncs of this log's segments since it opened (one per batch, plus one per switch of segments). */
  long syncs() {
    return syncs;
  }

  /** Members whose live entries were moved forward since the log opened. */
  long moves() {
    return moves;
  }

  /** Bytes read back to move live entries forward since the log opened. */
  long moveBytesRead() {
    return moveBytesRead;
  }

  /** Writes of all members made durable since the log opened. */
  long writesSynced() {
    return writesSynced;
  }

  /**
   * For tests: whether the next segment is being prepared (or its preparation has ended and not been
   * taken yet). Read it after a write has completed: the writer set it before completing the write.
   */
  boolean preparingNextSegment() {
    return prepared != null;
  }

  /** For tests: the segment files in the directory, once the deletions decided before are done. */
  List<Path> segmentFiles() {
    awaitDeletions();
    return segmentFilesIn(dir);
  }
}
