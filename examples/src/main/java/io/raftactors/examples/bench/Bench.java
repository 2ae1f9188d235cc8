package io.raftactors.examples.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What the throughput benchmarks share: their command line ({@link #parse}) and their main loop
 * ({@link #runAll}: the floor once, then one run per client count, each printed and appended to the
 * CSV).
 */
public final class Bench {
  private Bench() {}

  /**
   * The options every benchmark takes.
   *
   * @param clients client counts, one run each (arguments such as {@code 1 32}, or {@code --clients 1,32,256})
   * @param warmupSeconds {@code --warmup S}
   * @param measureSeconds {@code --measure S}
   * @param valueBytes {@code --value-bytes N}
   * @param readRatio {@code --read-ratio R}
   * @param csv {@code --csv FILE} (null: none)
   * @param chartDir {@code --chart DIR}: where the charts go (null: none)
   * @param extra the benchmark's own options, by name without dashes
   */
  public record Options(List<Integer> clients, int warmupSeconds, int measureSeconds, int valueBytes, double readRatio, Path csv,
      Path chartDir, Map<String, String> extra) {
    public LoadDriver.Load load(int clients) {
      return new LoadDriver.Load(clients, warmupSeconds, measureSeconds, valueBytes, readRatio);
    }

    public String extra(String name) {
      return extra.get(name);
    }
  }

  /**
   * Parses {@code args}: client counts as plain numbers or {@code --clients 1,32,256} (default 1 and
   * 32), {@code --warmup S} (5), {@code --measure S} (10), {@code --value-bytes N} (100), {@code
   * --read-ratio R} (0), {@code --csv FILE}, {@code --chart DIR}, and the options named in {@code own} with their defaults
   * (null: no default).
   */
  public static Options parse(String[] args, Map<String, String> own) {
    List<Integer> clients = new ArrayList<>();
    int warmup = 5;
    int measure = 10;
    int valueBytes = 100;
    double readRatio = 0;
    Path csv = null;
    Path chartDir = null;
    Map<String, String> extra = new LinkedHashMap<>(own);
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--")) {
        clients.add(Integer.parseInt(a));
        continue;
      }
      if (i + 1 >= args.length) throw new IllegalArgumentException(a + " needs a value");
      String v = args[++i];
      switch (a) {
        case "--clients" -> {
          for (String c : v.split(",")) clients.add(Integer.parseInt(c.trim()));
        }
        case "--warmup" -> warmup = Integer.parseInt(v);
        case "--measure" -> measure = Integer.parseInt(v);
        case "--value-bytes" -> valueBytes = Integer.parseInt(v);
        case "--read-ratio" -> readRatio = Double.parseDouble(v);
        case "--csv" -> csv = Path.of(v);
        case "--chart" -> chartDir = Path.of(v);
        default -> {
          String name = a.substring(2);
          if (!own.containsKey(name)) throw new IllegalArgumentException("unknown option " + a);
          extra.put(name, v);
        }
      }
    }
    if (clients.isEmpty()) clients = List.of(1, 32);
    Options o = new Options(List.copyOf(clients), warmup, measure, valueBytes, readRatio, csv, chartDir, extra);
    for (int c : o.clients()) o.load(c); // checks every value
    return o;
  }

  /** Runs one client count: starts the group, drives the load, stops the group. */
  public interface Runner {
    BenchResult run(LoadDriver.Load load, Floor floor) throws Exception;
  }

  /**
   * Measures the floor on the disk of the temporary folder (where the runs keep their data) and
   * prints it, then runs each client count in turn, printing its result and appending it to the CSV;
   * at the end, writes the charts ({@link BenchCharts#write}).
   */
  public static List<BenchResult> runAll(Options o, boolean durable, Runner runner) throws Exception {
    return runAll(o, durable, null, null, runner);
  }

  /** Times round trips of a benchmark's transport, in microseconds. */
  public interface RoundTrips {
    double[] measure() throws Exception;
  }

  /**
   * As {@link #runAll(Options, boolean, Runner)}, with the round trip of the nodes' transport ({@code
   * transport}, e.g. Artery) timed by {@code roundTrips} and reported with the floor, unless both are null.
   */
  public static List<BenchResult> runAll(Options o, boolean durable, String transport, RoundTrips roundTrips, Runner runner)
      throws Exception {
    Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
    Floor floor = Floor.measure(tmp);
    if (roundTrips != null) floor = floor.withTransport(transport, roundTrips.measure());
    System.out.println(floor.describe(durable, tmp));
    List<BenchResult> results = new ArrayList<>();
    for (int c : o.clients()) {
      BenchResult r = runner.run(o.load(c), floor);
      System.out.println(r.text());
      if (o.csv() != null) BenchResult.appendCsv(o.csv(), r.csv());
      results.add(r);
    }
    if (o.chartDir() != null && !results.isEmpty()) {
      for (Path f : BenchCharts.write(o.chartDir(), results, subtitle(o, results.get(0).setup()))) System.out.println("wrote " + f);
    }
    return results;
  }

  /** The charts' subtitle: what ran, then when and where. */
  static List<String> subtitle(Options o, BenchResult.Setup setup) {
    return List.of(
        String.format(Locale.ROOT, "%s: 3 nodes in one JVM, %d-byte values, 1,000 keys, read ratio %.2f, warmup %d s, measure %d s",
            setup.label(), setup.valueBytes(), setup.readRatio(), o.warmupSeconds(), o.measureSeconds()),
        java.time.LocalDate.now() + ", " + machine());
  }

  /** The machine in one line: cores, memory, JDK, OS. */
  public static String machine() {
    long memory = 0;
    if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
      memory = os.getTotalMemorySize();
    }
    return String.format(Locale.ROOT, "%d cores, %.0f GiB, %s %s, %s %s %s", Runtime.getRuntime().availableProcessors(),
        memory / (double) (1L << 30), System.getProperty("java.vm.name"), System.getProperty("java.version"),
        System.getProperty("os.name"), System.getProperty("os.version"), System.getProperty("os.arch"));
  }

  /** Deletes {@code dir} and everything below it, as far as it can (a benchmark's data of one run). */
  static void deleteTree(Path dir) throws java.io.IOException {
    if (!java.nio.file.Files.exists(dir)) return;
    try (java.util.stream.Stream<Path> files = java.nio.file.Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }
}
