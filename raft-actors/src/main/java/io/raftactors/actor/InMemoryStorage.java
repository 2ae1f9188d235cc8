package io.raftactors.actor;

import io.raftactors.core.ClusterConfig;
import io.raftactors.core.DurableState;
import io.raftactors.core.HardState;
import io.raftactors.core.LogEntry;
import io.raftactors.core.SnapshotMeta;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Storage kept in memory, for tests and examples. It outlives the node actor, so a node that is
 * stopped and started again on the same instance recovers what it wrote, like a restart on disk.
 * Thread-safe; writes complete at once.
 */
public class InMemoryStorage implements RaftStorage {
  private SnapshotMeta snapshot;
  private byte[] snapshotData;
  private HardState hardState;
  private final ArrayList<LogEntry> log = new ArrayList<>();
  private long writes;

  /** Storage of a founding member: the bootstrap configuration is log entry 1. */
  public InMemoryStorage(ClusterConfig bootstrap) {
    this(DurableState.bootstrap(bootstrap));
  }

  private InMemoryStorage(DurableState initial) {
    this.snapshot = initial.snapshot();
    this.hardState = initial.hardState();
    this.log.addAll(initial.entries());
  }

  /**
   * Empty storage, like a new disk: the node decides whether to found the group ({@code raft.bootstrap}).
   * {@code config} is only the configuration reported before anything is written.
   */
  public static InMemoryStorage empty(ClusterConfig config) {
    return new InMemoryStorage(DurableState.empty(config));
  }

  @Override
  public synchronized CompletionStage<DurableState> recover() {
    return CompletableFuture.completedFuture(new DurableState(hardState, snapshot, List.copyOf(log), snapshotData));
  }

  @Override
  public CompletionStage<Void> write(Write w) {
    apply(w);
    return CompletableFuture.completedFuture(null);
  }

  /** Applies a write atomically; subclasses that delay or fail writes call it when they let one through. */
  protected synchronized void apply(Write w) {
    if (w.hardState() != null) hardState = w.hardState();
    if (w.snapshot() != null && w.snapshot().index() > snapshot.lastIncludedIndex()) {
      int covered = (int) Math.min(log.size(), w.snapshot().index() - snapshot.lastIncludedIndex());
      log.subList(0, covered).clear();
      snapshot = w.snapshot().meta();
      snapshotData = w.snapshot().data();
    }
    if (w.truncateFrom() > 0) {
      int from = (int) (w.truncateFrom() - snapshot.lastIncludedIndex() - 1);
      if (from < log.size()) log.subList(Math.max(from, 0), log.size()).clear();
    }
    for (LogEntry e : w.entries()) {
      if (e.index() <= snapshot.lastIncludedIndex()) continue; // covered by the snapshot in this write
      long expected = snapshot.lastIncludedIndex() + log.size() + 1;
      if (e.index() != expected) {
        throw new IllegalStateException("write would leave a gap: entry " + e.index() + ", expected " + expected);
      }
      log.add(e);
    }
    writes++;
  }

  public synchronized HardState hardState() {
    return hardState;
  }

  public synchronized List<LogEntry> entries() {
    return List.copyOf(log);
  }

  public synchronized SnapshotMeta snapshotMeta() {
    return snapshot;
  }

  /** Number of completed writes (one per batch). */
  public synchronized long writeCount() {
    return writes;
  }
}
