package io.raftactors.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.examples.kv.KvNode;
import io.raftactors.sim.LinearizabilityChecker;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fault suite on real processes: three KV member JVMs, concurrent HTTP clients, and a seeded nemesis that kills (SIGKILL) and restarts members, freezes them (SIGSTOP,
 * SIGCONT) and combines both (see {@link FaultRun} and {@link Nemesis}). Every run must have no
 * violation: the history is linearizable, stale reads return written values, the members agree
 * on every key, and no acknowledged write is lost. Half the runs use the LevelDB journal, the other
 * half segment files ({@code raft.persistence.storage}), each storage on a cluster of its own.
 *
 * <p>Size and replay, by system property (Maven passes them through):
 * <pre>
 * -Draft.faults.runs=N      runs (default 2)
 * -Draft.faults.minutes=M   no new run after M minutes (default 0: no limit; the profile faults-long sets 60)
 * -Draft.faults.seconds=S   seconds of faults per run (default 30)
 * -Draft.faults.seed=N      seed of the first run (run i uses N+i); a random one otherwise. Printed.
 * -Draft.faults.storage=X   journal, segments, or both (default: the first half of the runs on the
 *                           journal, the rest on segments; with a time limit, half the time each)
 * -Draft.faults.dir=DIR     where member data and logs go (default: a temporary folder, kept if a test fails)
 * </pre>
 * The hour-long version is the root pom's profile faults-long. Each run prints a summary line
 * (operations by outcome, faults, violations, availability figures) and appends it to
 * {@code target/fault-suite/summary.txt} and {@code report.csv}.
 *
 * <p>The suite itself is tested: members that answer 503 (not applied) for some writes they did
 * apply must be caught.
 */
class KvFaultSuiteTest {
  /** Member logs and data; kept when a test fails, or put elsewhere with -Draft.faults.dir=DIR. */
  @TempDir(cleanup = CleanupMode.ON_SUCCESS) Path tempDir;

  private Path dir() {
    String d = System.getProperty("raft.faults.dir");
    return d == null || d.isBlank() ? tempDir : Path.of(d).toAbsolutePath();
  }

  private static long longProperty(String name, long fallback) {
    String v = System.getProperty(name);
    return v == null || v.isBlank() ? fallback : Long.parseLong(v.trim());
  }

  /** The storages the runs use: journal, segments, or both (the default). */
  private static List<String> storages() {
    String s = System.getProperty("raft.faults.storage");
    if (s == null || s.isBlank() || s.trim().equals("both")) return List.of("journal", "segments");
    if (s.trim().equals("journal") || s.trim().equals("segments")) return List.of(s.trim());
    throw new IllegalArgumentException("raft.faults.storage must be journal, segments or both, was '" + s + "'");
  }

  /**
   * Checks that the members of a cluster kept their logs where {@code storage} puts them, and
   * nothing where the other storage would: the setting reached the member JVMs.
   */
  private static void assertStoredIn(Path clusterDir, String storage) throws IOException {
    for (String id : KvProcessCluster.IDS) {
      Path node = clusterDir.resolve("data").resolve(id);
      Path segments = node.resolve("log"); // the node's segment log, its members' directories below it
      boolean hasSegments = false;
      if (Files.isDirectory(segments.resolve("kv").resolve(id))) {
        try (var files = Files.list(segments)) {
          hasSegments = files.anyMatch(p -> p.toString().endsWith(".log"));
        }
      }
      boolean hasJournal = Files.isDirectory(node.resolve("journal"));
      assertEquals(storage.equals("segments"), hasSegments, id + " segment files in " + segments);
      assertEquals(storage.equals("journal"), hasJournal, id + " LevelDB journal in " + node.resolve("journal"));
    }
  }

  private static Path reportDir() throws IOException {
    String d = System.getProperty("raft.faults.report-dir");
    Path p = Path.of(d == null || d.isBlank() ? "target/fault-suite" : d);
    Files.createDirectories(p);
    return p;
  }

  private static void writeReport(FaultRun.Report r) throws IOException {
    Path d = reportDir();
    Path csv = d.resolve("report.csv");
    if (!Files.exists(csv)) Files.writeString(csv, FaultRun.Report.CSV_HEADER + "\n", StandardCharsets.UTF_8);
    Files.writeString(csv, r.csv() + "\n", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    StringBuilder text = new StringBuilder(r.summary()).append('\n');
    for (String e : r.faultEvents) text.append("    ").append(e).append('\n');
    text.append("    answers: ").append(r.answers).append('\n');
    text.append("    leader faults -> next acknowledged write: ").append(r.failovers).append('\n');
    for (String c : r.crashes) text.append("    MEMBER EXITED ").append(c).append('\n');
    for (String v : r.violations) text.append("    VIOLATION ").append(v).append('\n');
    Files.writeString(d.resolve("summary.txt"), text, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
  }

  private static FaultRun.Report run(FaultRun.Settings s, KvProcessCluster cluster) throws Exception {
    FaultRun.Report r = new FaultRun(s, cluster, System.out).run();
    System.out.println("[faults] " + r.summary());
    System.out.println("[faults] answers: " + r.answers);
    System.out.println("[faults] leader faults -> next acknowledged write: " + r.failovers);
    for (String v : r.violations) System.out.println("[faults] VIOLATION " + v);
    writeReport(r);
    return r;
  }

  @Test
  void seededFaultRunsOnRealProcessesAreLinearizableAndLoseNoAcknowledgedWrite() throws Exception {
    int runs = (int) longProperty("raft.faults.runs", 2);
    long minutes = longProperty("raft.faults.minutes", 0);
    long started = System.nanoTime();
    int seconds = (int) longProperty("raft.faults.seconds", 30);
    long seed = longProperty("raft.faults.seed", ThreadLocalRandom.current().nextLong(1, 1L << 40));
    List<String> kinds = storages();
    List<FaultRun.Report> reports = new ArrayList<>();
    List<String> failures = new ArrayList<>();
    int done = 0;
    for (int k = 0; k < kinds.size(); k++) {
      String storage = kinds.get(k);
      // This storage's share of the runs, and of the time when there is a limit.
      int share = runs / kinds.size() + (k < runs % kinds.size() ? 1 : 0);
      long until = minutes > 0 ? started + TimeUnit.MINUTES.toNanos(minutes) * (k + 1) / kinds.size() : Long.MAX_VALUE;
      if (share == 0) continue;
      // One cluster per storage for its runs (starting three JVMs is the slow part); each run has keys of its own.
      Path d = Files.createDirectories(dir().resolve("cluster-" + storage));
      try (KvProcessCluster cluster = new KvProcessCluster(d, KvNode.class, "raft.persistence.storage = " + storage)) {
        FaultRun.start(cluster);
        for (int j = 0; j < share && System.nanoTime() < until; j++) {
          int i = done++;
          FaultRun.Settings s = new FaultRun.Settings();
          s.seed = seed + i;
          s.seconds = seconds;
          s.label = "run " + (i + 1) + "/" + runs + " on " + storage;
          s.keyPrefix = "r" + (i + 1) + "-";
          FaultRun.Report r = run(s, cluster);
          reports.add(r);
          for (String c : r.crashes) failures.add(s.label + " (seed " + s.seed + "): member " + c);
          if (!r.violations.isEmpty()) {
            failures.add(s.label + " (seed " + s.seed + ", replay with -Draft.faults.seed=" + s.seed
                + " -Draft.faults.runs=1 -Draft.faults.storage=" + storage + "): " + r.violations.size()
                + " violation(s), first: " + r.violations.get(0));
          }
        }
      }
      assertStoredIn(d, storage);
    }
    System.out.println("[faults] " + totals(reports));
    assertTrue(failures.isEmpty(), () -> String.join("\n", failures));
    for (FaultRun.Report r : reports) {
      assertTrue(r.faults() > 0, "the nemesis did nothing in " + r.label);
      assertTrue(r.total(0) > 0, "nothing succeeded in " + r.label);
    }
  }

  /**
   * The suite's own test: every member hides some applied writes behind 503 "not applied". The
   * clients read back few keys with unique values, so reads see values of writes recorded as
   * failed, and the checker must call the history not linearizable.
   */
  @Test
  void membersThatAnswer503ForAppliedWritesAreCaught() throws Exception {
    FaultRun.Settings s = new FaultRun.Settings();
    s.seed = longProperty("raft.faults.seed", ThreadLocalRandom.current().nextLong(1, 1L << 40));
    s.seconds = 10;
    s.label = "broken members";
    FaultRun.Report r;
    Path d = Files.createDirectories(dir().resolve("broken"));
    try (KvProcessCluster cluster = new KvProcessCluster(d, BrokenKvNode.class, "")) {
      FaultRun.start(cluster);
      r = run(s, cluster);
    }
    assertFalse(r.violations.isEmpty(), "the suite did not catch members that hide applied writes: " + r.summary());
    assertEquals(LinearizabilityChecker.Verdict.NOT_LINEARIZABLE, r.verdict, r::summary);
  }

  private static String totals(List<FaultRun.Report> reports) {
    int ops = 0;
    int ok = 0;
    int fail = 0;
    int unknown = 0;
    int faults = 0;
    int violations = 0;
    int[] survivors = new int[3];
    List<Long> failover = new ArrayList<>();
    List<Long> http = new ArrayList<>();
    List<Long> caughtUp = new ArrayList<>();
    for (FaultRun.Report r : reports) {
      ops += r.operations();
      ok += r.total(0);
      fail += r.total(1);
      unknown += r.total(2);
      faults += r.faults();
      violations += r.violations.size();
      for (int i = 0; i < 3; i++) survivors[i] += r.survivorWrites[i];
      failover.addAll(r.failoverMillis);
      http.addAll(r.restartHttpMillis);
      caughtUp.addAll(r.caughtUpMillis);
    }
    return String.format("all %d runs: operations %d (ok %d, fail %d, unknown %d) faults %d violations %d"
            + " | writes to others while a follower was down: ok %d fail %d unknown %d"
            + " | leader killed/frozen -> next acknowledged write: %s (targets p50 <= 800ms, max <= 1500ms)"
            + " | restart -> HTTP: %s, caught up: %s",
        reports.size(), ops, ok, fail, unknown, faults, violations, survivors[0], survivors[1], survivors[2],
        FaultRun.Report.stats(failover), FaultRun.Report.stats(http), FaultRun.Report.stats(caughtUp));
  }
}
