package io.raftactors.examples.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * One client count's result, in the forms every benchmark of the project prints: a result line,
 * optionally followed by a stage breakdown, and a CSV row with the same columns for every library
 * (a library without a stage breakdown leaves those columns empty).
 *
 * @param setup what ran
 * @param measurement what the load driver measured
 * @param floor the floor measured before the runs
 * @param stages the leader's stage columns ({@link #STAGE_COLUMNS} values), or empty
 * @param breakdown lines printed under the result line (each starting with a line break), or ""
 */
public record BenchResult(Setup setup, LoadDriver.Measurement measurement, Floor floor, List<String> stages, String breakdown) {

  /**
   * What ran.
   *
   * @param library raft-actors, jraft or ratis
   * @param label the result line's prefix, e.g. {@code raft-actors/segments-fsync/propose}
   * @param storage the CSV's storage column (mem, leveldb, segments, rocksdb, ...)
   * @param api how requests enter (propose, client, read, apply, submit)
   * @param wire the peer protocol's form or transport
   * @param durable whether every write is synced before it is acknowledged
   * @param valueBytes bytes of each value put
   * @param readRatio the fraction of operations that are reads
   */
  public record Setup(String library, String label, String storage, String api, String wire, boolean durable, int valueBytes,
      double readRatio) {
    /** The label without the library, e.g. {@code segments-fsync/propose}. */
    public String configuration() {
      return label.startsWith(library + "/") ? label.substring(library.length() + 1) : label;
    }
  }

  /** The stage breakdown columns, from the leader's own metrics. */
  public static final List<String> STAGE_COLUMNS = List.of("leader_write_p50_ms", "leader_round_trip_p50_ms",
      "leader_proposed_to_applied_p50_ms", "leader_entries_per_append", "leader_entries_per_write",
      "leader_writes_per_committed_entry");

  /** The CSV header. Columns are only ever added at the end: scripts read them by position. */
  public static final String CSV_HEADER = "storage,api,wire,clients,ops_per_s,p50_ms,p90_ms,p99_ms,p999_ms,errors,cpu_us_per_op,"
      + String.join(",", STAGE_COLUMNS)
      + ",library,configuration,value_bytes,read_ratio,read_ops,floor_ms,floor_fdatasync_ms,floor_round_trip_ms,floor_shared_ms,floor_shared_fdatasync_ms,warming,"
      + "transport_round_trip_ms,floor_over_transport_ms";

  public BenchResult {
    if (!stages.isEmpty() && stages.size() != STAGE_COLUMNS.size()) {
      throw new IllegalArgumentException("stage columns: " + STAGE_COLUMNS.size() + " values or none");
    }
  }

  private static String ms(double micros) {
    return f3(micros / 1000.0);
  }

  private static String f3(double v) {
    return String.format(Locale.ROOT, "%.3f", v);
  }

  /**
   * The result line, e.g. {@code raft-actors/segments-fsync/propose clients=32 ops/s=9000 p50=2.50ms
   * p99=11.10ms p99.9=20.00ms errors=0 cpu=180us/op p90=4.00ms value-bytes=100 read-ratio=0.00},
   * then the breakdown. Fields are only ever added at the end: scripts read this line.
   */
  public String text() {
    LoadDriver.Measurement m = measurement;
    return String.format(Locale.ROOT,
        "%s clients=%d ops/s=%.0f p50=%.2fms p99=%.2fms p99.9=%.2fms errors=%d cpu=%.0fus/op p90=%.2fms value-bytes=%d read-ratio=%.2f",
        setup.label(), m.clients(), m.opsPerSecond(), m.ms(50), m.ms(99), m.ms(99.9), m.errors(), m.cpuMicrosPerOp(), m.ms(90),
        setup.valueBytes(), setup.readRatio()) + breakdown;
  }

  /** The CSV row, in the order of {@link #CSV_HEADER}. */
  public String csv() {
    LoadDriver.Measurement m = measurement;
    List<String> row = new ArrayList<>(List.of(setup.storage(), setup.api(), setup.wire(), String.valueOf(m.clients()),
        String.format(Locale.ROOT, "%.0f", m.opsPerSecond()), f3(m.ms(50)), f3(m.ms(90)), f3(m.ms(99)), f3(m.ms(99.9)),
        String.valueOf(m.errors()), String.format(Locale.ROOT, "%.0f", m.cpuMicrosPerOp())));
    row.addAll(stages.isEmpty() ? Collections.nCopies(STAGE_COLUMNS.size(), "") : stages);
    row.addAll(List.of(setup.library(), setup.configuration(), String.valueOf(setup.valueBytes()),
        String.format(Locale.ROOT, "%.2f", setup.readRatio()), String.valueOf(m.reads()),
        f3(floor.ms(setup.durable())), ms(floor.fdatasyncMicros()), ms(floor.roundTripMicros()),
        f3(floor.sharedMs(setup.durable())), ms(floor.sharedFdatasyncMicros()), f3(warming(m)),
        floor.transport() == null ? "" : ms(floor.transportRoundTripMicros()),
        floor.transport() == null ? "" : f3(floor.overTransportMs(setup.durable()))));
    for (String field : row) {
      if (field.contains(",") || field.contains("\"") || field.contains("\n")) throw new IllegalArgumentException("CSV field: " + field);
    }
    return String.join(",", row);
  }

  /**
   * Operations completed in the second half of the measurement's seconds over those of its first
   * half: about 1 for a run at its steady state, clearly above 1 for one still warming up (the JIT
   * compiling, caches filling), whose ops/s understates what it does once warm. 1 when the
   * measurement has fewer than two seconds or the first half completed nothing.
   */
  public static double warming(LoadDriver.Measurement m) {
    List<org.HdrHistogram.Histogram> s = m.perSecond();
    int half = s.size() / 2;
    if (half == 0) return 1;
    long first = 0;
    long second = 0;
    for (int i = 0; i < half; i++) first += s.get(i).getTotalCount();
    for (int i = s.size() - half; i < s.size(); i++) second += s.get(i).getTotalCount();
    return first == 0 ? 1 : (double) second / first;
  }

  /** Appends {@code row} to {@code file}, with the header first if the file is new or empty. */
  public static void appendCsv(Path file, String row) throws IOException {
    boolean fresh = !Files.exists(file) || Files.size(file) == 0;
    Files.writeString(file, (fresh ? CSV_HEADER + "\n" : "") + row + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
  }
}
