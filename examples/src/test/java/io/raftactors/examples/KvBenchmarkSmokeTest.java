package io.raftactors.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.examples.bench.KvBenchmark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

/**
 * The benchmark harness works end to end in a short run: a durable 3-node group on segment files,
 * two client counts with some reads and a smaller value, their CSV rows with the leader's stage
 * breakdown and the measured floor, and the charts. No timing is asserted: figures come from the full benchmark on
 * a quiet machine (README, Benchmark).
 */
class KvBenchmarkSmokeTest {
  @TempDir Path dir;

  @Test
  void aShortRunWritesItsResultAndStageBreakdownToTheCsv() throws Exception {
    Path csv = dir.resolve("bench.csv");
    KvBenchmark.main(new String[] {"2", "--clients", "8", "--warmup", "1", "--measure", "1", "--storage", "segments", "--value-bytes",
        "64", "--read-ratio", "0.25", "--csv", csv.toString(), "--chart", dir.resolve("charts").toString()});
    List<String> lines = Files.readAllLines(csv);
    assertEquals(3, lines.size(), "header and one row per client count: " + lines);
    List<String> header = Arrays.asList(lines.get(0).split(","));
    for (int i = 1; i <= 2; i++) {
      String[] row = lines.get(i).split(",", -1);
      assertEquals(header.size(), row.length, lines.get(i));
      assertEquals("segments", row[0]);
      assertEquals(i == 1 ? "2" : "8", row[3], "clients");
      assertTrue(Double.parseDouble(row[4]) > 0, "some operations completed: " + lines.get(i));
      assertEquals("0", row[9], "no errors");
      assertTrue(Double.parseDouble(row[11]) > 0, "the leader timed its storage writes: " + lines.get(i));
      assertEquals("raft-actors", row[header.indexOf("library")]);
      assertEquals("64", row[header.indexOf("value_bytes")]);
      assertEquals("0.25", row[header.indexOf("read_ratio")]);
      assertTrue(Double.parseDouble(row[header.indexOf("floor_fdatasync_ms")]) > 0, "the floor was measured: " + lines.get(i));
      assertTrue(Double.parseDouble(row[header.indexOf("floor_round_trip_ms")]) > 0, "the floor was measured: " + lines.get(i));
    }
    for (String chart : List.of("throughput-vs-clients.svg", "latency-vs-clients.svg", "latency-over-time.svg")) {
      Document svg = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(dir.resolve("charts").resolve(chart).toFile());
      assertEquals("svg", svg.getDocumentElement().getTagName(), chart);
      assertTrue(svg.getElementsByTagName("polyline").getLength() > 0, chart + " draws its series");
    }
  }
}
