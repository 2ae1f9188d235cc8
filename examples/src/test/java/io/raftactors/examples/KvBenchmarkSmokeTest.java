package io.raftactors.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.examples.bench.KvBenchmark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The benchmark harness works end to end in a short run: a durable 3-node group on segment files,
 * its result line and CSV row with the leader's stage breakdown. No timing is asserted: figures come
 * from the full benchmark on a quiet machine (README, Benchmark).
 */
class KvBenchmarkSmokeTest {
  @TempDir Path dir;

  @Test
  void aShortRunWritesItsResultAndStageBreakdownToTheCsv() throws Exception {
    Path csv = dir.resolve("bench.csv");
    KvBenchmark.main(new String[] {"2", "--warmup", "1", "--measure", "1", "--storage", "segments", "--csv", csv.toString()});
    List<String> lines = Files.readAllLines(csv);
    assertEquals(2, lines.size(), "header and one row: " + lines);
    String[] header = lines.get(0).split(",");
    String[] row = lines.get(1).split(",");
    assertEquals(header.length, row.length);
    assertEquals("segments", row[0]);
    assertEquals("2", row[3], "clients");
    assertTrue(Double.parseDouble(row[4]) > 0, "some writes completed: " + lines.get(1));
    assertEquals("0", row[9], "no errors");
    assertTrue(Double.parseDouble(row[11]) > 0, "the leader timed its storage writes: " + lines.get(1));
  }
}
