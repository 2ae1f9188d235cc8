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

  @Test
  void artery_sRoundTripIsTimedBetweenTwoSystemsSetUpAsTheNodes_andGoesWithTheFloor() throws Exception {
    double[] times = ArteryRoundTrip.measure(KvBenchmark.akkaConfig("binary"), 10, 50, TimeUnit.SECONDS.toNanos(30));
    assertEquals(50, times.length, "max round trips, the budget being long");
    for (double t : times) assertTrue(t > 0, "a round trip takes time: " + t);

    Floor plain = new Floor(150, 30, 20, 500, 400);
    assertTrue(Double.isNaN(plain.overTransportMs(true)), "no transport timed");
    assertTrue(!plain.describe(true, Path.of("d")).contains("over "), plain.describe(true, Path.of("d")));
    Floor f = plain.withTransport("Artery", new double[] {90, 70, 80});
    assertEquals(80, f.transportRoundTripMicros(), 1e-9, "the median");
    assertEquals(0.48, f.overTransportMs(true), 1e-9, "the sync of three files at once plus the transport's round trip");
    assertEquals(0.08, f.overTransportMs(false), 1e-9, "nothing synced: the round trip alone");
    assertEquals(plain.sharedMs(true), f.sharedMs(true), 1e-9, "the floor itself is unchanged");
    assertTrue(f.describe(true, Path.of("d")).endsWith("; over Artery: round-trip=0.080ms floor=0.480ms (median of 3 round trips of"
        + " 128-byte messages between two ActorSystems set up as the nodes, plus the sync of 3 files at once)"), f.describe(true, Path.of("d")));

    String header = BenchResult.CSV_HEADER;
    assertTrue(header.endsWith(",warming,transport_round_trip_ms,floor_over_transport_ms"), "columns only ever added at the end");
    LoadDriver.Measurement m = perSecond(100, 100);
    BenchResult.Setup setup = new BenchResult.Setup("raft-actors", "raft-actors/segments-fsync/propose", "segments", "propose", "binary",
        true, 100, 0);
    assertTrue(new BenchResult(setup, m, f, List.of(), "").csv().endsWith(",0.080,0.480"));
    assertTrue(new BenchResult(setup, m, plain, List.of(), "").csv().endsWith(",,"), "empty when no transport was timed");
    assertEquals(header.split(",").length, new BenchResult(setup, m, plain, List.of(), "").csv().split(",", -1).length);
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
