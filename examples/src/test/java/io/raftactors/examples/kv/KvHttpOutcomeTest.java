package io.raftactors.examples.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import akka.http.javadsl.ServerBinding;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.RaftNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every answer of the node maps to one HTTP answer class for writes: applied (200/404/409),
 * certainly not applied (307, 503 with Retry-After, 400, 422) or outcome unknown (504, and the body
 * says the write may have been applied). The node is a stub that answers each key's write with the
 * reply named by the key, so every class is produced on purpose.
 */
class KvHttpOutcomeTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static ActorSystem<Void> system;
  private static ServerBinding binding;
  private static String base;
  /** What the stub node saw: key -> idempotency key of the last write ("" for none). */
  private static final Map<String, String> seen = new ConcurrentHashMap<>();
  private static final HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();

  private static final java.util.concurrent.atomic.AtomicInteger electionAttempts = new java.util.concurrent.atomic.AtomicInteger();

  private static RaftNode.ProposeReply replyFor(String key) {
    return switch (key) {
      case "election" -> electionAttempts.incrementAndGet() <= 3 ? new RaftNode.NotLeader(null) : new RaftNode.Applied(9, null);
      case "applied" -> new RaftNode.Applied(7, null);
      case "cas-refused" -> new RaftNode.Applied(8, new KvCommand.CasResult(false, "other"));
      case "no-leader" -> new RaftNode.NotLeader(null);
      case "follower" -> new RaftNode.NotLeader("n2");
      case "overloaded" -> new RaftNode.Overloaded("overloaded: 10000 proposals wait");
      case "rejected" -> new RaftNode.Rejected("command cannot be serialized");
      case "reused" -> new RaftNode.IdempotencyKeyReused("abc");
      case "unknown" -> new RaftNode.OutcomeUnknown("leadership lost after the append");
      default -> key.chars().allMatch(c -> c == 'é') ? new RaftNode.Applied(11, null) : null; // "silent": no answer at all
    };
  }

  @BeforeAll
  static void start() throws Exception {
    system = ActorSystem.create(Behaviors.empty(), "kv-http-outcomes", ConfigFactory.parseString(
        "akka.loglevel = WARNING\nakka.actor.provider = local").withFallback(ConfigFactory.load()));
    ActorRef<RaftNode.Command> stub = system.systemActorOf(Behaviors.receive(RaftNode.Command.class)
        .onMessage(RaftNode.Propose.class, p -> {
          KvCommand c = (KvCommand) p.command();
          seen.put(c.key(), p.idempotencyKey() == null ? "" : p.idempotencyKey());
          RaftNode.ProposeReply r = replyFor(c.key());
          if (r != null) p.replyTo().tell(r);
          return Behaviors.same();
        })
        .onMessage(RaftNode.GetMetrics.class, g -> {
          g.replyTo().tell(new io.raftactors.actor.NodeMetrics.Snapshot("n1", 1_700_000_000_000L,
              Map.of(io.raftactors.actor.NodeMetrics.Stage.WRITE, new io.raftactors.actor.NodeMetrics.Summary(4, 750.0, 600, 900, 1500, 1500, 1500)),
              Map.of(io.raftactors.actor.NodeMetrics.Size.ENTRIES_PER_WRITE, new io.raftactors.actor.NodeMetrics.Summary(4, 2.5, 2, 3, 4, 4, 4)),
              Map.of("n2", new io.raftactors.actor.NodeMetrics.Summary(3, 1200.0, 1100, 1300, 1400, 1400, 1400)), 4, 10, 8));
          return Behaviors.same();
        })
        .build(), "stub-node", akka.actor.typed.Props.empty());
    KvHttpApi api = new KvHttpApi(system, "n1", stub, Map.of("n1", "127.0.0.1:1", "n2", "127.0.0.1:8082"), 1024,
        Duration.ofMillis(300), Duration.ofMillis(500));
    binding = api.bind("127.0.0.1", 0).toCompletableFuture().get(10, TimeUnit.SECONDS);
    base = "http://127.0.0.1:" + binding.localAddress().getPort();
  }

  @AfterAll
  static void stop() {
    system.terminate();
  }

  private static HttpResponse<String> put(String key, String idempotencyKey) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/kv/" + key)).PUT(HttpRequest.BodyPublishers.ofString("v"));
    if (idempotencyKey != null) b.header("Idempotency-Key", idempotencyKey);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode body(HttpResponse<String> r) throws Exception {
    assertEquals("application/json", r.headers().firstValue("Content-Type").orElse(""), r.body());
    return JSON.readTree(r.body());
  }

  @Test
  void theWritePathBreakdownIsServedAsJsonInMilliseconds() throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/status/write-path")).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode());
    JsonNode b = body(r);
    assertEquals("n1", b.get("node").asText());
    assertEquals(4, b.get("stagesMs").get("write").get("count").asLong());
    assertEquals(0.6, b.get("stagesMs").get("write").get("p50").asDouble(), 1e-9);
    assertEquals(1.5, b.get("stagesMs").get("write").get("p99").asDouble(), 1e-9);
    assertEquals(4, b.get("sizes").get("entries_per_write").get("max").asLong());
    assertEquals(1.1, b.get("roundTripMsByFollower").get("n2").get("p50").asDouble(), 1e-9);
    assertEquals(0.5, b.get("writesPerCommittedEntry").asDouble(), 1e-9);
  }

  @Test
  void appliedIs200WithItsIndex() throws Exception {
    HttpResponse<String> r = put("applied", null);
    assertEquals(200, r.statusCode());
    assertEquals(7, body(r).get("index").asLong());
  }

  @Test
  void aCasThatDidNotSwapIsApplied409() throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/kv/cas-refused/cas"))
        .POST(HttpRequest.BodyPublishers.ofString("{\"expected\":\"a\",\"value\":\"b\"}")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(409, r.statusCode());
    assertEquals("other", body(r).get("current").asText());
  }

  @Test
  void certainlyNotApplied_noLeaderIs503WithRetryAfter() throws Exception {
    HttpResponse<String> r = put("no-leader", null);
    assertEquals(503, r.statusCode());
    assertTrue(r.headers().firstValue("Retry-After").isPresent());
    assertFalse(body(r).get("applied").asBoolean(true));
  }

  @Test
  void aWriteThatArrivesDuringAnElectionWaitsForTheNewLeader() throws Exception {
    HttpResponse<String> r = put("election", null);
    assertEquals(200, r.statusCode(), r.body());
    assertEquals(9, body(r).get("index").asLong());
    assertEquals(4, electionAttempts.get(), "proposed again while no leader was known, never after");
  }

  @Test
  void certainlyNotApplied_aFollowerRedirectsToTheLeader() throws Exception {
    HttpResponse<String> r = put("follower", null);
    assertEquals(307, r.statusCode());
    assertEquals("http://127.0.0.1:8082/kv/follower", r.headers().firstValue("Location").orElse(""));
  }

  @Test
  void certainlyNotApplied_overloadedIs503WithRetryAfter() throws Exception {
    HttpResponse<String> r = put("overloaded", null);
    assertEquals(503, r.statusCode());
    assertTrue(r.headers().firstValue("Retry-After").isPresent());
    JsonNode b = body(r);
    assertEquals("overloaded", b.get("error").asText());
    assertFalse(b.get("applied").asBoolean(true));
  }

  @Test
  void certainlyNotApplied_rejectedIs400() throws Exception {
    HttpResponse<String> r = put("rejected", null);
    assertEquals(400, r.statusCode());
    assertFalse(body(r).get("applied").asBoolean(true));
  }

  @Test
  void certainlyNotApplied_aKeyReusedForAnotherRequestIs422() throws Exception {
    HttpResponse<String> r = put("reused", "abc");
    assertEquals(422, r.statusCode());
    assertFalse(body(r).get("applied").asBoolean(true));
  }

  @Test
  void outcomeUnknownIs504AndSaysItMayHaveBeenApplied() throws Exception {
    for (String key : new String[] {"unknown", "silent"}) {
      HttpResponse<String> r = put(key, null);
      assertEquals(504, r.statusCode(), key);
      assertTrue(r.headers().firstValue("Retry-After").isEmpty(), key + ": no invitation to retry blindly");
      JsonNode b = body(r);
      assertEquals("outcome unknown", b.get("error").asText());
      assertEquals("unknown", b.get("applied").asText());
      assertTrue(b.get("note").asText().contains("may or may not have been applied"), b.toString());
    }
  }

  /**
   * A member removed from the group (a leader that removed itself and handed over, say) will hear
   * from no leader: a write that reaches it is redirected to a voter of its configuration at once,
   * instead of waiting for a leader and getting 503.
   */
  @Test
  void certainlyNotApplied_aRemovedMemberRedirectsToAVoter() throws Exception {
    ActorRef<RaftNode.Command> removed = system.systemActorOf(Behaviors.receive(RaftNode.Command.class)
        .onMessage(RaftNode.Propose.class, p -> {
          p.replyTo().tell(new RaftNode.NotLeader(null));
          return Behaviors.same();
        })
        .onMessage(RaftNode.GetStatus.class, g -> {
          g.replyTo().tell(new RaftNode.Status("n4", io.raftactors.core.Role.FOLLOWER, 3, null, 10, 10, 10, null,
              RaftNode.Phase.RUNNING, io.raftactors.core.ClusterConfig.of("n1", "n2", "n3")));
          return Behaviors.same();
        })
        .build(), "removed-node", akka.actor.typed.Props.empty());
    KvHttpApi api = new KvHttpApi(system, "n4", removed, Map.of("n1", "127.0.0.1:8081", "n4", "127.0.0.1:1"), 1024,
        Duration.ofMillis(300), Duration.ofSeconds(2));
    ServerBinding b = api.bind("127.0.0.1", 0).toCompletableFuture().get(10, TimeUnit.SECONDS);
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + b.localAddress().getPort() + "/kv/x"))
          .PUT(HttpRequest.BodyPublishers.ofString("v")).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(307, r.statusCode(), r.body());
      assertEquals("http://127.0.0.1:8081/kv/x", r.headers().firstValue("Location").orElse(""));
    } finally {
      b.unbind();
    }
  }

  @Test
  void theIdempotencyKeyReachesTheNodeBareOrAsAStructuredString() throws Exception {
    put("applied", "8e03978e-40d5-43e8-bc93-6894a57f9324");
    assertEquals("8e03978e-40d5-43e8-bc93-6894a57f9324", seen.get("applied"));
    put("applied", "\"quoted-key\"");
    assertEquals("quoted-key", seen.get("applied"));
    put("applied", null);
    assertEquals("", seen.get("applied"));
  }

  @Test
  void aMalformedIdempotencyKeyIs400AndNeverReachesTheNode() throws Exception {
    seen.remove("bad-key");
    for (String k : new String[] {"k".repeat(256), "\"\""}) {
      HttpResponse<String> r = put("bad-key", k);
      assertEquals(400, r.statusCode(), k);
      assertFalse(body(r).get("applied").asBoolean(true));
    }
    assertNull(seen.get("bad-key"));
  }

  /** The stub node answers no status request: /status says so in JSON, with 503 and Retry-After, not 500 in text. */
  @Test
  void aStatusRequestTheNodeDoesNotAnswerIs503InJson() throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/status")).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(503, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("Retry-After").isPresent());
    JsonNode b = body(r);
    assertEquals("n1", b.get("node").asText());
    assertTrue(b.get("error").asText().contains("did not answer"), b.toString());
  }

  @Test
  void aRefusedRequestIsJsonAndSaysItWasNotApplied() throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/kv/a/b/c"))
        .PUT(HttpRequest.BodyPublishers.ofString("v")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(404, r.statusCode(), r.body());
    assertFalse(body(r).get("applied").asBoolean(true));
    r = http.send(HttpRequest.newBuilder(URI.create(base + "/kv/applied")).POST(HttpRequest.BodyPublishers.ofString("v")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(405, r.statusCode(), r.body());
    assertFalse(body(r).get("applied").asBoolean(true));
  }

  /**
   * A route mounted before the API (the cluster view at /ui) that refuses a request for its method
   * gets 405 in JSON with the methods it allows, not the API's 404 for a path it does not know.
   */
  @Test
  void aWrongMethodOnARouteMountedBeforeTheApiIs405() throws Exception {
    KvHttpApi api = new KvHttpApi(system, "n1", system.ignoreRef(), Map.of("n1", "127.0.0.1:1"), 1024, Duration.ofMillis(300),
        Duration.ofMillis(500));
    akka.http.javadsl.server.Route page = akka.http.javadsl.server.Directives.path("ui", () ->
        akka.http.javadsl.server.Directives.get(() -> akka.http.javadsl.server.Directives.complete("the page")));
    akka.http.javadsl.ServerBinding b = KvHttpApi.bind(system, "127.0.0.1", 0, CompletableFuture.completedFuture(api.routeAfter(page)))
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    try {
      String at = "http://127.0.0.1:" + b.localAddress().getPort();
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(at + "/ui")).GET().build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), r.body());
      assertEquals("the page", r.body());
      r = http.send(HttpRequest.newBuilder(URI.create(at + "/ui")).POST(HttpRequest.BodyPublishers.ofString("x")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(405, r.statusCode(), r.body());
      assertEquals("GET", r.headers().firstValue("Allow").orElse(""), r.headers().toString());
      assertFalse(body(r).get("applied").asBoolean(true));
      r = http.send(HttpRequest.newBuilder(URI.create(at + "/nothing-here")).GET().build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(404, r.statusCode(), "the API's own paths are still answered: " + r.body());
    } finally {
      b.unbind().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  /** A member address Akka cannot parse is the client's mistake: 400, not applied, before anything reaches the node. */
  @Test
  void anAddressThatIsNoAkkaAddressIs400() throws Exception {
    for (String address : new String[] {"not an address", "http://127.0.0.1:2554"}) {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/admin/members"))
          .POST(HttpRequest.BodyPublishers.ofString(JSON.createObjectNode().put("id", "n9").put("address", address).toString()))
          .build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(400, r.statusCode(), r.body());
      assertFalse(body(r).get("applied").asBoolean(true));
      assertTrue(body(r).get("error").asText().contains(address), r.body());
    }
  }

  private static String encoded(String key) {
    return java.net.URLEncoder.encode(key, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
  }

  /** A key over 1 KiB gets the documented 400 in JSON, for writes and reads, before it reaches the node. */
  @Test
  void aKeyOverOneKibIs400InJson() throws Exception {
    String key = "k".repeat(2048);
    seen.remove(key);
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/kv/" + key))
        .PUT(HttpRequest.BodyPublishers.ofString("v")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(400, r.statusCode(), r.body());
    JsonNode b = body(r);
    assertTrue(b.get("error").asText().contains("2048 bytes"), b.toString());
    assertFalse(b.get("applied").asBoolean(true));
    assertNull(seen.get(key), "never reached the node");
    String wide = "é".repeat(513); // 1,026 bytes, 3,078 characters encoded
    r = http.send(HttpRequest.newBuilder(URI.create(base + "/kv/" + encoded(wide))).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(400, r.statusCode(), r.body());
    assertTrue(body(r).get("error").asText().contains("1026 bytes"), r.body());
  }

  /**
   * The URI limit follows the key limit: a key of 1,000 bytes of 'é' (3,000 characters once
   * percent-encoded) is accepted, and so is one of exactly 1 KiB.
   */
  @Test
  void keysUpToOneKibAreAcceptedHoweverLongTheirEncoding() throws Exception {
    for (int n : new int[] {500, 512}) {
      String key = "é".repeat(n);
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/kv/" + encoded(key)))
          .PUT(HttpRequest.BodyPublishers.ofString("v")).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), n + " x é: " + r.body());
      assertEquals(11, body(r).get("index").asLong());
      assertEquals("", seen.get(key), "the node got the decoded key");
    }
  }

  /** A request target longer than any key could need is refused by the server itself, in JSON too. */
  @Test
  void aRequestTargetBeyondTheLimitIs414InJson() throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/kv/" + "k".repeat(KvHttpApi.MAX_URI_LENGTH)))
        .PUT(HttpRequest.BodyPublishers.ofString("v")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(414, r.statusCode(), r.body());
    JsonNode b = body(r);
    assertFalse(b.get("applied").asBoolean(true));
    assertTrue(b.get("detail").asText().contains("at most " + KvHttpApi.MAX_KEY_BYTES + " bytes"), b.toString());
  }

  /**
   * Values over kv.max-value-bytes, and bodies over the server's content limit (8 MiB, refused from
   * the declared Content-Length before the body is read), are refused in JSON as not applied.
   */
  @Test
  void aBodyOverTheLimitsIs413InJson() throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/kv/applied"))
        .PUT(HttpRequest.BodyPublishers.ofByteArray(new byte[2048])).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(413, r.statusCode(), r.body());
    assertFalse(body(r).get("applied").asBoolean(true), r.body());
    // Only the head of a 9 MB request: the server answers from its Content-Length.
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", binding.localAddress().getPort())) {
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(("PUT /kv/applied HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + (9 << 20)
          + "\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      socket.getOutputStream().flush();
      java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(),
          java.nio.charset.StandardCharsets.UTF_8));
      String status = in.readLine();
      assertTrue(status != null && status.startsWith("HTTP/1.1 413 "), status);
      int length = -1;
      String contentType = "";
      for (String h = in.readLine(); h != null && !h.isEmpty(); h = in.readLine()) {
        String lower = h.toLowerCase(java.util.Locale.ROOT);
        if (lower.startsWith("content-length:")) length = Integer.parseInt(h.substring(15).trim());
        if (lower.startsWith("content-type:")) contentType = h.substring(13).trim();
      }
      assertEquals("application/json", contentType);
      char[] chars = new char[length];
      int read = 0;
      while (read < length) {
        int n = in.read(chars, read, length - read);
        if (n < 0) break;
        read += n;
      }
      JsonNode b = JSON.readTree(new String(chars, 0, read));
      assertFalse(b.get("applied").asBoolean(true), b.toString());
      assertTrue(b.get("error").asText().contains("limit"), b.toString());
    }
  }
}
