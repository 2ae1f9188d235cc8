package io.raftactors.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.Props;
import akka.actor.typed.javadsl.Behaviors;
import akka.http.javadsl.Http;
import akka.http.javadsl.ServerBinding;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.raftactors.actor.RaftNode;
import io.raftactors.testkit.RaftTestKit;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The route of {@link ClusterView} on a real server, in front of an in-memory group of three. */
class ClusterViewTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration WAIT = Duration.ofSeconds(15);

  private RaftTestKit group;
  private ServerBinding binding;
  private String base;
  private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @BeforeEach
  void start() throws Exception {
    group = RaftTestKit.builder().members(3).stateMachine(id -> (index, command) -> command).start();
    binding = Http.get(group.system()).newServerAt("127.0.0.1", 0)
        .bind(ClusterView.route(group.system(), group.node("n1"), group.settings("n1")))
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    base = "http://127.0.0.1:" + binding.localAddress().getPort();
  }

  @AfterEach
  void stop() throws Exception {
    if (binding != null) binding.unbind().toCompletableFuture().get(10, TimeUnit.SECONDS);
    if (group != null) group.close();
  }

  @Test
  void thePageIsOneSelfContainedHtmlFile() throws Exception {
    for (String path : List.of("/ui", "/ui/")) {
      HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(base + path)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), path);
      assertEquals("text/html; charset=UTF-8", r.headers().firstValue("Content-Type").orElse(""), path);
      assertEquals(ClusterView.page(), r.body());
    }
    String page = ClusterView.page();
    assertTrue(page.contains("id=\"leader\"") && page.contains("new EventSource("), "the page reads the event stream");
    for (String outside : List.of("http:", "https:", "src=", "href=", "@import", "url(")) {
      assertFalse(page.contains(outside), "the page fetches nothing but its events: it contains " + outside);
    }
    HttpResponse<String> post = client.send(HttpRequest.newBuilder(URI.create(base + "/ui"))
        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(405, post.statusCode(), "only GET");
    HttpResponse<String> other = client.send(HttpRequest.newBuilder(URI.create(base + "/kv/x")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(404, other.statusCode(), "the route leaves other paths to the application's routes");
  }

  @Test
  void theEventsNameTheLeaderEachMembersProgressAndAMemberThatStopped() throws Exception {
    String leader = group.awaitLeader();
    try (Events events = new Events(base + "/ui/events")) {
      JsonNode all = events.await("every member up, " + leader + " leading", v -> leader.equals(text(v, "leader"))
          && v.get("members").size() == 3 && every(v, m -> m.get("up").asBoolean()));
      assertEquals("n1", all.get("node").asText());
      assertEquals("test", all.get("group").asText());
      assertEquals(List.of("n1", "n2", "n3"), ids(all.get("voters")));
      for (JsonNode m : all.get("members")) {
        assertEquals("voter", m.get("kind").asText());
        assertEquals(m.get("id").asText().equals("n1"), m.get("self").asBoolean());
        assertEquals(m.get("id").asText().equals(leader) ? "LEADER" : "FOLLOWER", m.get("role").asText(), m.toString());
        assertEquals(leader, m.get("leader").asText(), m.toString());
        assertTrue(m.has("matchIndex") && m.has("lag") && m.has("commitIndex") && m.has("appliedIndex"), m.toString());
      }

      // A follower that is not the serving node hangs (its actor takes messages and never answers): it
      // is shown down with the reason, and falls behind.
      String stopped = group.members().stream().filter(id -> !id.equals(leader) && !id.equals("n1")).findFirst().orElseThrow();
      group.crash(stopped);
      hang(group.settings(stopped).actorName());
      group.client().submit("after the stop").toCompletableFuture().get(10, TimeUnit.SECONDS);
      JsonNode down = events.await(stopped + " down and behind", v -> {
        JsonNode m = member(v, stopped);
        return m != null && m.get("up").isBoolean() && !m.get("up").asBoolean() && m.path("lag").asLong() > 0;
      });
      JsonNode m = member(down, stopped);
      assertEquals("no answer within 300 ms", m.get("error").asText(), m.toString());
      assertTrue(m.get("downSince").asLong() <= down.get("at").asLong());
      assertFalse(m.has("role"), "a member that does not answer says nothing about itself: " + m);
      assertEquals(leader, text(down, "leader"), "the others carry on");

      // A member that does not answer (each ask waits 300 ms) holds up no event: they keep coming every 250 ms.
      List<Long> at = new ArrayList<>();
      for (int i = 0; i < 6; i++) at.add(events.next().get("at").asLong());
      List<Long> gaps = new ArrayList<>();
      for (int i = 1; i < at.size(); i++) gaps.add(at.get(i) - at.get(i - 1));
      gaps.sort(null);
      assertTrue(gaps.get(gaps.size() / 2) < 400, "events every 250 ms while a member is down, not every ask timeout: " + gaps);
    }
  }

  /** An actor in place of a crashed node that takes every message and answers none. */
  private void hang(String name) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (true) {
      try {
        group.system().systemActorOf(Behaviors.<RaftNode.Command>ignore(), name, Props.empty());
        return;
      } catch (akka.actor.InvalidActorNameException e) {
        // the crashed node's name is released shortly after it stopped
        if (System.nanoTime() > deadline) throw e;
        TimeUnit.MILLISECONDS.sleep(5);
      }
    }
  }

  private static String text(JsonNode v, String field) {
    JsonNode n = v.get(field);
    return n == null || n.isNull() ? null : n.asText();
  }

  private static boolean every(JsonNode v, Predicate<JsonNode> p) {
    for (JsonNode m : v.get("members")) if (!p.test(m)) return false;
    return true;
  }

  private static JsonNode member(JsonNode v, String id) {
    for (JsonNode m : v.get("members")) if (m.get("id").asText().equals(id)) return m;
    return null;
  }

  private static List<String> ids(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }

  /** The event stream, read line by line on a thread of its own; closing it ends the request. */
  private final class Events implements AutoCloseable {
    private final BlockingQueue<JsonNode> received = new LinkedBlockingQueue<>();
    private final Stream<String> lines;
    private final Thread reader;

    Events(String url) throws Exception {
      HttpResponse<Stream<String>> r = client.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofLines());
      assertEquals(200, r.statusCode());
      assertEquals("text/event-stream", r.headers().firstValue("Content-Type").orElse(""));
      lines = r.body();
      reader = new Thread(() -> {
        try {
          lines.forEach(line -> {
            if (!line.startsWith("data:")) return;
            try {
              received.add(JSON.readTree(line.substring("data:".length())));
            } catch (Exception e) {
              throw new IllegalStateException("an event that is no JSON document: " + line, e);
            }
          });
        } catch (RuntimeException e) {
          // the stream was closed
        }
      }, "cluster-view-events");
      reader.setDaemon(true);
      reader.start();
    }

    JsonNode next() throws InterruptedException {
      JsonNode v = received.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      if (v == null) throw new AssertionError("no event within " + WAIT);
      return v;
    }

    JsonNode await(String what, Predicate<JsonNode> p) throws InterruptedException {
      long deadline = System.nanoTime() + WAIT.toNanos();
      JsonNode last = null;
      while (System.nanoTime() < deadline) {
        JsonNode v = received.poll(100, TimeUnit.MILLISECONDS);
        if (v == null) continue;
        last = v;
        if (p.test(v)) return v;
      }
      throw new AssertionError("no event showed " + what + " within " + WAIT + "; the last: " + last);
    }

    @Override
    public void close() {
      lines.close();
      reader.interrupt();
    }
  }
}
