package io.raftactors.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.raftactors.sim.LinearizabilityChecker.Kind;
import io.raftactors.sim.LinearizabilityChecker.Op;
import io.raftactors.sim.LinearizabilityChecker.Result;
import io.raftactors.sim.LinearizabilityChecker.Verdict;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/**
 * End-to-end linearizability (LIN-08, LIN-09, LIN-11): a KV workload ({@link KvWorkload}) runs on
 * 3- and 5-node groups under the randomized fault schedules of {@link RandomizedSimulationTest}
 * (partitions, one-way links, crashes, pauses, clock skew, loss, duplication, delays), then the
 * faults heal and the run checks liveness; the history of every key must be linearizable, and an
 * inconclusive check fails the run.
 *
 * <ul>
 *   <li>{@code -Draft.lin.seeds=N}: seeds 1..N per group size (default 40).
 *   <li>{@code -Draft.sim.seed=S}: replays seed S only (both sizes, or {@code -Draft.sim.nodes=3}).
 *   <li>{@code -Draft.sim.random=true}: soak mode, fresh random seeds, each printed before its run.
 * </ul>
 *
 * The LIN-08 sensitivity test always runs the fixed seeds.
 */
class LinearizabilityTest {

  static final String REPLAY = "mvn -B verify -pl raft-actors -Dtest=LinearizabilityTest -Draft.sim.seed=";
  private static final long CHECK_BUDGET_MS = 10_000;

  /**
   * What one run produced: besides the history and its verdict, what the session clients went
   * through, every command a state machine executed twice, and every entry about which replicas
   * decided differently (both empty in a correct store).
   */
  record RunResult(long seed, int nodes, String description, Result result, List<Op> ops, Simulation.Counters counters,
      KvWorkload.Stats stats, List<String> doubleApplies, List<String> disagreements) {}

  /** The workload's shape for a seed: 1-5 keys, three clients per key. */
  static KvWorkload.Settings settings(long seed, int nodes, boolean unsafeReads) {
    SplittableRandom r = new SplittableRandom(seed * 31 + nodes);
    KvWorkload.Settings s = new KvWorkload.Settings();
    s.keys = 1 + r.nextInt(5);
    s.clients = 3 * s.keys;
    s.opRate = 0.2 + 0.2 * r.nextDouble();
    s.timeoutTicks = 100;
    s.unsafeLocalReads = unsafeReads;
    return s;
  }

  /** One seed: faults with the workload, healing and liveness, then the check of every key. */
  static RunResult run(long seed, int nodes, boolean unsafeReads) {
    return run(seed, nodes, settings(seed, nodes, unsafeReads), REPLAY);
  }

  /**
   * One seed with the given workload: faults with the workload, healing and liveness, then the
   * check of every key. Session clients keep retrying after the faults heal, until each operation
   * they have in flight is answered or reaches its retry bound.
   */
  static RunResult run(long seed, int nodes, KvWorkload.Settings settings, String replay) {
    return run(RandomizedSimulationTest.build(seed, nodes, false, false, false, settings.sessionTimeout), seed, nodes,
        settings, replay);
  }

  /** As above, for a run built already (for instance one with membership changes in every seed). */
  static RunResult run(RandomizedSimulationTest.Run run, long seed, int nodes, KvWorkload.Settings settings,
      String replay) {
    Simulation sim = run.sim();
    String description = "seed " + seed + ", " + nodes + " nodes, workload[" + settings + "]\n  " + sim.describe()
        + "\n  replay: " + replay + seed + " -Draft.sim.nodes=" + nodes;
    KvWorkload workload = new KvWorkload(sim, settings, seed);
    Chaos chaos = new Chaos(sim, run.schedule());
    try {
      workload.start();
      chaos.run();
      workload.stop();
      int et = sim.raftConfig().electionTimeoutMax();
      chaos.quiesce(30 * et, 30 * et);
      sim.runTicks(settings.timeoutTicks); // answers still on their way arrive, or the clients give up
      if (settings.sessionShare > 0) sim.runUntil(workload::quiet, settings.retryTicks);
    } catch (AssertionError e) {
      throw new AssertionError("simulation failed: " + description + "\n" + e.getMessage(), e);
    }
    List<Op> ops = workload.finish().ops();
    Result result = LinearizabilityChecker.check(ops, CHECK_BUDGET_MS);
    return new RunResult(seed, nodes, description, result, ops, sim.counters(), workload.stats(),
        List.copyOf(workload.doubleApplies()), List.copyOf(workload.replicaDisagreements()));
  }

  /** The fixed seed list, or with {@code replayAndSoak} the seed to replay or fresh soak seeds if asked for. */
  private static List<long[]> seeds(boolean replayAndSoak) {
    return seeds(replayAndSoak, Integer.getInteger("raft.lin.seeds", 40));
  }

  /** As {@link #seeds(boolean)}, with {@code count} fixed seeds per group size. */
  static List<long[]> seeds(boolean replayAndSoak, int count) {
    List<long[]> out = new ArrayList<>();
    String single = replayAndSoak ? System.getProperty("raft.sim.seed") : null;
    String nodesProp = replayAndSoak ? System.getProperty("raft.sim.nodes") : null;
    int[] sizes = nodesProp == null || nodesProp.isBlank() ? new int[] {3, 5} : new int[] {Integer.parseInt(nodesProp)};
    if (single != null && !single.isBlank()) {
      for (int n : sizes) out.add(new long[] {Long.parseLong(single.trim()), n});
      return out;
    }
    boolean soak = replayAndSoak && Boolean.getBoolean("raft.sim.random");
    SplittableRandom fresh = new SplittableRandom();
    for (int i = 1; i <= count; i++) {
      long seed = soak ? fresh.nextLong() & Long.MAX_VALUE : i;
      for (int n : sizes) out.add(new long[] {seed, n});
    }
    return out;
  }

  private static List<Object> runAll(List<long[]> seeds, boolean unsafeReads) throws Exception {
    boolean soak = !unsafeReads && Boolean.getBoolean("raft.sim.random");
    return runAll(seeds, (seed, nodes) -> run(seed, nodes, unsafeReads), soak, REPLAY);
  }

  /**
   * Runs every (seed, size) on all cores with {@code runner}; each result is a {@link RunResult},
   * or a String naming the failed seed and its replay command.
   */
  static List<Object> runAll(List<long[]> seeds, BiFunction<Long, Integer, RunResult> runner, boolean soak,
      String replay) throws Exception {
    List<Object> out = Sims.inParallel(seeds, sn -> {
      if (soak) System.out.println("lin seed " + sn[0] + " nodes " + sn[1]);
      return runner.apply(sn[0], (int) sn[1]);
    });
    for (int i = 0; i < out.size(); i++) {
      if (out.get(i) instanceof Throwable e) {
        long[] sn = seeds.get(i);
        out.set(i, "FAILED seed " + sn[0] + " nodes " + sn[1] + ": " + e.getMessage() + "\n  replay: " + replay + sn[0]
            + " -Draft.sim.nodes=" + sn[1]);
      }
    }
    return out;
  }


  /**
   * LIN-09, LIN-11: under the randomized fault schedules (snapshots in 40% of the seeds, membership
   * changes and transfers in 30%), every key of every seed is linearizable, and no check is inconclusive; the workload
   * exercised every kind of operation and outcome; failures name the seed, schedule, size, flags
   * and replay command.
   */
  @Test
  void linearizable_LIN_09_LIN_11_everyKeyOfEverySeedIsLinearizable() throws Exception {
    long started = System.nanoTime();
    List<Object> results = runAll(seeds(true), false);
    List<String> failures = new ArrayList<>();
    long ops = 0;
    long keys = 0;
    long[] byOutcome = new long[3];
    long casOk = 0;
    long casRefused = 0;
    long getsOk = 0;
    Simulation.Counters total = new Simulation.Counters();
    for (Object o : results) {
      if (o instanceof String s) {
        failures.add(s);
        continue;
      }
      RunResult r = (RunResult) o;
      total.add(r.counters());
      if (r.result().verdict() != Verdict.LINEARIZABLE) {
        failures.add(r.result().verdict() + ": " + r.description() + "\n" + r.result());
      }
      keys += r.result().byKey().size();
      ops += r.ops().size();
      for (Op op : r.ops()) {
        byOutcome[op.outcome().ordinal()]++;
        if (op.outcome() != LinearizabilityChecker.Outcome.OK) continue;
        if (op.kind() == Kind.GET) getsOk++;
        if (op.kind() == Kind.CAS && Boolean.TRUE.equals(op.output())) casOk++;
        if (op.kind() == Kind.CAS && Boolean.FALSE.equals(op.output())) casRefused++;
      }
    }
    System.out.printf("linearizability: %d runs, %d keys, %d operations (%.0f per key): ok=%d fail=%d unknown=%d,"
        + " gets ok=%d, cas ok=%d refused=%d, in %.1f s%n", results.size(), keys, ops, keys == 0 ? 0.0 : (double) ops / keys,
        byOutcome[0], byOutcome[1], byOutcome[2], getsOk, casOk, casRefused, (System.nanoTime() - started) / 1e9);
    if (!failures.isEmpty()) fail(failures.size() + " failing runs; first:\n" + failures.get(0));
    String replay = System.getProperty("raft.sim.seed");
    if (replay != null && !replay.isBlank()) return; // one seed need not exercise everything
    // No vacuous runs: every operation and outcome the checker has to reason about happened.
    assertTrue(getsOk > 0 && casOk > 0 && casRefused > 0, "gets and both cas results");
    assertTrue(byOutcome[1] > 0, "some operations failed (not-leader)");
    assertTrue(byOutcome[2] > 0, "some operations ended unknown");
    assertTrue(total.crashes > 0 && total.partitions > 0 && total.leaderStepDowns > 0, total::toString);
  }

  /** LIN-11: the replay property reproduces a run exactly: the same seed gives the same history. */
  @Test
  void replay_LIN_11_sameSeedGivesTheSameHistory() {
    RunResult a = run(5, 3, false);
    RunResult b = run(5, 3, false);
    assertTrue(a.ops().size() > 100, "a real history");
    assertEquals(a.ops(), b.ops());
  }

  /**
   * LIN-08: the same harness against a deliberately broken store, whose gets are answered from a
   * random node's applied state without ReadIndex, reports a violation within the fixed seeds.
   */
  @Test
  void sensitivity_LIN_08_readsWithoutReadIndexAreReportedAsViolations() throws Exception {
    List<Object> results = runAll(seeds(false), true);
    RunResult caught = null;
    for (Object o : results) {
      if (o instanceof String s) fail("the broken store must break linearizability, not the simulation: " + s);
      RunResult r = (RunResult) o;
      if (r.result().verdict() == Verdict.NOT_LINEARIZABLE && caught == null) caught = r;
    }
    assertTrue(caught != null, "no seed caught reads served without ReadIndex");
    String report = caught.result().toString();
    System.out.println("LIN-08: the broken store was caught, e.g. " + caught.description() + "\n" + report);
    assertTrue(report.contains("not linearizable") && report.contains("longest partial linearization")
        && report.contains("could not place"), report);
    // LIN-11: what a failure prints: seed, size, schedule, feature flags and the replay command.
    String d = caught.description();
    for (String part : new String[] {"seed " + caught.seed(), caught.nodes() + " nodes", "schedule[", "preVote=",
        "checkQuorum=", "conflictHint=", "replay: " + REPLAY + caught.seed() + " -Draft.sim.nodes=" + caught.nodes()}) {
      assertTrue(d.contains(part), () -> "missing " + part + " in " + d);
    }
  }
}
