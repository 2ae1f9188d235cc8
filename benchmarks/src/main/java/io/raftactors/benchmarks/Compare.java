package io.raftactors.benchmarks;

import io.raftactors.examples.bench.Bench;
import io.raftactors.examples.bench.BenchCharts;
import io.raftactors.examples.bench.BenchResult;
import io.raftactors.examples.bench.KvBenchmark;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Runs KvBenchmark's workload on raft-actors, SOFAJRaft and Apache Ratis, and compares them: every
 * configuration at every client count in a fresh JVM ({@code -Xms2g -Xmx2g}), the configurations
 * alternating within each round, so that a slow minute of a shared machine does not fall on one
 * library only. Prints (and writes to {@code results.md}) a Markdown table with the date, the
 * machine and the command, ops/s, p50 and p99 of every round, the floor measured by the runs and
 * the ratio of raft-actors to SOFAJRaft; collects the runs' CSV rows in {@code results.csv} and
 * draws throughput and latency against client count for all configurations. A run that fails or
 * times out is reported as failed, with its log file, and the comparison goes on.
 *
 * <p>Configurations: {@code raft-actors:segments}, {@code raft-actors:leveldb}, {@code
 * raft-actors:mem} (KvBenchmark with that storage, {@code --api propose}), {@code jraft:sync},
 * {@code jraft:nosync} ({@link JRaftBenchmark}), {@code ratis:sync}, {@code ratis:nosync} ({@link
 * RatisBenchmark}).
 *
 * <pre>java -jar benchmarks/target/raft-bench.jar [--configs raft-actors:segments,jraft:sync,ratis:sync] [--clients 1,32,256] [--rounds N] [--warmup S] [--measure S] [--value-bytes N] [--read-ratio R] [--out DIR] [--jvm "-Xms2g -Xmx2g"]</pre>
 */
public final class Compare {
  private Compare() {}

  static final List<String> DEFAULT_CONFIGS = List.of("raft-actors:segments", "jraft:sync", "ratis:sync");

  /** A configuration: its name ({@code library:setting}), the main class that runs it and that class's own arguments. */
  record Config(String id, String mainClass, List<String> args) {
    String library() {
      return id.substring(0, id.indexOf(':'));
    }

    static Config of(String id) {
      String[] p = id.split(":", 2);
      if (p.length == 2) {
        switch (p[0]) {
          case "raft-actors" -> {
            if (List.of("segments", "leveldb", "mem").contains(p[1])) {
              return new Config(id, KvBenchmark.class.getName(), List.of("--storage", p[1]));
            }
          }
          case "jraft" -> {
            if (List.of("sync", "nosync").contains(p[1])) {
              return new Config(id, JRaftBenchmark.class.getName(), List.of("--config", p[1]));
            }
          }
          case "ratis" -> {
            if (List.of("sync", "nosync").contains(p[1])) {
              return new Config(id, RatisBenchmark.class.getName(), List.of("--config", p[1]));
            }
          }
          default -> { }
        }
      }
      throw new IllegalArgumentException("unknown configuration " + id + ": raft-actors:segments|leveldb|mem, jraft:sync|nosync, "
          + "ratis:sync|nosync");
    }
  }

  /** The comparison's options. */
  record Options(List<Config> configs, List<Integer> clients, int rounds, int warmup, int measure, int valueBytes, double readRatio,
      Path out, List<String> jvm) {
    static Options parse(String[] args) {
      List<Config> configs = new ArrayList<>();
      List<Integer> clients = new ArrayList<>();
      int rounds = 2;
      int warmup = 30;
      int measure = 10;
      int valueBytes = 100;
      double readRatio = 0;
      Path out = Path.of("benchmarks", "target", "results");
      List<String> jvm = List.of("-Xms2g", "-Xmx2g");
      for (int i = 0; i < args.length; i++) {
        if (i + 1 >= args.length) throw new IllegalArgumentException(args[i] + " needs a value");
        String v = args[++i];
        switch (args[i - 1]) {
          case "--configs" -> {
            for (String c : v.trim().split("[,\\s]+")) configs.add(Config.of(c));
          }
          case "--clients" -> {
            for (String c : v.trim().split("[,\\s]+")) clients.add(Integer.parseInt(c));
          }
          case "--rounds" -> rounds = Integer.parseInt(v);
          case "--warmup" -> warmup = Integer.parseInt(v);
          case "--measure" -> measure = Integer.parseInt(v);
          case "--value-bytes" -> valueBytes = Integer.parseInt(v);
          case "--read-ratio" -> readRatio = Double.parseDouble(v);
          case "--out" -> out = Path.of(v);
          case "--jvm" -> jvm = v.isBlank() ? List.of() : List.of(v.trim().split("\\s+"));
          default -> throw new IllegalArgumentException("unknown option " + args[i - 1]);
        }
      }
      if (configs.isEmpty()) for (String c : DEFAULT_CONFIGS) configs.add(Config.of(c));
      if (clients.isEmpty()) clients = List.of(1, 32, 256);
      if (rounds < 1) throw new IllegalArgumentException("--rounds must be at least 1");
      for (int c : clients) new io.raftactors.examples.bench.LoadDriver.Load(c, warmup, measure, valueBytes, readRatio); // checks them
      return new Options(List.copyOf(configs), List.copyOf(clients), rounds, warmup, measure, valueBytes, readRatio, out, jvm);
    }
  }

  /**
   * One run: a configuration at a client count in a round, and its CSV row by column name, or why it
   * failed; its output is in {@code log}.
   */
  record Run(Config config, int round, int clients, Path log, Map<String, String> row, String failure) {
    boolean ok() {
      return row != null;
    }

    double value(String column) {
      return Double.parseDouble(row.get(column));
    }
  }

  public static void main(String[] args) throws Exception {
    Options o = Options.parse(args);
    String command = System.getProperty("bench.command", "java -jar raft-bench.jar " + String.join(" ", args));
    Files.createDirectories(o.out().resolve("runs"));
    String started = ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'"));
    System.out.printf("Comparing %s at %s clients, %d round(s) of %d s warmup + %d s measurement; results in %s%n",
        o.configs().stream().map(Config::id).collect(Collectors.joining(", ")), o.clients(), o.rounds(), o.warmup(), o.measure(), o.out());
    List<Run> runs = new ArrayList<>();
    for (int round = 1; round <= o.rounds(); round++) {
      for (int clients : o.clients()) {
        for (Config config : o.configs()) {
          Run r = run(o, config, round, clients);
          runs.add(r);
          System.out.println(String.format(Locale.ROOT, "round %d, %s, %-22s ", round, clients(clients), config.id())
              + (r.ok() ? String.format(Locale.ROOT, "%.0f ops/s, p50 %.2f ms, p99 %.2f ms", r.value("ops_per_s"), r.value("p50_ms"),
                  r.value("p99_ms")) : "FAILED (" + r.failure() + "), see " + r.log()));
        }
      }
    }
    String table = table(o, runs, started, command, machine());
    Files.writeString(o.out().resolve("results.md"), table, StandardCharsets.UTF_8);
    StringBuilder csv = new StringBuilder("configuration,round," + BenchResult.CSV_HEADER + "\n");
    for (Run r : runs) {
      if (!r.ok()) continue;
      csv.append(r.config().id()).append(',').append(r.round()).append(',')
          .append(Arrays.stream(BenchResult.CSV_HEADER.split(",")).map(c -> r.row().getOrDefault(c, "")).collect(Collectors.joining(",")))
          .append('\n');
    }
    Files.writeString(o.out().resolve("results.csv"), csv, StandardCharsets.UTF_8);
    List<String> subtitle = List.of(workload(o), started + ", " + machine());
    List<BenchCharts.Point> points = points(runs);
    BenchCharts.throughput(subtitle, points).write(o.out().resolve("throughput-vs-clients.svg"));
    BenchCharts.latency(subtitle, points, floorMs(runs)).write(o.out().resolve("latency-vs-clients.svg"));
    System.out.println();
    System.out.println(table);
    System.out.println("Written: " + o.out().resolve("results.md") + ", results.csv, throughput-vs-clients.svg, "
        + "latency-vs-clients.svg; each run's output and latency over time under " + o.out().resolve("runs"));
  }

  /** Runs one configuration at one client count in a JVM of its own; never throws for a failed run. */
  static Run run(Options o, Config config, int round, int clients) {
    String name = config.id().replace(':', '-') + "-c" + clients + "-r" + round;
    Path dir = o.out().resolve("runs").resolve(name).toAbsolutePath();
    Path log = dir.resolve("output.log");
    Path csv = dir.resolve("result.csv");
    try {
      PutCodec.delete(dir);
      Files.createDirectories(dir);
      List<String> cmd = new ArrayList<>();
      cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      cmd.addAll(o.jvm());
      // Bolt's own log files go with the run's output instead of ~/logs.
      if (config.library().equals("jraft")) cmd.add("-Dlogging.path=" + dir.resolve("bolt-logs"));
      cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), config.mainClass()));
      cmd.addAll(config.args());
      cmd.addAll(List.of(String.valueOf(clients), "--warmup", String.valueOf(o.warmup()), "--measure", String.valueOf(o.measure()),
          "--value-bytes", String.valueOf(o.valueBytes()), "--read-ratio", String.valueOf(o.readRatio()), "--csv", csv.toString(),
          "--chart", dir.toString()));
      Files.writeString(log, String.join(" ", cmd) + "\n\n", StandardCharsets.UTF_8);
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
          .start();
      long timeout = o.warmup() + o.measure() + 180L;
      if (!p.waitFor(timeout, TimeUnit.SECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor(30, TimeUnit.SECONDS);
        return new Run(config, round, clients, log, null, "timed out after " + timeout + " s");
      }
      if (p.exitValue() != 0) return new Run(config, round, clients, log, null, "exit code " + p.exitValue());
      List<String> lines = Files.exists(csv) ? Files.readAllLines(csv, StandardCharsets.UTF_8) : List.of();
      if (lines.size() < 2) return new Run(config, round, clients, log, null, "no result row");
      return new Run(config, round, clients, log, row(lines.get(0), lines.get(1)), null);
    } catch (Exception e) {
      return new Run(config, round, clients, log, null, e.toString());
    }
  }

  /** A CSV row by column name. */
  static Map<String, String> row(String header, String line) {
    String[] names = header.split(",", -1);
    String[] values = line.split(",", -1);
    if (names.length != values.length) {
      throw new IllegalArgumentException("CSV row of " + values.length + " fields, header of " + names.length);
    }
    Map<String, String> row = new LinkedHashMap<>();
    for (int i = 0; i < names.length; i++) row.put(names[i], values[i]);
    return row;
  }

  /** The machine in one line, with the CPU model where the OS tells it. */
  static String machine() {
    String cpu = "";
    try {
      cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name")).findFirst()
          .map(l -> l.substring(l.indexOf(':') + 1).trim() + ", ").orElse("");
    } catch (IOException | RuntimeException e) {
      // not Linux: no model name
    }
    return cpu + Bench.machine();
  }

  static String workload(Options o) {
    return String.format(Locale.ROOT, "3 nodes in one JVM on 127.0.0.1, %d-byte puts to 1,000 keys%s, warmup %d s, measure %d s, JVM %s",
        o.valueBytes(), o.readRatio() > 0 ? String.format(Locale.ROOT, ", %.0f%% linearizable reads", o.readRatio() * 100) : "",
        o.warmup(), o.measure(), String.join(" ", o.jvm()));
  }

  /** The median over the rounds of one configuration at one client count, for every configuration and client count that has results. */
  static List<BenchCharts.Point> points(List<Run> runs) {
    Map<String, Map<Integer, List<Run>>> grouped = new LinkedHashMap<>();
    for (Run r : runs) {
      if (!r.ok()) continue;
      grouped.computeIfAbsent(r.config().id(), k -> new LinkedHashMap<>()).computeIfAbsent(r.clients(), k -> new ArrayList<>()).add(r);
    }
    List<BenchCharts.Point> points = new ArrayList<>();
    for (Map.Entry<String, Map<Integer, List<Run>>> c : grouped.entrySet()) {
      for (Map.Entry<Integer, List<Run>> e : c.getValue().entrySet()) {
        List<Run> rs = e.getValue();
        points.add(new BenchCharts.Point(c.getKey(), e.getKey(), median(rs, "ops_per_s"), median(rs, "p50_ms"), median(rs, "p99_ms"),
            median(rs, "p999_ms")));
      }
    }
    return points;
  }

  static double median(List<Run> runs, String column) {
    double[] v = runs.stream().mapToDouble(r -> r.value(column)).sorted().toArray();
    return v.length == 0 ? Double.NaN : v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  /** The median floor of the runs (0 if none completed). */
  static double floorMs(List<Run> runs) {
    List<Run> ok = runs.stream().filter(Run::ok).toList();
    return ok.isEmpty() ? 0 : median(ok, "floor_ms");
  }

  /** The Markdown report: header lines, one table row per configuration and client count, failed runs with their logs. */
  static String table(Options o, List<Run> runs, String date, String command, String machine) {
    StringBuilder b = new StringBuilder();
    b.append("### raft-actors, SOFAJRaft and Apache Ratis on one workload\n\n");
    b.append("- date: ").append(date).append('\n');
    b.append("- machine: ").append(machine).append('\n');
    b.append("- command: `").append(command).append("`\n");
    b.append("- workload: ").append(workload(o)).append("; each client keeps one request outstanding; a fresh JVM per configuration,")
        .append(" client count and round; ").append(o.rounds()).append(o.rounds() == 1 ? " round" : " rounds")
        .append(", configurations alternating within each\n");
    List<Run> ok = runs.stream().filter(Run::ok).toList();
    if (!ok.isEmpty()) {
      b.append(String.format(Locale.ROOT,
          "- floor (median of the runs' own measurements): fdatasync %.3f ms + loopback round trip %.3f ms; with the three nodes'"
              + " files syncing at once, as they do here, one fdatasync takes %.3f ms (floor %.3f ms)%n",
          median(ok, "floor_fdatasync_ms"), median(ok, "floor_round_trip_ms"), median(ok, "floor_shared_fdatasync_ms"),
          median(ok, "floor_shared_ms")));
      List<Run> timed = ok.stream().filter(r -> !r.row().getOrDefault("transport_round_trip_ms", "").isEmpty()).toList();
      List<Run> durable = timed.stream().filter(r -> !"mem".equals(r.row().get("storage"))).toList();
      if (!timed.isEmpty()) {
        b.append(String.format(Locale.ROOT,
            "- raft-actors' nodes talk over Artery: its round trip, timed by the runs between two ActorSystems set up as the nodes,"
                + " takes %.3f ms (median)", median(timed, "transport_round_trip_ms")));
        if (!durable.isEmpty()) {
          b.append(String.format(Locale.ROOT, ", so a synced write over it cannot take less than %.3f ms (the sync of three files"
              + " at once plus that round trip)", median(durable, "floor_over_transport_ms")));
        }
        b.append('\n');
      }
    }
    b.append('\n');
    boolean jraft = o.configs().stream().anyMatch(c -> c.id().equals("jraft:sync"));
    b.append("| configuration | clients | ops/s | p50 ms | p99 ms | floor ms |").append(jraft ? " vs jraft:sync (ops/s, p50) |" : "")
        .append('\n');
    b.append("|---|---|---|---|---|---|").append(jraft ? "---|" : "").append('\n');
    for (Config config : o.configs()) {
      for (int clients : o.clients()) {
        List<Run> cell = runs.stream().filter(r -> r.config().equals(config) && r.clients() == clients).toList();
        if (cell.isEmpty()) continue;
        b.append("| ").append(config.id()).append(" | ").append(clients).append(" | ").append(opsPerRound(cell))
            .append(" | ").append(perRound(cell, "p50_ms", "%.2f")).append(" | ").append(perRound(cell, "p99_ms", "%.1f")).append(" | ")
            .append(perRound(cell, "floor_ms", "%.2f")).append(" |");
        if (jraft) b.append(' ').append(config.library().equals("raft-actors") ? ratio(runs, config, clients) : "").append(" |");
        b.append('\n');
      }
    }
    b.append("\nValues per round, separated by /.");
    List<Run> warming = ok.stream().filter(Compare::warming).toList();
    if (!warming.isEmpty()) {
      b.append(String.format(Locale.ROOT, " * rising during the measurement: its second half completed %.0f%% or more operations than its"
          + " first (still warming up, or the machine got less busy), so ops/s may understate the steady figure; a longer --warmup"
          + " tells (", (WARMING - 1) * 100))
          .append(warming.stream().map(r -> r.config().id() + " at " + clients(r.clients()) + ", round " + r.round()
              + String.format(Locale.ROOT, ": %.2fx", r.value("warming"))).collect(Collectors.joining("; "))).append(").");
    }
    if (ok.stream().anyMatch(r -> r.value("errors") > 0)) {
      b.append(" Runs with failed operations: ").append(ok.stream().filter(r -> r.value("errors") > 0)
          .map(r -> r.config().id() + " at " + clients(r.clients()) + ", round " + r.round() + ": " + r.row().get("errors") + " errors")
          .collect(Collectors.joining("; "))).append('.');
    }
    b.append('\n');
    List<Run> failed = runs.stream().filter(r -> !r.ok()).toList();
    if (!failed.isEmpty()) {
      b.append("\nFailed runs:\n\n");
      for (Run r : failed) {
        b.append("- ").append(r.config().id()).append(", ").append(clients(r.clients())).append(", round ").append(r.round()).append(": ")
            .append(r.failure()).append(", log ").append(r.log()).append('\n');
      }
    }
    return b.toString();
  }

  private static String clients(int n) {
    return n + (n == 1 ? " client" : " clients");
  }

  /** A run whose second half of the measurement did this much more than its first is marked as still warming up. */
  static final double WARMING = 1.10;

  /** Still warming up during its measurement (rows of builds before the column was added never are). */
  static boolean warming(Run r) {
    return r.ok() && r.row().containsKey("warming") && !r.row().get("warming").isEmpty() && r.value("warming") >= WARMING;
  }

  private static String opsPerRound(List<Run> cell) {
    return cell.stream().map(r -> r.ok() ? String.format(Locale.ROOT, "%.0f", r.value("ops_per_s")) + (warming(r) ? "*" : "") : "failed")
        .collect(Collectors.joining(" / "));
  }

  private static String perRound(List<Run> cell, String column, String format) {
    return cell.stream().map(r -> r.ok() ? String.format(Locale.ROOT, format, r.value(column)) : "failed")
        .collect(Collectors.joining(" / "));
  }

  /** raft-actors against SOFAJRaft (sync) at one client count: ratio of the medians of ops/s and of p50 over the rounds. */
  private static String ratio(List<Run> runs, Config config, int clients) {
    List<Run> mine = runs.stream().filter(r -> r.ok() && r.config().equals(config) && r.clients() == clients).toList();
    List<Run> theirs = runs.stream().filter(r -> r.ok() && r.config().id().equals("jraft:sync") && r.clients() == clients).toList();
    if (mine.isEmpty() || theirs.isEmpty()) return "n/a";
    return String.format(Locale.ROOT, "%.2fx, %.2fx", median(mine, "ops_per_s") / median(theirs, "ops_per_s"),
        median(mine, "p50_ms") / median(theirs, "p50_ms"));
  }
}
