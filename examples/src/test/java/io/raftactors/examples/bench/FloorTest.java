package io.raftactors.examples.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The floor's syncs at once, and the mark of a run that was still warming up (no timing is asserted). */
class FloorTest {

  @Test
  void threeFilesSyncingAtOnceAreEachTimedAndTheirFilesRemoved(@TempDir Path dir) throws Exception {
    double[] times = Floor.sharedFdatasyncs(dir, 3, 5, 5, TimeUnit.MILLISECONDS.toNanos(1));
    assertEquals(15, times.length, "every thread's syncs, min = max = 5 each");
    for (double t : times) assertTrue(t > 0, "a sync takes time: " + t);
    try (Stream<Path> left = Files.list(dir)) {
      assertEquals(List.of(), left.toList(), "the temporary files are deleted");
    }
    Floor f = new Floor(150, 30, 20, 500, 400);
    assertEquals(0.18, f.ms(true), 1e-9);
    assertEquals(0.43, f.sharedMs(true), 1e-9);
    assertEquals(0.03, f.sharedMs(false), 1e-9, "nothing synced: the round trip alone");
    assertTrue(f.describe(true, dir).endsWith("3 files syncing at once, as the nodes here do: fdatasync=0.400ms floor=0.430ms"),
        f.describe(true, dir));
  }

  private static LoadDriver.Measurement perSecond(long... counts) {
    List<Histogram> seconds = new ArrayList<>();
    Histogram total = new Histogram(3);
    for (long c : counts) {
      Histogram h = new Histogram(3);
      if (c > 0) h.recordValueWithCount(1000, c);
      total.add(h);
      seconds.add(h);
    }
    return new LoadDriver.Measurement(32, total.getTotalCount(), 0, counts.length, total, seconds, 0, 10);
  }

  @Test
  void warmingIsTheSecondHalfOfTheMeasurementOverItsFirst() {
    assertEquals(1.5, BenchResult.warming(perSecond(100, 100, 150, 150)), 1e-9);
    assertEquals(1.5, BenchResult.warming(perSecond(100, 100, 7, 150, 150)), 1e-9, "an odd middle second counts in neither half");
    assertEquals(0.5, BenchResult.warming(perSecond(200, 100)), 1e-9, "slowing down");
    assertEquals(1.0, BenchResult.warming(perSecond(100)), 1e-9, "one second has no halves");
    assertEquals(1.0, BenchResult.warming(perSecond(0, 100)), 1e-9, "nothing in the first half");
  }
}
