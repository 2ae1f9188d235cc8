package io.raftactors.examples.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.TestProbe;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GET /metrics of a group of three KV members in this JVM: the Prometheus text format (its content
 * type, and every line a comment or a well-formed sample), with the node's series tagged with its
 * group and member, and values that follow what happened: after a few writes the leader's commit
 * index is at least the index of the last one, it reports each follower's lag, and it counts its
 * election and the proposals.
 */
class KvMetricsTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> MEMBERS = List.of("n1", "n2", "n3");
  /** {@code name{labels} value}, the labels as {@code key="value"} pairs. */
  private static final Pattern SAMPLE = Pattern.compile(
      "([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{((?:[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\]|\\\\.)*\",?)*)})? (\\S+)");
  private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

  @TempDir Path dir;
  private final List<KvNode.Running> nodes = new ArrayList<>();
  private final Map<String, String> http = new LinkedHashMap<>();
  private final HttpClient client = HttpClient.newHttpClient();

  /** One sample of the text format. */
  record Sample(String name, Map<String, String> labels, double value) {}

  @BeforeEach
  void start() throws Exception {
    StringBuilder over = new StringBuilder("kv.metrics-interval = 100ms\nraft.initial-voters = [n1, n2, n3]\n");
    for (String id : MEMBERS) {
      int port = KvCliTest.freePort();
      over.append("raft.members.").append(id).append(" = \"akka://raft@127.0.0.1:").append(KvCliTest.freePort())
          .append("\"\n");
      over.append("kv.http.").append(id).append(" = \"127.0.0.1:").append(port).append("\"\n");
      http.put(id, "http://127.0.0.1:" + port);
    }
    Config config = ConfigFactory.parseString(over.toString())
        .withFallback(ConfigFactory.parseFile(new File("../application.conf")))
        .withFallback(ConfigFactory.load());
    for (String id : MEMBERS) nodes.add(KvNode.start(config, id, dir.toFile()));
  }

  @AfterEach
  void stop() throws Exception {
    for (KvNode.Running r : nodes) r.system().terminate();
    for (KvNode.Running r : nodes) r.system().getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private HttpResponse<String> get(String id, String path) throws Exception {
    return client.send(HttpRequest.newBuilder(URI.create(http.get(id) + path)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private <T> T awaitAssert(akka.japi.function.Creator<T> assertion) {
    return TestProbe.create(nodes.get(0).system()).awaitAssert(WAIT, assertion);
  }

  /**
   * Parses the text format: every line is a {@code # HELP} or {@code # TYPE} comment or a sample,
   * and a metric's TYPE comes before its samples.
   */
  static List<Sample> parse(String body) {
    List<Sample> out = new ArrayList<>();
    Set<String> typed = new HashSet<>();
    for (String line : body.split("\n")) {
      if (line.isEmpty()) continue;
      if (line.startsWith("# TYPE ")) {
        typed.add(line.split(" ")[2]);
        continue;
      }
      if (line.startsWith("# HELP ")) continue;
      Matcher m = SAMPLE.matcher(line);
      assertTrue(m.matches(), "not a sample of the text format: " + line);
      Map<String, String> labels = new LinkedHashMap<>();
      if (m.group(2) != null) {
        Matcher l = LABEL.matcher(m.group(2));
        while (l.find()) labels.put(l.group(1), l.group(2));
      }
      String name = m.group(1);
      assertTrue(typed.contains(name) || typed.contains(name.replaceAll("_total$", "")),
          "a sample of a metric without its TYPE before it: " + line);
      out.add(new Sample(name, labels, Double.parseDouble(m.group(3))));
    }
    return out;
  }

  /** The value of the one sample of {@code name} whose labels include {@code labels}. */
  static double value(List<Sample> samples, String name, Map<String, String> labels) {
    List<Sample> found = samples.stream()
        .filter(s -> s.name().equals(name) && s.labels().entrySet().containsAll(labels.entrySet())).toList();
    assertEquals(1, found.size(), name + labels + " in " + samples.stream().map(Sample::name).distinct().toList());
    return found.get(0).value();
  }

  @Test
  void metricsAreServedInThePrometheusTextFormatAndFollowTheGroup() throws Exception {
    String leader = awaitAssert(() -> {
      String l = JSON.readTree(get("n1", "/status").body()).path("leader").asText(null);
      assertNotNull(l, "no leader yet");
      return l;
    });
    long lastIndex = 0;
    for (int i = 0; i < 3; i++) {
      HttpResponse<String> put = client.send(HttpRequest.newBuilder(URI.create(http.get(leader) + "/kv/k" + i))
          .PUT(HttpRequest.BodyPublishers.ofString("v" + i)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, put.statusCode(), put.body());
      lastIndex = JSON.readTree(put.body()).get("index").asLong();
    }
    long written = lastIndex;
    Map<String, String> me = Map.of("group", "kv", "member", leader);
    // The leader's /status names each follower's match index; a follower's names none.
    awaitAssert(() -> {
      JsonNode st = JSON.readTree(get(leader, "/status").body());
      for (String f : MEMBERS) {
        if (!f.equals(leader)) assertTrue(st.path("matchIndex").path(f).asLong(-1) >= written, f + " in " + st);
      }
      assertFalse(st.path("matchIndex").has(leader), st.toString());
      return null;
    });
    String aFollower = MEMBERS.stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
    assertFalse(JSON.readTree(get(aFollower, "/status").body()).has("matchIndex"));

    List<Sample> samples = awaitAssert(() -> {
      HttpResponse<String> r = get(leader, "/metrics");
      assertEquals(200, r.statusCode(), r.body());
      String type = r.headers().firstValue("Content-Type").orElse("").toLowerCase(Locale.ROOT).replace(" ", "");
      assertEquals("text/plain;version=0.0.4;charset=utf-8", type);
      List<Sample> s = parse(r.body());
      assertTrue(value(s, "raft_commit_index", me) >= written, "commit index < " + written);
      return s;
    });
    assertEquals(1, value(samples, "raft_role", Map.of("member", leader, "role", "leader")));
    assertTrue(value(samples, "raft_term", me) >= 1);
    assertTrue(value(samples, "raft_elections_won_total", me) >= 1);
    assertTrue(value(samples, "raft_proposals_total", Map.of("member", leader, "outcome", "accepted")) >= 3);
    assertTrue(value(samples, "raft_log_entries", me) >= written);
    for (String f : MEMBERS) {
      if (f.equals(leader)) continue;
      assertTrue(value(samples, "raft_follower_lag", Map.of("member", leader, "follower", f)) >= 0);
      assertTrue(value(samples, "raft_follower_match_index", Map.of("member", leader, "follower", f)) >= 0);
    }
    assertTrue(value(samples, "raft_stage_latency_seconds",
        Map.of("member", leader, "stage", "write", "quantile", "0.99")) > 0, "the writes were timed");
    assertTrue(samples.stream().anyMatch(s -> s.name().equals("jvm_memory_used_bytes")), "the JVM's metrics too");
    for (Sample s : samples) {
      assertEquals(leader, s.labels().get("member"), "every series names its member: " + s);
      assertEquals("kv", s.labels().get("group"), "and its group: " + s);
    }

    String follower = MEMBERS.stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
    List<Sample> f = awaitAssert(() -> {
      List<Sample> s = parse(get(follower, "/metrics").body());
      assertTrue(value(s, "raft_applied_index", Map.of("member", follower)) >= written);
      return s;
    });
    assertEquals(1, value(f, "raft_role", Map.of("member", follower, "role", "follower")));
    assertFalse(f.stream().anyMatch(s -> s.name().equals("raft_follower_lag")), "only a leader reports followers");
  }
}
