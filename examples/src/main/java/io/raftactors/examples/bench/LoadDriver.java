package io.raftactors.examples.bench;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * A closed-loop load of {@code clients} simulated clients, each with one request outstanding at a
 * time: a client submits its next operation as soon as its previous one completed. Operations are
 * submitted asynchronously by a few submitter threads (at most one per core), so 256 clients are 256
 * outstanding requests, not 256 threads. Each operation is a put of a {@code valueBytes} ASCII value
 * or, with probability {@code readRatio}, a read, of a random key of {@link #KEYS}.
 *
 * <p>Latency is from the call that submits an operation to the completion of the stage it returned,
 * in microseconds. After the warmup, the measurement keeps one histogram per second (the latency
 * over time) and their sum (the percentiles of the run). A failed operation counts as an error, and
 * its client waits 10 ms before the next one (so that a group without a leader is not flooded). The
 * same driver runs every library the benchmarks compare, so they see the same workload and are
 * timed alike.
 */
public final class LoadDriver {
  /** Keys are {@code k0} .. {@code k999}. */
  public static final int KEYS = 1000;

  /**
   * Runs a completion callback on the thread that completes the operation, as a plain {@code
   * whenComplete} on a CompletableFuture does. Needed because the stage Akka's javadsl {@code
   * AskPattern.ask} returns (Scala's future converted) runs even non-async callbacks on the default
   * async executor, which on a machine with fewer than three cores starts a thread per callback: the
   * hop cost a 3-node group on two cores two thirds of its throughput at 32 clients.
   */
  public static final Executor DIRECT = Runnable::run;

  /** How long a client waits after a failed operation before its next one. */
  static final long ERROR_PAUSE_MILLIS = 10;

  /** Operations still running this long after the measurement are abandoned. */
  private static final long DRAIN_NANOS = TimeUnit.SECONDS.toNanos(15);

  /**
   * Starts one operation for client {@code client} (0 .. clients-1; a client has one operation
   * running at a time): a read of {@code key} if {@code value} is null, else a put of {@code value}
   * to {@code key}. The stage completes when the operation is done; exceptionally if it failed.
   */
  public interface Operation {
    CompletionStage<?> start(int client, String key, byte[] value) throws Exception;
  }

  /** Called while the load runs: just before the measurement starts and just after it ends. */
  public interface Phases {
    default void measureStarting() throws Exception {}

    default void measureEnded() throws Exception {}
  }

  /** What a run asks for. */
  public record Load(int clients, int warmupSeconds, int measureSeconds, int valueBytes, double readRatio) {
    public Load {
      if (clients < 1) throw new IllegalArgumentException("clients must be at least 1: " + clients);
      if (warmupSeconds < 0 || measureSeconds < 1) throw new IllegalArgumentException("warmup >= 0 s, measure >= 1 s");
      if (valueBytes < 0) throw new IllegalArgumentException("value bytes must not be negative: " + valueBytes);
      if (!(readRatio >= 0 && readRatio <= 1)) throw new IllegalArgumentException("read ratio is between 0 and 1: " + readRatio);
    }
  }

  /**
   * What the measurement saw: operations completed in it (reads among them), its length, the latency
   * histogram (microseconds) of the whole measurement and of each second, operations that failed
   * (warmup included), and the CPU time of the whole JVM per completed operation.
   */
  public record Measurement(int clients, long operations, long reads, double seconds, Histogram latency,
      List<Histogram> perSecond, long errors, double cpuMicrosPerOp) {
    public double opsPerSecond() {
      return seconds <= 0 ? 0 : operations / seconds;
    }

    /** The latency at {@code percentile} in ms (0 if nothing completed). */
    public double ms(double percentile) {
      return latency.getTotalCount() == 0 ? 0 : latency.getValueAtPercentile(percentile) / 1000.0;
    }
  }

  private LoadDriver() {}

  /** A value of {@code n} random printable ASCII characters (one byte each in any encoding the libraries use). */
  public static byte[] asciiValue(SplittableRandom random, int n) {
    byte[] v = new byte[n];
    for (int i = 0; i < n; i++) v[i] = (byte) ('!' + random.nextInt(94));
    return v;
  }

  /** {@code value} as the string the KV example stores (ASCII, so its UTF-8 form is {@code value} again). */
  public static String text(byte[] value) {
    return new String(value, StandardCharsets.US_ASCII);
  }

  /** Runs the warmup, then the measurement, then waits for the operations still running; returns the measurement. */
  public static Measurement run(Load load, Operation operation, Phases phases) throws Exception {
    BlockingQueue<Integer> idle = new ArrayBlockingQueue<>(load.clients());
    for (int c = 0; c < load.clients(); c++) idle.add(c);
    Recorder recorder = new Recorder(3);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicBoolean measuring = new AtomicBoolean();
    AtomicLong reads = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    ScheduledExecutorService pause = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "bench-error-pause");
      t.setDaemon(true);
      return t;
    });
    int submitterCount = Math.min(load.clients(), Math.max(1, Runtime.getRuntime().availableProcessors()));
    List<Thread> submitters = new ArrayList<>();
    for (int t = 0; t < submitterCount; t++) {
      SplittableRandom random = new SplittableRandom(0x5eed + t);
      Thread th = new Thread(() -> {
        try {
          while (!stop.get()) {
            Integer client = idle.poll(100, TimeUnit.MILLISECONDS);
            if (client == null) continue;
            if (stop.get()) {
              idle.add(client);
              break;
            }
            boolean read = load.readRatio() > 0 && random.nextDouble() < load.readRatio();
            String key = "k" + random.nextInt(KEYS);
            byte[] value = read ? null : asciiValue(random, load.valueBytes());
            long start = System.nanoTime();
            CompletionStage<?> done;
            try {
              done = operation.start(client, key, value);
            } catch (Exception e) {
              done = CompletableFuture.failedFuture(e);
            }
            done.whenCompleteAsync((result, failure) -> {
              long micros = (System.nanoTime() - start) / 1000;
              if (failure != null) {
                if (errors.incrementAndGet() <= 5) System.err.println("[bench] operation failed: " + failure);
                // A client whose operation failed (no leader, a leader change) waits a little before its next one.
                try {
                  pause.schedule(() -> idle.add(client), ERROR_PAUSE_MILLIS, TimeUnit.MILLISECONDS);
                } catch (RejectedExecutionException e) {
                  // the run is over
                }
                return;
              }
              if (measuring.get()) {
                recorder.recordValue(Math.max(1, micros));
                if (read) reads.incrementAndGet();
              }
              idle.add(client);
            }, DIRECT);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }, "bench-submitter-" + t);
      th.setDaemon(true);
      submitters.add(th);
      th.start();
    }
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    List<Histogram> perSecond = new ArrayList<>();
    Histogram total = new Histogram(3);
    long cpu0;
    long t0;
    double seconds;
    long cpuNanos;
    try {
      TimeUnit.SECONDS.sleep(load.warmupSeconds());
      phases.measureStarting();
      recorder.reset();
      cpu0 = os.getProcessCpuTime();
      measuring.set(true);
      t0 = System.nanoTime();
      for (int s = 1; s <= load.measureSeconds(); s++) {
        long until = t0 + TimeUnit.SECONDS.toNanos(s);
        for (long left = until - System.nanoTime(); left > 0; left = until - System.nanoTime()) LockSupport.parkNanos(left);
        if (s == load.measureSeconds()) measuring.set(false);
        Histogram h = recorder.getIntervalHistogram();
        perSecond.add(h);
        total.add(h);
      }
      seconds = (System.nanoTime() - t0) / 1e9;
      cpuNanos = os.getProcessCpuTime() - cpu0;
      phases.measureEnded();
    } finally {
      measuring.set(false);
      stop.set(true);
      for (Thread th : submitters) th.join(TimeUnit.SECONDS.toMillis(5));
      long deadline = System.nanoTime() + DRAIN_NANOS;
      while (idle.size() < load.clients() && System.nanoTime() < deadline) LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
      pause.shutdownNow();
      if (idle.size() < load.clients()) {
        System.err.println("[bench] " + (load.clients() - idle.size()) + " operations still running after the measurement");
      }
    }
    long ops = total.getTotalCount();
    // CPU of the whole JVM (every node and the clients) per operation: steadier than ops/s on a shared machine.
    double cpuPerOp = ops == 0 ? 0 : cpuNanos / 1000.0 / ops;
    return new Measurement(load.clients(), ops, reads.get(), seconds, total, perSecond, errors.get(), cpuPerOp);
  }
}
