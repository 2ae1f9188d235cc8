package io.raftactors.examples.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.HdrHistogram.Histogram;

/**
 * The benchmarks' charts: throughput against client count, latency percentiles against client count
 * (with the measured floor as a reference line) and, for one run, latency over time (p50 and p99 of
 * each second of the measurement).
 */
public final class BenchCharts {
  private BenchCharts() {}

  /** One series' figures at one client count (latencies in ms). */
  public record Point(String series, int clients, double opsPerSecond, double p50, double p99, double p999) {}

  /** Throughput against client count, one line per series. */
  public static SvgChart throughput(List<String> subtitle, List<Point> points) {
    SvgChart chart = new SvgChart("Throughput vs clients", subtitle).xAxis("clients (outstanding requests)", SvgChart.Scale.LOG, true)
        .yAxis("operations per second", SvgChart.Scale.LINEAR);
    int color = 0;
    for (Map.Entry<String, List<Point>> e : bySeries(points).entrySet()) {
      List<Point> ps = e.getValue();
      chart.series(e.getKey(), ps.stream().mapToDouble(Point::clients).toArray(), ps.stream().mapToDouble(Point::opsPerSecond).toArray(),
          color++, false);
    }
    return chart;
  }

  /**
   * Latency percentiles against client count: p50, p99 and p99.9 for a single series; p50 (solid)
   * and p99 (dashed, same color) per series for several. {@code floorMs} (if positive) is drawn as a
   * reference line.
   */
  public static SvgChart latency(List<String> subtitle, List<Point> points, double floorMs) {
    SvgChart chart = new SvgChart("Latency percentiles vs clients", subtitle)
        .xAxis("clients (outstanding requests)", SvgChart.Scale.LOG, true).yAxis("latency, ms", SvgChart.Scale.LOG);
    Map<String, List<Point>> series = bySeries(points);
    int color = 0;
    for (Map.Entry<String, List<Point>> e : series.entrySet()) {
      List<Point> ps = e.getValue();
      double[] x = ps.stream().mapToDouble(Point::clients).toArray();
      String prefix = series.size() == 1 ? "" : e.getKey() + " ";
      if (series.size() == 1) {
        chart.series("p50", x, ps.stream().mapToDouble(Point::p50).toArray(), 0, false);
        chart.series("p99", x, ps.stream().mapToDouble(Point::p99).toArray(), 1, false);
        chart.series("p99.9", x, ps.stream().mapToDouble(Point::p999).toArray(), 2, false);
      } else {
        chart.series(prefix + "p50", x, ps.stream().mapToDouble(Point::p50).toArray(), color, false);
        chart.series(prefix + "p99", x, ps.stream().mapToDouble(Point::p99).toArray(), color, true);
        color++;
      }
    }
    if (floorMs > 0) chart.reference(String.format(Locale.ROOT, "floor %.2f ms", floorMs), floorMs);
    return chart;
  }

  /** p50 (solid) and p99 (dashed) of each second of the measurement, one color per client count. */
  public static SvgChart latencyOverTime(List<String> subtitle, List<BenchResult> results) {
    SvgChart chart = new SvgChart("Latency over time", subtitle).xAxis("second of the measurement", SvgChart.Scale.LINEAR, false)
        .yAxis("latency, ms", SvgChart.Scale.LOG);
    int color = 0;
    for (BenchResult r : results) {
      List<Histogram> seconds = r.measurement().perSecond();
      double[] x = new double[seconds.size()];
      double[] p50 = new double[seconds.size()];
      double[] p99 = new double[seconds.size()];
      for (int i = 0; i < seconds.size(); i++) {
        Histogram h = seconds.get(i);
        x[i] = i + 1;
        p50[i] = h.getTotalCount() == 0 ? Double.NaN : h.getValueAtPercentile(50) / 1000.0;
        p99[i] = h.getTotalCount() == 0 ? Double.NaN : h.getValueAtPercentile(99) / 1000.0;
      }
      int c = r.measurement().clients();
      chart.series(c + (c == 1 ? " client" : " clients") + " p50", x, p50, color, false);
      chart.series(c + (c == 1 ? " client" : " clients") + " p99", x, p99, color, true);
      color++;
    }
    return chart;
  }

  /** The points of {@code results}, under {@code series}. */
  public static List<Point> points(String series, List<BenchResult> results) {
    List<Point> points = new ArrayList<>();
    for (BenchResult r : results) {
      LoadDriver.Measurement m = r.measurement();
      points.add(new Point(series, m.clients(), m.opsPerSecond(), m.ms(50), m.ms(99), m.ms(99.9)));
    }
    return points;
  }

  /**
   * Writes the charts of one setup's results into {@code dir}: {@code throughput-vs-clients.svg},
   * {@code latency-vs-clients.svg}, {@code latency-over-time.svg}, and the figures per second in
   * {@code timeline.csv}. Returns the files written.
   */
  public static List<Path> write(Path dir, List<BenchResult> results, List<String> subtitle) throws IOException {
    Files.createDirectories(dir);
    List<Path> files = new ArrayList<>();
    if (results.isEmpty()) return files;
    BenchResult first = results.get(0);
    List<Point> points = points(first.setup().label(), results);
    files.add(write(throughput(subtitle, points), dir.resolve("throughput-vs-clients.svg")));
    files.add(write(latency(subtitle, points, first.floor().ms(first.setup().durable())), dir.resolve("latency-vs-clients.svg")));
    files.add(write(latencyOverTime(subtitle, results), dir.resolve("latency-over-time.svg")));
    StringBuilder csv = new StringBuilder("clients,second,ops,p50_ms,p99_ms\n");
    for (BenchResult r : results) {
      List<Histogram> seconds = r.measurement().perSecond();
      for (int i = 0; i < seconds.size(); i++) {
        Histogram h = seconds.get(i);
        boolean none = h.getTotalCount() == 0;
        csv.append(String.format(Locale.ROOT, "%d,%d,%d,%.3f,%.3f%n", r.measurement().clients(), i + 1, h.getTotalCount(),
            none ? 0 : h.getValueAtPercentile(50) / 1000.0, none ? 0 : h.getValueAtPercentile(99) / 1000.0));
      }
    }
    Path timeline = dir.resolve("timeline.csv");
    Files.writeString(timeline, csv, StandardCharsets.UTF_8);
    files.add(timeline);
    return files;
  }

  private static Path write(SvgChart chart, Path file) throws IOException {
    chart.write(file);
    return file;
  }

  private static Map<String, List<Point>> bySeries(List<Point> points) {
    Map<String, List<Point>> bySeries = new LinkedHashMap<>();
    for (Point p : points) bySeries.computeIfAbsent(p.series(), k -> new ArrayList<>()).add(p);
    for (List<Point> ps : bySeries.values()) ps.sort(java.util.Comparator.comparingInt(Point::clients));
    return bySeries;
  }
}
