package io.raftactors.examples.bench;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.DoubleStream;

/**
 * The floor of one durable write at one client, measured on this machine: the median time of one
 * fdatasync of a small write to a preallocated file on the disk the benchmark writes to, and the
 * median time of one TCP round trip of a small message over the loopback interface. A replicated
 * write cannot be acknowledged before its leader has synced it and one follower has answered, which
 * costs at least one of each (the leader's sync overlaps the follower's).
 *
 * <p>The nodes of one benchmark share this disk, and every node syncs each batch: at one client the
 * leader and both followers sync at the same moment. So it also measures {@link #SHARED_SYNCS}
 * threads syncing small writes to files of their own at once, and reports the median of those
 * syncs: what one sync costs when the three nodes sync together ({@link #sharedMs}). On one disk
 * that, not the lone sync, is what a replicated write waits for.
 *
 * @param fdatasyncMicros median of the syncs, in microseconds
 * @param roundTripMicros median of the round trips, in microseconds
 * @param syncs syncs timed
 * @param roundTrips round trips timed
 * <p>A benchmark whose nodes talk through a transport of their own may time that transport's round
 * trip too ({@link #withTransport}): the floor a write over it cannot go below.
 *
 * @param sharedFdatasyncMicros median of the syncs timed while {@link #SHARED_SYNCS} threads sync at once, in microseconds
 * @param transport the nodes' transport whose round trip was timed (e.g. {@code Artery}), or null
 * @param transportRoundTripMicros median of that transport's round trips, in microseconds (0 if none)
 * @param transportRoundTrips that transport's round trips timed
 */
public record Floor(double fdatasyncMicros, double roundTripMicros, int syncs, int roundTrips, double sharedFdatasyncMicros,
    String transport, double transportRoundTripMicros, int transportRoundTrips) {

  /** A floor without a transport's round trip. */
  public Floor(double fdatasyncMicros, double roundTripMicros, int syncs, int roundTrips, double sharedFdatasyncMicros) {
    this(fdatasyncMicros, roundTripMicros, syncs, roundTrips, sharedFdatasyncMicros, null, 0, 0);
  }

  /** This floor with the round trips of {@code transport} timed ({@code times} in microseconds). */
  public Floor withTransport(String transport, double[] times) {
    return new Floor(fdatasyncMicros, roundTripMicros, syncs, roundTrips, sharedFdatasyncMicros, transport, median(times), times.length);
  }

  /** The floor over the transport: the shared sync (if {@code durable}) plus one round trip of the transport, in ms; NaN if none was timed. */
  public double overTransportMs(boolean durable) {
    if (transport == null) return Double.NaN;
    return ((durable ? sharedFdatasyncMicros : 0) + transportRoundTripMicros) / 1000.0;
  }

  /** Threads that sync at once for {@link #sharedFdatasyncMicros}: the nodes of the benchmark's group. */
  static final int SHARED_SYNCS = 3;

  /** Bytes of each write and of each message: about one small entry. */
  static final int MESSAGE_BYTES = 128;
  private static final int FILE_BYTES = 4 << 20;

  /** The floor of a write that is synced ({@code durable}) or only replicated, in ms. */
  public double ms(boolean durable) {
    return ((durable ? fdatasyncMicros : 0) + roundTripMicros) / 1000.0;
  }

  /** As {@link #ms}, with the sync timed while the three nodes' syncs share the disk, in ms. */
  public double sharedMs(boolean durable) {
    return ((durable ? sharedFdatasyncMicros : 0) + roundTripMicros) / 1000.0;
  }

  /**
   * One line for the output, e.g. {@code floor=1.234ms fdatasync=1.100ms round-trip=0.134ms ...;
   * three syncing at once: fdatasync=2.000ms floor=2.134ms}, then the transport's round trip and the
   * floor over it if one was timed. Fields are only added at the end.
   */
  public String describe(boolean durable, Path dir) {
    String over = transport == null ? "" : String.format(Locale.ROOT,
        "; over %s: round-trip=%.3fms floor=%.3fms (median of %d round trips of %d-byte messages between two ActorSystems set up "
            + "as the nodes, plus %s)", transport, transportRoundTripMicros / 1000.0, overTransportMs(durable), transportRoundTrips,
        MESSAGE_BYTES, durable ? "the sync of 3 files at once" : "nothing synced");
    return String.format(Locale.ROOT, "floor=%.3fms (%s) fdatasync=%.3fms round-trip=%.3fms: medians of %d fdatasyncs of %d-byte writes in %s"
            + " and %d loopback TCP round trips of %d-byte messages; %d files syncing at once, as the nodes here do: fdatasync=%.3fms floor=%.3fms",
        ms(durable), durable ? "one fdatasync plus one round trip" : "one round trip, nothing synced", fdatasyncMicros / 1000.0,
        roundTripMicros / 1000.0, syncs, MESSAGE_BYTES, dir, roundTrips, MESSAGE_BYTES, SHARED_SYNCS, sharedFdatasyncMicros / 1000.0,
        sharedMs(durable)) + over;
  }

  /** Measures all three, for about three seconds in all, writing to temporary files in {@code dir}. */
  public static Floor measure(Path dir) throws IOException {
    double[] syncs = fdatasyncs(dir, 20, 1000, TimeUnit.MILLISECONDS.toNanos(1500));
    double[] trips = roundTrips(500, 20_000, TimeUnit.MILLISECONDS.toNanos(500));
    double[] shared = sharedFdatasyncs(dir, SHARED_SYNCS, 20, 500, TimeUnit.MILLISECONDS.toNanos(1000));
    return new Floor(median(syncs), median(trips), syncs.length, trips.length, median(shared));
  }

  /**
   * Times fdatasyncs as {@link #fdatasyncs} does, in {@code threads} threads at once, each on a file
   * of its own; returns every thread's times together.
   */
  static double[] sharedFdatasyncs(Path dir, int threads, int min, int max, long budgetNanos) throws IOException {
    CyclicBarrier start = new CyclicBarrier(threads);
    ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, "floor-sync");
      t.setDaemon(true);
      return t;
    });
    try {
      List<Future<double[]>> each = new ArrayList<>();
      for (int t = 0; t < threads; t++) each.add(pool.submit(() -> fdatasyncs(dir, min, max, budgetNanos, start)));
      DoubleStream.Builder all = DoubleStream.builder();
      for (Future<double[]> f : each) for (double time : f.get()) all.add(time);
      return all.build().toArray();
    } catch (ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while timing syncs", e);
    } finally {
      pool.shutdownNow();
    }
  }

  static double median(double[] values) {
    double[] v = values.clone();
    Arrays.sort(v);
    int n = v.length;
    return n == 0 ? 0 : n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  /**
   * Times fdatasyncs ({@code FileChannel.force(false)}) of small writes one after the other into a
   * file that was filled and synced first, so that a sync has no file size to update (as in a
   * preallocated log segment). At least {@code min} and at most {@code max} of them, for up to
   * {@code budgetNanos} once the minimum is reached.
   */
  static double[] fdatasyncs(Path dir, int min, int max, long budgetNanos) throws IOException {
    return fdatasyncs(dir, min, max, budgetNanos, null);
  }

  /** As above; once the file is filled, waits at {@code start} (if not null) for the others that sync at once. */
  private static double[] fdatasyncs(Path dir, int min, int max, long budgetNanos, CyclicBarrier start)
      throws IOException {
    Path file = Files.createTempFile(dir, "floor", ".dat");
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ByteBuffer zeros = ByteBuffer.allocate(64 << 10);
      for (long pos = 0; pos < FILE_BYTES; pos += zeros.capacity()) {
        zeros.clear();
        while (zeros.hasRemaining()) ch.write(zeros, pos + zeros.position());
      }
      ch.force(true);
      if (start != null) {
        try {
          start.await(30, TimeUnit.SECONDS);
        } catch (Exception e) {
          throw new IOException("the threads that sync at once did not start together", e);
        }
      }
      ByteBuffer record = ByteBuffer.allocate(MESSAGE_BYTES);
      double[] times = new double[max];
      int n = 0;
      long started = System.nanoTime();
      for (int i = -3; n < max && (n < min || System.nanoTime() - started < budgetNanos); i++) {
        record.clear();
        record.putLong(0, i);
        long pos = (long) Math.max(i + 3, 0) * MESSAGE_BYTES % FILE_BYTES;
        long t = System.nanoTime();
        while (record.hasRemaining()) ch.write(record, pos + record.position());
        ch.force(false);
        long took = System.nanoTime() - t;
        if (i >= 0) times[n++] = took / 1000.0; // the first three warm up
      }
      return Arrays.copyOf(times, n);
    } finally {
      Files.deleteIfExists(file);
    }
  }

  /**
   * Times round trips of {@code MESSAGE_BYTES}-byte messages to an echo thread over a loopback TCP
   * connection (no Nagle delay on either side), after {@code warmup} untimed ones: up to {@code max},
   * for up to {@code budgetNanos}.
   */
  static double[] roundTrips(int warmup, int max, long budgetNanos) throws IOException {
    InetAddress loopback = InetAddress.getLoopbackAddress();
    try (ServerSocket server = new ServerSocket(0, 1, loopback)) {
      Thread echo = new Thread(() -> {
        try (Socket s = server.accept()) {
          s.setTcpNoDelay(true);
          DataInputStream in = new DataInputStream(s.getInputStream());
          OutputStream out = s.getOutputStream();
          byte[] buf = new byte[MESSAGE_BYTES];
          while (true) {
            in.readFully(buf);
            out.write(buf);
            out.flush();
          }
        } catch (IOException e) {
          // the client closed the connection: done
        }
      }, "floor-echo");
      echo.setDaemon(true);
      echo.start();
      try (Socket s = new Socket()) {
        s.setTcpNoDelay(true);
        s.connect(new InetSocketAddress(loopback, server.getLocalPort()), 5000);
        s.setSoTimeout(5000);
        OutputStream out = s.getOutputStream();
        DataInputStream in = new DataInputStream(s.getInputStream());
        byte[] msg = new byte[MESSAGE_BYTES];
        double[] times = new double[max];
        int n = 0;
        long started = System.nanoTime();
        for (int i = -warmup; n < max && (i < 0 || System.nanoTime() - started < budgetNanos); i++) {
          msg[0] = (byte) i;
          long t = System.nanoTime();
          out.write(msg);
          out.flush();
          in.readFully(msg);
          long took = System.nanoTime() - t;
          if (i >= 0) times[n++] = took / 1000.0;
          else started = System.nanoTime();
        }
        return Arrays.copyOf(times, n);
      }
    }
  }

  /** Prints the floor for the temporary folder's disk: {@code java ... Floor [dir]}. */
  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args.length > 0 ? args[0] : System.getProperty("java.io.tmpdir"));
    System.out.println(measure(dir).describe(true, dir));
  }
}
