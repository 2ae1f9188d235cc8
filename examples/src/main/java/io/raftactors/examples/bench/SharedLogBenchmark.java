package io.raftactors.examples.bench;

import io.raftactors.actor.RaftStorage;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.EntryData;
import io.raftactors.core.LogEntry;
import io.raftactors.persistence.SegmentStorage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The durable write path of a node that hosts many Raft groups, below Raft: each group's member
 * writes one entry of 100 bytes at a time and issues the next once the last is durable (as a node
 * under load writes one batch at a time), either with every member on the node's one segment log
 * ({@code shared}, how {@code raft.persistence.segments.dir} is used) or with each member on a log of
 * its own in a directory of its own ({@code separate}: a writer thread and an fdatasync per group).
 * Prints, for each layout and group count, writes per second, syncs per second, writes per sync and
 * the write latency percentiles. Segments are 8 MiB, so that creating the first segment of each
 * separate log (zero-filled) falls in the warmup.
 *
 * <pre>java -cp examples/target/raft-kv.jar io.raftactors.examples.bench.SharedLogBenchmark [--groups 1,8,32] [--layout shared,separate] [--warmup 5] [--measure 10] [--dir DIR]</pre>
 */
public final class SharedLogBenchmark {
  private static final ClusterConfig THREE = ClusterConfig.of("n1", "n2", "n3");
  /** Segments of 8 MiB: each separate log creates one at its first write (in the warmup), zero-filled. */
  static final long SEGMENT_BYTES = 8L << 20;

  private SharedLogBenchmark() {}

  /** One measurement: a layout and a number of groups. */
  record Result(String layout, int groups, double writesPerSecond, double syncsPerSecond, Histogram latency) {
    double writesPerSync() {
      return syncsPerSecond == 0 ? 0 : writesPerSecond / syncsPerSecond;
    }

    String line() {
      return String.format(Locale.ROOT,
          "layout=%s groups=%d writes/s=%.0f syncs/s=%.0f writes/sync=%.2f p50=%.2fms p90=%.2fms p99=%.2fms p99.9=%.2fms",
          layout, groups, writesPerSecond, syncsPerSecond, writesPerSync(), ms(50), ms(90), ms(99), ms(99.9));
    }

    private double ms(double percentile) {
      return latency.getValueAtPercentile(percentile) / 1e6;
    }
  }

  public static void main(String[] args) throws Exception {
    List<Integer> groups = List.of(1, 8, 32);
    List<String> layouts = List.of("shared", "separate");
    int warmup = 5;
    int measure = 10;
    Path base = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--groups" -> groups = parseInts(args[++i]);
        case "--layout" -> layouts = List.of(args[++i].split(","));
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        case "--measure" -> measure = Integer.parseInt(args[++i]);
        case "--dir" -> base = Path.of(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]
            + "; usage: SharedLogBenchmark [--groups 1,8,32] [--layout shared,separate] [--warmup S] [--measure S] [--dir DIR]");
      }
    }
    for (String layout : layouts) {
      if (!layout.equals("shared") && !layout.equals("separate")) {
        throw new IllegalArgumentException("--layout takes shared and/or separate, was " + layout);
      }
    }
    for (int g : groups) {
      for (String layout : layouts) {
        Path dir = base == null ? Files.createTempDirectory("shared-log-bench") : Files.createDirectories(base.resolve(layout + "-" + g));
        try {
          System.out.println(run(dir, layout, g, warmup, measure).line());
        } finally {
          Bench.deleteTree(dir);
        }
      }
    }
  }

  private static List<Integer> parseInts(String s) {
    List<Integer> out = new ArrayList<>();
    for (String p : s.split(",")) {
      int n = Integer.parseInt(p.trim());
      if (n < 1) throw new IllegalArgumentException("a group count is at least 1, was " + n);
      out.add(n);
    }
    return out;
  }

  /** Runs {@code groups} members writing in {@code dir} for warmup + measure seconds. */
  static Result run(Path dir, String layout, int groups, int warmupSeconds, int measureSeconds) throws Exception {
    List<SegmentStorage> storages = new ArrayList<>();
    for (int g = 0; g < groups; g++) {
      Path logDir = layout.equals("shared") ? dir : dir.resolve("g" + g);
      SegmentStorage s = new SegmentStorage(logDir, SEGMENT_BYTES, true, THREE, "g" + g + "/n1");
      s.recover().toCompletableFuture().get(30, TimeUnit.SECONDS);
      storages.add(s);
    }
    // Members go on on two threads, as nodes go on on their dispatcher once a write is durable.
    ExecutorService nodes = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "shared-log-bench-node");
      t.setDaemon(true);
      return t;
    });
    Recorder recorder = new Recorder(3);
    LongAdder writes = new LongAdder();
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicInteger stopped = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    byte[] payload = new byte[100];
    try {
      for (SegmentStorage s : storages) {
        new Object() {
          long next = 1;

          void write() {
            long started = System.nanoTime();
            RaftStorage.Write w = new RaftStorage.Write(null, 0,
                List.of(new LogEntry(next, 1, new EntryData.Command(33, "kv", payload))));
            s.write(w).whenCompleteAsync((ok, e) -> {
              if (e != null) {
                failed.incrementAndGet();
                stopped.incrementAndGet();
                return;
              }
              recorder.recordValue(System.nanoTime() - started);
              writes.increment();
              next++;
              if (running.get()) write();
              else stopped.incrementAndGet();
            }, nodes);
          }
        }.write();
      }
      TimeUnit.SECONDS.sleep(warmupSeconds); // the warmup: its results are dropped below
      recorder.getIntervalHistogram();
      long writesBefore = writes.sum();
      long syncsBefore = logTotals(storages)[0];
      long start = System.nanoTime();
      TimeUnit.SECONDS.sleep(measureSeconds); // the measurement
      long elapsed = System.nanoTime() - start;
      long written = writes.sum() - writesBefore;
      long synced = logTotals(storages)[0] - syncsBefore;
      Histogram latency = recorder.getIntervalHistogram();
      running.set(false);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (stopped.get() < groups && System.nanoTime() < deadline) TimeUnit.MILLISECONDS.sleep(10); // the last writes
      if (failed.get() > 0) throw new IllegalStateException(failed.get() + " writes failed; see the log");
      double seconds = elapsed / 1e9;
      return new Result(layout, groups, written / seconds, synced / seconds, latency);
    } finally {
      nodes.shutdown();
      for (SegmentStorage s : storages) s.close();
    }
  }

  /**
   * The syncs and the synced writes of the distinct logs {@code storages} are on (storages of one
   * directory share its log), as {syncs, writes}.
   */
  static long[] logTotals(Collection<SegmentStorage> storages) {
    Map<Path, SegmentStorage> logs = new HashMap<>();
    for (SegmentStorage s : storages) logs.putIfAbsent(s.directory(), s);
    long[] out = new long[2];
    for (SegmentStorage s : logs.values()) {
      out[0] += s.logSyncs();
      out[1] += s.logWritesSynced();
    }
    return out;
  }
}
