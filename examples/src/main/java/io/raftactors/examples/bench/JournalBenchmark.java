package io.raftactors.examples.bench;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.RaftSettings;
import io.raftactors.actor.RaftStorage;
import io.raftactors.core.DurableState;
import io.raftactors.core.EntryData;
import io.raftactors.core.LogEntry;
import io.raftactors.core.Role;
import io.raftactors.core.Snapshot;
import io.raftactors.core.SnapshotMeta;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.HardState;
import io.raftactors.persistence.JournalStorage;
import io.raftactors.persistence.SegmentStorage;
import java.io.File;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Single-node append throughput on the LevelDB journal (fsync on), and recovery times of the journal
 * and of the segment log.
 *
 * <ul>
 *   <li>{@code per-entry}: each proposer writes its entry as its own journal write, as an
 *       event-sourced actor persisting one event per command would (the baseline);
 *   <li>{@code node}: proposers submit to a single-node RaftNode, which keeps one write in flight and
 *       batches everything that arrives meanwhile into the next write (group commit);
 *   <li>{@code recovery}: writes N entries, restarts, and times the recovery of the log;
 *   <li>{@code segment recovery}: the same on the segment log (the default storage), for 1,000,000
 *       entries written 100 at a time and one at a time (a record per entry, its worst case).
 * </ul>
 *
 * <pre>java -cp examples/target/raft-kv.jar io.raftactors.examples.bench.JournalBenchmark [seconds]</pre>
 */
public final class JournalBenchmark {
  public static void main(String[] args) throws Exception {
    int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    for (int proposers : new int[] {1, 32}) {
      System.out.println(perEntry(proposers, seconds));
      System.out.println(node(proposers, seconds));
    }
    for (int n : new int[] {100_000, 1_000_000}) {
      System.out.println(recovery(n));
      System.out.println(recovery(n, 4 << 20));
    }
    System.out.println(diskUse(300_000));
    System.out.println(segmentRecovery(1_000_000, 100));
    System.out.println(segmentRecovery(1_000_000, 1));
  }

  /**
   * Writes {@code entries} entries of 100 bytes to a segment log, {@code perWrite} per write (a record
   * each), without snapshots, then opens the log again and times the recovery of the member.
   */
  static String segmentRecovery(int entries, int perWrite) throws Exception {
    java.nio.file.Path dir = Files.createTempDirectory("segment-recovery");
    ClusterConfig config = ClusterConfig.of("n1", "n2", "n3");
    long segmentBytes = 32L << 20;
    try {
      // Written without fsync: what is timed is the reading, and the data is the same either way.
      try (SegmentStorage storage = new SegmentStorage(dir, segmentBytes, false, config, "bench/n1")) {
        storage.recover().toCompletableFuture().get();
        storage.write(new RaftStorage.Write(null, 0, DurableState.bootstrap(config).entries())).toCompletableFuture().get();
        byte[] payload = new byte[100];
        List<java.util.concurrent.CompletableFuture<Void>> pending = new ArrayList<>();
        for (long next = 2; next <= entries + 1; ) {
          List<LogEntry> batch = new ArrayList<>();
          for (int i = 0; i < perWrite && next <= entries + 1; i++) batch.add(new LogEntry(next++, 1, new EntryData.Command(0, "", payload)));
          pending.add(storage.write(new RaftStorage.Write(new HardState(1, "n1"), 0, batch)).toCompletableFuture());
          if (pending.size() == 1_000) {
            for (var f : pending) f.get();
            pending.clear();
          }
        }
        for (var f : pending) f.get();
      }
      try (SegmentStorage again = new SegmentStorage(dir, segmentBytes, true, config, "bench/n1")) {
        long t0 = System.nanoTime();
        DurableState s = again.recover().toCompletableFuture().get();
        double ms = (System.nanoTime() - t0) / 1e6;
        long files;
        try (var list = Files.list(dir)) {
          files = list.filter(f -> f.getFileName().toString().startsWith("segment-")).count();
        }
        return String.format("segment log: recovery of %d entries (%d records of %d, %d segments of 32 MiB, no snapshot): %.0f ms (%d entries recovered)",
            entries, (entries + perWrite - 1) / perWrite, perWrite, files, ms, s.entries().size() - 1);
      }
    } finally {
      Bench.deleteTree(dir);
    }
  }

  /** A state machine with a small state (a counter), so its snapshots are tiny. */
  static final class Counter implements io.raftactors.actor.StateMachine {
    long count;

    @Override
    public Object apply(long index, Object command) {
      return ++count;
    }

    @Override
    public byte[] takeSnapshot() {
      return java.nio.ByteBuffer.allocate(8).putLong(count).array();
    }

    @Override
    public void restoreSnapshot(byte[] snapshot) {
      count = java.nio.ByteBuffer.wrap(snapshot).getLong();
    }
  }

  /** Writes {@code total} entries through a single-node group with snapshots on; prints disk use as it goes. */
  static String diskUse(int total) throws Exception {
    File dir = Files.createTempDirectory("journal-bench").toFile();
    Config cfg = config(dir);
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "journal-bench", cfg);
    StringBuilder out = new StringBuilder("disk use with snapshots every 10,000 entries (100-byte commands):");
    try {
      RaftSettings settings = RaftSettings.fromConfig(cfg);
      ActorRef<RaftNode.Command> node = RaftNode.start(system, settings, JournalStorage.start(system, settings), new Counter());
      while (AskPattern.<RaftNode.Command, RaftNode.Status>ask(node, RaftNode.GetStatus::new, Duration.ofSeconds(5),
          system.scheduler()).toCompletableFuture().get().role() != Role.LEADER) {
        TimeUnit.MILLISECONDS.sleep(20);
      }
      byte[] payload = new byte[100];
      java.util.concurrent.Semaphore window = new java.util.concurrent.Semaphore(64);
      for (int i = 1; i <= total; i++) {
        window.acquire();
        AskPattern.<RaftNode.Command, RaftNode.ProposeReply>ask(node, rt -> new RaftNode.Propose(payload, rt),
            Duration.ofSeconds(30), system.scheduler()).whenComplete((r, e) -> window.release());
        if (i % 50_000 == 0) {
          window.acquire(64);
          window.release(64);
          out.append(String.format("%n  after %,d entries: %,d KiB", i, du(dir) / 1024));
        }
      }
      return out.toString();
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  private static long du(File f) {
    if (f.isFile()) return f.length();
    long sum = 0;
    File[] children = f.listFiles();
    if (children != null) for (File c : children) sum += du(c);
    return sum;
  }

  private static Config config(File dir) {
    return ConfigFactory.parseString(String.join("\n",
            "raft.group-id = bench",
            "raft.member-id = n1",
            "raft.members.n1 = \"akka://journal-bench\"",
            "akka.loglevel = WARNING",
            "raft.persistence.leveldb-journal.dir = \"" + new File(dir, "journal").getPath() + "\"",
            "raft.persistence.local-snapshots.dir = \"" + new File(dir, "snapshots").getPath() + "\""))
        .withFallback(ConfigFactory.load())
        .resolve();
  }

  /** A storage that counts writes and entries (writes = fsyncs with LevelDB fsync on). */
  static final class Counting implements RaftStorage {
    final RaftStorage inner;
    final AtomicLong writes = new AtomicLong();
    final AtomicLong entries = new AtomicLong();

    Counting(RaftStorage inner) {
      this.inner = inner;
    }

    @Override
    public CompletionStage<DurableState> recover() {
      return inner.recover();
    }

    @Override
    public CompletionStage<Void> write(Write w) {
      writes.incrementAndGet();
      entries.addAndGet(w.entries().size());
      return inner.write(w);
    }
  }

  static String perEntry(int proposers, int seconds) throws Exception {
    File dir = Files.createTempDirectory("journal-bench").toFile();
    Config cfg = config(dir);
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "journal-bench", cfg);
    try {
      RaftSettings settings = RaftSettings.fromConfig(cfg);
      JournalStorage storage = JournalStorage.start(system, settings);
      long last = storage.recover().toCompletableFuture().get().entries().size();
      AtomicLong nextIndex = new AtomicLong(last + 1);
      Object lock = new Object();
      AtomicBoolean stop = new AtomicBoolean();
      AtomicLong done = new AtomicLong();
      CountDownLatch finished = new CountDownLatch(proposers);
      byte[] payload = new byte[100];
      for (int t = 0; t < proposers; t++) {
        new Thread(() -> {
          try {
            while (!stop.get()) {
              CompletionStage<Void> w;
              synchronized (lock) { // indices in order; the journal actor persists one write at a time
                long i = nextIndex.getAndIncrement();
                w = storage.write(new RaftStorage.Write(null, 0,
                    List.of(new LogEntry(i, 1, new EntryData.Command(0, "", payload)))));
              }
              w.toCompletableFuture().get();
              done.incrementAndGet();
            }
          } catch (Exception e) {
            e.printStackTrace();
          } finally {
            finished.countDown();
          }
        }).start();
      }
      TimeUnit.SECONDS.sleep(1);
      long start = done.get();
      long t0 = System.nanoTime();
      TimeUnit.SECONDS.sleep(seconds);
      long n = done.get() - start;
      double secs = (System.nanoTime() - t0) / 1e9;
      stop.set(true);
      finished.await(30, TimeUnit.SECONDS);
      return String.format("per-entry writes  proposers=%-2d %8.0f entries/s  fsyncs/entry=1.00", proposers, n / secs);
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  static String node(int proposers, int seconds) throws Exception {
    File dir = Files.createTempDirectory("journal-bench").toFile();
    Config cfg = config(dir);
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "journal-bench", cfg);
    try {
      RaftSettings settings = RaftSettings.fromConfig(cfg);
      Counting storage = new Counting(JournalStorage.start(system, settings));
      ActorRef<RaftNode.Command> node = RaftNode.start(system, settings, storage, (i, c) -> null);
      while (AskPattern.<RaftNode.Command, RaftNode.Status>ask(node, RaftNode.GetStatus::new, Duration.ofSeconds(5),
          system.scheduler()).toCompletableFuture().get().role() != Role.LEADER) {
        TimeUnit.MILLISECONDS.sleep(20);
      }
      AtomicBoolean stop = new AtomicBoolean();
      AtomicLong done = new AtomicLong();
      CountDownLatch finished = new CountDownLatch(proposers);
      byte[] payload = new byte[100];
      for (int t = 0; t < proposers; t++) {
        new Thread(() -> {
          try {
            while (!stop.get()) {
              RaftNode.ProposeReply r = AskPattern.<RaftNode.Command, RaftNode.ProposeReply>ask(node,
                  rt -> new RaftNode.Propose(payload, rt), Duration.ofSeconds(10), system.scheduler()).toCompletableFuture().get();
              if (r instanceof RaftNode.Applied) done.incrementAndGet();
            }
          } catch (Exception e) {
            e.printStackTrace();
          } finally {
            finished.countDown();
          }
        }).start();
      }
      TimeUnit.SECONDS.sleep(1);
      long start = done.get();
      long w0 = storage.writes.get();
      long e0 = storage.entries.get();
      long t0 = System.nanoTime();
      TimeUnit.SECONDS.sleep(seconds);
      long n = done.get() - start;
      double secs = (System.nanoTime() - t0) / 1e9;
      double fsyncsPerEntry = (storage.writes.get() - w0) / (double) Math.max(1, storage.entries.get() - e0);
      stop.set(true);
      finished.await(30, TimeUnit.SECONDS);
      return String.format("node group commit proposers=%-2d %8.0f entries/s  fsyncs/entry=%.3f", proposers, n / secs, fsyncsPerEntry);
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  static String recovery(int entries) throws Exception {
    return recovery(entries, 0);
  }

  /**
   * Writes {@code entries} entries of 100 bytes in writes of 100, then (if {@code snapshotBytes} &gt; 0)
   * a state machine snapshot of that size covering all but the last 1,000, and times the recovery.
   */
  static String recovery(int entries, int snapshotBytes) throws Exception {
    File dir = Files.createTempDirectory("journal-bench").toFile();
    Config cfg = config(dir);
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "journal-bench", cfg);
    RaftSettings settings = RaftSettings.fromConfig(cfg);
    try {
      JournalStorage storage = JournalStorage.start(system, settings);
      long next = storage.recover().toCompletableFuture().get().entries().size() + 1;
      byte[] payload = new byte[100];
      while (next <= entries) {
        List<LogEntry> batch = new ArrayList<>();
        for (int i = 0; i < 100 && next <= entries; i++) batch.add(new LogEntry(next++, 1, new EntryData.Command(0, "", payload)));
        storage.write(new RaftStorage.Write(null, 0, batch)).toCompletableFuture().get();
      }
      if (snapshotBytes > 0) {
        long at = Math.max(1, entries - 1_000);
        SnapshotMeta meta = new SnapshotMeta(at, 1, settings.bootstrapConfig());
        storage.write(new RaftStorage.Write(null, new Snapshot(meta, new byte[snapshotBytes]), 0, List.of()))
            .toCompletableFuture().get();
      }
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    ActorSystem<Void> again = ActorSystem.create(Behaviors.empty(), "journal-bench", cfg);
    try {
      long t0 = System.nanoTime();
      DurableState s = JournalStorage.start(again, settings).recover().toCompletableFuture().get();
      double ms = (System.nanoTime() - t0) / 1e6;
      return String.format("recovery of %d entries (%d journal writes of 100)%s: %.0f ms (log holds %d entries after snapshot %d)",
          entries, entries / 100, snapshotBytes > 0 ? " with a " + (snapshotBytes >> 10) + " KiB snapshot" : "", ms,
          s.entries().size(), s.snapshot().lastIncludedIndex());
    } finally {
      again.terminate();
      again.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }
}
