package io.raftactors.it;

import io.raftactors.sim.LinearizabilityChecker.Kind;
import io.raftactors.sim.LinearizabilityChecker.Outcome;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Faults on the member processes of a {@link KvProcessCluster}, on a schedule drawn from one seed:
 * SIGKILL and a restart on the same data, SIGSTOP for a while and SIGCONT, and two combinations
 * (freeze a member, then kill it while frozen; kill a member, restart it, and as soon as it answers
 * HTTP, while it catches up, freeze another). At most one member is down or frozen at a time, so a
 * majority is always alive. Each step draws the same numbers from the seed whatever happens, so a
 * seed replays the same schedule; which member is the leader at that moment is up to the run.
 *
 * <p>Besides the events, it records what the availability figures need: when a leader was killed
 * or frozen (and a probe writer that keeps writing at the other members, with a short timeout, so
 * that the next acknowledged write is seen when it becomes possible), the windows in which one
 * follower was down and nothing else was wrong, and for every restart, when the process started,
 * when its HTTP API answered and when it had applied the leader's commit index.
 */
final class Nemesis {
  /** A leader was killed or frozen at {@code at} (System.nanoTime). */
  record LeaderFault(String node, String what, long at) {}

  /** Follower {@code node} was down (killed or frozen) from {@code from} to {@code to}, nothing else faulty. */
  record FollowerDown(String node, String what, long from, long to) {}

  /** A restart: process started, HTTP answered, caught up with the leader's commit index (-1: not within the deadline). */
  static final class Restart {
    final String node;
    final long started;
    volatile long httpUp = -1;
    volatile long caughtUp = -1;

    Restart(String node, long started) {
      this.node = node;
      this.started = started;
    }
  }

  private static final Duration CATCH_UP_DEADLINE = Duration.ofSeconds(30);

  private final KvProcessCluster cluster;
  private final SplittableRandom random;
  private final PrintStream out;
  private final long t0;
  private final KvHistory history;
  private final HttpKvClient probeClient;
  private final AtomicLong values;
  private final String probeKey;
  private final List<String> events = new ArrayList<>();
  private final List<LeaderFault> leaderFaults = new ArrayList<>();
  private final List<FollowerDown> followerDowns = new ArrayList<>();
  private final List<Restart> restarts = new ArrayList<>();
  private final List<Thread> helpers = new ArrayList<>();
  private final List<String> crashes = new ArrayList<>();
  private int kills;
  private int freezes;
  private int combinations;
  private volatile boolean closing;

  /**
   * @param values source of unique values for the probe, which writes to {@code probeKey} through {@code history}
   */
  Nemesis(KvProcessCluster cluster, long seed, KvHistory history, AtomicLong values, String probeKey, PrintStream out,
      long t0) {
    this.probeKey = probeKey;
    this.cluster = cluster;
    this.random = new SplittableRandom(seed);
    this.history = history;
    this.values = values;
    this.out = out;
    this.t0 = t0;
    this.probeClient = new HttpKvClient(history, cluster.httpAddresses(), Duration.ofSeconds(1), 1);
  }

  String probeKey() {
    return probeKey;
  }

  /** Runs faults until {@code until} (System.nanoTime); the fault under way then is finished and healed. */
  void run(long until) throws IOException, InterruptedException {
    int step = 0;
    while (true) {
      // Every step draws the same numbers, whatever it does with them.
      long calm = 1000 + random.nextInt(2000);
      int kind = random.nextInt(100);
      boolean preferLeader = random.nextInt(100) < 50;
      int pick = random.nextInt(2);
      long first = random.nextInt(1000);
      long second = random.nextInt(1000);
      boolean secondPrefersLeader = random.nextBoolean();
      int secondPick = random.nextInt(2);
      TimeUnit.MILLISECONDS.sleep(calm); // the schedule's pause between faults
      noticeCrashes();
      if (System.nanoTime() >= until || closing) return;
      step++;
      String x = target(preferLeader, pick, null);
      boolean xLeads = isLeader(x);
      if (kind < 30) {
        kills++;
        log(step, "kill -9 " + describe(x, xLeads));
        long at = kill(x, xLeads);
        TimeUnit.MILLISECONDS.sleep(300 + 2 * first); // down for 0.3-2.3 s
        restart(x, xLeads ? -1 : at, "killed");
      } else if (kind < 60) {
        freezes++;
        log(step, "SIGSTOP " + describe(x, xLeads));
        long at = freeze(x, xLeads);
        TimeUnit.MILLISECONDS.sleep(1000 + 2 * first); // frozen for 1-3 s
        cluster.thaw(x);
        long end = System.nanoTime();
        log(step, "SIGCONT " + x + " after " + ms(end - at) + " ms");
        if (!xLeads) followerDowns.add(new FollowerDown(x, "frozen", at, end));
      } else if (kind < 80) {
        combinations++;
        log(step, "SIGSTOP " + describe(x, xLeads) + ", then kill -9 while frozen");
        long at = freeze(x, xLeads);
        TimeUnit.MILLISECONDS.sleep(500 + first); // frozen for 0.5-1.5 s
        log(step, "kill -9 " + x + " (frozen)");
        cluster.kill(x);
        TimeUnit.MILLISECONDS.sleep(300 + second); // down for 0.3-1.3 s
        restart(x, xLeads ? -1 : at, "frozen, then killed");
      } else {
        combinations++;
        log(step, "kill -9 " + describe(x, xLeads) + ", restart, and freeze another while it catches up");
        long at = kill(x, xLeads);
        TimeUnit.MILLISECONDS.sleep(300 + first); // down for 0.3-1.3 s
        restart(x, xLeads ? -1 : at, "killed");
        String y = target(secondPrefersLeader, secondPick, x);
        boolean yLeads = isLeader(y);
        log(step, "SIGSTOP " + describe(y, yLeads) + " while " + x + " catches up");
        long frozeAt = freeze(y, yLeads);
        TimeUnit.MILLISECONDS.sleep(1000 + second); // frozen for 1-2 s
        cluster.thaw(y);
        log(step, "SIGCONT " + y + " after " + ms(System.nanoTime() - frozeAt) + " ms");
      }
    }
  }

  /**
   * The member to fault: the leader when {@code preferLeader} and one is known, else the
   * {@code pick}-th (mod count) of the others; never {@code not}.
   */
  private String target(boolean preferLeader, int pick, String not) {
    Optional<String> leader = cluster.leader();
    List<String> candidates = new ArrayList<>();
    for (String id : KvProcessCluster.IDS) {
      if (id.equals(not)) continue;
      if (preferLeader && leader.isPresent() && leader.get().equals(id)) return id;
      if (leader.isEmpty() || !leader.get().equals(id)) candidates.add(id);
    }
    return candidates.get(pick % candidates.size());
  }

  private boolean isLeader(String id) {
    return cluster.status(id, Duration.ofMillis(500)).map(KvProcessCluster.Status::isLeader).orElse(false);
  }

  private static String describe(String id, boolean leads) {
    return id + (leads ? " (leader)" : " (follower)");
  }

  /** Kills {@code id}; returns the time its process was gone (the fault's time). */
  private long kill(String id, boolean leads) throws IOException, InterruptedException {
    cluster.kill(id);
    long at = System.nanoTime();
    if (leads) leaderFault(id, "killed", at);
    return at;
  }

  /** Freezes {@code id}; returns the time the signal was delivered (the fault's time). */
  private long freeze(String id, boolean leads) throws IOException, InterruptedException {
    cluster.freeze(id);
    long at = System.nanoTime();
    if (leads) leaderFault(id, "frozen", at);
    return at;
  }

  /**
   * Starts {@code id} again and waits until its HTTP API answers; measures its catch-up in the
   * background. {@code downSince} >= 0 records the outage as a follower-down window.
   */
  private void restart(String id, long downSince, String what) throws IOException, InterruptedException {
    long started = cluster.start(id);
    if (downSince >= 0) followerDowns.add(new FollowerDown(id, what, downSince, started));
    Restart r = new Restart(id, started);
    restarts.add(r);
    r.httpUp = cluster.awaitHttp(id, Duration.ofSeconds(120));
    log(0, id + " restarted: HTTP after " + ms(r.httpUp - started) + " ms");
    Thread t = new Thread(() -> awaitCaughtUp(r), "catch-up-" + id);
    t.setDaemon(true);
    synchronized (helpers) {
      helpers.add(t);
    }
    t.start();
  }

  private void awaitCaughtUp(Restart r) {
    long deadline = r.httpUp + CATCH_UP_DEADLINE.toNanos();
    try {
      while (System.nanoTime() < deadline && !closing) {
        Map<String, KvProcessCluster.Status> s = cluster.statuses(Duration.ofMillis(500));
        KvProcessCluster.Status leader = s.values().stream().filter(KvProcessCluster.Status::isLeader)
            .max((a, b) -> Long.compare(a.term(), b.term())).orElse(null);
        if (leader != null) {
          // The leader is asked first; the member must have applied at least its commit index.
          Optional<KvProcessCluster.Status> me = cluster.status(r.node, Duration.ofMillis(500));
          if (me.isPresent() && me.get().appliedIndex() >= leader.commitIndex()) {
            r.caughtUp = System.nanoTime();
            return;
          }
        }
        TimeUnit.MILLISECONDS.sleep(20); // polling a condition with a deadline
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Records a leader fault and starts a probe that writes at the other members until one acknowledges. */
  private void leaderFault(String id, String what, long at) {
    leaderFaults.add(new LeaderFault(id, what, at));
    Thread t = new Thread(() -> probe(id, at), "probe-" + id);
    t.setDaemon(true);
    synchronized (helpers) {
      helpers.add(t);
    }
    t.start();
  }

  private void probe(String faulted, long at) {
    int process = history.newProcess();
    String node = faulted;
    long deadline = at + TimeUnit.SECONDS.toNanos(15);
    try {
      while (System.nanoTime() < deadline && !closing) {
        node = KvProcessCluster.IDS.get((KvProcessCluster.IDS.indexOf(node) + 1) % KvProcessCluster.IDS.size());
        if (node.equals(faulted)) continue;
        Outcome o = probeClient.write(process, "probe", Kind.PUT, node, probeKey, values.incrementAndGet(), null, null,
            0, Set.of(faulted)).outcome();
        if (o == Outcome.OK) return;
        if (o == Outcome.UNKNOWN) process = history.newProcess();
        TimeUnit.MILLISECONDS.sleep(10); // pacing the probe
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Continues frozen members, starts dead ones, and waits until every member answers HTTP. */
  void heal() throws IOException, InterruptedException {
    noticeCrashes();
    for (String id : KvProcessCluster.IDS) {
      if (cluster.isRunning(id) && cluster.isFrozen(id)) {
        log(0, "heal: SIGCONT " + id);
        cluster.thaw(id);
      }
      if (!cluster.isRunning(id)) {
        log(0, "heal: start " + id);
        cluster.start(id);
      }
    }
    for (String id : KvProcessCluster.IDS) cluster.awaitHttp(id, Duration.ofSeconds(120));
  }

  /** Stops the probes and catch-up measurements and waits for them. */
  void close() throws InterruptedException {
    closing = true;
    List<Thread> ts;
    synchronized (helpers) {
      ts = new ArrayList<>(helpers);
    }
    for (Thread t : ts) t.join(TimeUnit.SECONDS.toMillis(20));
  }

  /** Members that exited without being killed: a failure of the run, logged and kept. */
  private void noticeCrashes() {
    for (String c : cluster.unexpectedExits()) {
      crashes.add(c);
      log(0, "MEMBER EXITED: " + c);
    }
  }

  List<String> crashes() {
    return List.copyOf(crashes);
  }

  private void log(int step, String what) {
    // Wall-clock time too, to find the moment in the members' logs.
    String line = String.format("+%.3fs (%s) %s%s", (System.nanoTime() - t0) / 1e9,
        LocalTime.now().truncatedTo(ChronoUnit.MILLIS), step > 0 ? "#" + step + " " : "", what);
    synchronized (events) {
      events.add(line);
    }
    out.println("[faults] " + line);
  }

  private static long ms(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  List<String> events() {
    synchronized (events) {
      return List.copyOf(events);
    }
  }

  List<LeaderFault> leaderFaults() {
    return List.copyOf(leaderFaults);
  }

  List<FollowerDown> followerDowns() {
    return List.copyOf(followerDowns);
  }

  List<Restart> restarts() {
    return List.copyOf(restarts);
  }

  int kills() {
    return kills;
  }

  int freezes() {
    return freezes;
  }

  int combinations() {
    return combinations;
  }
}
