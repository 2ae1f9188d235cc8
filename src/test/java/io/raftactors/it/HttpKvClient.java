package io.raftactors.it;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.raftactors.sim.LinearizabilityChecker.History;
import io.raftactors.sim.LinearizabilityChecker.Kind;
import io.raftactors.sim.LinearizabilityChecker.Outcome;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * A client of the KV HTTP API that records every operation in a {@link KvHistory}, mapping each
 * answer to the outcome the API promises:
 *
 * <ul>
 *   <li>200 (and 404 for a delete of an absent key, 409 for a cas that did not swap): applied - OK;
 *   <li>307: not the leader, nothing done - followed, up to {@code maxHops} times, as part of the
 *       same operation;
 *   <li>503 (no leader, overloaded), 400/413/422 (invalid), a redirect past the hop bound, and a
 *       connection that could not be opened: nothing applied - FAIL;
 *   <li>504 ("outcome unknown"), any other answer, a timeout or a connection lost with the request
 *       sent: may have been applied - UNKNOWN for a write. A read without a definite answer is FAIL
 *       (it had no effect).
 * </ul>
 *
 * <p>With an Idempotency-Key, a write whose outcome is unknown is sent again with the same key,
 * through the next member after a growing pause, up to {@code retries} times; the first definite
 * answer (200, 404, 409) is the operation's outcome, and the history holds one operation from the
 * first invoke to that answer. Reads with consistency=stale go to {@link KvHistory#staleRead}, not to the checker.
 */
final class HttpKvClient {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One HTTP exchange, redirects followed: the final status (0 if none) or why there was no answer. */
  record Answer(int status, String body, Failure failure, List<String> nodes) {}

  /** An operation's outcome and, if OK, its output: a get's value, a cas's or delete's Boolean. */
  record Result(Outcome outcome, Object output) {}

  enum Failure {
    NONE,
    /** The connection could not be opened: nothing was sent. */
    REFUSED,
    /** The request was (or may have been) sent and no answer came. */
    NO_ANSWER
  }

  private final KvHistory history;
  private final Map<String, String> http;
  /** The members of {@code http} in the order a request refused by one goes to the next. */
  private final List<String> nodes;
  private final HttpClient client;
  private final Duration timeout;
  private final int maxHops;

  HttpKvClient(KvHistory history, Map<String, String> http, Duration timeout, int maxHops) {
    this.history = history;
    this.http = http;
    this.nodes = List.copyOf(new java.util.TreeSet<>(http.keySet()));
    this.timeout = timeout;
    this.maxHops = maxHops;
    this.client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).followRedirects(HttpClient.Redirect.NEVER)
        .connectTimeout(Duration.ofMillis(Math.min(1000, timeout.toMillis()))).build();
  }

  // ------------------------------------------------------------------ recorded operations

  /**
   * A put, cas (with {@code expected}) or delete at {@code node}, recorded under {@code process}.
   * With {@code idempotencyKey} non-null, an unknown outcome is retried as described above. Members
   * in {@code avoid} are not contacted: a redirect to one ends the operation as FAIL.
   */
  Result write(int process, String client, Kind kind, String node, String key, Long value, Long expected,
      String idempotencyKey, int retries, Set<String> avoid) throws InterruptedException {
    KvHistory.Wire wire = new KvHistory.Wire(client, idempotencyKey != null);
    History.Pending p = history.invoke(process, kind, key, value, expected, wire);
    String method;
    String path = "/kv/" + key;
    String body = null;
    switch (kind) {
      case PUT -> {
        method = "PUT";
        body = String.valueOf(value);
      }
      case CAS -> {
        method = "POST";
        path += "/cas";
        ObjectNode o = JSON.createObjectNode();
        if (expected == null) o.putNull("expected");
        else o.put("expected", String.valueOf(expected));
        o.put("value", String.valueOf(value));
        body = o.toString();
      }
      case DELETE -> method = "DELETE";
      default -> throw new IllegalArgumentException(kind.name());
    }
    String at = node;
    Outcome outcome = null;
    Boolean output = null;
    for (int attempt = 0; ; attempt++) {
      Answer a = send(method, at, path, body, idempotencyKey, avoid, wire);
      synchronized (wire) {
        wire.attempts = attempt + 1;
      }
      if (a.failure() == Failure.NONE && (a.status() == 200 || (kind == Kind.DELETE && a.status() == 404)
          || (kind == Kind.CAS && a.status() == 409))) {
        outcome = Outcome.OK;
        output = kind == Kind.PUT ? null : a.status() == 200;
        break;
      }
      boolean unknown = a.failure() == Failure.NO_ANSWER || (a.failure() == Failure.NONE && isUnknownStatus(a.status()));
      if (attempt == 0 && !unknown) {
        outcome = Outcome.FAIL;
        break;
      }
      // Unknown (now, or from an earlier attempt): only a definite answer to a retry with the same key settles it.
      if (idempotencyKey == null || attempt >= retries || Thread.currentThread().isInterrupted()) {
        outcome = Outcome.UNKNOWN;
        break;
      }
      at = nextNode(at, avoid);
      // An unknown outcome often means a leader change; give the group time to elect the next one.
      TimeUnit.MILLISECONDS.sleep(250L * (attempt + 1));
    }
    switch (outcome) {
      case OK -> history.ok(p, output);
      case FAIL -> history.fail(p);
      default -> history.unknown(p);
    }
    return new Result(outcome, output);
  }

  /** A get with consistency linearizable or lease (recorded for the checker) or stale (kept apart). */
  Result read(int process, String client, String node, String key, String consistency, Set<String> avoid)
      throws InterruptedException {
    KvHistory.Wire wire = new KvHistory.Wire(client, false);
    boolean stale = consistency.equals("stale");
    History.Pending p = stale ? null : history.invoke(process, Kind.GET, key, null, null, wire);
    long invoke = System.nanoTime();
    Answer a = send("GET", node, "/kv/" + key + "?consistency=" + consistency, null, null, avoid, wire);
    long complete = System.nanoTime();
    boolean ok = a.failure() == Failure.NONE && (a.status() == 200 || a.status() == 404);
    Long value = ok && a.status() == 200 ? Long.valueOf(a.body()) : null;
    if (stale) {
      if (ok) history.staleRead(new KvHistory.StaleRead(key, a.nodes().get(a.nodes().size() - 1), invoke, complete, value));
    } else if (ok) {
      history.ok(p, value);
    } else {
      history.fail(p); // a read that failed had no effect
    }
    return new Result(ok ? Outcome.OK : Outcome.FAIL, value);
  }

  /** 504 says "outcome unknown"; other 5xx answers than 503 promise nothing either. */
  private static boolean isUnknownStatus(int status) {
    return status == 504 || (status >= 500 && status != 503);
  }

  private String nextNode(String node, Set<String> avoid) {
    int i = nodes.indexOf(node);
    for (int k = 1; k <= nodes.size(); k++) {
      String n = nodes.get((i + k) % nodes.size());
      if (!avoid.contains(n)) return n;
    }
    return node;
  }

  // ------------------------------------------------------------------ HTTP

  /** One request to {@code node}, following redirects; the members contacted are added to {@code wire}. */
  Answer send(String method, String node, String pathAndQuery, String body, String idempotencyKey, Set<String> avoid,
      KvHistory.Wire wire) throws InterruptedException {
    URI uri = URI.create("http://" + http.get(node) + pathAndQuery);
    String target = node;
    List<String> visited = new ArrayList<>();
    for (int hop = 0; ; hop++) {
      if (avoid.contains(target)) return new Answer(307, "", Failure.NONE, visited);
      visited.add(target);
      synchronized (wire) {
        wire.nodes.add(target);
      }
      HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(timeout)
          .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
      if (idempotencyKey != null) b.header("Idempotency-Key", idempotencyKey);
      if (method.equals("POST")) b.header("Content-Type", "application/json");
      HttpResponse<String> r;
      long sent = System.nanoTime();
      try {
        r = client.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      } catch (ConnectException | HttpConnectTimeoutException e) {
        record(wire, target, sent, 0, "refused");
        // No connection: nothing was sent, so the same request may go to another member, as a
        // client that knows every member's address would send it (a member that is down refuses).
        String next = nextNode(target, union(avoid, visited));
        if (next.equals(target) || visited.contains(next) || hop >= maxHops) return new Answer(0, "", Failure.REFUSED, visited);
        target = next;
        uri = URI.create("http://" + http.get(target) + pathAndQuery);
        continue;
      } catch (HttpTimeoutException e) {
        record(wire, target, sent, 0, "timeout");
        return new Answer(0, "", Failure.NO_ANSWER, visited);
      } catch (IOException e) {
        record(wire, target, sent, 0, "reset");
        return new Answer(0, "", Failure.NO_ANSWER, visited);
      }
      record(wire, target, sent, r.statusCode(), null);
      if (r.statusCode() != 307 || hop >= maxHops) return new Answer(r.statusCode(), r.body(), Failure.NONE, visited);
      String location = r.headers().firstValue("Location").orElse(null);
      if (location == null) return new Answer(r.statusCode(), r.body(), Failure.NONE, visited);
      uri = URI.create(location);
      target = nodeAt(uri);
    }
  }

  private static Set<String> union(Set<String> a, List<String> b) {
    Set<String> u = new java.util.HashSet<>(a);
    u.addAll(b);
    return u;
  }

  private static void record(KvHistory.Wire wire, String node, long sent, int status, String failure) {
    long answered = System.nanoTime();
    synchronized (wire) {
      wire.lastStatus = status;
      wire.lastFailure = failure;
      wire.exchanges.add(new KvHistory.Exchange(node, sent, answered, status, failure));
    }
  }

  private String nodeAt(URI uri) {
    String addr = uri.getHost() + ":" + uri.getPort();
    for (Map.Entry<String, String> e : http.entrySet()) if (e.getValue().equals(addr)) return e.getKey();
    throw new IllegalStateException("redirect to an address that is no member: " + uri);
  }
}
