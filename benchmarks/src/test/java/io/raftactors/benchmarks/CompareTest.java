package io.raftactors.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.examples.bench.BenchCharts;
import io.raftactors.examples.bench.BenchResult;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The comparison's options, and its report from the runs' CSV rows, failed runs included (no library is run here). */
class CompareTest {

  /** A CSV row as a runner writes it, with the given figures. */
  static Map<String, String> row(String library, int clients, double ops, double p50, double p99) {
    return row(library, clients, ops, p50, p99, 1.0);
  }

  /** As above, with the ratio of the measurement's second half to its first ({@code warming}). */
  static Map<String, String> row(String library, int clients, double ops, double p50, double p99, double warming) {
    String[] header = BenchResult.CSV_HEADER.split(",");
    String[] values = new String[header.length];
    Arrays.fill(values, "");
    List<String> h = Arrays.asList(header);
    values[h.indexOf("clients")] = String.valueOf(clients);
    values[h.indexOf("ops_per_s")] = String.valueOf(ops);
    values[h.indexOf("p50_ms")] = String.valueOf(p50);
    values[h.indexOf("p99_ms")] = String.valueOf(p99);
    values[h.indexOf("p999_ms")] = String.valueOf(p99 * 2);
    values[h.indexOf("errors")] = "0";
    values[h.indexOf("library")] = library;
    values[h.indexOf("floor_ms")] = "0.5";
    values[h.indexOf("floor_fdatasync_ms")] = "0.45";
    values[h.indexOf("floor_round_trip_ms")] = "0.05";
    values[h.indexOf("floor_shared_ms")] = "1.25";
    values[h.indexOf("floor_shared_fdatasync_ms")] = "1.2";
    values[h.indexOf("warming")] = String.valueOf(warming);
    if (library.equals("raft-actors")) { // it times its transport's round trip; the others leave the columns empty
      values[h.indexOf("transport_round_trip_ms")] = "0.06";
      values[h.indexOf("floor_over_transport_ms")] = "1.26";
    }
    return Compare.row(BenchResult.CSV_HEADER, String.join(",", values));
  }

  @Test
  void optionsHaveTheDefaultsOfTheIssueAndRefuseUnknownConfigurations() {
    Compare.Options o = Compare.Options.parse(new String[0]);
    assertEquals(List.of("raft-actors:segments", "jraft:sync", "ratis:sync"), o.configs().stream().map(Compare.Config::id).toList());
    assertEquals(List.of(1, 32, 256), o.clients());
    assertEquals(30, o.warmup(), "long enough for SOFAJRaft's JIT: with 10 s it was still warming up at 32 clients");
    assertEquals(List.of("-Xms2g", "-Xmx2g"), o.jvm());
    assertEquals(Path.of("benchmarks", "target", "results"), o.out());

    Compare.Options chosen = Compare.Options.parse(new String[] {"--configs", "raft-actors:leveldb jraft:nosync", "--clients", "1,32",
        "--rounds", "3"});
    assertEquals(List.of("--storage", "leveldb"), chosen.configs().get(0).args());
    assertEquals(List.of("--config", "nosync"), chosen.configs().get(1).args());
    assertEquals(List.of(1, 32), chosen.clients());
    assertEquals(3, chosen.rounds());

    assertThrows(IllegalArgumentException.class, () -> Compare.Options.parse(new String[] {"--configs", "etcd:sync"}));
    assertThrows(IllegalArgumentException.class, () -> Compare.Options.parse(new String[] {"--configs", "jraft:fast"}));
  }

  @Test
  void theTableShowsEveryRoundTheRatioToSofaJRaftAndFailedRunsWithTheirLogs() {
    Compare.Options o = Compare.Options.parse(new String[] {"--clients", "1,32", "--rounds", "2"});
    Compare.Config ra = o.configs().get(0);
    Compare.Config jraft = o.configs().get(1);
    Compare.Config ratis = o.configs().get(2);
    Path log = Path.of("runs", "ratis-sync-c32-r2", "output.log");
    List<Compare.Run> runs = List.of(
        new Compare.Run(ra, 1, 1, Path.of("a"), row("raft-actors", 1, 800, 1.0, 5), null),
        new Compare.Run(jraft, 1, 1, Path.of("b"), row("jraft", 1, 700, 1.2, 5), null),
        new Compare.Run(ratis, 1, 1, Path.of("c"), row("ratis", 1, 150, 4.5, 20), null),
        new Compare.Run(ra, 1, 32, Path.of("d"), row("raft-actors", 32, 10000, 2.5, 11), null),
        new Compare.Run(jraft, 1, 32, Path.of("e"), row("jraft", 32, 6000, 4.2, 16), null),
        new Compare.Run(ratis, 1, 32, Path.of("f"), row("ratis", 32, 1500, 15, 70), null),
        new Compare.Run(ra, 2, 1, Path.of("g"), row("raft-actors", 1, 600, 1.4, 6), null),
        new Compare.Run(jraft, 2, 1, Path.of("h"), row("jraft", 1, 700, 1.2, 5), null),
        new Compare.Run(ratis, 2, 1, Path.of("i"), row("ratis", 1, 160, 4.0, 25), null),
        new Compare.Run(ra, 2, 32, Path.of("j"), row("raft-actors", 32, 9000, 3.0, 10), null),
        new Compare.Run(jraft, 2, 32, Path.of("k"), row("jraft", 32, 6000, 4.4, 15, 1.25), null),
        new Compare.Run(ratis, 2, 32, log, null, "exit code 1"));
    String table = Compare.table(o, runs, "2026-12-05 10:00 UTC", "bash benchmarks/run.sh --clients 1,32", "2 cores");
    assertTrue(table.contains("- date: 2026-12-05 10:00 UTC"), table);
    assertTrue(table.contains("- machine: 2 cores"), table);
    assertTrue(table.contains("- command: `bash benchmarks/run.sh --clients 1,32`"), table);
    assertTrue(table.contains("| raft-actors:segments | 1 | 800 / 600 | 1.00 / 1.40 | 5.0 / 6.0 | 0.50 / 0.50 | 1.00x, 1.00x |"), table);
    assertTrue(table.contains("| raft-actors:segments | 32 | 10000 / 9000 | 2.50 / 3.00 | 11.0 / 10.0 | 0.50 / 0.50 | 1.58x, 0.64x |"), table);
    assertTrue(table.contains("| jraft:sync | 32 | 6000 / 6000* | 4.20 / 4.40 | 16.0 / 15.0 | 0.50 / 0.50 |  |"), table);
    assertTrue(table.contains("* rising during the measurement: its second half completed 10% or more operations than its first"), table);
    assertTrue(table.contains("(jraft:sync at 32 clients, round 2: 1.25x)"), table);
    assertTrue(table.contains("fdatasync 0.450 ms + loopback round trip 0.050 ms; with the three nodes' files syncing at once, as they do here,"
        + " one fdatasync takes 1.200 ms (floor 1.250 ms)"), table);
    assertTrue(table.contains("- raft-actors' nodes talk over Artery: its round trip, timed by the runs between two ActorSystems set up as"
        + " the nodes, takes 0.060 ms (median), so a synced write over it cannot take less than 1.260 ms"), table);
    List<Compare.Run> withoutRaftActors = runs.stream().filter(r -> !r.config().library().equals("raft-actors")).toList();
    assertFalse(Compare.table(o, withoutRaftActors, "2026-12-05 10:00 UTC", "c", "m").contains("over Artery"),
        "no transport line when no run timed one");
    assertTrue(table.contains("| ratis:sync | 32 | 1500 / failed | 15.00 / failed | 70.0 / failed | 0.50 / failed |  |"), table);
    assertTrue(table.contains("- ratis:sync, 32 clients, round 2: exit code 1, log " + log), table);

    List<BenchCharts.Point> points = Compare.points(runs);
    assertEquals(6, points.size(), "one point per configuration and client count");
    BenchCharts.Point ratis32 = points.stream().filter(p -> p.series().equals("ratis:sync") && p.clients() == 32).findFirst().orElseThrow();
    assertEquals(1500, ratis32.opsPerSecond(), "the round that completed");
    BenchCharts.Point ra1 = points.stream().filter(p -> p.series().equals("raft-actors:segments") && p.clients() == 1).findFirst().orElseThrow();
    assertEquals(700, ra1.opsPerSecond(), "the median of the rounds");
  }

  @Test
  void aComparisonWhoseRunsAllFailedStillReportsThem() {
    Compare.Options o = Compare.Options.parse(new String[] {"--configs", "jraft:sync", "--clients", "1", "--rounds", "1"});
    List<Compare.Run> runs = List.of(new Compare.Run(o.configs().get(0), 1, 1, Path.of("x.log"), null, "timed out after 195 s"));
    String table = Compare.table(o, runs, "d", "c", "m");
    assertTrue(table.contains("| jraft:sync | 1 | failed | failed | failed | failed |  |"), table);
    assertTrue(table.contains("timed out after 195 s, log x.log"), table);
    assertEquals(Collections.emptyList(), Compare.points(runs));
    assertEquals(0, Compare.floorMs(runs));
  }
}
