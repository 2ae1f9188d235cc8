package io.raftactors.examples.kv;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.StatusCode;
import akka.http.javadsl.model.StatusCodes;
import akka.http.javadsl.model.headers.Location;
import akka.http.javadsl.model.headers.RetryAfter;
import akka.http.javadsl.server.AllDirectives;
import akka.http.javadsl.server.PathMatchers;
import akka.http.javadsl.server.RejectionHandler;
import akka.http.javadsl.server.Route;
import akka.http.javadsl.unmarshalling.Unmarshaller;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.ReadConsistency;
import io.raftactors.core.Role;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The HTTP API of one KV node (Akka HTTP). Writes go through the Raft log on the leader; a
 * follower answers writes and linearizable or lease reads with 307 to the leader's HTTP address,
 * and 503 with Retry-After while no leader is known. Bad input is refused with a 4xx and a JSON
 * error before it reaches the log.
 *
 * <pre>
 * PUT    /kv/{key}        body = value        200 {"index":N}
 * GET    /kv/{key}[?consistency=linearizable|lease|stale]   200 value | 404
 * DELETE /kv/{key}                            200 {"index":N} | 404
 * POST   /kv/{key}/cas    {"expected":..,"value":..}   200 {"index":N} | 409 {"current":..}
 * GET    /status                              200 {"node","role","term","leader",...}
 * </pre>
 */
public final class KvHttpApi extends AllDirectives {
  /** Longest key, in UTF-8 bytes. */
  public static final int MAX_KEY_BYTES = 1024;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration ASK = Duration.ofSeconds(5);

  private final ActorSystem<?> system;
  private final String memberId;
  private final ActorRef<RaftNode.Command> node;
  private final Map<String, String> httpAddresses;
  private final int maxValueBytes;

  /**
   * @param httpAddresses member id -> "host:port" of its HTTP API, for redirects and /status
   * @param maxValueBytes longest value accepted, in UTF-8 bytes
   */
  public KvHttpApi(ActorSystem<?> system, String memberId, ActorRef<RaftNode.Command> node,
      Map<String, String> httpAddresses, int maxValueBytes) {
    this.system = system;
    this.memberId = memberId;
    this.node = node;
    this.httpAddresses = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(httpAddresses));
    this.maxValueBytes = maxValueBytes;
  }

  public Route route() {
    Route api = concat(
        pathPrefix("kv", () -> concat(
            path(PathMatchers.segment().slash("cas"), key -> post(() ->
                entity(Unmarshaller.entityToString(), body -> completeWithFuture(cas(key, body))))),
            path(PathMatchers.segment(), key -> concat(
                put(() -> entity(Unmarshaller.entityToString(), body -> completeWithFuture(put(key, body)))),
                get(() -> parameterOptional("consistency", c -> completeWithFuture(get(key, c.orElse("linearizable"))))),
                delete(() -> completeWithFuture(delete(key))))))),
        path("status", () -> get(() -> completeWithFuture(status()))));
    // Every refusal (unknown path, wrong method, ...) is answered in JSON, like the API's own errors.
    RejectionHandler json = RejectionHandler.defaultHandler().mapRejectionResponse(r -> {
      if (r.entity() instanceof akka.http.javadsl.model.HttpEntity.Strict s && !s.getContentType().equals(ContentTypes.APPLICATION_JSON)) {
        return r.withEntity(ContentTypes.APPLICATION_JSON, error(s.getData().utf8String()));
      }
      return r;
    });
    return handleRejections(json, () -> api);
  }

  // ------------------------------------------------------------------ operations

  private CompletionStage<HttpResponse> put(String key, String value) {
    HttpResponse bad = checkKey(key);
    if (bad == null) bad = checkValue(value);
    if (bad != null) return done(bad);
    return write(new KvCommand.Put(key, value), "/kv/" + key, (index, result) -> json(StatusCodes.OK, obj().put("index", index)));
  }

  private CompletionStage<HttpResponse> delete(String key) {
    HttpResponse bad = checkKey(key);
    if (bad != null) return done(bad);
    return write(new KvCommand.Delete(key), "/kv/" + key, (index, removed) -> removed == null
        ? json(StatusCodes.NOT_FOUND, obj().put("error", "no such key").put("index", index))
        : json(StatusCodes.OK, obj().put("index", index)));
  }

  private CompletionStage<HttpResponse> cas(String key, String body) {
    HttpResponse bad = checkKey(key);
    if (bad != null) return done(bad);
    JsonNode req;
    try {
      req = JSON.readTree(body);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      return done(json(StatusCodes.BAD_REQUEST, obj().put("error", "malformed JSON: " + e.getOriginalMessage())));
    }
    if (req == null || !req.isObject() || !req.has("value") || !req.get("value").isTextual()
        || (req.has("expected") && !req.get("expected").isNull() && !req.get("expected").isTextual())) {
      return done(json(StatusCodes.BAD_REQUEST,
          obj().put("error", "expected a JSON object {\"expected\": string or null, \"value\": string}")));
    }
    String value = req.get("value").asText();
    bad = checkValue(value);
    if (bad != null) return done(bad);
    String expected = req.has("expected") && !req.get("expected").isNull() ? req.get("expected").asText() : null;
    return write(new KvCommand.Cas(key, expected, value), "/kv/" + key + "/cas", (index, result) -> {
      KvCommand.CasResult r = (KvCommand.CasResult) result;
      if (r.swapped()) return json(StatusCodes.OK, obj().put("index", index));
      return json(StatusCodes.CONFLICT, obj().put("error", "current value differs").put("current", r.current()));
    });
  }

  private CompletionStage<HttpResponse> get(String key, String consistency) {
    HttpResponse bad = checkKey(key);
    if (bad != null) return done(bad);
    ReadConsistency c;
    switch (consistency) {
      case "linearizable" -> c = ReadConsistency.LINEARIZABLE;
      case "lease" -> c = ReadConsistency.LEASE;
      case "stale" -> c = ReadConsistency.STALE;
      default -> {
        return done(json(StatusCodes.BAD_REQUEST, obj().put("error", "consistency must be linearizable, lease or stale")));
      }
    }
    CompletionStage<RaftNode.QueryReply> answer;
    if (c == ReadConsistency.STALE) {
      answer = query(key, c);
    } else {
      // Linearizable and lease reads are served by the leader; a follower redirects to it.
      answer = statusOf().thenCompose(s -> s.role() == Role.LEADER
          ? query(key, c)
          : CompletableFuture.completedFuture(new RaftNode.NotLeader(s.leaderId())));
    }
    return answer.thenApply(r -> {
      if (r instanceof RaftNode.QueryResult q) {
        return q.result() == null
            ? json(StatusCodes.NOT_FOUND, obj().put("error", "no such key"))
            : HttpResponse.create().withStatus(StatusCodes.OK).withEntity(ContentTypes.TEXT_PLAIN_UTF8, (String) q.result());
      }
      if (r instanceof RaftNode.NotLeader nl) return notLeader(nl.leaderId(), "/kv/" + key + "?consistency=" + consistency);
      return json(StatusCodes.SERVICE_UNAVAILABLE, obj().put("error", String.valueOf(r)));
    }).exceptionally(e -> json(StatusCodes.SERVICE_UNAVAILABLE, obj().put("error", "no answer: " + e.getMessage())));
  }

  private CompletionStage<RaftNode.QueryReply> query(String key, ReadConsistency c) {
    return AskPattern.ask(node, r -> new RaftNode.Query(new KvCommand.Get(key), c, r), ASK, system.scheduler());
  }

  private CompletionStage<RaftNode.Status> statusOf() {
    return AskPattern.ask(node, RaftNode.GetStatus::new, ASK, system.scheduler());
  }

  private CompletionStage<HttpResponse> status() {
    return statusOf().thenApply(s -> {
      ObjectNode o = obj().put("node", memberId).put("phase", s.phase().name()).put("role", s.role().name()).put("term", s.term())
          .put("leader", s.leaderId()).put("commitIndex", s.commitIndex()).put("appliedIndex", s.lastApplied());
      ObjectNode members = o.putObject("members");
      httpAddresses.forEach((id, addr) -> members.put(id, "http://" + addr));
      if (s.problem() != null) o.put("problem", s.problem());
      return json(StatusCodes.OK, o);
    });
  }

  @FunctionalInterface
  private interface OnApplied {
    HttpResponse respond(long index, Object result);
  }

  /** Proposes {@code command} to this node; a follower answers with a redirect to the leader. */
  private CompletionStage<HttpResponse> write(KvCommand command, String path, OnApplied onApplied) {
    CompletionStage<RaftNode.ProposeReply> reply =
        AskPattern.ask(node, r -> new RaftNode.Propose(command, r), ASK, system.scheduler());
    return reply.thenApply(r -> {
      if (r instanceof RaftNode.Applied a) return onApplied.respond(a.index(), a.result());
      if (r instanceof RaftNode.NotLeader nl) return notLeader(nl.leaderId(), path);
      if (r instanceof RaftNode.Rejected rj) return json(StatusCodes.BAD_REQUEST, obj().put("error", rj.reason()));
      RaftNode.OutcomeUnknown u = (RaftNode.OutcomeUnknown) r;
      return json(StatusCodes.SERVICE_UNAVAILABLE, obj().put("error", "outcome unknown: " + u.reason()));
    }).exceptionally(e -> json(StatusCodes.SERVICE_UNAVAILABLE,
        obj().put("error", "outcome unknown: no answer within " + ASK.toSeconds() + " s")));
  }

  private HttpResponse notLeader(String leader, String path) {
    String addr = leader == null ? null : httpAddresses.get(leader);
    if (addr == null) {
      return json(StatusCodes.SERVICE_UNAVAILABLE, obj().put("error", "no leader known; retry shortly"))
          .addHeader(RetryAfter.create(1L));
    }
    return json(StatusCodes.TEMPORARY_REDIRECT, obj().put("error", "not the leader").put("leader", leader))
        .addHeader(Location.create("http://" + addr + path));
  }

  // ------------------------------------------------------------------ validation and JSON

  private static HttpResponse checkKey(String key) {
    if (key.isEmpty()) return json(StatusCodes.BAD_REQUEST, obj().put("error", "empty key"));
    int n = key.getBytes(StandardCharsets.UTF_8).length;
    if (n > MAX_KEY_BYTES) {
      return json(StatusCodes.BAD_REQUEST, obj().put("error", "key of " + n + " bytes; at most " + MAX_KEY_BYTES));
    }
    return null;
  }

  private HttpResponse checkValue(String value) {
    int n = value.getBytes(StandardCharsets.UTF_8).length;
    if (n > maxValueBytes) {
      return json(StatusCodes.PAYLOAD_TOO_LARGE, obj().put("error", "value of " + n + " bytes; at most " + maxValueBytes));
    }
    return null;
  }

  private static ObjectNode obj() {
    return JSON.createObjectNode();
  }

  private static String error(String message) {
    return obj().put("error", message).toString();
  }

  private static HttpResponse json(StatusCode status, ObjectNode body) {
    return HttpResponse.create().withStatus(status).withEntity(ContentTypes.APPLICATION_JSON, body.toString());
  }

  private static CompletionStage<HttpResponse> done(HttpResponse r) {
    return CompletableFuture.completedFuture(r);
  }
}
