package io.raftactors.sim;

import static io.raftactors.sim.Sims.ET_MAX;
import static io.raftactors.sim.Sims.awaitLeader;
import static io.raftactors.sim.Sims.cluster;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.raftactors.core.RaftMessage;
import io.raftactors.sim.LinearizabilityChecker.History;
import io.raftactors.sim.LinearizabilityChecker.Kind;
import io.raftactors.sim.LinearizabilityChecker.Op;
import io.raftactors.sim.LinearizabilityChecker.Outcome;
import io.raftactors.sim.LinearizabilityChecker.Verdict;
import io.raftactors.sim.LinearizabilityTest.RunResult;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Client retries under sessions (LIN-03, thesis 6.3) in the randomized simulation: the KV workload
 * of {@link LinearizabilityTest} with clients that open a session through the log and retry every
 * operation with the same (session, seq) at another node until it is answered, under the same
 * randomized fault schedules. Each node's state machine keeps the real session table. A retried
 * operation is one operation in the history, from its first invoke to its final answer, so the
 * history has far fewer unknown outcomes; the checker must still find every key linearizable, no
 * state machine may execute a written value twice, and the replicas must decide alike about every
 * entry (applied with the same output, duplicate, expired) although each leader stamps its own
 * skewed clock. Session clients run cas loops (after a refused cas they read the key and try again
 * from what they read), so a retried cas that ran twice and answered false is soon contradicted by
 * a read of its own value.
 *
 * <ul>
 *   <li>{@code -Draft.lin.sessionSeeds=N}: seeds 1..N per group size (default 20).
 *   <li>{@code -Draft.sim.seed=S}: replays seed S only (both sizes, or {@code -Draft.sim.nodes=3}).
 *   <li>{@code -Draft.sim.random=true}: soak mode, fresh random seeds, each printed before its run.
 * </ul>
 */
class SessionLinearizabilityTest {

  static final String REPLAY = "mvn -B verify -pl raft-actors -Dtest=SessionLinearizabilityTest -Draft.sim.seed=";

  /** The session workload for a seed: LinearizabilityTest's shape, with some or all clients on sessions. */
  static KvWorkload.Settings settings(long seed, int nodes, boolean ignoreSessions) {
    KvWorkload.Settings s = LinearizabilityTest.settings(seed, nodes, false);
    SplittableRandom r = new SplittableRandom(seed * 0x2545F4914F6CDD1DL + nodes);
    s.sessionShare = r.nextInt(3) == 0 ? 1.0 : 0.34 + 0.5 * r.nextDouble();
    s.attemptTicks = 2 * ET_MAX + r.nextInt(3 * ET_MAX);
    s.retryTicks = 1500;
    s.sessionTimeout = 300 + r.nextInt(400);
    s.napRate = 0.02;
    s.clockSkew = r.nextInt(3) == 0 ? 0 : 1 + r.nextInt(200);
    s.snapshotRate = r.nextBoolean() ? 0 : 0.002 + 0.02 * r.nextDouble();
    s.ignoreSessions = ignoreSessions;
    return s;
  }

  private static List<Object> runAll(boolean replayAndSoak, boolean ignoreSessions) throws Exception {
    int count = ignoreSessions ? 10 : Integer.getInteger("raft.lin.sessionSeeds", 20);
    List<long[]> seeds = LinearizabilityTest.seeds(replayAndSoak, count);
    boolean soak = replayAndSoak && Boolean.getBoolean("raft.sim.random");
    return LinearizabilityTest.runAll(seeds,
        (seed, nodes) -> LinearizabilityTest.run(seed, nodes, settings(seed, nodes, ignoreSessions), REPLAY), soak, REPLAY);
  }

  /**
   * LIN-03, T6.3-02, T6.3-03, T6.3-05: under the randomized faults, session clients retry their
   * operations until answered; every key stays linearizable, no command takes effect twice, a
   * retry gets the first execution's answer (from a duplicate in the log or the leader's cache),
   * replicas decide alike about every entry (session expiry included, on logged time), and the
   * session operations end unknown far less often than the operations of clients without one
   * (fewer than 1% reach the retry bound).
   */
  @Test
  void sessions_LIN_03_T6_3_02_T6_3_03_T6_3_05_retriedCommandsTakeEffectOnceAndEveryKeyIsLinearizable()
      throws Exception {
    long started = System.nanoTime();
    List<Object> results = runAll(true, false);
    List<String> failures = new ArrayList<>();
    KvWorkload.Stats stats = new KvWorkload.Stats();
    Simulation.Counters counters = new Simulation.Counters();
    long ops = 0;
    for (Object o : results) {
      if (o instanceof String s) {
        failures.add(s);
        continue;
      }
      RunResult r = (RunResult) o;
      stats.add(r.stats());
      counters.add(r.counters());
      ops += r.ops().size();
      if (r.result().verdict() != Verdict.LINEARIZABLE) {
        failures.add(r.result().verdict() + ": " + r.description() + "\n" + r.result());
      }
      if (!r.doubleApplies().isEmpty()) {
        failures.add("a command took effect twice: " + r.description() + "\n  " + String.join("\n  ", r.doubleApplies()));
      }
      if (!r.disagreements().isEmpty()) {
        failures.add("replicas decided differently: " + r.description() + "\n  " + String.join("\n  ", r.disagreements()));
      }
    }
    System.out.printf("session linearizability: %d runs, %d operations in %.1f s%n  %s%n", results.size(), ops,
        (System.nanoTime() - started) / 1e9, stats);
    if (!failures.isEmpty()) fail(failures.size() + " failures; first:\n" + failures.get(0));
    String replay = System.getProperty("raft.sim.seed");
    if (replay != null && !replay.isBlank()) return; // one seed need not exercise everything
    // Not vacuous: retries happened and were answered from sessions, sessions expired, and so on.
    assertTrue(stats.retriedOps > 0 && stats.retriedOpsDefinite > 0, stats::toString);
    assertTrue(stats.duplicatesInLog > 0 && stats.answeredFromLog > 0 && stats.answeredFromCache > 0, stats::toString);
    assertTrue(stats.sessionsExpired > 0 && stats.sessionFail > 0 && stats.naps > 0, stats::toString);
    assertTrue(stats.snapshotRoundTrips > 0, stats::toString);
    assertTrue(counters.crashes > 0 && counters.partitions > 0 && counters.leaderStepDowns > 0, counters::toString);
    // Retries make outcomes definite: far fewer unknowns than without a session.
    double sessionUnknown = (double) stats.sessionUnknown / stats.sessionOps;
    double plainUnknown = (double) stats.plainUnknown / stats.plainOps;
    assertTrue(stats.sessionOps > 1000 && stats.plainOps > 1000, stats::toString);
    assertTrue(sessionUnknown * 5 < plainUnknown, "unknown with sessions " + sessionUnknown + ", without " + plainUnknown);
    assertTrue(stats.giveUps * 100 < stats.sessionOps, "fewer than 1% of the session operations reach the retry bound");
  }

  /**
   * LIN-03, T6.3-02 sensitivity: the same harness against a store whose state machine executes
   * every session command it applies, ignoring the session table, so a retried command whose
   * first attempt also committed takes effect twice. The checker reports a violation within the
   * fixed seeds, and the exactly-once count names the command executed again.
   */
  @Test
  void sensitivity_LIN_03_T6_3_02_aStoreThatExecutesRetriedCommandsAgainIsCaught() throws Exception {
    List<Object> results = runAll(false, true);
    RunResult caught = null;
    int byChecker = 0;
    int byCount = 0;
    for (Object o : results) {
      if (o instanceof String s) fail("the broken store must break exactly-once, not the simulation: " + s);
      RunResult r = (RunResult) o;
      if (!r.doubleApplies().isEmpty()) byCount++;
      if (r.result().verdict() == Verdict.NOT_LINEARIZABLE) {
        byChecker++;
        if (caught == null) caught = r;
      }
    }
    System.out.println("LIN-03 sensitivity: of " + results.size() + " runs with a store ignoring sessions, the checker"
        + " caught " + byChecker + ", the exactly-once count " + byCount);
    assertTrue(caught != null, "no seed's history showed a retried command applied twice");
    System.out.println("e.g. " + caught.description() + "\n" + caught.result() + "\n  " + caught.doubleApplies().get(0));
    assertTrue(caught.result().toString().contains("not linearizable"), caught.result()::toString);
    assertTrue(byCount > 0, "the exactly-once count never saw a command executed twice");
  }

  // ------------------------------------------------------------------ one scripted retry

  /**
   * LIN-03, T6.3-03: a cas whose first attempt is replicated but whose leader crashes before it
   * answers is retried at another node; it is one operation, invoked before the first attempt and
   * completed with the first execution's answer (true); the client's process is not retired, the
   * value is written once on every node (the crashed one too, after it restarts), and the history
   * with a later read is linearizable.
   */
  @Test
  void retry_LIN_03_T6_3_03_aRetriedCasIsOneOperationAnsweredFromItsFirstExecution() {
    Scripted s = scriptedRetry(false);
    assertEquals(List.of(), s.workload.doubleApplies());
    assertEquals(Outcome.OK, s.cas.outcome(), s.cas::toString);
    assertEquals(true, s.cas.output(), "the answer of the first execution");
    assertTrue(s.cas.invoke() < s.firstAttemptStep * 2 + 2 && s.cas.complete() > s.crashStep * 2, s.cas::toString);
    assertEquals(s.processBefore, s.cas.process(), "the retried operation keeps its process");
    assertFalse(s.workload.history().isRetired(s.processBefore));
    assertTrue(s.workload.stats().retries > 0, s.workload.stats()::toString);
    assertEquals(1, s.workload.stats().answeredFromLog + s.workload.stats().answeredFromCache, s.workload.stats()::toString);
    for (String id : s.sim.ids()) assertEquals(s.cas.value(), s.workload.machine(id).get("k0"), id);
    assertEquals(s.cas.value(), s.read.output());
    assertEquals(Verdict.LINEARIZABLE, LinearizabilityChecker.check(s.ops, 10_000).verdict());
  }

  /** The same script against the store that ignores sessions: the retry executes again and the checker objects. */
  @Test
  void retry_LIN_03_T6_3_02_theSameRetryAgainstAStoreIgnoringSessionsIsCaught() {
    Scripted s = scriptedRetry(true);
    assertEquals(false, s.cas.output(), "the second execution finds its own value and refuses");
    assertFalse(s.workload.doubleApplies().isEmpty());
    assertEquals(Verdict.NOT_LINEARIZABLE, LinearizabilityChecker.check(s.ops, 10_000).verdict());
  }

  private record Scripted(Simulation sim, KvWorkload workload, Op cas, Op read, List<Op> ops, int processBefore,
      long firstAttemptStep, long crashStep) {}

  private static Scripted scriptedRetry(boolean ignoreSessions) {
    // The script counts messages as they were when every proposal left at once.
    Simulation sim = cluster(3, 11, Sims.DEFAULTS.withPartialAppendsInFlight(Sims.DEFAULTS.maxInflightAppends()));
    KvWorkload.Settings settings = new KvWorkload.Settings();
    settings.keys = 1;
    settings.clients = 1;
    settings.sessionShare = 1;
    settings.ignoreSessions = ignoreSessions;
    KvWorkload w = new KvWorkload(sim, settings, 11);
    String leader = awaitLeader(sim).id();
    w.openSession(0, leader);
    assertTrue(sim.runUntil(() -> w.session(0) != 0, 10 * ET_MAX) >= 0, "a session");
    int processBefore = w.process(0);

    // The followers take the cas, but the leader never hears them: it cannot commit or answer.
    sim.holdWhere(e -> e.to().equals(leader) && e.message() instanceof RaftMessage.AppendEntriesResponse);
    long firstAttemptStep = sim.step();
    History.Pending cas = w.cas(0, leader, 0);
    long index = sim.proposals().get(sim.proposals().size() - 1).index;
    List<String> followers = new ArrayList<>(sim.ids());
    followers.remove(leader);
    assertTrue(sim.runUntil(() -> followers.stream().allMatch(f -> sim.core(f).lastIndex() >= index), 10 * ET_MAX) >= 0);
    assertFalse(cas.done());
    long crashStep = sim.step();
    sim.crash(leader);
    for (Simulation.Envelope e : sim.held()) sim.drop(e.id());

    // The client retries elsewhere. The next leader commits nothing until the retry is in its log, so
    // it cannot have applied the first attempt yet and logs the retry instead of answering it from
    // its session table: the retry is applied as a second copy of the command, whatever the timing.
    int proposalsBefore = sim.proposals().size();
    sim.holdWhere(e -> e.message() instanceof RaftMessage.AppendEntriesResponse);
    assertTrue(sim.runUntil(() -> sim.proposals().stream().skip(proposalsBefore).anyMatch(p -> p.index > 0), 50 * ET_MAX) >= 0,
        "the retry reaches the next leader's log");
    sim.holdWhere(null);
    for (Simulation.Envelope e : sim.held()) sim.release(e.id());
    assertTrue(sim.runUntil(cas::done, 50 * ET_MAX) >= 0, cas::toString);
    sim.restart(leader);
    String now = awaitLeader(sim).id();
    History.Pending read = w.get(0, now, 0);
    assertTrue(sim.runUntil(() -> read.done() && sim.core(leader).lastApplied() >= sim.core(now).commitIndex(),
        20 * ET_MAX) >= 0, read::toString);
    List<Op> ops = w.finish().ops();
    assertEquals(2, ops.size(), ops::toString);
    assertEquals(Kind.CAS, ops.get(0).kind());
    return new Scripted(sim, w, ops.get(0), ops.get(1), ops, processBefore, firstAttemptStep, crashStep);
  }
}
