package io.raftactors.examples.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The multi-group benchmark in a short run of two groups, only to prove the harness works: no timing is asserted. */
class MultiGroupBenchmarkTest {
  @TempDir
  Path dir;

  @Test
  void twoGroupsOnSharedLogsAnswerEveryPut_andTheLineReportsSyncs() throws Exception {
    MultiGroupBenchmark.Result r = MultiGroupBenchmark.run(dir, "shared", 2, new LoadDriver.Load(4, 0, 1, 100, 0));
    String line = r.line();
    assertTrue(r.load().operations() > 0, line);
    assertEquals(0, r.load().errors(), line);
    assertTrue(r.syncsPerSecond() > 0 && r.writesPerSync() >= 0.99, line); // a sync carries at least one write
    assertTrue(line.startsWith("layout=shared groups=2 clients=4 ops/s="), line);
  }
}
