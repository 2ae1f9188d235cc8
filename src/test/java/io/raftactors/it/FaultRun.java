package io.raftactors.it;

import io.raftactors.sim.LinearizabilityChecker;
import io.raftactors.sim.LinearizabilityChecker.Kind;
import io.raftactors.sim.LinearizabilityChecker.Op;
import io.raftactors.sim.LinearizabilityChecker.Outcome;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One run of the fault suite: three KV member JVMs ({@link KvProcessCluster}), concurrent HTTP
 * clients ({@link HttpKvClient}) doing put, get at each consistency, cas and delete on a few keys,
 * some with an Idempotency-Key, while a {@link Nemesis} kills, restarts and freezes members. Then
 * every member is healed, the run waits until all have applied the same index, reads every key on
 * every member (stale) and once more through the leader (linearizable, recorded), and checks:
 *
 * <ul>
 *   <li>the history, final reads included, with the {@link LinearizabilityChecker} (unknown
 *       outcomes may have taken effect, failed ones did not; inconclusive counts as a violation);
 *   <li>every stale read returned a value some write that did not fail wrote before the read
 *       ended, or absent;
 *   <li>the members hold the same final value of every key;
 *   <li>no acknowledged write was lost: none that certainly came after the write of a key's final
 *       value (or after every delete, for an absent key).
 * </ul>
 *
 * <p>It also measures availability: writes sent to the other members while one follower was down;
 * the time from killing or freezing the leader to the next acknowledged write; and for each
 * restarted member the time until its HTTP API answers and until it has applied the leader's
 * commit index.
 */
final class FaultRun {
  static final class Settings {
    long seed;
    int seconds = 30;
    int clients = 6;
    int keys = 4;
    /** Every other client sends an Idempotency-Key and retries unknown writes with it. */
    boolean idempotencyKeys = true;
    int idempotentRetries = 3;
    Duration requestTimeout = Duration.ofSeconds(3);
    long checkerBudgetMillis = 60_000;
    String label = "run";
    /** Prefix of the run's keys, so that runs on one cluster each start from absent keys. */
    String keyPrefix = "";
  }

  /** What a run found. */
  static final class Report {
    String label;
    long seed;
    double seconds;
    final Map<Kind, int[]> byKind = new EnumMap<>(Kind.class); // ok, fail, unknown
    int staleReads;
    int idempotentRetried;
    int idempotentSettled;
    final Map<String, Integer> answers = new TreeMap<>();
    List<String> faultEvents = List.of();
    int kills;
    int freezes;
    int combinations;
    final List<String> violations = new ArrayList<>();
    /** Members that exited although nobody killed them. */
    final List<String> crashes = new ArrayList<>();
    LinearizabilityChecker.Verdict verdict;
    int lostAcknowledged;
    long checkMillis;
    /** The machine's load average (1 min) at the end of the run, for reading the timings. */
    double loadAverage;
    int followerDownWindows;
    final int[] survivorWrites = new int[3]; // ok, fail, unknown
    final List<Long> failoverMillis = new ArrayList<>(); // -1: no acknowledged write within the deadline
    final List<String> failovers = new ArrayList<>(); // "n2 killed: 910 ms", one per leader fault
    final List<Long> restartHttpMillis = new ArrayList<>();
    final List<Long> caughtUpMillis = new ArrayList<>(); // -1: not within the deadline

    int operations() {
      return byKind.values().stream().mapToInt(a -> a[0] + a[1] + a[2]).sum();
    }

    int total(int outcome) {
      return byKind.values().stream().mapToInt(a -> a[outcome]).sum();
    }

    int faults() {
      return kills + freezes + combinations;
    }

    String summary() {
      StringBuilder ops = new StringBuilder();
      for (Map.Entry<Kind, int[]> e : byKind.entrySet()) {
        int[] a = e.getValue();
        ops.append(' ').append(e.getKey().name().toLowerCase()).append(' ').append(a[0]).append('/').append(a[1]).append('/').append(a[2]);
      }
      return String.format("%s seed=%d %.0fs: operations %d (ok %d, fail %d, unknown %d;%s ok/fail/unknown; stale reads %d;"
              + " idempotent retries %d, settled %d) faults %d (kill %d, freeze %d, combined %d) members exited %d violations %d"
              + " (checker %s, lost acknowledged writes %d) | follower down (%d windows): writes to others ok %d fail %d unknown %d"
              + " | leader killed/frozen -> next acknowledged write: %s | restart -> HTTP: %s, caught up: %s | check %d ms"
              + " | load average %.1f",
          label, seed, seconds, operations(), total(0), total(1), total(2), ops, staleReads, idempotentRetried,
          idempotentSettled, faults(), kills, freezes, combinations, crashes.size(), violations.size(), verdict,
          lostAcknowledged,
          followerDownWindows, survivorWrites[0], survivorWrites[1], survivorWrites[2], stats(failoverMillis),
          stats(restartHttpMillis), stats(caughtUpMillis), checkMillis, loadAverage);
    }

    static final String CSV_HEADER = "label,seed,seconds,operations,ok,fail,unknown,stale_reads,faults,kills,freezes,"
        + "combined,violations,lost_acknowledged,follower_down_windows,survivor_writes_ok,survivor_writes_fail,"
        + "survivor_writes_unknown,leader_faults,failover_p50_ms,failover_max_ms,restarts,restart_http_p50_ms,"
        + "restart_http_max_ms,caught_up_p50_ms,caught_up_max_ms,check_ms,load_average";

    String csv() {
      return String.join(",", label, String.valueOf(seed), String.format(java.util.Locale.ROOT, "%.1f", seconds), str(operations()),
          str(total(0)), str(total(1)), str(total(2)), str(staleReads), str(faults()), str(kills), str(freezes),
          str(combinations), str(violations.size()), str(lostAcknowledged), str(followerDownWindows),
          str(survivorWrites[0]), str(survivorWrites[1]), str(survivorWrites[2]), str(failoverMillis.size()),
          str(percentile(failoverMillis, 50)), str(percentile(failoverMillis, 100)), str(restartHttpMillis.size()),
          str(percentile(restartHttpMillis, 50)), str(percentile(restartHttpMillis, 100)),
          str(percentile(caughtUpMillis, 50)), str(percentile(caughtUpMillis, 100)), str(checkMillis),
          String.format(java.util.Locale.ROOT, "%.1f", loadAverage));
    }

    private static String str(long v) {
      return String.valueOf(v);
    }

    /** "n=3 p50=610ms max=900ms"; a sample of -1 (never) counts as the largest and is shown as "never". */
    static String stats(List<Long> samples) {
      if (samples.isEmpty()) return "n=0";
      long max = percentile(samples, 100);
      return "n=" + samples.size() + " p50=" + show(percentile(samples, 50)) + " max=" + show(max);
    }

    private static String show(long ms) {
      return ms < 0 ? "never" : ms + "ms";
    }

    /** The p-th percentile (nearest rank); -1 when a sample is -1 at that rank; -1 for no samples too. */
    static long percentile(List<Long> samples, int p) {
      if (samples.isEmpty()) return -1;
      List<Long> sorted = new ArrayList<>(samples);
      sorted.replaceAll(v -> v < 0 ? Long.MAX_VALUE : v);
      Collections.sort(sorted);
      long v = sorted.get(Math.max(0, (int) Math.ceil(p / 100.0 * sorted.size()) - 1));
      return v == Long.MAX_VALUE ? -1 : v;
    }
  }

  private final Settings settings;
  private final KvProcessCluster cluster;
  private final PrintStream out;

  /** A run on {@code cluster}, whose members must all be running; they are all running again afterwards. */
  FaultRun(Settings settings, KvProcessCluster cluster, PrintStream out) {
    this.settings = settings;
    this.cluster = cluster;
    this.out = out;
  }

  /** Starts the members of {@code cluster} and waits until they answer HTTP and one leads. */
  static void start(KvProcessCluster cluster) throws Exception {
    cluster.startAll();
    for (String id : KvProcessCluster.IDS) cluster.awaitHttp(id, Duration.ofSeconds(120));
    awaitLeader(cluster);
  }

  Report run() throws Exception {
    Report report = new Report();
    report.label = settings.label;
    report.seed = settings.seed;
    out.printf("[faults] %s: seed %d (replay with -Draft.faults.seed=%d), %d s, %d clients, %d keys, members run %s%n",
        settings.label, settings.seed, settings.seed, settings.seconds, settings.clients, settings.keys,
        cluster.mainClass().getSimpleName());
    KvHistory history = new KvHistory();
    AtomicLong values = new AtomicLong();
    long t0 = System.nanoTime();
    long until = t0 + TimeUnit.SECONDS.toNanos(settings.seconds);
    Nemesis nemesis = new Nemesis(cluster, settings.seed, history, values, settings.keyPrefix + "probe", out, t0);
    SplittableRandom seeds = new SplittableRandom(settings.seed ^ 0x5DEECE66DL);
    List<Thread> clients = new ArrayList<>();
    List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
    for (int c = 0; c < settings.clients; c++) {
      Client client = new Client(c, seeds.nextLong(), history, cluster, values, until);
      Thread t = new Thread(() -> {
        try {
          client.run();
        } catch (Throwable e) {
          errors.add(e);
        }
      }, "kv-client-" + c);
      clients.add(t);
    }
    clients.forEach(Thread::start);
    try {
      nemesis.run(until);
    } finally {
      // An operation may take a timeout per hop and per attempt; this only guards against a client that hangs.
      long joinMillis = 120_000;
      for (Thread t : clients) {
        t.join(joinMillis);
        if (t.isAlive()) throw new AssertionError(t.getName() + " did not stop within " + joinMillis + " ms");
      }
      nemesis.heal();
    }
    report.seconds = (System.nanoTime() - t0) / 1e9;
    report.loadAverage = java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    if (!errors.isEmpty()) {
      AssertionError e = new AssertionError("a client failed");
      errors.forEach(e::addSuppressed);
      throw e;
    }
    try {
      cluster.awaitConverged(Duration.ofSeconds(120));
    } finally {
      nemesis.close();
    }

    List<String> keys = new ArrayList<>();
    for (int k = 0; k < settings.keys; k++) keys.add(settings.keyPrefix + "k" + k);
    keys.add(nemesis.probeKey());
    Map<String, Long> finalValues = finalReads(cluster, history, keys, report);
    history.close();

    check(history, finalValues, report);
    availability(history, nemesis, report);
    report.faultEvents = nemesis.events();
    report.crashes.addAll(nemesis.crashes());
    report.kills = nemesis.kills();
    report.freezes = nemesis.freezes();
    report.combinations = nemesis.combinations();
    return report;
  }

  private static void awaitLeader(KvProcessCluster cluster) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (cluster.leader().isPresent()) return;
      TimeUnit.MILLISECONDS.sleep(50); // polling a condition with a deadline
    }
    throw new AssertionError("no leader within 60 s; logs in " + cluster.dir());
  }

  // ------------------------------------------------------------------ the clients

  /** One client thread: one operation at a time, choices drawn from its seed. */
  private final class Client {
    final int index;
    final SplittableRandom random;
    final KvHistory history;
    final HttpKvClient http;
    final AtomicLong values;
    final long until;
    final boolean useKeys;
    final Map<String, Long> lastSeen = new HashMap<>();
    int process;
    int operation;

    Client(int index, long seed, KvHistory history, KvProcessCluster cluster, AtomicLong values, long until) {
      this.index = index;
      this.random = new SplittableRandom(seed);
      this.history = history;
      this.http = new HttpKvClient(history, cluster.httpAddresses(), settings.requestTimeout, 3);
      this.values = values;
      this.until = until;
      this.useKeys = settings.idempotencyKeys && index % 2 == 0;
      this.process = history.newProcess();
    }

    void run() throws InterruptedException {
      String name = "c" + index;
      while (System.nanoTime() < until) {
        String key = settings.keyPrefix + "k" + random.nextInt(settings.keys);
        String node = KvProcessCluster.IDS.get(random.nextInt(KvProcessCluster.IDS.size()));
        int roll = random.nextInt(100);
        boolean expectNull = random.nextInt(4) == 0;
        String idem = useKeys ? name + "-" + settings.seed + "-" + (++operation) : null;
        int pause = 10 + random.nextInt(40);
        HttpKvClient.Result r;
        if (roll < 55) {
          Kind kind = roll < 30 ? Kind.PUT : roll < 45 ? Kind.CAS : Kind.DELETE;
          Long value = kind == Kind.DELETE ? null : values.incrementAndGet();
          Long expected = kind == Kind.CAS && !expectNull ? lastSeen.get(key) : null;
          r = http.write(process, name, kind, node, key, value, expected, idem, settings.idempotentRetries, Set.of());
          if (r.outcome() == Outcome.OK) {
            // What the client knows the key holds now, for its next cas.
            if (kind == Kind.DELETE) lastSeen.remove(key);
            else if (kind == Kind.PUT || Boolean.TRUE.equals(r.output())) lastSeen.put(key, value);
          } else if (r.outcome() == Outcome.FAIL) {
            // A write that certainly did not apply: read the key back at once (through another
            // member), so that a store that applied it after all is likely to be seen doing so.
            String other = KvProcessCluster.IDS.get((KvProcessCluster.IDS.indexOf(node) + 1) % KvProcessCluster.IDS.size());
            HttpKvClient.Result back = http.read(process, name, other, key, "linearizable", Set.of());
            if (back.outcome() == Outcome.OK) lastSeen.put(key, (Long) back.output());
          }
        } else {
          String consistency = roll < 80 ? "linearizable" : roll < 90 ? "lease" : "stale";
          r = http.read(process, name, node, key, consistency, Set.of());
          if (r.outcome() == Outcome.OK) lastSeen.put(key, (Long) r.output());
        }
        if (r.outcome() == Outcome.UNKNOWN) process = history.newProcess();
        if (r.outcome() == Outcome.FAIL) TimeUnit.MILLISECONDS.sleep(pause); // back off before trying again
      }
    }
  }

  // ------------------------------------------------------------------ final reads and checks

  /**
   * Reads every key on every member (stale, after convergence) and once more linearizably
   * (recorded). A read that fails (an election may still happen: a leader on a busy machine can
   * miss its quorum) is tried again, at the next member, until a deadline.
   */
  private Map<String, Long> finalReads(KvProcessCluster cluster, KvHistory history, List<String> keys, Report report)
      throws InterruptedException {
    HttpKvClient http = new HttpKvClient(history, cluster.httpAddresses(), Duration.ofSeconds(10), 3);
    Map<String, Long> values = new LinkedHashMap<>();
    int process = history.newProcess();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    int next = 0;
    for (String key : keys) {
      Map<String, Long> perMember = staleReads(http, KvProcessCluster.IDS, key, deadline);
      report.violations.addAll(KvStateChecks.agreement(key, perMember));
      while (true) {
        String at = KvProcessCluster.IDS.get(next++ % KvProcessCluster.IDS.size());
        HttpKvClient.Result r = http.read(process, "final", at, key, "linearizable", Set.of());
        if (r.outcome() == Outcome.OK) {
          values.put(key, (Long) r.output());
          break;
        }
        if (System.nanoTime() > deadline) throw new AssertionError("final linearizable read of " + key + " failed");
        TimeUnit.MILLISECONDS.sleep(100); // retrying with a deadline
      }
    }
    return values;
  }

  /**
   * Each member's own value of {@code key} (a stale read: what it applied), asked again every 100 ms
   * until it answers 200 or 404; fails once {@code deadline} (System.nanoTime()) has passed.
   */
  static Map<String, Long> staleReads(HttpKvClient http, List<String> members, String key, long deadline)
      throws InterruptedException {
    Map<String, Long> perMember = new TreeMap<>();
    for (String id : members) {
      while (true) {
        HttpKvClient.Answer a = http.send("GET", id, "/kv/" + key + "?consistency=stale", null, null, Set.of(),
            new KvHistory.Wire("final", false));
        if (a.failure() == HttpKvClient.Failure.NONE && (a.status() == 200 || a.status() == 404)) {
          perMember.put(id, a.status() == 200 ? Long.valueOf(a.body()) : null);
          break;
        }
        if (System.nanoTime() > deadline) throw new AssertionError("final stale read of " + key + " at " + id + ": " + a);
        TimeUnit.MILLISECONDS.sleep(100); // retrying with a deadline
      }
    }
    return perMember;
  }

  private void check(KvHistory history, Map<String, Long> finalValues, Report report) {
    List<Op> ops = history.ops();
    for (Op o : ops) {
      int[] counts = report.byKind.computeIfAbsent(o.kind(), k -> new int[3]);
      counts[o.outcome().ordinal()]++;
      KvHistory.Wire w = history.wire(o.id());
      String answer = w.lastFailure != null ? w.lastFailure : String.valueOf(w.lastStatus);
      report.answers.merge(o.kind().name().toLowerCase() + " " + answer, 1, Integer::sum);
      if (w.attempts > 1) {
        report.idempotentRetried++;
        if (o.outcome() == Outcome.OK) report.idempotentSettled++;
      }
    }
    report.staleReads = history.staleReads().size();

    long start = System.nanoTime();
    LinearizabilityChecker.Result result = LinearizabilityChecker.check(ops, settings.checkerBudgetMillis);
    report.checkMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    report.verdict = result.verdict();
    for (LinearizabilityChecker.KeyResult k : result.byKey().values()) {
      if (k.verdict() != LinearizabilityChecker.Verdict.LINEARIZABLE) report.violations.add(k.toString());
    }

    report.violations.addAll(KvStateChecks.staleReads(ops, history.staleReads()));
    List<String> lost = KvStateChecks.lostWrites(ops, finalValues);
    report.lostAcknowledged = (int) lost.stream().filter(v -> v.startsWith("acknowledged write lost")).count();
    report.violations.addAll(lost);
  }

  // ------------------------------------------------------------------ availability

  private static void availability(KvHistory history, Nemesis nemesis, Report report) {
    List<Op> writes = new ArrayList<>();
    for (Op o : history.ops()) if (o.kind() != Kind.GET) writes.add(o);
    // Follower down: writes invoked in the window that never went to the member that was down.
    for (Nemesis.FollowerDown d : nemesis.followerDowns()) {
      report.followerDownWindows++;
      for (Op o : writes) {
        if (o.invoke() < d.from() || o.invoke() > d.to()) continue;
        if (history.wire(o.id()).nodes().contains(d.node())) continue;
        report.survivorWrites[o.outcome().ordinal()]++;
      }
    }
    // Leader killed or frozen: the first acknowledged write invoked after the fault.
    for (Nemesis.LeaderFault f : nemesis.leaderFaults()) {
      long first = Long.MAX_VALUE;
      for (Op o : writes) {
        if (o.outcome() == Outcome.OK && o.invoke() >= f.at()) first = Math.min(first, o.complete());
      }
      long ms = first == Long.MAX_VALUE ? -1 : TimeUnit.NANOSECONDS.toMillis(first - f.at());
      report.failoverMillis.add(ms);
      report.failovers.add(f.node() + " " + f.what() + ": " + (ms < 0 ? "no acknowledged write" : ms + " ms"));
    }
    for (Nemesis.Restart r : nemesis.restarts()) {
      report.restartHttpMillis.add(r.httpUp < 0 ? -1 : TimeUnit.NANOSECONDS.toMillis(r.httpUp - r.started));
      report.caughtUpMillis.add(r.caughtUp < 0 ? -1 : TimeUnit.NANOSECONDS.toMillis(r.caughtUp - r.started));
    }
  }
}
