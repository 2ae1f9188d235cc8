package io.raftactors.persistence;

import akka.actor.typed.ActorSystem;
import com.typesafe.config.Config;
import io.raftactors.actor.RaftSettings;
import io.raftactors.actor.RaftStorage;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.DurableState;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;

/**
 * A Raft log kept in segment files written for Raft logs, without the hops of an event-sourced
 * journal: one member's storage on the {@link SegmentLog} of a directory. Every member whose storage
 * is in the same directory (every group of a node, by default) writes into that one log, on its one
 * writer thread, so a batch of writes from many groups takes one {@code fdatasync}.
 *
 * <p>Each write is one record (atomic: a crash in the middle leaves a record whose checksum fails,
 * which recovery treats as never written); a snapshot's data goes to a file in the member's own
 * directory, made durable before the record that names it. A torn last record is cut off at
 * recovery, a corrupt one in the middle stops the node with its file and offset, and a write that
 * fails (a full disk) fails every later write of the member until it recovered. See {@link
 * SegmentLog} for the layout.
 */
public final class SegmentStorage implements RaftStorage, AutoCloseable {
  /** A key names a directory below the log's: names of letters, digits, '.', '_' and '-', joined by '/'. */
  private static final Pattern KEY = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*");
  private static final SegmentLog.FileOpener REAL_FILES = FileChannel::open;

  private final SegmentLog log;
  private final String key;
  private final ClusterConfig initialConfig;
  private final AtomicBoolean closed = new AtomicBoolean();

  /**
   * The storage of member {@code key} on the segment log in {@code dir} (created if missing), shared
   * with every other storage this process has open there; its snapshot files go to {@code dir/key}.
   * {@code segmentBytes} is the size of each segment; with {@code fsync} off writes are not synced
   * (for tests only: a crash of the machine loses them). {@code initialConfig} is the configuration
   * reported for a member with nothing stored. Refused (IllegalStateException) if {@code key} is
   * open on that log already, if the log is open with other settings, or if another process holds it.
   */
  public SegmentStorage(Path dir, long segmentBytes, boolean fsync, ClusterConfig initialConfig, String key) {
    this(dir, segmentBytes, fsync, initialConfig, key, REAL_FILES);
  }

  /** As above, opening every file through {@code files}. */
  SegmentStorage(Path dir, long segmentBytes, boolean fsync, ClusterConfig initialConfig, String key,
      SegmentLog.FileOpener files) {
    if (!KEY.matcher(key).matches()) {
      throw new IllegalArgumentException("a segment storage key is names of letters, digits, '.', '_' and '-' joined by "
          + "'/', was '" + key + "'");
    }
    this.log = SegmentLog.acquire(dir, segmentBytes, fsync, files, key);
    this.key = key;
    this.initialConfig = initialConfig;
  }

  /**
   * The segment storage of the node described by {@code settings}: member {@code group/member} on the
   * segment log in {@code raft.persistence.segments.dir}, which every group of this process shares;
   * closed when {@code system} terminates. Refuses to start (IllegalStateException) if this member's
   * log is in the journal ({@link StorageGuard}) or in the per-member layout of an earlier version.
   */
  public static SegmentStorage start(ActorSystem<?> system, RaftSettings settings) {
    Config config = system.settings().config();
    StorageGuard.checkNoJournalData(config, settings); // not empty segments over a log kept in the journal
    StorageGuard.checkNotPerMemberLayout(config, settings); // an earlier version's layout is refused, not read as empty
    Config c = config.getConfig("raft.persistence.segments");
    SegmentStorage s = new SegmentStorage(Path.of(c.getString("dir")), c.getBytes("segment-size"), c.getBoolean("fsync"),
        settings.bootstrapConfig(), key(settings));
    system.getWhenTerminated().thenRun(s::close);
    return s;
  }

  /** The key of the member {@code settings} describes: {@code group/member}. */
  static String key(RaftSettings settings) {
    return settings.groupId() + "/" + settings.memberId();
  }

  /** Where the member described by {@code settings} keeps its snapshot files. */
  static Path directory(Config config, RaftSettings settings) {
    return Path.of(config.getString("raft.persistence.segments.dir")).resolve(key(settings));
  }

  /** The directory of this storage's log (shared with the other members there). */
  public Path directory() {
    return log.directory();
  }

  @Override
  public CompletionStage<Void> write(Write write) {
    if (closed.get()) {
      return CompletableFuture.failedFuture(new IllegalStateException("segment storage " + key + " is closed"));
    }
    return log.write(key, write);
  }

  /**
   * Reads this member's state (after the writes queued before): a storage whose write failed works
   * again after it recovered.
   */
  @Override
  public CompletionStage<DurableState> recover() {
    if (closed.get()) {
      return CompletableFuture.failedFuture(new IllegalStateException("segment storage " + key + " is closed"));
    }
    return log.recover(key, initialConfig);
  }

  /**
   * Waits for the writes already queued (later ones fail) and lets the log go: the last member of a
   * log closes it. The member can be opened again afterwards.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) return;
    try {
      log.closeMember(key).get(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // The writer is gone or stuck; the member is let go all the same.
    } finally {
      log.release(key);
    }
  }

  /**
   * Data syncs (fdatasync) of the log this storage is on since the log opened, for every member on
   * it: one per batch of writes, whatever members the batch holds. With {@link #logWritesSynced} it
   * tells how many writes a sync carries.
   */
  public long logSyncs() {
    return log.syncs();
  }

  /** Writes of every member on this storage's log made durable since the log opened. */
  public long logWritesSynced() {
    return log.writesSynced();
  }

  /** For tests: members whose live entries the log moved forward since it opened. */
  long logMoves() {
    return log.moves();
  }

  /** For tests: bytes the log read back to move live entries forward. */
  long logMoveBytesRead() {
    return log.moveBytesRead();
  }

  /** For tests: how storages open their files by default (storages of one log share one opener). */
  static SegmentLog.FileOpener realFiles() {
    return REAL_FILES;
  }

  /** For tests: whether the log is preparing its next segment (see {@link SegmentLog#preparingNextSegment}). */
  boolean preparingNextSegment() {
    return log.preparingNextSegment();
  }

  /** For tests: the segment files of the log now. */
  List<Path> segmentFiles() {
    return log.segmentFiles();
  }
}
