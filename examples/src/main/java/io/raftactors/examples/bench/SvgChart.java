package io.raftactors.examples.bench;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;

/**
 * A line chart as a standalone SVG document: a title and subtitle lines, both axes with ticks,
 * tick labels, grid lines and a label, a legend, one polyline with point markers per series, and
 * dashed horizontal reference lines. Either axis may be logarithmic; on a logarithmic axis points
 * that are not positive are left out. Plain Java, for the benchmarks' charts.
 */
public final class SvgChart {
  /** How an axis maps values. */
  public enum Scale { LINEAR, LOG }

  private static final String[] COLORS = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
  private static final int WIDTH = 960;
  private static final int HEIGHT = 560;
  private static final int LEGEND_WIDTH = 250;

  private record Series(String name, double[] x, double[] y, int color, boolean dashed) {}

  private record Reference(String name, double y) {}

  private record Axis(double lo, double hi, Scale scale, List<Double> ticks) {
    double t(double v) {
      return scale == Scale.LOG ? Math.log10(v) : v;
    }

    /** Position of {@code v} between {@code from} (at lo) and {@code to} (at hi). */
    double map(double v, double from, double to) {
      return from + (t(v) - t(lo)) / (t(hi) - t(lo)) * (to - from);
    }
  }

  private final String title;
  private final List<String> subtitle;
  private final List<Series> series = new ArrayList<>();
  private final List<Reference> references = new ArrayList<>();
  private String xLabel = "";
  private String yLabel = "";
  private Scale xScale = Scale.LINEAR;
  private Scale yScale = Scale.LINEAR;
  private boolean xTicksAtData;

  /** A chart titled {@code title}, with {@code subtitle} lines under the title (the configuration, the machine...). */
  public SvgChart(String title, List<String> subtitle) {
    this.title = title;
    this.subtitle = List.copyOf(subtitle);
  }

  /** The x axis: its label, its scale, and whether its ticks are at the x values of the points (e.g. client counts). */
  public SvgChart xAxis(String label, Scale scale, boolean ticksAtData) {
    this.xLabel = label;
    this.xScale = scale;
    this.xTicksAtData = ticksAtData;
    return this;
  }

  /** The y axis: its label and its scale. */
  public SvgChart yAxis(String label, Scale scale) {
    this.yLabel = label;
    this.yScale = scale;
    return this;
  }

  /** Adds a solid series in the next color. */
  public SvgChart series(String name, double[] x, double[] y) {
    return series(name, x, y, series.size(), false);
  }

  /** Adds a series in color {@code color} (an index into the palette), dashed or not. */
  public SvgChart series(String name, double[] x, double[] y, int color, boolean dashed) {
    if (x.length != y.length) throw new IllegalArgumentException(name + ": " + x.length + " x values, " + y.length + " y values");
    series.add(new Series(name, x.clone(), y.clone(), Math.floorMod(color, COLORS.length), dashed));
    return this;
  }

  /** Adds a dashed grey horizontal line at {@code y}, named in the legend. */
  public SvgChart reference(String name, double y) {
    references.add(new Reference(name, y));
    return this;
  }

  /** Writes the chart to {@code file}. */
  public void write(Path file) throws IOException {
    Files.writeString(file, render(), StandardCharsets.UTF_8);
  }

  private boolean plotted(double v, Scale scale) {
    return Double.isFinite(v) && (scale == Scale.LINEAR || v > 0);
  }

  /** The SVG document. */
  public String render() {
    List<Double> xs = new ArrayList<>();
    List<Double> ys = new ArrayList<>();
    for (Series s : series) {
      for (int i = 0; i < s.x.length; i++) {
        if (plotted(s.x[i], xScale) && plotted(s.y[i], yScale)) {
          xs.add(s.x[i]);
          ys.add(s.y[i]);
        }
      }
    }
    for (Reference r : references) if (plotted(r.y, yScale)) ys.add(r.y);
    boolean empty = xs.isEmpty();
    Axis xAxis = xTicksAtData && !empty ? dataAxis(xs, xScale) : niceAxis(xs, xScale);
    Axis yAxis = niceAxis(ys, yScale);

    int top = 48 + 18 * subtitle.size() + 12;
    int left = 90;
    int right = WIDTH - LEGEND_WIDTH - 20;
    int bottom = HEIGHT - 70;
    StringBuilder b = new StringBuilder();
    b.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    b.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(WIDTH).append("\" height=\"").append(HEIGHT)
        .append("\" viewBox=\"0 0 ").append(WIDTH).append(' ').append(HEIGHT).append("\" font-family=\"Helvetica, Arial, sans-serif\">\n");
    b.append("<title>").append(esc(title)).append("</title>\n");
    b.append("<rect x=\"0\" y=\"0\" width=\"").append(WIDTH).append("\" height=\"").append(HEIGHT).append("\" fill=\"white\"/>\n");
    b.append("<defs><clipPath id=\"plot\"><rect x=\"").append(left - 6).append("\" y=\"").append(top - 6).append("\" width=\"")
        .append(right - left + 12).append("\" height=\"").append(bottom - top + 12).append("\"/></clipPath></defs>\n");
    b.append("<text class=\"title\" x=\"").append(left).append("\" y=\"30\" font-size=\"18\" font-weight=\"bold\">").append(esc(title))
        .append("</text>\n");
    for (int i = 0; i < subtitle.size(); i++) {
      b.append("<text class=\"subtitle\" x=\"").append(left).append("\" y=\"").append(52 + 18 * i)
          .append("\" font-size=\"12\" fill=\"#555\">").append(esc(subtitle.get(i))).append("</text>\n");
    }

    // Grid, ticks and tick labels.
    b.append("<g class=\"x-axis\" font-size=\"12\" text-anchor=\"middle\">\n");
    for (double t : xAxis.ticks()) {
      String x = num(xAxis.map(t, left, right));
      b.append("<line x1=\"").append(x).append("\" y1=\"").append(top).append("\" x2=\"").append(x).append("\" y2=\"").append(bottom)
          .append("\" stroke=\"#e5e5e5\"/>");
      b.append("<line x1=\"").append(x).append("\" y1=\"").append(bottom).append("\" x2=\"").append(x).append("\" y2=\"")
          .append(bottom + 5).append("\" stroke=\"#333\"/>");
      b.append("<text class=\"tick\" x=\"").append(x).append("\" y=\"").append(bottom + 20).append("\">")
          .append(esc(label(t, thousands(xAxis)))).append("</text>\n");
    }
    b.append("<text class=\"axis-label\" x=\"").append((left + right) / 2).append("\" y=\"").append(bottom + 48)
        .append("\" font-size=\"14\">").append(esc(xLabel + (xScale == Scale.LOG ? " (log scale)" : ""))).append("</text>\n");
    b.append("</g>\n");
    b.append("<g class=\"y-axis\" font-size=\"12\" text-anchor=\"end\">\n");
    for (double t : yAxis.ticks()) {
      String y = num(yAxis.map(t, bottom, top));
      b.append("<line x1=\"").append(left).append("\" y1=\"").append(y).append("\" x2=\"").append(right).append("\" y2=\"").append(y)
          .append("\" stroke=\"#e5e5e5\"/>");
      b.append("<line x1=\"").append(left - 5).append("\" y1=\"").append(y).append("\" x2=\"").append(left).append("\" y2=\"").append(y)
          .append("\" stroke=\"#333\"/>");
      b.append("<text class=\"tick\" x=\"").append(left - 8).append("\" y=\"").append(y).append("\" dy=\"4\">")
          .append(esc(label(t, thousands(yAxis)))).append("</text>\n");
    }
    int midY = (top + bottom) / 2;
    b.append("<text class=\"axis-label\" x=\"24\" y=\"").append(midY)
        .append("\" font-size=\"14\" text-anchor=\"middle\" transform=\"rotate(-90 24 ")
        .append(midY).append(")\">").append(esc(yLabel + (yScale == Scale.LOG ? " (log scale)" : ""))).append("</text>\n");
    b.append("</g>\n");
    b.append("<rect x=\"").append(left).append("\" y=\"").append(top).append("\" width=\"").append(right - left).append("\" height=\"")
        .append(bottom - top).append("\" fill=\"none\" stroke=\"#333\"/>\n");
    if (empty) {
      b.append("<text class=\"no-data\" x=\"").append((left + right) / 2).append("\" y=\"").append(midY)
          .append("\" font-size=\"16\" text-anchor=\"middle\" fill=\"#999\">no data</text>\n");
    }

    // Reference lines, then the series, clipped to the plot.
    b.append("<g clip-path=\"url(#plot)\">\n");
    for (Reference r : references) {
      if (!plotted(r.y, yScale)) continue;
      String y = num(yAxis.map(r.y, bottom, top));
      b.append("<line class=\"reference\" x1=\"").append(left).append("\" y1=\"").append(y).append("\" x2=\"").append(right)
          .append("\" y2=\"").append(y).append("\" stroke=\"#888\" stroke-width=\"1.5\" stroke-dasharray=\"2 4\"><title>")
          .append(esc(r.name + ": " + label(r.y))).append("</title></line>\n");
    }
    for (Series s : series) {
      String color = COLORS[s.color];
      b.append("<g class=\"series\" stroke=\"").append(color).append("\" fill=\"").append(color).append("\">\n<title>")
          .append(esc(s.name)).append("</title>\n");
      StringBuilder points = new StringBuilder();
      StringBuilder markers = new StringBuilder();
      for (int i = 0; i < s.x.length; i++) {
        if (!plotted(s.x[i], xScale) || !plotted(s.y[i], yScale)) continue;
        String px = num(xAxis.map(s.x[i], left, right));
        String py = num(yAxis.map(s.y[i], bottom, top));
        if (points.length() > 0) points.append(' ');
        points.append(px).append(',').append(py);
        markers.append("<circle cx=\"").append(px).append("\" cy=\"").append(py).append("\" r=\"3.5\" stroke=\"none\"><title>")
            .append(esc(s.name + ": " + label(s.x[i]) + ", " + label(s.y[i]))).append("</title></circle>\n");
      }
      b.append("<polyline points=\"").append(points).append("\" fill=\"none\" stroke-width=\"2\"")
          .append(s.dashed ? " stroke-dasharray=\"7 4\"" : "").append("/>\n").append(markers).append("</g>\n");
    }
    b.append("</g>\n");

    // Legend, right of the plot.
    b.append("<g class=\"legend\" font-size=\"12\">\n");
    int ly = top + 8;
    int lx = right + 20;
    for (Series s : series) {
      String color = COLORS[s.color];
      b.append("<line x1=\"").append(lx).append("\" y1=\"").append(ly).append("\" x2=\"").append(lx + 28).append("\" y2=\"").append(ly)
          .append("\" stroke=\"").append(color).append("\" stroke-width=\"2\"").append(s.dashed ? " stroke-dasharray=\"7 4\"" : "")
          .append("/><circle cx=\"").append(lx + 14).append("\" cy=\"").append(ly).append("\" r=\"3.5\" fill=\"").append(color)
          .append("\"/><text x=\"").append(lx + 36).append("\" y=\"").append(ly + 4).append("\">").append(esc(s.name)).append("</text>\n");
      ly += 20;
    }
    for (Reference r : references) {
      b.append("<line x1=\"").append(lx).append("\" y1=\"").append(ly).append("\" x2=\"").append(lx + 28).append("\" y2=\"").append(ly)
          .append("\" stroke=\"#888\" stroke-width=\"1.5\" stroke-dasharray=\"2 4\"/><text x=\"").append(lx + 36).append("\" y=\"")
          .append(ly + 4).append("\">").append(esc(r.name)).append("</text>\n");
      ly += 20;
    }
    b.append("</g>\n</svg>\n");
    return b.toString();
  }

  /** An axis over the data with round ticks: linear from 0 (or below) in steps of 1, 2 or 5 x 10^k; log over whole decades. */
  private static Axis niceAxis(List<Double> values, Scale scale) {
    if (scale == Scale.LOG) {
      double lo = roundDown(values.stream().mapToDouble(Double::doubleValue).min().orElse(1));
      double hi = roundUp(values.stream().mapToDouble(Double::doubleValue).max().orElse(10));
      if (hi <= lo) hi = roundUp(lo * 1.5);
      return new Axis(lo, hi, scale, logTicks(lo, hi));
    }
    double min = Math.min(0, values.stream().mapToDouble(Double::doubleValue).min().orElse(0));
    double max = values.stream().mapToDouble(Double::doubleValue).max().orElse(1);
    if (max <= min) max = min + 1;
    double step = niceStep((max - min) / 5);
    double lo = Math.floor(min / step) * step;
    double hi = Math.ceil(max / step) * step;
    if (hi <= lo) hi = lo + step;
    List<Double> ticks = new ArrayList<>();
    for (int i = 0; lo + i * step <= hi + step / 1e6; i++) ticks.add(lo + i * step);
    return new Axis(lo, hi, scale, ticks);
  }

  /** An axis whose ticks are the distinct data values, with a little room on both sides. */
  private static Axis dataAxis(List<Double> values, Scale scale) {
    TreeSet<Double> distinct = new TreeSet<>(values);
    double min = distinct.first();
    double max = distinct.last();
    if (scale == Scale.LOG) {
      double pad = max > min ? Math.pow(max / min, 0.05) : 1.5;
      return new Axis(min / pad, max * pad, scale, List.copyOf(distinct));
    }
    double pad = max > min ? (max - min) * 0.05 : Math.max(1, Math.abs(min) * 0.5);
    return new Axis(min - pad, max + pad, scale, List.copyOf(distinct));
  }

  /** The largest 1, 2 or 5 x 10^k at most {@code v}. */
  private static double roundDown(double v) {
    double decade = Math.pow(10, Math.floor(Math.log10(v)));
    for (double m : new double[] {5, 2, 1}) if (m * decade <= v * 1.0000001) return m * decade;
    return decade;
  }

  /** The smallest 1, 2 or 5 x 10^k at least {@code v}. */
  private static double roundUp(double v) {
    double decade = Math.pow(10, Math.floor(Math.log10(v)));
    for (double m : new double[] {1, 2, 5, 10}) if (m * decade >= v * 0.9999999) return m * decade;
    return 10 * decade;
  }

  /**
   * Ticks at 1, 2 and 5 x 10^k from {@code lo} to {@code hi}; at 10^k and both ends only if that
   * spans more than three decades.
   */
  private static List<Double> logTicks(double lo, double hi) {
    boolean wide = hi / lo > 1e3 * 1.0001;
    TreeSet<Double> ticks = new TreeSet<>();
    if (wide) {
      ticks.add(lo);
      ticks.add(hi);
    }
    for (double decade = Math.pow(10, Math.floor(Math.log10(lo))); decade <= hi * 1.0001; decade *= 10) {
      for (double m : wide ? new double[] {1} : new double[] {1, 2, 5}) {
        double t = m * decade;
        if (t >= lo * 0.9999 && t <= hi * 1.0001 && ticks.subSet(t * 0.9999, t * 1.0001).isEmpty()) ticks.add(t);
      }
    }
    return List.copyOf(ticks);
  }

  private static double niceStep(double raw) {
    double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    double f = raw / magnitude;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * magnitude;
  }

  /** A short label for a value: 0.25, 3, 1500; in thousands (12.5k) if {@code thousands} and at least 1,000. */
  static String label(double v, boolean thousands) {
    if (thousands && Math.abs(v) >= 1000) return plain(v / 1000) + "k";
    return plain(v);
  }

  /** A label for a value of a point: thousands as k from 10,000. */
  static String label(double v) {
    return label(v, Math.abs(v) >= 10_000);
  }

  /** Whether an axis labels its ticks in thousands: when its largest tick is 10,000 or more. */
  private static boolean thousands(Axis axis) {
    return axis.ticks().stream().anyMatch(t -> Math.abs(t) >= 10_000);
  }

  private static String plain(double v) {
    if (v == 0) return "0";
    return new BigDecimal(v).round(new MathContext(3)).stripTrailingZeros().toPlainString();
  }

  private static String num(double v) {
    return String.format(Locale.ROOT, "%.1f", v);
  }

  /** {@code s} as XML character data or attribute value. */
  static String esc(String s) {
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '&' -> b.append("&amp;");
        case '<' -> b.append("&lt;");
        case '>' -> b.append("&gt;");
        case '"' -> b.append("&quot;");
        case '\'' -> b.append("&apos;");
        default -> {
          if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') b.append(' ');
          else b.append(c);
        }
      }
    }
    return b.toString();
  }
}
