package io.raftactors.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.raftactors.examples.kv.KvNode;
import io.raftactors.sim.LinearizabilityChecker;
import io.raftactors.sim.LinearizabilityChecker.Kind;
import io.raftactors.sim.LinearizabilityChecker.Op;
import io.raftactors.sim.LinearizabilityChecker.Outcome;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Membership changes, leadership transfers and a rolling restart of the leader, end to end: KV
 * member JVMs on segment files, the default storage ({@link KvProcessCluster}), while HTTP clients ({@link
 * HttpKvClient}) keep writing (put, cas, delete, each with an Idempotency-Key, retried with it when
 * the outcome is unknown) and reading (linearizable, lease, stale) on a few keys:
 *
 * <ol>
 *   <li>the group grows from the founders n1, n2, n3 to five voters (n4 and n5 start with {@code
 *       --join}; each is added with {@code POST /admin/members} as a learner and, once caught up,
 *       promoted with a second one), hands its leadership to n4, and shrinks back to three by
 *       removing n5 and then n4, the leader (a write sent to n4 afterwards is redirected);
 *   <li>n3 is replaced by n6, a new member on empty storage whose addresses the founders' settings
 *       do not list: n6 is added, then n3 is removed;
 *   <li>the leadership is transferred 20 times, to a named voter and to whichever voter the leader
 *       picks, in turn, each timed from request to answer;
 *   <li>the leader's JVM gets SIGTERM (it hands its leadership over before it stops) and is started
 *       again on its data.
 * </ol>
 *
 * <p>Then the writers stop, the members converge, every key is read on every member, and the run
 * checks: the history is linearizable ({@link LinearizabilityChecker}), no acknowledged write was
 * lost, the members agree, no write was answered 5xx while a transfer was under way or while the
 * leader handed over on SIGTERM, every admin request was answered 200, and every member holds the
 * expected configuration (voters n1, n2, n6, no learner). The timings (transfer median and
 * maximum, the longest gap between acknowledged writes around the SIGTERM, the 5xx answers in each
 * phase) are printed; only bounds that cannot flake on a busy machine are asserted.
 */
class KvMembershipEndToEndTest {
  private static final List<String> FOUNDERS = KvProcessCluster.IDS;
  private static final List<String> JOINING = List.of("n4", "n5", "n6");
  private static final List<String> FIVE = List.of("n1", "n2", "n3", "n4", "n5");
  private static final List<String> FINAL = List.of("n1", "n2", "n6");
  private static final int CLIENTS = 6;
  private static final int KEYS = 8;
  private static final int TRANSFERS = 20;
  /** Generous: a transfer takes a few hundred milliseconds. */
  private static final Duration TRANSFER_BOUND = Duration.ofSeconds(5);
  /** Generous: the hand-over on SIGTERM is bounded by raft.membership.transfer-timeout (2 s). */
  private static final Duration GAP_BOUND = Duration.ofSeconds(5);
  private static final Duration START = Duration.ofSeconds(120);
  private static final Duration SETTLE = Duration.ofSeconds(30);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient ADMIN = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(2)).build();

  /** Member logs and data; kept when the test fails. */
  @TempDir(cleanup = CleanupMode.ON_SUCCESS) Path dir;

  /** A stretch of the run: what happened ({@code kind}: transfer, sigterm, membership, restart) from {@code from} to {@code to}. */
  private record Window(String name, String kind, long from, long to) {}

  /** An answer to an admin request, redirects followed. */
  private record AdminAnswer(int status, JsonNode body, long millis) {}

  /** A 5xx answer to a write. */
  private record ServerError(Op op, KvHistory.Exchange exchange) {}

  private final List<Window> windows = new ArrayList<>();
  private final List<String> adminLog = new ArrayList<>();
  private KvProcessCluster cluster;
  private Workload workload;
  private long t0;
  private int adminNext;

  @Test
  void membersComeAndGoAndLeadershipMovesUnderWritersWithoutLosingAWriteOrAnswering5xxDuringAHandOver() throws Exception {
    t0 = System.nanoTime();
    List<Long> transferMillis = new ArrayList<>();
    long sigterm;
    long restartAt;
    long exited;
    long restartedHttp;
    long caughtUp;
    String restarted;
    Map<String, KvProcessCluster.Status> finalStatuses;
    List<String> exits = new ArrayList<>();
    try (KvProcessCluster c = new KvProcessCluster(dir, KvNode.class, "", JOINING)) {
      cluster = c;
      // All six JVMs at once (starting them is the slow part): the joining ones wait to be added.
      for (String id : c.ids()) c.start(id);
      for (String id : c.ids()) c.awaitHttp(id, START);
      String leader = awaitLeader(FOUNDERS, FOUNDERS);
      log("six member JVMs answer HTTP, %s leads the founders", leader);

      workload = new Workload(c.httpAddresses(), FOUNDERS, Set.copyOf(JOINING));
      workload.start(ThreadLocalRandom.current().nextLong());
      TimeUnit.MILLISECONDS.sleep(1000); // writers under way before the first change

      // 1. Three to five voters and back, the leader removed last.
      add("n4");
      add("n5");
      awaitConfiguration(FIVE, FIVE);
      transfer(awaitLeader(FIVE, FIVE), "n4", "transfer to n4");
      workload.forget("n5"); // not the leader: no request needs to reach it any more
      remove("n5", "remove n5", null);
      workload.retire("n4"); // the leader: no new request, but redirects still reach it until it steps down
      // The window lasts until the others agree on the next leader: a removed leader hands over too.
      remove("n4", "remove n4 (the leader) until the others follow the next one", () -> awaitConfiguration(FOUNDERS, FOUNDERS));
      for (String id : List.of("n4", "n5")) cluster.status(id, Duration.ofSeconds(1)).ifPresent(s -> log("%s after its removal: %s", id, s));
      // It hears from no leader any more: a write that still reaches it is redirected to a voter.
      KvHistory.Exchange first = writeThrough("n4");
      log("a write sent to n4 after its removal: %d from n4 after %d ms", first.status(), millis(first.answered() - first.sent()));
      assertEquals(307, first.status(), "a removed member redirects a write");
      stop("n4");
      stop("n5");

      // 2. n3 replaced by n6, a member on empty storage the founders' settings do not list.
      workload.admit("n6");
      add("n6");
      String leaderBefore = awaitLeader(List.of("n1", "n2", "n3", "n6"), List.of("n1", "n2", "n3", "n6"));
      if ("n3".equals(leaderBefore)) workload.retire("n3");
      else workload.forget("n3");
      remove("n3", "remove n3" + ("n3".equals(leaderBefore) ? " (the leader)" : "") + " until the others agree",
          () -> awaitConfiguration(FINAL, FINAL));
      cluster.status("n3", Duration.ofSeconds(1)).ifPresent(s -> log("n3 after its removal: %s", s));
      stop("n3");

      // 3. Twenty transfers: to the next voter by name, and to whichever voter the leader picks, in turn.
      leader = awaitLeader(FINAL, FINAL);
      // A refused change says why: removing a member that is gone is 409 NOT_A_MEMBER, and changes nothing.
      AdminAnswer gone = admin("DELETE", leader, "/admin/members/n3", null);
      assertEquals(409, gone.status(), gone.toString());
      assertEquals("NOT_A_MEMBER", gone.body().get("rejection").asText(), gone.toString());
      long transfersFrom = System.nanoTime();
      for (int i = 0; i < TRANSFERS; i++) {
        String to = i % 2 == 0 ? FINAL.get((FINAL.indexOf(leader) + 1) % FINAL.size()) : null;
        AdminAnswer a = transfer(leader, to, "transfer " + (i + 1) + "/" + TRANSFERS);
        transferMillis.add(a.millis());
        leader = a.body().get("leader").asText();
        TimeUnit.MILLISECONDS.sleep(200); // writes flow under each leader
      }
      // Between transfers too: a member that has not heard of the last one yet redirects to the one before.
      windows.add(new Window("the 20 transfers, pauses included", "transfer", transfersFrom, System.nanoTime()));

      // 4. Rolling restart of the leader: SIGTERM under the writers, then start it again on its data.
      restarted = awaitLeader(FINAL, FINAL);
      int handOversBefore = count(c.dir().resolve(restarted + ".log"), "handed its leadership to");
      sigterm = System.nanoTime();
      exited = c.terminate(restarted, Duration.ofSeconds(30));
      int handOvers = count(c.dir().resolve(restarted + ".log"), "handed its leadership to") - handOversBefore;
      log("SIGTERM to %s (the leader): its JVM exited after %d ms; it logged %d hand-over(s)", restarted,
          millis(exited - sigterm), handOvers);
      assertEquals(1, handOvers, "the leader handed its leadership over before stopping; see " + c.dir().resolve(restarted + ".log"));
      List<String> others = new ArrayList<>(FINAL);
      others.remove(restarted);
      String next = awaitLeader(others, FINAL);
      windows.add(new Window("SIGTERM " + restarted + " until its JVM exited and " + next + " led", "sigterm", sigterm,
          System.nanoTime()));
      log("%s leads the two others", next);
      restartAt = c.start(restarted);
      restartedHttp = c.awaitHttp(restarted, START);
      caughtUp = awaitCaughtUp(restarted, FINAL);
      windows.add(new Window("rolling restart of " + restarted + " (SIGTERM until caught up)", "restart", sigterm, caughtUp));
      log("%s started again: HTTP after %d ms, caught up after %d ms (from SIGTERM)", restarted,
          millis(restartedHttp - sigterm), millis(caughtUp - sigterm));
      TimeUnit.MILLISECONDS.sleep(1500); // writes after the restart

      workload.stopAndJoin();
      finalStatuses = awaitConfiguration(FINAL, FINAL);
      c.awaitConverged(FINAL, SETTLE);
      finalReads(FINAL);
      exits.addAll(c.unexpectedExits());
    } finally {
      if (workload != null) workload.stop = true; // after a failure: the clients end with their current operation
    }
    if (!workload.errors.isEmpty()) {
      AssertionError e = new AssertionError("a client failed");
      workload.errors.forEach(e::addSuppressed);
      throw e;
    }
    assertEquals(List.of(), exits, "members exited on their own");

    // ------------------------------------------------------------------ checks and figures
    KvHistory history = workload.history;
    history.close();
    List<Op> ops = history.ops();
    List<String> violations = new ArrayList<>(workload.violations);
    long checkStart = System.nanoTime();
    LinearizabilityChecker.Result result = LinearizabilityChecker.check(ops, 60_000);
    long checkMillis = millis(System.nanoTime() - checkStart);
    for (LinearizabilityChecker.KeyResult k : result.byKey().values()) {
      if (k.verdict() != LinearizabilityChecker.Verdict.LINEARIZABLE) violations.add(k.toString());
    }
    violations.addAll(KvStateChecks.staleReads(ops, history.staleReads()));
    List<String> lost = KvStateChecks.lostWrites(ops, workload.finalValues);
    long lostAcknowledged = lost.stream().filter(v -> v.startsWith("acknowledged write lost")).count();
    violations.addAll(lost);

    int[] writes = new int[3];
    int[] reads = new int[3];
    List<Long> acks = new ArrayList<>();
    List<ServerError> writeErrors = new ArrayList<>();
    Map<String, Integer> readErrors = new TreeMap<>();
    for (Op o : ops) {
      (o.kind() == Kind.GET ? reads : writes)[o.outcome().ordinal()]++;
      if (o.kind() == Kind.GET) {
        for (KvHistory.Exchange x : history.wire(o.id()).exchanges()) {
          if (x.status() >= 500) readErrors.merge(String.valueOf(x.status()), 1, Integer::sum);
        }
        continue;
      }
      if (o.outcome() == Outcome.OK) acks.add(o.complete());
      for (KvHistory.Exchange x : history.wire(o.id()).exchanges()) if (x.status() >= 500) writeErrors.add(new ServerError(o, x));
    }
    Collections.sort(acks);

    log("operations %d: writes ok %d fail %d unknown %d, reads ok %d fail %d; stale reads %d; checker: %s in %d ms;"
            + " lost acknowledged writes %d; violations %d", ops.size(), writes[0], writes[1], writes[2], reads[0], reads[1],
        history.staleReads().size(), result.verdict(), checkMillis, lostAcknowledged, violations.size());
    log("5xx answers to writes over the whole run: %d %s; to reads: %s", writeErrors.size(), describe(writeErrors), readErrors);
    for (String a : adminLog) log("admin %s", a);
    List<Long> sorted = new ArrayList<>(transferMillis);
    Collections.sort(sorted);
    long median = (sorted.get(TRANSFERS / 2 - 1) + sorted.get(TRANSFERS / 2)) / 2;
    long max = sorted.get(sorted.size() - 1);
    long transferGap = 0;
    for (Window w : windows) {
      if (w.kind().equals("transfer")) transferGap = Math.max(transferGap, longestGap(acks, w.from(), w.to()).get(0));
    }
    log("%d transfers, request to 200: median %d ms, max %d ms, min %d ms (all: %s); longest gap between acknowledged"
        + " writes during a transfer: %d ms", TRANSFERS, median, max, sorted.get(0), transferMillis, transferGap);
    List<Long> gap = longestGap(acks, sigterm - TimeUnit.SECONDS.toNanos(1), restartAt);
    List<Long> rejoinGap = longestGap(acks, restartAt, caughtUp + TimeUnit.SECONDS.toNanos(1));
    log("rolling restart of %s: JVM exited %d ms after SIGTERM; longest gap between consecutive acknowledged writes"
            + " from 1 s before SIGTERM until the restart: %d ms (from %+d ms to %+d ms around SIGTERM); from the restart"
            + " until 1 s after it caught up: %d ms (from %+d ms to %+d ms)", restarted, millis(exited - sigterm), gap.get(0),
        millis(gap.get(1) - sigterm), millis(gap.get(2) - sigterm), rejoinGap.get(0), millis(rejoinGap.get(1) - sigterm),
        millis(rejoinGap.get(2) - sigterm));
    Map<String, List<ServerError>> byWindow = new LinkedHashMap<>();
    for (Window w : windows) {
      List<ServerError> in = new ArrayList<>();
      for (ServerError e : writeErrors) if (e.exchange().sent() <= w.to() && e.exchange().answered() >= w.from()) in.add(e);
      byWindow.put(w.name(), in);
      int[] outcomes = new int[3];
      for (Op o : ops) if (o.kind() != Kind.GET && o.invoke() <= w.to() && o.complete() >= w.from()) outcomes[o.outcome().ordinal()]++;
      log("  %-58s %6d ms  writes ok %4d fail %3d unknown %2d  5xx %d %s", w.name(), millis(w.to() - w.from()),
          outcomes[0], outcomes[1], outcomes[2], in.size(), describe(in));
    }
    log("final configuration: %s", finalStatuses.values());
    log("test ran %d s", millis(System.nanoTime() - t0) / 1000);

    assertTrue(violations.isEmpty(), () -> violations.size() + " violation(s), first: " + violations.get(0) + "; logs in " + dir);
    assertEquals(0, lostAcknowledged);
    assertEquals(LinearizabilityChecker.Verdict.LINEARIZABLE, result.verdict());
    List<String> handOverErrors = new ArrayList<>();
    for (Window w : windows) {
      if ((w.kind().equals("transfer") || w.kind().equals("sigterm")) && !byWindow.get(w.name()).isEmpty()) {
        handOverErrors.add(w.name() + ": " + describe(byWindow.get(w.name())));
      }
    }
    assertEquals(List.of(), handOverErrors, "writes answered 5xx during a transfer or the hand-over on SIGTERM");
    for (long ms : transferMillis) assertTrue(ms < TRANSFER_BOUND.toMillis(), "a transfer took " + ms + " ms");
    assertTrue(gap.get(0) < GAP_BOUND.toMillis(), "no acknowledged write for " + gap.get(0) + " ms around the SIGTERM");
    assertTrue(rejoinGap.get(0) < 2 * GAP_BOUND.toMillis(), "no acknowledged write for " + rejoinGap.get(0) + " ms as the member rejoined");
    assertTrue(writes[0] > 0 && acks.stream().anyMatch(t -> t > caughtUp), "writes were acknowledged until the end");
  }

  // ------------------------------------------------------------------ steps

  /**
   * Adds joining member {@code id} as a voter with two POST /admin/members, through some current
   * member, each of which must answer 200: first as a learner, which the leader replicates to at
   * once, and once it has caught up, as a voter (a promotion). A voter added directly must show
   * progress within an election timeout of the request, which a JVM that has just started (cold
   * code, a first connection) does not always manage on a busy machine: the change is then refused
   * (409) and nothing changes, which is correct but not what this test is about.
   */
  private void add(String id) throws Exception {
    long from = System.nanoTime();
    AdminAnswer learner = admin("POST", someMember(), "/admin/members", JSON.createObjectNode().put("id", id)
        .put("address", cluster.akkaAddress(id)).put("http", cluster.httpAddresses().get(id)).put("learner", true).toString());
    expectOk(learner, "add " + id + " as a learner");
    assertTrue(texts(learner.body().get("learners")).contains(id), () -> "learners after adding " + id + ": " + learner.body());
    long caughtUp = awaitCaughtUp(id, workload.targets);
    AdminAnswer voter = admin("POST", someMember(), "/admin/members", JSON.createObjectNode().put("id", id)
        .put("learner", false).toString());
    windows.add(new Window("add " + id + " (learner, then voter)", "membership", from, System.nanoTime()));
    expectOk(voter, "promote " + id);
    assertTrue(texts(voter.body().get("voters")).contains(id), () -> "voters after promoting " + id + ": " + voter.body());
    log("%s added: learner in %d ms, caught up %d ms later, voter in %d ms", id, learner.millis(),
        millis(caughtUp - from) - learner.millis(), voter.millis());
    workload.admit(id);
  }

  /** Something to wait for. */
  @FunctionalInterface
  private interface Await {
    void await() throws Exception;
  }

  /**
   * DELETE /admin/members/{id} through some current member; must answer 200. The window {@code
   * what} lasts until the answer, or until {@code then} (if not null) has also happened.
   */
  private void remove(String id, String what, Await then) throws Exception {
    long from = System.nanoTime();
    AdminAnswer a = admin("DELETE", someMember(), "/admin/members/" + id, null);
    try {
      expectOk(a, what);
      assertTrue(!texts(a.body().get("voters")).contains(id), () -> "voters after removing " + id + ": " + a.body());
      if (then != null) then.await();
    } finally {
      windows.add(new Window(what, "membership", from, System.nanoTime()));
    }
  }

  /** POST /admin/transfer-leadership at {@code leader}, to {@code to} (null: the leader picks); must answer 200. */
  private AdminAnswer transfer(String leader, String to, String what) throws Exception {
    long from = System.nanoTime();
    AdminAnswer a = admin("POST", leader, "/admin/transfer-leadership", to == null ? null : JSON.createObjectNode().put("to", to).toString());
    long until = System.nanoTime();
    String name = what + " " + leader + " -> " + (to == null ? "(any)" : to);
    windows.add(new Window(name, "transfer", from, until));
    expectOk(a, name);
    String now = a.body().get("leader").asText();
    if (to != null) assertEquals(to, now, name);
    else assertNotEquals(leader, now, name);
    return a;
  }

  /** A put sent to {@code node} (recorded, redirects followed); must be acknowledged. Returns the request to {@code node}. */
  private KvHistory.Exchange writeThrough(String node) throws InterruptedException {
    HttpKvClient client = new HttpKvClient(workload.history, cluster.httpAddresses(), Duration.ofSeconds(6), 3);
    String name = "via-" + node;
    HttpKvClient.Result r = client.write(workload.history.newProcess(), name, Kind.PUT, node, "k0",
        workload.values.incrementAndGet(), null, name + "-" + t0, 3, Set.of());
    List<Op> ops = workload.history.ops();
    for (int i = ops.size() - 1; i >= 0; i--) {
      KvHistory.Wire w = workload.history.wire(ops.get(i).id());
      if (!w.client.equals(name)) continue;
      assertEquals(Outcome.OK, r.outcome(), () -> "a put sent to " + node + ": " + w.exchanges());
      return w.exchanges().get(0);
    }
    throw new AssertionError("the put sent to " + node + " is not in the history");
  }

  /** SIGTERM for a member that is no longer in the configuration; clients stop contacting it. */
  private void stop(String id) throws Exception {
    cluster.terminate(id, Duration.ofSeconds(30));
    workload.forget(id);
  }

  /** The current members the clients use, in turn: admin requests reach the leader through redirects. */
  private String someMember() {
    List<String> t = workload.targets;
    return t.get(adminNext++ % t.size());
  }

  private AdminAnswer admin(String method, String node, String path, String body) throws Exception {
    URI uri = URI.create("http://" + cluster.httpAddresses().get(node) + path);
    long start = System.nanoTime();
    for (int hop = 0; ; hop++) {
      HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60))
          .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
      if (body != null) b.header("Content-Type", "application/json");
      HttpResponse<String> r = ADMIN.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      Optional<String> location = r.headers().firstValue("Location");
      if (r.statusCode() == 307 && location.isPresent() && hop < 5) {
        uri = URI.create(location.get());
        continue;
      }
      long ms = millis(System.nanoTime() - start);
      JsonNode json = r.body().isBlank() ? JSON.createObjectNode() : JSON.readTree(r.body());
      synchronized (adminLog) {
        adminLog.add(String.format(Locale.ROOT, "%s %s via %s: %d in %d ms (%d redirect(s)) %s", method, path, node,
            r.statusCode(), ms, hop, r.body()));
      }
      return new AdminAnswer(r.statusCode(), json, ms);
    }
  }

  private void expectOk(AdminAnswer a, String what) {
    assertEquals(200, a.status(), () -> what + " answered " + a.status() + " " + a.body() + "; logs in " + dir);
  }

  /** Polls until one of {@code ids} leads with {@code voters} and all of {@code ids} that answer follow it. */
  private String awaitLeader(List<String> ids, List<String> voters) throws InterruptedException {
    long deadline = System.nanoTime() + SETTLE.toNanos();
    Map<String, KvProcessCluster.Status> last = Map.of();
    while (System.nanoTime() < deadline) {
      last = cluster.statuses(ids, Duration.ofSeconds(1));
      Optional<KvProcessCluster.Status> leader = last.values().stream().filter(KvProcessCluster.Status::isLeader)
          .max(java.util.Comparator.comparingLong(KvProcessCluster.Status::term));
      if (leader.isPresent() && last.size() == ids.size()
          && last.values().stream().allMatch(s -> leader.get().node().equals(s.leader()))
          && sorted(leader.get().voters()).equals(sorted(voters))) {
        return leader.get().node();
      }
      TimeUnit.MILLISECONDS.sleep(50); // polling a condition with a deadline
    }
    throw new AssertionError("no leader of " + ids + " with voters " + voters + " within " + SETTLE + ": " + last + "; logs in " + dir);
  }

  /**
   * Polls until every one of {@code ids} reports voters {@code voters}, no learner, no joint change,
   * and the same leader, one of {@code ids} that says it leads (not a removed one they still remember).
   */
  private Map<String, KvProcessCluster.Status> awaitConfiguration(List<String> ids, List<String> voters) throws InterruptedException {
    long deadline = System.nanoTime() + SETTLE.toNanos();
    Map<String, KvProcessCluster.Status> last = Map.of();
    while (System.nanoTime() < deadline) {
      last = cluster.statuses(ids, Duration.ofSeconds(1));
      Map<String, KvProcessCluster.Status> l = last;
      if (last.size() == ids.size() && last.values().stream().allMatch(s -> sorted(s.voters()).equals(sorted(voters))
          && s.learners().isEmpty() && !s.joint() && s.leader() != null && l.containsKey(s.leader())
          && l.get(s.leader()).isLeader())
          && last.values().stream().map(KvProcessCluster.Status::leader).distinct().count() == 1) {
        return last;
      }
      TimeUnit.MILLISECONDS.sleep(50); // polling a condition with a deadline
    }
    throw new AssertionError("members " + ids + " did not all report voters " + voters + " within " + SETTLE + ": " + last
        + "; logs in " + dir);
  }

  /**
   * Polls until {@code id} follows the leader (one of {@code members}) and has applied the commit
   * index the leader had when polling began.
   */
  private long awaitCaughtUp(String id, List<String> members) throws InterruptedException {
    List<String> ask = new ArrayList<>(members);
    if (!ask.contains(id)) ask.add(id);
    long deadline = System.nanoTime() + SETTLE.toNanos();
    long target = -1;
    while (System.nanoTime() < deadline) {
      Map<String, KvProcessCluster.Status> s = cluster.statuses(ask, Duration.ofSeconds(1));
      if (target < 0) {
        target = s.values().stream().filter(KvProcessCluster.Status::isLeader).mapToLong(KvProcessCluster.Status::commitIndex)
            .max().orElse(-1);
      }
      KvProcessCluster.Status me = s.get(id);
      if (target >= 0 && me != null && me.leader() != null && me.appliedIndex() >= target) return System.nanoTime();
      TimeUnit.MILLISECONDS.sleep(20); // polling a condition with a deadline
    }
    throw new AssertionError(id + " did not catch up within " + SETTLE + "; logs in " + dir);
  }

  /**
   * After convergence: every key read on every member (stale, they must agree) and once more
   * linearizably (recorded, the final value for the lost-write check).
   */
  private void finalReads(List<String> members) throws InterruptedException {
    HttpKvClient http = new HttpKvClient(workload.history, cluster.httpAddresses(), Duration.ofSeconds(10), 3);
    int process = workload.history.newProcess();
    long deadline = System.nanoTime() + SETTLE.toNanos();
    for (int k = 0; k < KEYS; k++) {
      String key = "k" + k;
      Map<String, Long> perMember = FaultRun.staleReads(http, members, key, deadline);
      workload.violations.addAll(KvStateChecks.agreement(key, perMember));
      for (int i = 0; ; i++) {
        HttpKvClient.Result r = http.read(process, "final", members.get(i % members.size()), key, "linearizable", Set.of());
        if (r.outcome() == Outcome.OK) {
          workload.finalValues.put(key, (Long) r.output());
          break;
        }
        if (System.nanoTime() > deadline) throw new AssertionError("final linearizable read of " + key + " failed");
        TimeUnit.MILLISECONDS.sleep(100); // retrying with a deadline
      }
    }
  }

  // ------------------------------------------------------------------ the clients

  /**
   * {@link #CLIENTS} client threads, each doing one operation at a time at a random current member
   * ({@link #targets}); members in {@link #avoid} (not in the configuration, or stopped) are never
   * contacted. Every write carries an Idempotency-Key and is retried with it while its outcome is
   * unknown.
   */
  private static final class Workload {
    final KvHistory history = new KvHistory();
    final Map<String, String> http;
    final AtomicLong values = new AtomicLong();
    final List<Thread> threads = new ArrayList<>();
    final List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
    final List<String> violations = Collections.synchronizedList(new ArrayList<>());
    final Map<String, Long> finalValues = new LinkedHashMap<>();
    /** Members new requests go to. */
    volatile List<String> targets;
    /** Members no request goes to, redirects included. */
    volatile Set<String> avoid;
    volatile boolean stop;

    Workload(Map<String, String> http, List<String> targets, Set<String> avoid) {
      this.http = http;
      this.targets = List.copyOf(targets);
      this.avoid = Set.copyOf(avoid);
    }

    /** {@code id} is (about to be) in the configuration: requests may go to it. */
    synchronized void admit(String id) {
      Set<String> a = new HashSet<>(avoid);
      a.remove(id);
      avoid = Set.copyOf(a);
      if (!targets.contains(id)) {
        List<String> t = new ArrayList<>(targets);
        t.add(id);
        targets = List.copyOf(t);
      }
    }

    /** {@code id} is about to be removed: no new request goes to it (redirects still may, while it leads). */
    synchronized void retire(String id) {
      List<String> t = new ArrayList<>(targets);
      t.remove(id);
      targets = List.copyOf(t);
    }

    /** {@code id} is gone for good: nothing goes to it. */
    synchronized void forget(String id) {
      retire(id);
      Set<String> a = new HashSet<>(avoid);
      a.add(id);
      avoid = Set.copyOf(a);
    }

    void start(long seed) {
      SplittableRandom seeds = new SplittableRandom(seed);
      for (int c = 0; c < CLIENTS; c++) {
        int index = c;
        long s = seeds.nextLong();
        Thread t = new Thread(() -> {
          try {
            run(index, s);
          } catch (Throwable e) {
            errors.add(e);
          }
        }, "kv-client-" + c);
        t.setDaemon(true);
        threads.add(t);
      }
      threads.forEach(Thread::start);
    }

    void stopAndJoin() throws InterruptedException {
      stop = true;
      for (Thread t : threads) {
        t.join(120_000); // an operation is bounded by its timeouts and retries; this guards against a hang
        if (t.isAlive()) throw new AssertionError(t.getName() + " did not stop");
      }
    }

    private void run(int index, long seed) throws InterruptedException {
      SplittableRandom random = new SplittableRandom(seed);
      HttpKvClient client = new HttpKvClient(history, http, Duration.ofSeconds(6), 3);
      Map<String, Long> lastSeen = new HashMap<>();
      String name = "c" + index;
      int process = history.newProcess();
      int operation = 0;
      while (!stop) {
        List<String> t = targets;
        Set<String> a = avoid;
        String node = t.get(random.nextInt(t.size()));
        String key = "k" + random.nextInt(KEYS);
        int roll = random.nextInt(100);
        boolean expectNull = random.nextInt(4) == 0;
        HttpKvClient.Result r;
        if (roll < 55) {
          Kind kind = roll < 30 ? Kind.PUT : roll < 45 ? Kind.CAS : Kind.DELETE;
          Long value = kind == Kind.DELETE ? null : values.incrementAndGet();
          Long expected = kind == Kind.CAS && !expectNull ? lastSeen.get(key) : null;
          r = client.write(process, name, kind, node, key, value, expected, name + "-" + seed + "-" + (++operation), 3, a);
          if (r.outcome() == Outcome.OK) {
            if (kind == Kind.DELETE) lastSeen.remove(key);
            else if (kind == Kind.PUT || Boolean.TRUE.equals(r.output())) lastSeen.put(key, value);
          }
        } else {
          String consistency = roll < 80 ? "linearizable" : roll < 90 ? "lease" : "stale";
          r = client.read(process, name, node, key, consistency, a);
          if (r.outcome() == Outcome.OK) lastSeen.put(key, (Long) r.output());
        }
        if (r.outcome() == Outcome.UNKNOWN) process = history.newProcess();
        if (r.outcome() == Outcome.FAIL) TimeUnit.MILLISECONDS.sleep(10 + random.nextInt(40)); // back off
      }
    }
  }

  // ------------------------------------------------------------------ helpers

  /**
   * [longest gap in ms, its start, its end] between consecutive acknowledgements that bound some
   * part of [from, to]: the last one at or before {@code from} (or {@code from}), those in between,
   * and the first one after {@code to} (or {@code to} if none came).
   */
  private static List<Long> longestGap(List<Long> acks, long from, long to) {
    List<Long> points = new ArrayList<>();
    points.add(from);
    for (long t : acks) {
      if (t <= from) points.set(0, t);
      else if (t <= to) points.add(t);
      else {
        points.add(t);
        break;
      }
    }
    if (points.get(points.size() - 1) <= to) points.add(to);
    long best = -1;
    int at = 0;
    for (int i = 1; i < points.size(); i++) {
      if (points.get(i) - points.get(i - 1) > best) {
        best = points.get(i) - points.get(i - 1);
        at = i;
      }
    }
    return List.of(millis(best), points.get(at - 1), points.get(at));
  }

  private static String describe(List<ServerError> errors) {
    if (errors.isEmpty()) return "";
    StringBuilder sb = new StringBuilder("[");
    for (ServerError e : errors.subList(0, Math.min(5, errors.size()))) {
      sb.append(e.exchange().status()).append(" from ").append(e.exchange().node()).append(" to ").append(e.op()).append("; ");
    }
    return sb.append(errors.size() > 5 ? "...]" : "]").toString();
  }

  private static int count(Path file, String text) throws IOException {
    if (!Files.exists(file)) return 0;
    String s = Files.readString(file, StandardCharsets.ISO_8859_1);
    int n = 0;
    for (int i = s.indexOf(text); i >= 0; i = s.indexOf(text, i + 1)) n++;
    return n;
  }

  private static List<String> texts(JsonNode array) {
    List<String> out = new ArrayList<>();
    if (array != null) array.forEach(n -> out.add(n.asText()));
    return out;
  }

  private static List<String> sorted(List<String> ids) {
    return List.copyOf(new TreeSet<>(ids));
  }

  private static long millis(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  private void log(String format, Object... args) {
    System.out.printf(Locale.ROOT, "[membership] %6.1f s  %s%n", (System.nanoTime() - t0) / 1e9, String.format(Locale.ROOT, format, args));
  }
}
