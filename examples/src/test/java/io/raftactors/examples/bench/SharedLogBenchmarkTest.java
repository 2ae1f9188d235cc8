package io.raftactors.examples.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shared-log benchmark in a short run, only to prove the harness works: no timing is asserted. */
class SharedLogBenchmarkTest {
  @TempDir
  Path dir;

  @Test
  void aShortRunOfEachLayoutWritesSyncsAndReportsEveryFigure() throws Exception {
    for (String layout : new String[] {"shared", "separate"}) {
      SharedLogBenchmark.Result r = SharedLogBenchmark.run(dir.resolve(layout), layout, 4, 0, 1);
      String line = r.line();
      assertTrue(r.writesPerSecond() > 0 && r.syncsPerSecond() > 0, line);
      assertTrue(r.latency().getTotalCount() > 0, line);
      // Every write is synced: a sync carries at least one write (more when they share it).
      assertTrue(r.writesPerSync() >= 0.99, line);
      assertTrue(line.startsWith("layout=" + layout + " groups=4 writes/s="), line);
    }
  }
}
