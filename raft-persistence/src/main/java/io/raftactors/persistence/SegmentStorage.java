package io.raftactors.persistence;

import io.raftactors.actor.RaftStorage;
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
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Raft log kept in segment files written for it: each storage write is one record appended to a
 * preallocated segment and made durable with one {@code fdatasync}, on a writer thread of its own,
 * without the hops of an event-sourced journal.
 *
 * <p><b>Layout.</b> A directory holds {@code segment-N.log} files (N counts up) and the state
 * machine snapshots, {@code snapshot-INDEX-TERM.bin}. A segment starts with a header (magic,
 * version, N), then a checkpoint record (the hard state and snapshot in force when it was opened),
 * then one record per write, each {@code [length][CRC32C][payload]}. A segment is filled with
 * zeros when it is created, so a write never changes the file's size and its sync carries no
 * metadata; a zero length marks the end of what was written. The next segment is prepared (filled
 * with zeros, as {@code segment-N.prealloc}) on a thread of its own while the active one is past
 * half full, so that switching segments costs a rename, not a pause of the writes.
 *
 * <p><b>Atomic writes.</b> A write (hard state, snapshot, truncation, entries) is one record: a
 * crash in the middle of it leaves a record whose checksum fails, which recovery treats as never
 * written (it was never acknowledged either). A snapshot's data goes to its own file, made durable
 * and renamed into place before the record that names it.
 *
 * <p><b>Recovery.</b> Replays every record, in order. A bad record at the end of the last segment,
 * followed only by zeros, is a torn write: it is cut off (with a warning naming file and offset)
 * and recovery goes on from the last whole record. A bad record anywhere else is corruption:
 * recovery fails, naming the file and offset, and the node does not start.
 *
 * <p><b>A full disk.</b> A write that finds no space (or fails in any other way) fails, and so does
 * every later one until the node recovers, which reads the directory again: the node acknowledges
 * nothing that is not durable. A segment or snapshot file that cannot be written completely is
 * deleted at once (its space comes back, and only complete files are ever renamed into place); a
 * failed preparation of the next segment is logged and the segment is created when it is needed.
 *
 * <p><b>Compaction.</b> Once a snapshot is durable, older snapshot files are deleted, and so are
 * whole segments whose entries the snapshot covers (each later segment starts with a checkpoint,
 * so nothing else is lost with them).
 */
public final class SegmentStorage implements RaftStorage, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SegmentStorage.class);
  private static final int MAGIC = 0x52414654; // "RAFT"
  private static final int VERSION = 1;
  private static final int HEADER = 16;
  private static final byte CHECKPOINT = 1;
  private static final byte WRITE = 2;
  /** Zeros written at a time when a segment is preallocated. */
  private static final int ZERO_CHUNK = 1 << 20;
  /** A record is [payload length][CRC32C of the payload][payload]. */
  private static final int RECORD_HEADER = 8;
  /** The record buffer keeps up to this capacity between writes; a larger one (after a big write) is dropped. */
  private static final int RECORD_BUFFER_KEPT = 1 << 20;

  /** How the storage opens its files: {@code FileChannel::open}, or in tests a disk that fills up. */
  @FunctionalInterface
  interface FileOpener {
    FileChannel open(Path path, OpenOption... options) throws IOException;
  }

  private final Path dir;
  private final FileOpener files;
  private final long segmentBytes;
  private final boolean fsync;
  private final ClusterConfig initialConfig;
  private final String name;
  private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
  private final Thread writer;
  private volatile boolean closed;
  /** Prepares the next segment in the background. */
  private final java.util.concurrent.ExecutorService preparer;
  /** The next segment being prepared (its file, filled with zeros and with its header), or null. */
  private java.util.concurrent.Future<Path> prepared;
  private long preparedSeq;

  // Owned by the writer thread once recovered.
  private final TreeMap<Long, Segment> segments = new TreeMap<>();
  private Segment active;
  private HardState hardState = HardState.INITIAL;
  private SnapshotMeta snapshot;
  private long lastIndex;
  /** Set when a write failed: every later write fails too, until the node recovers. */
  private volatile IOException failed;
  /** The record being written; the writer thread's only, reused from write to write. */
  private final BinaryOut record = BinaryOut.growable(64 * 1024);
  private boolean recovered;

  private record Pending(Write write, CompletableFuture<Void> done) {}

  /** An open segment: its channel, where its next record goes, and the largest entry index it holds. */
  private static final class Segment {
    final long seq;
    final Path path;
    final FileChannel channel;
    final long size;
    long position;
    long maxEntryIndex;

    Segment(long seq, Path path, FileChannel channel, long size, long position) {
      this.seq = seq;
      this.path = path;
      this.channel = channel;
      this.size = size;
      this.position = position;
    }
  }

  /**
   * A storage in {@code dir} (created if missing). {@code segmentBytes} is the size of each segment;
   * with {@code fsync} off writes are not synced (for tests only: a crash of the machine loses them).
   * {@code initialConfig} is the configuration reported for an empty directory.
   */
  public SegmentStorage(Path dir, long segmentBytes, boolean fsync, ClusterConfig initialConfig, String name) {
    this(dir, segmentBytes, fsync, initialConfig, name, FileChannel::open);
  }

  /** As above, opening every file through {@code files}. */
  SegmentStorage(Path dir, long segmentBytes, boolean fsync, ClusterConfig initialConfig, String name, FileOpener files) {
    if (segmentBytes < 4096) throw new IllegalArgumentException("segment size must be at least 4096 bytes, was " + segmentBytes);
    this.dir = dir;
    this.files = files;
    this.segmentBytes = segmentBytes;
    this.fsync = fsync;
    this.initialConfig = initialConfig;
    this.name = name;
    this.snapshot = SnapshotMeta.initial(initialConfig);
    JournalStorage.ensureDirectory(dir.toFile(), "the segment directory");
    this.preparer = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "raft-segment-preparer-" + name);
      t.setDaemon(true);
      return t;
    });
    this.writer = new Thread(this::writeLoop, "raft-segment-writer-" + name);
    writer.setDaemon(true);
    writer.start();
  }

  /**
   * The segment storage of the node described by {@code settings}, in {@code
   * raft.persistence.segments.dir}/group/member; closed when {@code system} terminates. Refuses to
   * start (IllegalStateException) if this member's log is in the journal ({@link StorageGuard}).
   */
  public static SegmentStorage start(akka.actor.typed.ActorSystem<?> system, io.raftactors.actor.RaftSettings settings) {
    com.typesafe.config.Config config = system.settings().config();
    StorageGuard.checkNoJournalData(config, settings); // not empty segments over a log kept in the journal
    com.typesafe.config.Config c = config.getConfig("raft.persistence.segments");
    Path dir = directory(config, settings);
    SegmentStorage s = new SegmentStorage(dir, c.getBytes("segment-size"), c.getBoolean("fsync"),
        settings.bootstrapConfig(), settings.groupId() + "-" + settings.memberId());
    system.getWhenTerminated().thenRun(s::close);
    return s;
  }

  /** Where the segment storage of the node described by {@code settings} keeps its files. */
  static Path directory(com.typesafe.config.Config config, io.raftactors.actor.RaftSettings settings) {
    return Path.of(config.getString("raft.persistence.segments.dir")).resolve(settings.groupId()).resolve(settings.memberId());
  }

  /** The directory of this storage. */
  public Path directory() {
    return dir;
  }

  // ------------------------------------------------------------------ the writer thread

  private void writeLoop() {
    List<Pending> batch = new ArrayList<>();
    while (!closed || !queue.isEmpty()) {
      try {
        Pending first = queue.poll(100, java.util.concurrent.TimeUnit.MILLISECONDS);
        if (first == null) continue;
        batch.add(first);
        queue.drainTo(batch);
        for (Pending p : batch) {
          if (p.write() == null) {
            p.done().complete(null); // a recovery marker: handled by recover() itself
            continue;
          }
          try {
            if (failed != null) throw new IOException("an earlier write failed: " + failed.getMessage(), failed);
            append(p.write());
          } catch (IOException | RuntimeException e) {
            IOException io = e instanceof IOException x ? x : new IOException(e);
            if (failed == null) {
              failed = io;
              LOG.error("Raft segment storage {} in {}: a write failed ({}); nothing more is written until the node recovers",
                  name, dir, io.toString());
            }
            p.done().completeExceptionally(io);
          }
        }
        for (Pending p : batch) {
          if (p.write() != null && !p.done().isDone()) p.done().complete(null);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      } finally {
        batch.clear();
      }
    }
    closeSegments();
  }

  /** One write: its record appended and synced, then the compaction it allows. */
  private void append(Write w) throws IOException {
    if (!recovered) throw new IOException("write before recovery");
    if (w.snapshot() != null) writeSnapshotFile(w.snapshot());
    encodeWrite(w, record);
    Segment s = segmentFor(record.position() - RECORD_HEADER);
    writeRecord(s, record);
    if (s.position > s.size / 2 && prepared == null) prepareNext(s.seq + 1);
    if (fsync) s.channel.force(false);
    // The in-memory view of what is durable now.
    if (w.hardState() != null) hardState = w.hardState();
    boolean newSnapshot = w.snapshot() != null && w.snapshot().index() > snapshot.lastIncludedIndex();
    if (newSnapshot) {
      snapshot = w.snapshot().meta();
      lastIndex = Math.max(lastIndex, snapshot.lastIncludedIndex());
    }
    if (w.truncateFrom() > 0) lastIndex = Math.min(lastIndex, w.truncateFrom() - 1);
    if (!w.entries().isEmpty()) {
      lastIndex = w.entries().get(w.entries().size() - 1).index();
      s.maxEntryIndex = Math.max(s.maxEntryIndex, lastIndex);
    }
    if (newSnapshot) compact();
  }

  /** Encodes {@code w} as one record into {@code out}: room for the header, then the payload. */
  private static void encodeWrite(Write w, BinaryOut out) throws IOException {
    out.reset(RECORD_BUFFER_KEPT);
    out.skip(RECORD_HEADER);
    out.writeByte(WRITE);
    out.writeBoolean(w.hardState() != null);
    if (w.hardState() != null) EntryCodec.writeHardState(out, w.hardState());
    out.writeBoolean(w.snapshot() != null);
    if (w.snapshot() != null) EntryCodec.writeSnapshotMeta(out, w.snapshot().meta());
    out.writeLong(w.truncateFrom());
    out.writeInt(w.entries().size());
    for (LogEntry e : w.entries()) EntryCodec.writeEntry(out, e);
  }

  private BinaryOut encodeCheckpoint() throws IOException {
    BinaryOut out = BinaryOut.growable(256);
    out.skip(RECORD_HEADER);
    out.writeByte(CHECKPOINT);
    EntryCodec.writeHardState(out, hardState);
    EntryCodec.writeSnapshotMeta(out, snapshot);
    out.writeLong(lastIndex);
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
    long seq = active == null ? 1 : active.seq + 1;
    BinaryOut checkpoint = encodeCheckpoint();
    long size = Math.max(segmentBytes, HEADER + (long) checkpoint.position() + need + 4);
    Segment s = size == segmentBytes ? takePrepared(seq) : null;
    if (s == null) s = createSegment(seq, size);
    writeRecord(s, checkpoint);
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
    java.util.concurrent.Future<Path> f = prepared;
    prepared = null;
    if (f == null) return null;
    Path file;
    try {
      file = f.get();
    } catch (java.util.concurrent.ExecutionException e) {
      LOG.warn("Raft segment storage {}: preparing segment {} failed ({}); creating it now", name, seq, e.getCause().toString());
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
    move(file, path);
    return openNew(seq, path, segmentBytes);
  }

  /** A new segment file filled with zeros, with its header, durable with its directory entry. */
  private Segment createSegment(long seq, long size) throws IOException {
    Path path = segmentPath(seq);
    Path tmp = dir.resolve(path.getFileName() + ".tmp");
    zeroFile(tmp, seq, size);
    try {
      move(tmp, path);
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

  private void writeSnapshotFile(Snapshot s) throws IOException {
    Path path = snapshotPath(s.index(), s.term());
    if (Files.exists(path)) return;
    Path tmp = dir.resolve(path.getFileName() + ".tmp");
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
      move(tmp, path);
    } catch (IOException | RuntimeException e) {
      deleteAfterFailure(tmp, e);
      throw e;
    }
  }

  /** Renames {@code from} to {@code to} atomically and makes the rename durable. */
  private void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
    syncDirectory();
  }

  private void syncDirectory() {
    if (!fsync) return;
    try (FileChannel d = files.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException e) {
      // Some platforms cannot open a directory for syncing; the rename is then as durable as they allow.
    }
  }

  private Path snapshotPath(long index, long term) {
    return dir.resolve(String.format("snapshot-%020d-%d.bin", index, term));
  }

  /** Deletes snapshot files older than the durable one, and whole segments whose entries it covers. */
  private void compact() throws IOException {
    long covered = snapshot.lastIncludedIndex();
    while (segments.size() > 1) {
      Segment oldest = segments.firstEntry().getValue();
      if (oldest == active || oldest.maxEntryIndex > covered) break;
      segments.pollFirstEntry();
      oldest.channel.close();
      Files.deleteIfExists(oldest.path);
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "snapshot-*.bin")) {
      Path keep = snapshotPath(snapshot.lastIncludedIndex(), snapshot.lastIncludedTerm());
      for (Path f : files) if (!f.equals(keep)) Files.deleteIfExists(f);
    }
  }

  private void closeSegments() {
    for (Segment s : segments.values()) {
      try {
        s.channel.close();
      } catch (IOException e) {
        LOG.warn("Raft segment storage {}: closing {} failed: {}", name, s.path, e.toString());
      }
    }
    segments.clear();
    active = null;
  }

  // ------------------------------------------------------------------ RaftStorage

  @Override
  public CompletionStage<Void> write(Write write) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    if (closed) {
      done.completeExceptionally(new IllegalStateException("segment storage " + name + " is closed"));
      return done;
    }
    queue.add(new Pending(write, done));
    return done;
  }

  /**
   * Reads the directory on the writer thread (after the writes queued before), and starts over from
   * what is on disk: a storage whose write failed works again after it recovered.
   */
  @Override
  public CompletionStage<DurableState> recover() {
    CompletableFuture<DurableState> result = new CompletableFuture<>();
    CompletableFuture<Void> turn = new CompletableFuture<>();
    turn.thenRun(() -> {
      try {
        result.complete(readAll());
      } catch (IOException | RuntimeException e) {
        LOG.error("Raft segment storage {} cannot recover from {}: {}", name, dir, e.getMessage());
        result.completeExceptionally(e);
      }
    });
    if (closed) return CompletableFuture.failedFuture(new IllegalStateException("segment storage " + name + " is closed"));
    queue.add(new Pending(null, turn));
    return result;
  }

  /** Replays the directory; runs on the writer thread. */
  private DurableState readAll() throws IOException {
    closeSegments();
    failed = null;
    recovered = false;
    hardState = HardState.INITIAL;
    snapshot = SnapshotMeta.initial(initialConfig);
    lastIndex = 0;
    awaitPreparation();
    try (DirectoryStream<Path> stale = Files.newDirectoryStream(dir, "*.{prealloc,tmp}")) {
      for (Path f : stale) Files.deleteIfExists(f); // half-made files of an earlier run
    }
    Replay r = new Replay();
    List<Path> files = listSegments();
    for (int i = 0; i < files.size(); i++) {
      Segment s = readSegment(files.get(i), i == files.size() - 1, r);
      segments.put(s.seq, s);
      active = s;
    }
    if (files.isEmpty()) {
      recovered = true;
      return DurableState.empty(initialConfig);
    }
    hardState = r.hardState;
    snapshot = r.snapshot;
    List<LogEntry> entries = r.entries();
    lastIndex = entries.isEmpty() ? snapshot.lastIncludedIndex() : entries.get(entries.size() - 1).index();
    if (active.position == HEADER) {
      // A segment without records (a crash right after it was created): it starts with a checkpoint, as every segment does.
      writeRecord(active, encodeCheckpoint());
      if (fsync) active.channel.force(false);
    }
    byte[] data = null;
    if (snapshot.lastIncludedIndex() > 0) data = readSnapshotFile(snapshot);
    recovered = true; // only now: writes after a recovery that failed half way (a full disk) fail too
    return new DurableState(hardState, snapshot, entries, data);
  }

  private byte[] readSnapshotFile(SnapshotMeta m) throws IOException {
    Path path = snapshotPath(m.lastIncludedIndex(), m.lastIncludedTerm());
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
    java.util.concurrent.Future<Path> f = prepared;
    prepared = null;
    if (f == null) return;
    try {
      f.get();
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.CancellationException e) {
      // It left no file (a failed preparation deletes its own); a complete one is deleted with the others.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Reads one segment's records into {@code r}; cuts off a torn write at the end of the last one. */
  private Segment readSegment(Path path, boolean last, Replay r) throws IOException {
    FileChannel ch = files.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
    try {
      long size = ch.size();
      ByteBuffer h = ByteBuffer.allocate(HEADER);
      readFully(ch, h, 0);
      h.flip();
      if (size < HEADER || h.getInt() != MAGIC || h.getInt() != VERSION) {
        throw new IOException("corrupt segment " + path + ": bad header");
      }
      long seq = h.getLong();
      Segment s = new Segment(seq, path, ch, size, HEADER);
      long at = HEADER;
      ByteBuffer head = ByteBuffer.allocate(8);
      while (at + 8 <= size) {
        head.clear();
        readFully(ch, head, at);
        head.flip();
        int length = head.getInt();
        int crc = head.getInt();
        if (length == 0 && crc == 0) break; // the end of what was written
        String problem = null;
        byte[] payload = null;
        if (length <= 0 || at + 8 + length > size) {
          problem = "bad record length " + length;
        } else {
          ByteBuffer p = ByteBuffer.allocate(length);
          readFully(ch, p, at + 8);
          payload = p.array();
          CRC32C c = new CRC32C();
          c.update(payload);
          if ((int) c.getValue() != crc) problem = "checksum mismatch";
        }
        if (problem != null) {
          long end = length > 0 ? Math.min(size, at + 8 + (long) length) : at + 8;
          if (last && zerosFrom(ch, end, size)) {
            LOG.warn("Raft segment storage {}: a torn write at the end of {} (offset {}, {}) is cut off; the log ends "
                + "with the record before it", name, path, at, problem);
            zero(ch, at, end);
            break;
          }
          throw new IOException("corrupt record in " + path + " at offset " + at + " (" + problem
              + "): the log cannot be read past it; the node does not start");
        }
        try {
          long max = r.apply(payload);
          s.maxEntryIndex = Math.max(s.maxEntryIndex, max);
        } catch (IOException | RuntimeException e) {
          throw new IOException("corrupt record in " + path + " at offset " + at + ": " + e.getMessage(), e);
        }
        at += 8 + length;
      }
      s.position = at;
      return s;
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
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

  private void zero(FileChannel ch, long from, long to) throws IOException {
    ByteBuffer b = ByteBuffer.allocate((int) (to - from));
    long at = from;
    while (b.hasRemaining()) at += ch.write(b, at);
    if (fsync) ch.force(false);
  }

  /** The state the records describe, as they are replayed. */
  private final class Replay {
    HardState hardState = HardState.INITIAL;
    SnapshotMeta snapshot = SnapshotMeta.initial(initialConfig);
    /** Entries from {@code base}; indexes below it are covered by a snapshot, or must be by the last one. */
    final ArrayList<LogEntry> log = new ArrayList<>();
    long base = 1;
    /** Entries up to this index were in deleted segments: the last snapshot must cover them. */
    long missingUpTo;

    /** Applies one record; returns the largest entry index it wrote (0 if none). */
    long apply(byte[] payload) throws IOException {
      BinaryIn in = new BinaryIn(payload);
      byte type = in.readByte();
      if (type == CHECKPOINT) {
        hardState = EntryCodec.readHardState(in);
        SnapshotMeta m = EntryCodec.readSnapshotMeta(in);
        long last = in.readLong();
        if (m.lastIncludedIndex() > snapshot.lastIncludedIndex()) installSnapshot(m);
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
        if (m.lastIncludedIndex() > snapshot.lastIncludedIndex()) installSnapshot(m);
      }
      long truncateFrom = in.readLong();
      if (truncateFrom > 0 && truncateFrom < base + log.size()) {
        if (truncateFrom <= base) {
          log.clear();
          base = Math.max(truncateFrom, snapshot.lastIncludedIndex() + 1);
        } else {
          log.subList((int) (truncateFrom - base), log.size()).clear();
        }
      }
      int n = in.readInt();
      long max = 0;
      for (int i = 0; i < n; i++) {
        LogEntry e = EntryCodec.readEntry(in);
        max = e.index();
        if (e.index() <= snapshot.lastIncludedIndex()) continue;
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
      if (missingUpTo > snapshot.lastIncludedIndex()) {
        throw new IOException("entries up to " + missingUpTo + " are missing and the snapshot (at "
            + snapshot.lastIncludedIndex() + ") does not cover them");
      }
      List<LogEntry> out = new ArrayList<>(log.size());
      for (LogEntry e : log) if (e.index() > snapshot.lastIncludedIndex()) out.add(e);
      return out;
    }
  }

  /** Stops the writer after the writes already queued; later writes fail. */
  @Override
  public void close() {
    closed = true; // the writer sees it within its poll interval; never interrupted, which would close its files
    preparer.shutdown();
    try {
      writer.join(10_000);
      preparer.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS); // no file left open behind
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The segment files in the directory, oldest first (their names sort by sequence number). */
  private List<Path> listSegments() throws IOException {
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "segment-*.log")) {
      List<Path> out = new ArrayList<>();
      for (Path f : ds) out.add(f);
      out.sort(null);
      return out;
    }
  }

  /**
   * For tests: whether the next segment is being prepared (or its preparation has ended and not been
   * taken yet). Read it after a write has completed: the writer set it before completing the write.
   */
  boolean preparingNextSegment() {
    return prepared != null;
  }

  /** For tests: the segment files in the directory now. */
  List<Path> segmentFiles() {
    try {
      return listSegments();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
