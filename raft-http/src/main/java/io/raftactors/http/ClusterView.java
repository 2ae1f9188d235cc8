package io.raftactors.http;

import akka.NotUsed;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.http.javadsl.marshalling.sse.EventStreamMarshalling;
import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.headers.CacheControl;
import akka.http.javadsl.model.headers.CacheDirectives;
import akka.http.javadsl.model.sse.ServerSentEvent;
import akka.http.javadsl.server.Directives;
import akka.http.javadsl.server.Route;
import akka.stream.javadsl.Source;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.RaftSettings;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * A live view of a Raft group as an Akka HTTP route that any application running a {@link
 * RaftNode} can mount: {@code GET /ui} serves a page (one self-contained HTML file; it fetches
 * nothing else) that shows every member of the group as it changes, and {@code GET /ui/events}
 * streams what the page shows as server-sent events.
 *
 * <pre>{@code
 * Route routes = concat(ClusterView.route(system, node, settings), myOwnRoutes);
 * Http.get(system).newServerAt("127.0.0.1", 8081).bind(routes);   // http://127.0.0.1:8081/ui
 * }</pre>
 *
 * Mounted under a prefix ({@code pathPrefix("raft", () -> ClusterView.route(...))}) the page is at
 * {@code /raft/ui} and finds its events next to it.
 *
 * <p>Every {@link Options#interval} (250 ms by default) each open event stream asks every member
 * of the group's configuration (voters, outgoing voters during a joint change, and learners) for
 * its {@link RaftNode.Status}: the local node directly, the others through {@link RaftNode#nodeOf}
 * (remoting), each with {@link Options#askTimeout}. A member that does not answer in time is shown
 * down with the reason until it answers again; a slow member never holds up an event. Each event is
 * one JSON document:
 *
 * <pre>
 * {"at": 1733400000000,               server time, ms since the epoch
 *  "node": "n1", "group": "kv",        the member serving the page, and its group
 *  "leader": "n2",                     the member that answers as leader in the latest term any member answers with; null if none
 *  "term": 7,                          that latest term
 *  "voters": [..], "learners": [..], "outgoingVoters": [..],   the configuration (the leader's; else this node's)
 *  "members": [
 *    {"id": "n1", "kind": "voter", "self": true, "address": "akka://raft@127.0.0.1:2551",
 *     "up": true, "role": "FOLLOWER", "term": 7, "leader": "n2", "phase": "RUNNING",
 *     "commitIndex": 41, "appliedIndex": 41, "lastIndex": 41, "matchIndex": 41, "lag": 0},
 *    {"id": "n3", "kind": "learner", "self": false, "up": false, "error": "no answer within 300 ms",
 *     "downSince": 1733399990000, "matchIndex": 12, "lag": 29}]}
 * </pre>
 *
 * {@code up} is null for a member that has neither answered nor failed to answer yet (the first
 * moments of a stream). A member's {@code role}, {@code term}, {@code leader}, indexes, {@code
 * phase} and {@code problem} (while it does not take part) are what it says about itself; {@code
 * matchIndex} and {@code lag} (the leader's last index minus the match index) are the leader's
 * view, present while a leader answers. {@code kind} is {@code "voter"}, {@code "learner"}, {@code
 * "outgoing voter"} or, for the serving node when the configuration does not list it, {@code "not a
 * member"}.
 *
 * <p>The route is read-only and has no access control of its own: it shows the group's members,
 * their addresses and progress to whoever reaches it. Each open page costs one status request per
 * member per interval.
 */
public final class ClusterView {
  private ClusterView() {}

  /** The classpath resource of the page, next to this class. */
  static final String PAGE = "ui.html";
  /** How soon a browser reconnects to a broken event stream, in ms (sent with each event). */
  static final int RECONNECT_MILLIS = 1000;

  /**
   * How the view polls the group.
   *
   * @param interval time between two events of a stream (and two status requests to each member)
   * @param askTimeout how long a member may take to answer before it is shown down (the first request
   *     of a stream to each member may take 3 s: the first one between two ActorSystems also sets
   *     up their serializers)
   */
  public record Options(Duration interval, Duration askTimeout) {
    public Options {
      if (interval == null || interval.isZero() || interval.isNegative()) {
        throw new IllegalArgumentException("interval must be positive, was " + interval);
      }
      if (askTimeout == null || askTimeout.isZero() || askTimeout.isNegative()) {
        throw new IllegalArgumentException("askTimeout must be positive, was " + askTimeout);
      }
    }

    /** An event every 250 ms; a member that takes more than 300 ms to answer is shown down. */
    public static Options defaults() {
      return new Options(Duration.ofMillis(250), Duration.ofMillis(300));
    }
  }

  /** {@link #route(ActorSystem, ActorRef, RaftSettings, Options)} with {@link Options#defaults()}. */
  public static Route route(ActorSystem<?> system, ActorRef<RaftNode.Command> node, RaftSettings settings) {
    return route(system, node, settings, Options.defaults());
  }

  /**
   * The route serving {@code GET /ui} (also {@code /ui/}) and {@code GET /ui/events}; it rejects
   * every other request, so it combines with other routes in a {@code concat}.
   *
   * @param node the node actor this application started ({@link RaftNode#start})
   * @param settings that node's settings: its group, its id and where the other members are
   */
  public static Route route(ActorSystem<?> system, ActorRef<RaftNode.Command> node, RaftSettings settings, Options options) {
    String page = page();
    CacheControl noCache = CacheControl.create(CacheDirectives.NO_CACHE);
    return Directives.pathPrefix("ui", () -> Directives.concat(
        Directives.pathEndOrSingleSlash(() -> Directives.get(() -> Directives.complete(
            HttpResponse.create().withEntity(ContentTypes.TEXT_HTML_UTF8, page).addHeader(noCache)))),
        Directives.path("events", () -> Directives.get(() -> Directives.respondWithHeader(noCache, () ->
            Directives.completeOK(events(system, node, settings, options).map(json -> ServerSentEvent.create(json, RECONNECT_MILLIS)),
                EventStreamMarshalling.toEventStream()))))));
  }

  /**
   * The JSON documents of the event stream, one per {@link Options#interval}, the first at once;
   * each materialization polls the group on its own until it is cancelled.
   */
  public static Source<String, NotUsed> events(ActorSystem<?> system, ActorRef<RaftNode.Command> node, RaftSettings settings,
      Options options) {
    return Source.fromMaterializer((mat, attributes) -> {
      GroupPoller poller = new GroupPoller(system, node, settings, options);
      return Source.tick(Duration.ZERO, options.interval(), NotUsed.notUsed())
          .mapAsync(1, tick -> poller.poll())
          .map(GroupPoller::json);
    }).mapMaterializedValue(m -> NotUsed.notUsed());
  }

  /** The page, from the classpath. */
  static String page() {
    try (InputStream in = ClusterView.class.getResourceAsStream(PAGE)) {
      if (in == null) throw new IllegalStateException("the cluster view's page " + PAGE + " is missing from the classpath");
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the cluster view's page " + PAGE, e);
    }
  }
}
