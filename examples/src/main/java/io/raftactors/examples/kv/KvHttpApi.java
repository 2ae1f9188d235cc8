package io.raftactors.examples.kv;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.http.javadsl.Http;
import akka.http.javadsl.ServerBinding;
import akka.http.javadsl.model.ContentType;
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
import akka.http.javadsl.settings.ServerSettings;
import akka.http.javadsl.unmarshalling.Unmarshaller;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.ReadConsistency;
import io.raftactors.actor.Stages;
import io.raftactors.core.Role;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The HTTP API of one KV node (Akka HTTP). Writes go through the Raft log on the leader; a
 * follower answers writes and linearizable or lease reads with 307 to the leader's HTTP address.
 * Bad input is refused with a 4xx and a JSON error before it reaches the log. Every answer but a
 * value read is JSON: refusals of the router (404, 405), requests the server cannot parse (414 for a
 * target longer than {@link #MAX_URI_LENGTH}, 431, 400) and a node that does not answer in time
 * (503 for status requests and reads, 504 for writes) included.
 *
 * <pre>
 * PUT    /kv/{key}        body = value        200 {"index":N}
 * GET    /kv/{key}[?consistency=linearizable|lease|stale]   200 value | 404
 * DELETE /kv/{key}                            200 {"index":N} | 404
 * POST   /kv/{key}/cas    {"expected":..,"value":..}   200 {"index":N} | 409 {"current":..}
 * GET    /status                              200 {"node","role","term","leader","voters","learners",...}
 * GET    /metrics                             200 the Prometheus text format (RaftMeterBinder, JVM)
 * POST   /admin/members   {"id","address","http","learner"}   200 {"index","voters","learners"}
 * DELETE /admin/members/{id}                  200 {"index","voters","learners"}
 * POST   /admin/transfer-leadership   [{"to":id}]   200 {"leader","term"}
 * </pre>
 *
 * <p>A node that its configuration does not list (removed from the group) answers what it cannot
 * serve with 307 to a voter of that configuration, as it will hear of no leader.
 *
 * <p>Admin requests go to the leader like writes (a follower redirects with 307). A membership
 * change is answered 200 once the new configuration is committed; 409 when the group refused it
 * and nothing changed, with {@code "rejection"} naming why (CHANGE_IN_PROGRESS, NOT_A_MEMBER,
 * ALREADY_A_MEMBER, ALREADY_A_VOTER, LAST_VOTER, CATCH_UP_FAILED, NOT_A_VOTER, TRANSFER_IN_PROGRESS,
 * TRANSFER_TIMED_OUT, INVALID_REQUEST); 504 when the
 * outcome is unknown (GET /status tells the configuration). POST /admin/members with the id of a
 * learner and {@code "learner": false} promotes it.
 *
 * <p>Every answer to a write says one thing about whether it was applied: 200, 404 (delete of an
 * absent key) and 409 (cas that did not swap) were applied; 307, 503 (with Retry-After: no leader
 * known, or the leader is overloaded), 400, 413 and 422 were certainly not applied; 504 ("outcome
 * unknown") may or may not have been applied. Writes with an {@code Idempotency-Key} header are
 * applied at most once per key: a retry with the same key, through any node and across leader
 * changes, gets the first answer.
 */
public final class KvHttpApi extends AllDirectives {
  /** Longest key, in UTF-8 bytes. */
  public static final int MAX_KEY_BYTES = 1024;
  /**
   * Longest request target the server parses, in characters: a key of {@link #MAX_KEY_BYTES} bytes
   * percent-encoded byte by byte (3 characters each), with room for the path around it, a query and
   * an absolute-form target. A longer key reaches the route and gets 400 (JSON); a request beyond
   * even this gets 414 (JSON, from {@link ParsingErrors}).
   */
  public static final int MAX_URI_LENGTH = 3 * MAX_KEY_BYTES + 512;

  private static final ObjectMapper JSON = new ObjectMapper();
  /** How long a request waits for the node actor; a write without an answer by then is answered 504. */
  public static final Duration DEFAULT_ASK_TIMEOUT = Duration.ofSeconds(5);
  /** How long a request that finds no leader waits for an election before it is answered 503. */
  public static final Duration DEFAULT_WAIT_FOR_LEADER = Duration.ofSeconds(2);
  private static final Duration LEADER_POLL = Duration.ofMillis(20);
  /** The header that makes a write exactly-once (IETF httpapi draft "The Idempotency-Key HTTP Header Field"). */
  public static final String IDEMPOTENCY_KEY = "Idempotency-Key";

  private final ActorSystem<?> system;
  private final String memberId;
  private final ActorRef<RaftNode.Command> node;
  private final Map<String, String> httpAddresses;
  /** HTTP addresses recorded in the group's configuration, for members added at run time. */
  private final Map<String, String> learnedHttp = new java.util.concurrent.ConcurrentHashMap<>();
  /** The configuration in this node's last status (null before it has one). */
  private volatile io.raftactors.core.ClusterConfig lastConfiguration;
  private final int maxValueBytes;
  private final Duration ask;
  private final Duration waitForLeader;
  /** What GET /metrics serves (null: not served). */
  private final PrometheusMeterRegistry metrics;

  /**
   * @param httpAddresses member id -> "host:port" of its HTTP API, for redirects and /status
   * @param maxValueBytes longest value accepted, in UTF-8 bytes
   */
  public KvHttpApi(ActorSystem<?> system, String memberId, ActorRef<RaftNode.Command> node,
      Map<String, String> httpAddresses, int maxValueBytes) {
    this(system, memberId, node, httpAddresses, maxValueBytes, DEFAULT_ASK_TIMEOUT, DEFAULT_WAIT_FOR_LEADER);
  }

  /**
   * As above; {@code askTimeout} bounds each wait for the node actor's answer, {@code waitForLeader}
   * how long a request that finds no leader known waits for one to be elected (0: answer 503 at once).
   */
  public KvHttpApi(ActorSystem<?> system, String memberId, ActorRef<RaftNode.Command> node,
      Map<String, String> httpAddresses, int maxValueBytes, Duration askTimeout, Duration waitForLeader) {
    this(system, memberId, node, httpAddresses, maxValueBytes, askTimeout, waitForLeader, null);
  }

  /** As above; GET /metrics serves {@code metrics} in the Prometheus text format (null: no /metrics). */
  public KvHttpApi(ActorSystem<?> system, String memberId, ActorRef<RaftNode.Command> node,
      Map<String, String> httpAddresses, int maxValueBytes, Duration askTimeout, Duration waitForLeader,
      PrometheusMeterRegistry metrics) {
    this.metrics = metrics;
    this.ask = askTimeout;
    this.waitForLeader = waitForLeader;
    this.system = system;
    this.memberId = memberId;
    this.node = node;
    this.httpAddresses = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(httpAddresses));
    this.maxValueBytes = maxValueBytes;
  }

  public Route route() {
    return routeAfter(null);
  }

  /**
   * The API with {@code before} (another application route, such as raft-http's cluster view)
   * tried first, inside the API's JSON handling of refusals: a request {@code before} refuses for
   * its method (POST /ui) is answered 405 with the methods it allows, not 404 by the API's paths.
   */
  public Route routeAfter(Route before) {
    Route kv = concat(
        pathPrefix("kv", () -> concat(
            path(PathMatchers.segment().slash("cas"), key -> post(() -> idempotencyKey(ik ->
                entity(Unmarshaller.entityToString(), body -> completeWithFuture(cas(key, body, ik)))))),
            path(PathMatchers.segment(), key -> concat(
                put(() -> idempotencyKey(ik ->
                    entity(Unmarshaller.entityToString(), body -> completeWithFuture(put(key, body, ik))))),
                get(() -> parameterOptional("consistency", c -> completeWithFuture(get(key, c.orElse("linearizable"))))),
                delete(() -> idempotencyKey(ik -> completeWithFuture(delete(key, ik)))))))),
        path("status", () -> get(() -> completeWithFuture(status()))),
        path("metrics", () -> get(() -> complete(metrics()))),
        path(PathMatchers.segment("status").slash("write-path"), () -> get(() ->
            parameterOptional("reset", r -> completeWithFuture(writePath("true".equals(r.orElse("false"))))))),
        pathPrefix("admin", () -> concat(
            path("members", () -> post(() -> entity(Unmarshaller.entityToString(), body -> completeWithFuture(addMember(body))))),
            path(PathMatchers.segment("members").slash(PathMatchers.segment()), id -> delete(() -> completeWithFuture(removeMember(id)))),
            path("transfer-leadership", () -> post(() -> entity(Unmarshaller.entityToString(),
                body -> completeWithFuture(transferLeadership(body))))))));
    Route api = before == null ? kv : concat(before, kv);
    // Every refusal (unknown path, wrong method, ...) is answered in JSON, like the API's own errors:
    // a refused request reached no handler, so nothing was applied.
    RejectionHandler json = RejectionHandler.defaultHandler().mapRejectionResponse(r -> {
      if (r.entity() instanceof akka.http.javadsl.model.HttpEntity.Strict s && !s.getContentType().equals(ContentTypes.APPLICATION_JSON)) {
        return r.withEntity(ContentTypes.APPLICATION_JSON, obj().put("error", s.getData().utf8String()).put("applied", false).toString());
      }
      return r;
    });
    // The server's own request timeout is longer than every wait of the API, so it only answers a
    // request the API failed to answer; its answer is JSON too and does not claim what it cannot know.
    return withRequestTimeout(scala.concurrent.duration.Duration.fromNanos(requestTimeout().toNanos()), KvHttpApi::timedOut,
        () -> handleExceptions(jsonExceptions(this), () -> handleRejections(json, () -> api)));
  }

  /** Longer than any wait of a request: waiting for a leader, then for an admin change, then for a status. */
  Duration requestTimeout() {
    return waitForLeader.plus(adminTimeout().multipliedBy(2)).plusSeconds(5);
  }

  /**
   * An exception that escaped a route (a bug, or a request body that could not be read) is answered
   * in JSON: a body over the server's limit was certainly not applied; anything else sent to a write
   * may have been, for all this handler knows.
   */
  private static akka.http.javadsl.server.ExceptionHandler jsonExceptions(AllDirectives d) {
    return akka.http.javadsl.server.ExceptionHandler.newBuilder()
        .match(akka.http.scaladsl.model.EntityStreamSizeException.class, e -> d.complete(json(StatusCodes.PAYLOAD_TOO_LARGE,
            obj().put("error", "request body over the server's limit: " + e.getMessage()).put("applied", false))))
        .matchAny(e -> d.extractRequest(req -> d.complete(failed(req, StatusCodes.INTERNAL_SERVER_ERROR,
            "internal error: " + e)))).build();
  }

  private static HttpResponse timedOut(akka.http.javadsl.model.HttpRequest req) {
    return failed(req, StatusCodes.SERVICE_UNAVAILABLE, "the request was not answered in time");
  }

  /**
   * A request that failed for a reason the API does not know: a read changed nothing and may be
   * retried (503); a write may or may not have been applied (504, as for "outcome unknown").
   */
  private static HttpResponse failed(akka.http.javadsl.model.HttpRequest req, StatusCode readStatus, String reason) {
    if (req.method().equals(akka.http.javadsl.model.HttpMethods.GET) || req.method().equals(akka.http.javadsl.model.HttpMethods.HEAD)) {
      return retryLater(json(readStatus, obj().put("error", reason + "; a read changes nothing, retry it")));
    }
    return outcomeUnknown(reason, req.getHeader(IDEMPOTENCY_KEY).map(h -> h.value()).orElse(null));
  }

  /**
   * The request's Idempotency-Key (null without one). The draft makes it a structured-field string
   * ({@code "..."}); a bare token is accepted too. 1 to 255 visible ASCII characters, else 400.
   */
  private Route idempotencyKey(java.util.function.Function<String, Route> inner) {
    return optionalHeaderValueByName(IDEMPOTENCY_KEY, raw -> {
      if (raw.isEmpty()) return inner.apply(null);
      String k = raw.get().trim();
      if (k.length() >= 2 && k.startsWith("\"") && k.endsWith("\"")) k = k.substring(1, k.length() - 1);
      if (k.isEmpty() || k.length() > RaftNode.MAX_IDEMPOTENCY_KEY_LENGTH || !k.chars().allMatch(ch -> ch > 0x20 && ch < 0x7f)) {
        return complete(json(StatusCodes.BAD_REQUEST, obj().put("error", IDEMPOTENCY_KEY + " must be 1 to "
            + RaftNode.MAX_IDEMPOTENCY_KEY_LENGTH + " visible ASCII characters").put("applied", false)));
      }
      return inner.apply(k);
    });
  }

  // ------------------------------------------------------------------ operations

  private CompletionStage<HttpResponse> put(String key, String value, String idempotencyKey) {
    HttpResponse bad = checkKey(key, true);
    if (bad == null) bad = checkValue(value);
    if (bad != null) return done(bad);
    return write(new KvCommand.Put(key, value), idempotencyKey, "/kv/" + key,
        (index, result) -> json(StatusCodes.OK, obj().put("index", index)));
  }

  private CompletionStage<HttpResponse> delete(String key, String idempotencyKey) {
    HttpResponse bad = checkKey(key, true);
    if (bad != null) return done(bad);
    return write(new KvCommand.Delete(key), idempotencyKey, "/kv/" + key, (index, removed) -> removed == null
        ? json(StatusCodes.NOT_FOUND, obj().put("error", "no such key").put("index", index))
        : json(StatusCodes.OK, obj().put("index", index)));
  }

  private CompletionStage<HttpResponse> cas(String key, String body, String idempotencyKey) {
    HttpResponse bad = checkKey(key, true);
    if (bad != null) return done(bad);
    JsonNode req;
    try {
      req = JSON.readTree(body);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      return done(json(StatusCodes.BAD_REQUEST, obj().put("error", "malformed JSON: " + e.getOriginalMessage()).put("applied", false)));
    }
    if (req == null || !req.isObject() || !req.has("value") || !req.get("value").isTextual()
        || (req.has("expected") && !req.get("expected").isNull() && !req.get("expected").isTextual())) {
      return done(json(StatusCodes.BAD_REQUEST,
          obj().put("error", "expected a JSON object {\"expected\": string or null, \"value\": string}").put("applied", false)));
    }
    String value = req.get("value").asText();
    bad = checkValue(value);
    if (bad != null) return done(bad);
    String expected = req.has("expected") && !req.get("expected").isNull() ? req.get("expected").asText() : null;
    return write(new KvCommand.Cas(key, expected, value), idempotencyKey, "/kv/" + key + "/cas", (index, result) -> {
      KvCommand.CasResult r = (KvCommand.CasResult) result;
      if (r.swapped()) return json(StatusCodes.OK, obj().put("index", index));
      return json(StatusCodes.CONFLICT, obj().put("error", "current value differs").put("current", r.current()));
    });
  }

  private CompletionStage<HttpResponse> get(String key, String consistency) {
    HttpResponse bad = checkKey(key, false);
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
      answer = untilLeaderKnown(() -> statusOf().thenCompose(s -> s.role() == Role.LEADER
          ? query(key, c)
          : CompletableFuture.completedFuture(new RaftNode.NotLeader(s.leaderId()))));
    }
    return answer.thenApply(r -> {
      if (r instanceof RaftNode.QueryResult q) {
        return q.result() == null
            ? json(StatusCodes.NOT_FOUND, obj().put("error", "no such key"))
            : HttpResponse.create().withStatus(StatusCodes.OK).withEntity(ContentTypes.TEXT_PLAIN_UTF8, (String) q.result());
      }
      if (r instanceof RaftNode.NotLeader nl) return notLeader(nl.leaderId(), "/kv/" + key + "?consistency=" + consistency);
      RaftNode.Rejected rj = (RaftNode.Rejected) r;
      return json(StatusCodes.BAD_REQUEST, obj().put("error", rj.reason()));
    }).exceptionally(e -> retryLater(json(StatusCodes.SERVICE_UNAVAILABLE,
        obj().put("error", "read not served: no answer within " + ask.toMillis() + " ms; a read changes nothing, retry it"))));
  }

  private CompletionStage<RaftNode.QueryReply> query(String key, ReadConsistency c) {
    return Stages.ask(node, r -> new RaftNode.Query(new KvCommand.Get(key), c, r), ask, system.scheduler());
  }

  private CompletionStage<RaftNode.Status> statusOf() {
    return statusOf(ask);
  }

  private CompletionStage<RaftNode.Status> statusOf(Duration timeout) {
    return Stages.<RaftNode.Command, RaftNode.Status>ask(node, RaftNode.GetStatus::new, timeout, system.scheduler())
        .thenApply(s -> {
          learn(s.configuration());
          lastConfiguration = s.configuration();
          return s;
        });
  }

  /** Remembers the HTTP addresses that the group's configuration records. */
  private void learn(io.raftactors.core.ClusterConfig c) {
    if (c == null) return;
    c.addresses().forEach((id, a) -> {
      if (a.client() != null) learnedHttp.put(id, a.client());
    });
  }

  private String httpOf(String member) {
    String a = httpAddresses.get(member);
    return a != null ? a : learnedHttp.get(member);
  }

  // ------------------------------------------------------------------ admin: membership and transfer

  private CompletionStage<HttpResponse> addMember(String body) {
    JsonNode req;
    try {
      req = JSON.readTree(body);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      return done(json(StatusCodes.BAD_REQUEST, obj().put("error", "malformed JSON: " + e.getOriginalMessage()).put("applied", false)));
    }
    String usage = "expected {\"id\": string, \"address\": \"akka://system@host:port\", \"http\": \"host:port\", \"learner\": boolean}";
    if (req == null || !req.isObject() || !req.path("id").isTextual() || req.path("id").asText().isBlank()) {
      return done(json(StatusCodes.BAD_REQUEST, obj().put("error", usage).put("applied", false)));
    }
    String id = req.get("id").asText();
    boolean learner = req.path("learner").asBoolean(false);
    String address = req.path("address").isTextual() ? req.get("address").asText() : null;
    String http = req.path("http").isTextual() ? req.get("http").asText() : null;
    if (address != null) {
      try {
        akka.actor.AddressFromURIString.parse(address);
      } catch (Exception e) { // the parser throws MalformedURLException without declaring it
        return done(json(StatusCodes.BAD_REQUEST, obj().put("error", "address '" + address + "' is no Akka address ("
            + "akka://system@host:port)").put("applied", false)));
      }
    }
    if (http != null && !http.matches("[^:\\s/]+:\\d{1,5}")) {
      return done(json(StatusCodes.BAD_REQUEST, obj().put("error", "http must be host:port, was '" + http + "'").put("applied", false)));
    }
    io.raftactors.core.MemberAddress where = address == null ? null : new io.raftactors.core.MemberAddress(address, http);
    return untilLeaderKnown(this::statusOf).thenCompose(s -> {
      if (s.role() != Role.LEADER) return done(notLeader(s.leaderId(), "/admin/members"));
      io.raftactors.core.ClusterConfig c = s.configuration();
      if (where == null && !(c != null && c.isMember(id))) {
        return done(json(StatusCodes.BAD_REQUEST, obj().put("error", "address is required for a new member").put("applied", false)));
      }
      io.raftactors.core.MembershipChange change = c != null && c.isLearner(id) && !learner
          ? new io.raftactors.core.MembershipChange.Promote(id)
          : learner ? new io.raftactors.core.MembershipChange.AddLearner(id, where)
          : new io.raftactors.core.MembershipChange.AddVoter(id, where);
      return changeMembers(change, "/admin/members");
    });
  }

  private CompletionStage<HttpResponse> removeMember(String id) {
    return changeMembers(new io.raftactors.core.MembershipChange.Remove(id), "/admin/members/" + id);
  }

  private CompletionStage<HttpResponse> changeMembers(io.raftactors.core.MembershipChange change, String path) {
    CompletionStage<RaftNode.AdminReply> reply = untilLeaderKnown(() -> Stages.<RaftNode.Command, RaftNode.AdminReply>ask(
        node, r -> new RaftNode.ChangeMembers(java.util.List.of(change), r), adminTimeout(), system.scheduler()));
    return reply.thenApply(r -> {
      if (r instanceof RaftNode.MembersChanged m) {
        learn(m.configuration());
        ObjectNode o = obj().put("index", m.index());
        m.configuration().voters().forEach(o.putArray("voters")::add);
        m.configuration().learners().forEach(o.putArray("learners")::add);
        return json(StatusCodes.OK, o);
      }
      return adminRefusal(r, path, "membership change");
    }).exceptionally(e -> adminUnknown("no answer within " + adminTimeout().toMillis() + " ms", "membership change"));
  }

  private CompletionStage<HttpResponse> transferLeadership(String body) {
    String to = null;
    if (body != null && !body.isBlank()) {
      try {
        JsonNode req = JSON.readTree(body);
        if (req != null && req.isObject() && req.path("to").isTextual()) to = req.get("to").asText();
        else if (req != null && !(req.isObject() && (req.isEmpty() || req.path("to").isNull()))) {
          return done(json(StatusCodes.BAD_REQUEST, obj().put("error", "expected {\"to\": member id} or no body").put("applied", false)));
        }
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        return done(json(StatusCodes.BAD_REQUEST, obj().put("error", "malformed JSON: " + e.getOriginalMessage()).put("applied", false)));
      }
    }
    String target = to;
    CompletionStage<RaftNode.AdminReply> reply = untilLeaderKnown(() -> Stages.<RaftNode.Command, RaftNode.AdminReply>ask(
        node, r -> new RaftNode.TransferLeadership(target, r), ask, system.scheduler()));
    return reply.thenApply(r -> {
      if (r instanceof RaftNode.LeadershipTransferred t) return json(StatusCodes.OK, obj().put("leader", t.leaderId()).put("term", t.term()));
      return adminRefusal(r, "/admin/transfer-leadership", "leadership transfer");
    }).exceptionally(e -> adminUnknown("no answer within " + ask.toMillis() + " ms", "leadership transfer"));
  }

  /** A change may take a while: new voters catch up first. The ask waits as long as a client would. */
  private Duration adminTimeout() {
    return ask.multipliedBy(6);
  }

  private HttpResponse adminRefusal(RaftNode.AdminReply r, String path, String what) {
    if (r instanceof RaftNode.NotLeader nl) return notLeader(nl.leaderId(), path);
    if (r instanceof RaftNode.Rejected rj) {
      return json(StatusCodes.CONFLICT, obj().put("error", rj.reason()).put("rejection", rj.rejection().name())
          .put("applied", false));
    }
    return adminUnknown(((RaftNode.OutcomeUnknown) r).reason(), what);
  }

  private static HttpResponse adminUnknown(String reason, String what) {
    return json(StatusCodes.GATEWAY_TIMEOUT, obj().put("error", "outcome unknown").put("detail", reason).put("applied", "unknown")
        .put("note", "the " + what + " may or may not have been made; GET /status shows the configuration"));
  }

  private CompletionStage<HttpResponse> status() {
    return statusOf().thenApply(s -> {
      ObjectNode o = obj().put("node", memberId).put("phase", s.phase().name()).put("role", s.role().name()).put("term", s.term())
          .put("leader", s.leaderId()).put("commitIndex", s.commitIndex()).put("appliedIndex", s.lastApplied());
      io.raftactors.core.ClusterConfig c = s.configuration();
      if (c != null) {
        c.voters().forEach(o.putArray("voters")::add);
        c.learners().forEach(o.putArray("learners")::add);
        if (c.joint()) c.outgoingVoters().forEach(o.putObject("joint").putArray("outgoingVoters")::add);
      }
      ObjectNode members = o.putObject("members");
      java.util.TreeMap<String, String> all = new java.util.TreeMap<>(learnedHttp);
      all.putAll(httpAddresses);
      all.forEach((id, addr) -> {
        if (c == null || c.isMember(id)) members.put(id, "http://" + addr);
      });
      if (!s.matchIndexes().isEmpty()) {
        ObjectNode match = o.putObject("matchIndex"); // a leader's view of how far each other member has the log
        new java.util.TreeMap<>(s.matchIndexes()).forEach(match::put);
      }
      if (s.problem() != null) o.put("problem", s.problem());
      return json(StatusCodes.OK, o);
    }).exceptionally(e -> noAnswer("status"));
  }

  /** The Prometheus text format, version 0.0.4, which every Prometheus server scrapes. */
  static final ContentType.NonBinary PROMETHEUS_TEXT =
      (ContentType.NonBinary) ContentTypes.parse("text/plain; version=0.0.4; charset=utf-8");

  /**
   * GET /metrics: the node's metrics and the JVM's, as the registry holds them (the node's are as
   * of its last snapshot, at most kv.metrics-interval old); 404 in JSON where none are kept.
   */
  private HttpResponse metrics() {
    if (metrics == null) return json(StatusCodes.NOT_FOUND, obj().put("error", "this node serves no metrics"));
    return HttpResponse.create().withEntity(PROMETHEUS_TEXT, metrics.scrape());
  }

  /** 503: the node actor did not answer in time (busy, or starting); asking again is always safe. */
  private HttpResponse noAnswer(String what) {
    return retryLater(json(StatusCodes.SERVICE_UNAVAILABLE, obj().put("node", memberId)
        .put("error", "the node did not answer the " + what + " request within " + ask.toMillis() + " ms; asking again is safe")));
  }

  /**
   * GET /status/write-path[?reset=true]: where this node's time went on the write path since it
   * started or since the last reset (RaftNode.GetMetrics): per stage the count and the mean,
   * p50, p90, p99, p99.9 and max in ms, the batch sizes, the round trip to each follower, and
   * storage writes per committed entry.
   */
  private CompletionStage<HttpResponse> writePath(boolean reset) {
    return Stages.<RaftNode.Command, io.raftactors.actor.NodeMetrics.Snapshot>ask(node,
            r -> new RaftNode.GetMetrics(reset, r), ask, system.scheduler())
        .thenApply(m -> {
          ObjectNode o = obj().put("node", m.memberId()).put("sinceMillis", m.sinceMillis());
          ObjectNode stages = o.putObject("stagesMs");
          m.stages().forEach((k, v) -> summary(stages.putObject(k.name().toLowerCase(java.util.Locale.ROOT)), v, 1000.0));
          ObjectNode sizes = o.putObject("sizes");
          m.sizes().forEach((k, v) -> summary(sizes.putObject(k.name().toLowerCase(java.util.Locale.ROOT)), v, 1.0));
          ObjectNode rtt = o.putObject("roundTripMsByFollower");
          m.roundTripByFollower().forEach((k, v) -> summary(rtt.putObject(k), v, 1000.0));
          o.put("writes", m.writes()).put("entriesWritten", m.entriesWritten()).put("entriesCommitted", m.entriesCommitted())
              .put("writesPerCommittedEntry", m.fsyncsPerCommittedEntry());
          return json(StatusCodes.OK, o);
        }).exceptionally(e -> noAnswer("write-path breakdown"));
  }

  private static void summary(ObjectNode o, io.raftactors.actor.NodeMetrics.Summary s, double unit) {
    o.put("count", s.count()).put("mean", s.mean() / unit).put("p50", s.p50() / unit).put("p90", s.p90() / unit)
        .put("p99", s.p99() / unit).put("p999", s.p999() / unit).put("max", s.max() / unit);
  }

  @FunctionalInterface
  private interface OnApplied {
    HttpResponse respond(long index, Object result);
  }

  /**
   * Proposes {@code command} to this node; a follower answers with a redirect to the leader. Each
   * reply class maps to one answer class: applied, certainly not applied, or outcome unknown (504).
   */
  private CompletionStage<HttpResponse> write(KvCommand command, String idempotencyKey, String path, OnApplied onApplied) {
    CompletionStage<RaftNode.ProposeReply> reply = untilLeaderKnown(() ->
        Stages.ask(node, r -> new RaftNode.Propose(command, idempotencyKey, r), ask, system.scheduler()));
    return reply.thenApply(r -> {
      if (r instanceof RaftNode.Applied a) return onApplied.respond(a.index(), a.result());
      if (r instanceof RaftNode.NotLeader nl) return notLeader(nl.leaderId(), path);
      if (r instanceof RaftNode.Rejected rj) return json(StatusCodes.BAD_REQUEST, obj().put("error", rj.reason()).put("applied", false));
      if (r instanceof RaftNode.Overloaded o) {
        return retryLater(json(StatusCodes.SERVICE_UNAVAILABLE, obj().put("error", "overloaded").put("detail", o.reason()).put("applied", false)));
      }
      if (r instanceof RaftNode.IdempotencyKeyReused k) {
        return json(StatusCodes.UNPROCESSABLE_ENTITY, obj()
            .put("error", IDEMPOTENCY_KEY + " '" + k.key() + "' was already used for a different request").put("applied", false));
      }
      return outcomeUnknown(((RaftNode.OutcomeUnknown) r).reason(), idempotencyKey);
    }).exceptionally(e -> outcomeUnknown("no answer from the node within " + ask.toMillis() + " ms", idempotencyKey));
  }

  /**
   * Runs {@code attempt} again every few milliseconds while it answers "no leader known" (a
   * NotLeader without a leader: certainly nothing was appended, so trying again is safe), for up to
   * {@code waitForLeader}: a request that arrives during an election is answered once the new
   * leader is known, instead of with a 503 the client would have to retry.
   */
  private <R> CompletionStage<R> untilLeaderKnown(java.util.function.Supplier<CompletionStage<R>> attempt) {
    return untilLeaderKnown(attempt, System.nanoTime() + waitForLeader.toNanos());
  }

  private <R> CompletionStage<R> untilLeaderKnown(java.util.function.Supplier<CompletionStage<R>> attempt, long deadline) {
    return attempt.get().thenCompose(r -> waitingForLeader(r).thenCompose(wait -> {
      if (!wait || System.nanoTime() + LEADER_POLL.toNanos() > deadline) return CompletableFuture.completedFuture(r);
      return akka.pattern.Patterns.after(LEADER_POLL, system.classicSystem().scheduler(), system.executionContext(),
          () -> untilLeaderKnown(attempt, deadline));
    }));
  }

  /**
   * True if {@code r} says "try again shortly here": no leader is known (an election runs), or this
   * node still leads but refused, because it is handing its leadership over (the answer names the
   * target, which may not lead yet: a redirect there could bounce back).
   */
  private CompletionStage<Boolean> waitingForLeader(Object r) {
    if (r instanceof RaftNode.Status s) {
      return CompletableFuture.completedFuture(s.role() != Role.LEADER && s.leaderId() == null && !outside(s.configuration()));
    }
    if (!(r instanceof RaftNode.NotLeader nl)) return CompletableFuture.completedFuture(false);
    // A node outside the configuration (removed) hears from no leader: waiting would only end in a
    // 503. A short ask: without an answer in time, wait as for an election.
    if (nl.leaderId() == null) return statusOf(LEADER_POLL).thenApply(s -> !outside(s.configuration())).exceptionally(e -> true);
    return statusOf().thenApply(s -> s.role() == Role.LEADER).exceptionally(e -> false);
  }

  /** True if {@code c} does not list this node: it was removed (or is not added yet), and no leader will contact it. */
  private boolean outside(io.raftactors.core.ClusterConfig c) {
    return c != null && !c.isMember(memberId);
  }

  /** 504: the command may or may not have been applied; the body says so, and how to find out. */
  private static HttpResponse outcomeUnknown(String reason, String idempotencyKey) {
    String how = idempotencyKey != null
        ? "retry with the same " + IDEMPOTENCY_KEY + " to get its outcome without applying it twice"
        : "retrying it may apply it twice; send writes with an " + IDEMPOTENCY_KEY + " header to retry safely";
    return json(StatusCodes.GATEWAY_TIMEOUT, obj().put("error", "outcome unknown").put("detail", reason)
        .put("applied", "unknown").put("note", "the command may or may not have been applied; " + how));
  }

  private static HttpResponse retryLater(HttpResponse r) {
    return r.addHeader(RetryAfter.create(1L));
  }

  private HttpResponse notLeader(String leader, String path) {
    String addr = leader == null ? null : httpOf(leader);
    io.raftactors.core.ClusterConfig c = lastConfiguration;
    if (leader == null && outside(c)) {
      // Removed, e.g. a leader that removed itself and handed over: the group has a leader this node
      // will not hear of. A voter of its last configuration knows it (or waits for it): send the request there.
      for (String v : c.voters()) {
        String a = httpOf(v);
        if (a == null) continue;
        return json(StatusCodes.TEMPORARY_REDIRECT, obj().put("error", "not a member of the group").put("member", v))
            .addHeader(Location.create("http://" + a + path));
      }
    }
    if (addr == null) {
      return retryLater(json(StatusCodes.SERVICE_UNAVAILABLE,
          obj().put("error", "no leader known; retry shortly").put("applied", false)));
    }
    return json(StatusCodes.TEMPORARY_REDIRECT, obj().put("error", "not the leader").put("leader", leader))
        .addHeader(Location.create("http://" + addr + path));
  }

  // ------------------------------------------------------------------ binding

  /** Binds this API at host:port with {@link #serverSettings}. */
  public CompletionStage<ServerBinding> bind(String host, int port) {
    return bind(system, host, port, CompletableFuture.completedFuture(route()));
  }

  /**
   * Binds host:port with {@link #serverSettings} before the API exists: a request that arrives
   * before {@code api} completes waits for it. A member binds its port first, so that a port in use
   * stops its start before the node has started and written anything.
   */
  public static CompletionStage<ServerBinding> bind(ActorSystem<?> system, String host, int port, CompletionStage<Route> api) {
    AllDirectives d = new AllDirectives() {};
    Route waiting = d.handleExceptions(jsonExceptions(d), () -> d.onSuccess(api, r -> r));
    return Http.get(system).newServerAt(host, port).withSettings(serverSettings(system)).bind(waiting);
  }

  /**
   * The server settings of the API: the request-target limit follows the key limit
   * ({@link #MAX_URI_LENGTH}), and requests the server cannot parse are answered in JSON ({@link ParsingErrors}).
   */
  public static ServerSettings serverSettings(ActorSystem<?> system) {
    ServerSettings s = ServerSettings.create(system.classicSystem());
    return s.withParserSettings(s.getParserSettings().withMaxUriLength(MAX_URI_LENGTH))
        .withParsingErrorHandler(ParsingErrors.class.getName());
  }

  /**
   * The answer to a request the server cannot parse (414 URI too long, 431 header too large, 400
   * malformed): JSON like every other answer of the API. Such a request reached no route, so it was
   * certainly not applied. Logged at DEBUG: it is the client's mistake, and the client is told.
   */
  public static final class ParsingErrors extends akka.http.ParsingErrorHandler {
    @Override
    public HttpResponse handle(akka.http.scaladsl.model.StatusCode status, akka.http.scaladsl.model.ErrorInfo info,
        akka.event.LoggingAdapter log, akka.http.scaladsl.settings.ServerSettings settings) {
      log.debug("Illegal request, answered {}: {}", status, info.formatPretty());
      ObjectNode body = obj().put("error", info.summary()).put("applied", false);
      if (status.intValue() == StatusCodes.URI_TOO_LONG.intValue()) {
        body.put("detail", "a request target has at most " + settings.parserSettings().maxUriLength()
            + " characters; keys have at most " + MAX_KEY_BYTES + " bytes (UTF-8)");
      } else if (!info.detail().isEmpty()) {
        body.put("detail", info.detail());
      }
      return json(status, body);
    }
  }

  // ------------------------------------------------------------------ validation and JSON

  /** 400 for an empty key or one over {@link #MAX_KEY_BYTES}; a write's answer says it was not applied. */
  private static HttpResponse checkKey(String key, boolean write) {
    ObjectNode error = null;
    int n = key.getBytes(StandardCharsets.UTF_8).length;
    if (key.isEmpty()) error = obj().put("error", "empty key");
    else if (n > MAX_KEY_BYTES) error = obj().put("error", "key of " + n + " bytes (UTF-8); at most " + MAX_KEY_BYTES);
    if (error == null) return null;
    if (write) error.put("applied", false);
    return json(StatusCodes.BAD_REQUEST, error);
  }

  private HttpResponse checkValue(String value) {
    int n = value.getBytes(StandardCharsets.UTF_8).length;
    if (n > maxValueBytes) {
      return json(StatusCodes.PAYLOAD_TOO_LARGE, obj().put("error", "value of " + n + " bytes; at most " + maxValueBytes)
          .put("applied", false));
    }
    return null;
  }

  private static ObjectNode obj() {
    return JSON.createObjectNode();
  }

  private static HttpResponse json(StatusCode status, ObjectNode body) {
    return HttpResponse.create().withStatus(status).withEntity(ContentTypes.APPLICATION_JSON, body.toString());
  }

  private static CompletionStage<HttpResponse> done(HttpResponse r) {
    return CompletableFuture.completedFuture(r);
  }
}
