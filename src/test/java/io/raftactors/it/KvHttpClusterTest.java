package io.raftactors.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import io.raftactors.examples.kv.KvDemo;
import java.io.File;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The KV example end to end: three JVMs started as the README starts them ({@code --node nX}),
 * driven only through HTTP, as curl would. The leader's process is killed with SIGKILL in the
 * middle of the writes, and writing goes on through the new leader.
 */
class KvHttpClusterTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir Path dir;
  private final Map<String, Process> processes = new LinkedHashMap<>();
  private final Map<String, String> http = new LinkedHashMap<>();
  private final HttpClient client = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
      .connectTimeout(Duration.ofSeconds(2)).build();

  @AfterEach
  void stopAll() {
    for (Process p : processes.values()) p.destroyForcibly();
  }

  private void startCluster() throws Exception {
    StringBuilder over = new StringBuilder();
    for (String id : List.of("n1", "n2", "n3")) {
      over.append("raft.members.").append(id).append(" = \"akka://raft@127.0.0.1:").append(KvDemoTest.freePort()).append("\"\n");
      String addr = "127.0.0.1:" + KvDemoTest.freePort();
      http.put(id, addr);
      over.append("kv.http.").append(id).append(" = \"").append(addr).append("\"\n");
    }
    over.append("kv.max-value-bytes = 1KiB\n");
    Config config = ConfigFactory.parseString(over.toString()).withFallback(ConfigFactory.parseFile(new File("../application.conf")));
    Path conf = dir.resolve("cluster.conf");
    Files.writeString(conf, config.root().render(ConfigRenderOptions.concise().setFormatted(true)));
    String java = ProcessHandle.current().info().command().orElse("java");
    for (String id : http.keySet()) {
      List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
          KvDemo.class.getName(), "--node", id, "--config", conf.toString(), "--data-dir", dir.resolve("data").toString()));
      processes.put(id, new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(id + ".log").toFile()).start());
    }
  }

  private HttpResponse<String> send(String method, String node, String path, String body) throws Exception {
    return send(method, URI.create("http://" + http.get(node) + path), body);
  }

  private HttpResponse<String> send(String method, URI uri, String body) throws Exception {
    return send(method, uri, body, null);
  }

  private HttpResponse<String> send(String method, URI uri, String body, String idempotencyKey) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10));
    if (idempotencyKey != null) b.header("Idempotency-Key", idempotencyKey);
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return client.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
  }

  /** Polls /status of the live nodes until one is leader and the others know it; returns its id. */
  private String awaitLeader() throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (System.nanoTime() < deadline) {
      String leader = null;
      boolean agreed = true;
      for (String id : processes.keySet()) {
        if (!processes.get(id).isAlive()) continue;
        try {
          JsonNode s = JSON.readTree(send("GET", id, "/status", null).body());
          if ("LEADER".equals(s.get("role").asText())) leader = id;
          if (s.get("leader").isNull()) agreed = false;
        } catch (java.io.IOException notUpYet) {
          agreed = false;
        }
      }
      if (leader != null && agreed) return leader;
      TimeUnit.MILLISECONDS.sleep(100); // polling a condition with a deadline
    }
    throw new AssertionError("no leader within " + WAIT + "; logs in " + dir);
  }

  /**
   * A write as a careful client makes it: with an Idempotency-Key, following 307 to the leader, and
   * retrying with the same key on 503 (not applied), 504 (outcome unknown) or a dead node, so that
   * it is applied exactly once. Returns the final response (200, 404, 409 or a 4xx).
   */
  private HttpResponse<String> write(String method, String path, String body) throws Exception {
    String key = java.util.UUID.randomUUID().toString();
    long deadline = System.nanoTime() + WAIT.toNanos();
    List<String> live = new ArrayList<>();
    for (String id : processes.keySet()) if (processes.get(id).isAlive()) live.add(id);
    URI uri = URI.create("http://" + http.get(live.get(0)) + path);
    int next = 1;
    while (System.nanoTime() < deadline) {
      try {
        HttpResponse<String> r = send(method, uri, body, key);
        if (r.statusCode() == 307) {
          uri = URI.create(r.headers().firstValue("Location").orElseThrow());
          continue;
        }
        if (r.statusCode() != 503 && r.statusCode() != 504) return r;
      } catch (java.io.IOException deadNode) {
        // fall through: try the next live node
      }
      uri = URI.create("http://" + http.get(live.get(next++ % live.size())) + path);
      TimeUnit.MILLISECONDS.sleep(100);
    }
    throw new AssertionError(method + " " + path + " got no answer within " + WAIT);
  }

  @Test
  void threeNodeJvmsServeTheHttpApiAndKeepWritingAfterTheLeaderIsKilled() throws Exception {
    startCluster();
    String leader = awaitLeader();
    String follower = http.keySet().stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();

    // Writes at a follower are redirected to the leader's HTTP address; nothing is appended there.
    HttpResponse<String> redirected = send("PUT", follower, "/kv/greeting", "hello");
    assertEquals(307, redirected.statusCode(), redirected.body());
    assertEquals("http://" + http.get(leader) + "/kv/greeting", redirected.headers().firstValue("Location").orElseThrow());
    HttpResponse<String> put = send("PUT", URI.create(redirected.headers().firstValue("Location").get()), "hello");
    assertEquals(200, put.statusCode(), put.body());
    assertTrue(JSON.readTree(put.body()).get("index").asLong() > 0);

    // Reads: linearizable at the leader, redirected at a follower, stale reads served locally.
    assertEquals("hello", send("GET", leader, "/kv/greeting", null).body());
    assertEquals("hello", send("GET", leader, "/kv/greeting?consistency=lease", null).body());
    assertEquals(307, send("GET", follower, "/kv/greeting", null).statusCode());
    assertEquals(404, send("GET", leader, "/kv/nothing", null).statusCode());

    // Compare-and-set.
    HttpResponse<String> conflict = send("POST", leader, "/kv/greeting/cas", "{\"expected\":\"hi\",\"value\":\"bye\"}");
    assertEquals(409, conflict.statusCode());
    assertEquals("hello", JSON.readTree(conflict.body()).get("current").asText());
    assertEquals(200, send("POST", leader, "/kv/greeting/cas", "{\"expected\":\"hello\",\"value\":\"bye\"}").statusCode());
    assertEquals(200, send("POST", leader, "/kv/fresh/cas", "{\"expected\":null,\"value\":\"new\"}").statusCode());
    assertEquals("bye", send("GET", leader, "/kv/greeting", null).body());
    assertEquals(200, send("DELETE", leader, "/kv/fresh", null).statusCode());
    assertEquals(404, send("DELETE", leader, "/kv/fresh", null).statusCode());

    // Idempotency-Key: a retry through a follower (redirected) gets the first answer, no second write.
    HttpResponse<String> first = send("PUT", URI.create("http://" + http.get(leader) + "/kv/once"), "1", "key-once");
    assertEquals(200, first.statusCode(), first.body());
    send("PUT", leader, "/kv/once", "2");
    HttpResponse<String> viaFollower = send("PUT", URI.create("http://" + http.get(follower) + "/kv/once"), "1", "key-once");
    assertEquals(307, viaFollower.statusCode());
    HttpResponse<String> retried = send("PUT", URI.create(viaFollower.headers().firstValue("Location").get()), "1", "key-once");
    assertEquals(200, retried.statusCode(), retried.body());
    assertEquals(JSON.readTree(first.body()).get("index").asLong(), JSON.readTree(retried.body()).get("index").asLong());
    assertEquals("2", send("GET", leader, "/kv/once", null).body(), "the retry did not write 1 again");
    HttpResponse<String> reused = send("PUT", URI.create("http://" + http.get(leader) + "/kv/once"), "3", "key-once");
    assertEquals(422, reused.statusCode(), reused.body());
    assertEquals("2", send("GET", leader, "/kv/once", null).body());

    // Bad input: a JSON error, and the log does not grow.
    long before = JSON.readTree(send("GET", leader, "/status", null).body()).get("commitIndex").asLong();
    assertBadRequest(send("PUT", leader, "/kv/" + "k".repeat(1025), "v"), 400);
    assertBadRequest(send("PUT", leader, "/kv/big", "v".repeat(1025)), 413);
    assertBadRequest(send("POST", leader, "/kv/greeting/cas", "{not json"), 400);
    assertBadRequest(send("POST", leader, "/kv/greeting/cas", "{\"expected\":\"bye\"}"), 400);
    assertBadRequest(send("PATCH", leader, "/kv/greeting", "x"), 405);
    assertBadRequest(send("GET", leader, "/kv/greeting?consistency=eventual", null), 400);
    assertEquals(before, JSON.readTree(send("GET", leader, "/status", null).body()).get("commitIndex").asLong());

    // Status names the node, its role and every member's HTTP address.
    JsonNode status = JSON.readTree(send("GET", follower, "/status", null).body());
    assertEquals(follower, status.get("node").asText());
    assertEquals("FOLLOWER", status.get("role").asText());
    assertEquals(leader, status.get("leader").asText());
    assertEquals(3, status.get("members").size());

    // Keep writing while the leader's JVM is killed: every acknowledged write is there afterwards.
    List<String> acknowledged = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      if (i == 20) {
        processes.get(leader).destroyForcibly();
        assertTrue(processes.get(leader).waitFor(30, TimeUnit.SECONDS));
      }
      HttpResponse<String> r = write("PUT", "/kv/k" + i, "v" + i);
      assertEquals(200, r.statusCode(), r.body());
      acknowledged.add("k" + i);
    }
    String next = awaitLeader();
    assertFalse(next.equals(leader));
    for (String k : acknowledged) {
      assertEquals("v" + k.substring(1), send("GET", next, "/kv/" + k, null).body(), k);
    }
    assertEquals("bye", send("GET", next, "/kv/greeting", null).body());
  }

  private static void assertBadRequest(HttpResponse<String> r, int status) throws Exception {
    assertEquals(status, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), r.headers().toString());
    assertTrue(JSON.readTree(r.body()).get("error").asText().length() > 0, r.body());
  }
}
