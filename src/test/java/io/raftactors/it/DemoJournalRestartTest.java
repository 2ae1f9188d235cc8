package io.raftactors.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.examples.kv.KvDemo;
import io.raftactors.examples.kv.KvNode;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The start that hung: the demo runs twice on one data directory, then the three members start as
 * single nodes (with their HTTP API) on copies of its logs, again and again. Every start must
 * report its phase over HTTP while it reads its storage and end with all three RUNNING and the
 * demo's data readable. Every other start reads the logs under a recovery timeout far shorter
 * than a LevelDB start, so its first attempts fail and must be retried: that is what a busy
 * machine did to the first attempt of a real start, which then never recovered. Run on the LevelDB
 * journal (where it happened) and on segment files; and on either, a member started with the other
 * storage on the demo's data must refuse, naming the setting that reads it.
 */
class DemoJournalRestartTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> MEMBERS = List.of("n1", "n2", "n3");
  private static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;
  private final HttpClient client = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
      .connectTimeout(Duration.ofSeconds(2)).build();

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"journal", "segments"})
  void nodesStartedOnTheDemosLogsRecoverEveryTimeAndSayWhatTheyAreDoingMeanwhile(String storage) throws Exception {
    StringBuilder over = new StringBuilder();
    Map<String, String> http = new LinkedHashMap<>();
    for (String id : MEMBERS) {
      over.append("raft.members.").append(id).append(" = \"akka://raft@127.0.0.1:").append(KvDemoTest.freePort()).append("\"\n");
      String addr = "127.0.0.1:" + KvDemoTest.freePort();
      http.put(id, addr);
      over.append("kv.http.").append(id).append(" = \"").append(addr).append("\"\n");
    }
    over.append("raft.persistence.storage = ").append(storage).append('\n');
    Config config = ConfigFactory.parseString(over.toString())
        .withFallback(ConfigFactory.parseFile(new File("../application.conf")))
        .withFallback(ConfigFactory.load())
        .resolve();
    Path base = dir.resolve("demo");
    for (int run = 1; run <= 2; run++) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      int exit = KvDemo.run(config, 200, base.toFile(), new PrintStream(out, true, StandardCharsets.UTF_8));
      String text = out.toString(StandardCharsets.UTF_8);
      assertEquals(0, exit, "demo run " + run + ": " + text);
      // The second run says that it continues the first run's group, and still compares replicas at one index.
      assertEquals(run == 2, text.contains("continuing the group journaled in " + base.toFile().getPath() + " by an earlier run"), text);
      KvDemoTest.checkReplicaLines(text);
    }

    // With the other storage set, a member does not start empty over the demo's log.
    String other = storage.equals("journal") ? "segments" : "journal";
    Config switched = ConfigFactory.parseString("raft.persistence.storage = " + other).withFallback(config);
    IllegalStateException refused = assertThrows(IllegalStateException.class, () -> KvNode.start(switched, "n1", base.toFile()));
    assertTrue(refused.getMessage().contains("set raft.persistence.storage = " + storage), refused.getMessage());

    Config tight = ConfigFactory.parseString(String.join("\n",
        "raft.recovery-timeout = 20ms",
        "raft.restart-backoff.min = 50ms",
        "raft.restart-backoff.max = 200ms")).withFallback(config);
    for (int start = 1; start <= 4; start++) {
      Path data = dir.resolve("start-" + start);
      copy(base, data);
      Config c = start % 2 == 0 ? tight : config;
      List<KvNode.Running> nodes = new ArrayList<>();
      try {
        for (String id : MEMBERS) nodes.add(KvNode.start(c, id, data.toFile()));
        for (String id : MEMBERS) awaitPhase(http.get(id), "RUNNING", "start " + start + ", " + id);
        String leader = awaitLeader(http, "start " + start);
        HttpResponse<String> r = get(http.get(leader), "/kv/key-199");
        assertEquals(200, r.statusCode(), "start " + start + ": " + r.body());
        assertEquals("value-199", r.body());
      } finally {
        for (KvNode.Running n : nodes) n.system().terminate();
        for (KvNode.Running n : nodes) n.system().getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
    }
  }

  /** Polls /status until it shows {@code phase}; every answer before must name a phase too. */
  private void awaitPhase(String addr, String phase, String what) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    String last = "no answer";
    while (System.nanoTime() < deadline) {
      try {
        HttpResponse<String> r = get(addr, "/status");
        last = r.body();
        if (r.statusCode() == 200) {
          JsonNode s = JSON.readTree(r.body());
          if (!s.hasNonNull("phase")) throw new AssertionError(what + ": /status names no phase: " + last);
          if (phase.equals(s.get("phase").asText())) return;
        }
      } catch (IOException notAnsweringYet) {
        last = notAnsweringYet.toString();
      }
      TimeUnit.MILLISECONDS.sleep(50); // polling a condition with a deadline
    }
    throw new AssertionError(what + ": not " + phase + " within " + WAIT + "; last /status: " + last);
  }

  private String awaitLeader(Map<String, String> http, String what) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (System.nanoTime() < deadline) {
      for (Map.Entry<String, String> e : http.entrySet()) {
        JsonNode s = JSON.readTree(get(e.getValue(), "/status").body());
        if ("LEADER".equals(s.get("role").asText())) return e.getKey();
      }
      TimeUnit.MILLISECONDS.sleep(50); // polling a condition with a deadline
    }
    throw new AssertionError(what + ": no leader within " + WAIT);
  }

  private HttpResponse<String> get(String addr, String path) throws Exception {
    HttpRequest req = HttpRequest.newBuilder(URI.create("http://" + addr + path)).timeout(Duration.ofSeconds(10)).GET().build();
    return client.send(req, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
  }

  private static void copy(Path from, Path to) throws IOException {
    try (Stream<Path> all = Files.walk(from)) {
      for (Path p : (Iterable<Path>) all::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) Files.createDirectories(target);
        else if (!p.getFileName().toString().equals("LOCK")) Files.copy(p, target);
      }
    }
  }
}
