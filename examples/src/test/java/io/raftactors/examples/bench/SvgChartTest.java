package io.raftactors.examples.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import javax.xml.parsers.DocumentBuilderFactory;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/** The charts are well-formed SVG with their title, axes, ticks, legend and one line per series. */
class SvgChartTest {
  @TempDir Path dir;

  static Document parse(String svg) throws Exception {
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setNamespaceAware(true);
    return f.newDocumentBuilder().parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
  }

  /** The text of the {@code text} elements under elements of class {@code cls}. */
  static List<String> texts(Document d, String cls) {
    List<String> out = new ArrayList<>();
    NodeList groups = d.getElementsByTagNameNS("*", "*");
    for (int i = 0; i < groups.getLength(); i++) {
      Element e = (Element) groups.item(i);
      if (!cls.equals(e.getAttribute("class"))) continue;
      if (e.getLocalName().equals("text")) out.add(e.getTextContent());
      NodeList ts = e.getElementsByTagNameNS("*", "text");
      for (int j = 0; j < ts.getLength(); j++) out.add(ts.item(j).getTextContent());
    }
    return out;
  }

  static List<Element> elements(Document d, String name) {
    List<Element> out = new ArrayList<>();
    NodeList l = d.getElementsByTagNameNS("http://www.w3.org/2000/svg", name);
    for (int i = 0; i < l.getLength(); i++) out.add((Element) l.item(i));
    return out;
  }

  @Test
  void aLineChartHasItsTitleAxesLegendAndSeries() throws Exception {
    String svg = new SvgChart("Throughput vs clients", List.of("raft-actors <segments> & co", "2 cores"))
        .xAxis("clients", SvgChart.Scale.LOG, true).yAxis("operations per second", SvgChart.Scale.LINEAR)
        .series("raft-actors:segments", new double[] {1, 32, 256}, new double[] {700, 9000, 15000})
        .series("jraft:sync", new double[] {1, 32, 256}, new double[] {750, 6500, 8000}, 1, true)
        .reference("floor", 1000)
        .render();
    Document d = parse(svg);
    Element root = d.getDocumentElement();
    assertEquals("svg", root.getLocalName());
    assertEquals("http://www.w3.org/2000/svg", root.getNamespaceURI());
    assertEquals(List.of("Throughput vs clients"), texts(d, "title"));
    assertEquals(List.of("raft-actors <segments> & co", "2 cores"), texts(d, "subtitle"), "escaped and read back");
    List<String> legend = texts(d, "legend");
    assertEquals(List.of("raft-actors:segments", "jraft:sync", "floor"), legend);

    List<String> xTicks = texts(d, "x-axis");
    assertTrue(xTicks.containsAll(List.of("1", "32", "256", "clients (log scale)")), "ticks at the client counts: " + xTicks);
    List<String> yTicks = texts(d, "y-axis");
    assertTrue(yTicks.contains("0") && yTicks.contains("operations per second"), yTicks.toString());
    assertTrue(yTicks.stream().anyMatch(t -> t.endsWith("k")), "thousands as k: " + yTicks);

    List<Element> lines = elements(d, "polyline");
    assertEquals(2, lines.size());
    for (Element l : lines) assertEquals(3, l.getAttribute("points").trim().split(" ").length);
    assertEquals("7 4", lines.get(1).getAttribute("stroke-dasharray"), "the dashed series");
    assertEquals(1, elements(d, "line").stream().filter(e -> "reference".equals(e.getAttribute("class"))).count());
    // The higher value is drawn higher (a smaller y).
    String[] first = lines.get(0).getAttribute("points").split(" ");
    assertTrue(Double.parseDouble(first[2].split(",")[1]) < Double.parseDouble(first[0].split(",")[1]));
    Map<String, Long> markers = elements(d, "circle").stream().filter(c -> c.getParentNode() instanceof Element p
            && "series".equals(p.getAttribute("class")))
        .collect(Collectors.groupingBy(c -> ((Element) c.getParentNode()).getElementsByTagNameNS("*", "title").item(0).getTextContent(),
            Collectors.counting()));
    assertEquals(Map.of("raft-actors:segments", 3L, "jraft:sync", 3L), markers);
  }

  @Test
  void aLogAxisLeavesOutValuesItCannotShowAndAnEmptyChartSaysSo() throws Exception {
    Document d = parse(new SvgChart("Latency", List.of()).yAxis("ms", SvgChart.Scale.LOG)
        .series("p50", new double[] {1, 2, 3}, new double[] {0.5, 0, Double.NaN}).render());
    assertEquals(1, elements(d, "polyline").get(0).getAttribute("points").trim().split(" ").length);
    assertTrue(texts(d, "y-axis").containsAll(List.of("0.5", "1", "ms (log scale)")), texts(d, "y-axis").toString());

    Document empty = parse(new SvgChart("Nothing ran", List.of()).render());
    assertEquals(1, elements(empty, "text").stream().filter(e -> "no-data".equals(e.getAttribute("class"))).count());
  }

  @Test
  void aRunsChartsAreWrittenWithEverySeries() throws Exception {
    BenchResult.Setup setup = new BenchResult.Setup("raft-actors", "raft-actors/segments-fsync/propose", "segments", "propose", "binary",
        true, 100, 0);
    Floor floor = new Floor(1000, 50, 10, 10, 2000);
    List<BenchResult> results = new ArrayList<>();
    for (int clients : new int[] {1, 32}) {
      List<Histogram> seconds = new ArrayList<>();
      Histogram total = new Histogram(3);
      for (int s = 0; s < 3; s++) {
        Histogram h = new Histogram(3);
        for (int v = 1; v <= 100; v++) h.recordValue(v * 20L * clients);
        seconds.add(h);
        total.add(h);
      }
      results.add(new BenchResult(setup, new LoadDriver.Measurement(clients, total.getTotalCount(), 0, 3, total, seconds, 0, 10), floor,
          List.of(), ""));
    }
    List<Path> files = BenchCharts.write(dir, results, List.of("test"));
    assertEquals(List.of("throughput-vs-clients.svg", "latency-vs-clients.svg", "latency-over-time.svg", "timeline.csv"),
        files.stream().map(f -> f.getFileName().toString()).toList());
    assertEquals(List.of("raft-actors/segments-fsync/propose"), texts(parse(Files.readString(files.get(0))), "legend"));
    assertEquals(List.of("p50", "p99", "p99.9", "floor 1.05 ms"), texts(parse(Files.readString(files.get(1))), "legend"));
    Document overTime = parse(Files.readString(files.get(2)));
    assertEquals(List.of("1 client p50", "1 client p99", "32 clients p50", "32 clients p99"), texts(overTime, "legend"));
    for (Element l : elements(overTime, "polyline")) assertEquals(3, l.getAttribute("points").trim().split(" ").length);
    assertEquals(1 + 2 * 3, Files.readAllLines(files.get(3)).size(), "a header and a row per client count and second");
  }
}
