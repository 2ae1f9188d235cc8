package io.raftactors.examples.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The segment log's recovery measurement in a short run, only to prove the harness works: no timing is asserted. */
class JournalBenchmarkTest {
  @Test
  void aShortSegmentRecoveryRecoversEveryEntryWrittenAndSaysSo() throws Exception {
    for (int perWrite : new int[] {1, 7}) {
      String line = JournalBenchmark.segmentRecovery(2_000, perWrite);
      assertTrue(line.startsWith("segment log: recovery of 2000 entries (" + (2_000 + perWrite - 1) / perWrite + " records of " + perWrite),
          line);
      assertTrue(line.endsWith("(2000 entries recovered)"), line);
    }
  }
}
