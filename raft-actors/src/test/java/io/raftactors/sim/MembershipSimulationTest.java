package io.raftactors.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.raftactors.core.ClusterConfig;
import io.raftactors.core.MembershipChange;
import io.raftactors.core.RaftCore;
import io.raftactors.core.Role;
import io.raftactors.sim.LinearizabilityChecker.Verdict;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.LongFunction;
import org.junit.jupiter.api.Test;

/**
 * Membership changes and leadership transfers under seeded faults (thesis chapter 4, 3.10): every
 * invariant of {@link Simulation} is checked after every event, among them that a node uses the
 * latest configuration in its log, that no log holds two uncommitted configurations, and that a
 * commit under a joint configuration has both majorities; after healing, every member agrees on
 * the configuration.
 *
 * <ul>
 *   <li>{@code -Draft.sim.seed=S}: replays seed S of each test here and prints its trace ({@code
 *       -Draft.sim.traceFile=prefix} writes all of it).
 *   <li>{@code -Draft.membership.seeds=N}: seeds 1..N for the T4.3-04 and NET-11 runs (default 200; 20000 in the soak profile).
 * </ul>
 */
class MembershipSimulationTest {

  private static final String REPLAY = "mvn -B verify -pl raft-actors -Dtest=MembershipSimulationTest -Draft.sim.seed=";

  /**
   * T4.3-04: in 3-node groups under random partitions (and the schedule's other faults), an
   * operator replaces two of the three voters by two new nodes in one request (a joint change)
   * at a random moment, and asks again until it is done, through the faults and after them. Every
   * Figure 3 invariant holds throughout, and every member ends with C_new in force: the two new
   * nodes and the voter kept, and no joint configuration.
   */
  @Test
  void sim_T4_3_04_replacingTwoOfThreeVotersInOneChangeIsSafeUnderPartitions() throws Exception {
    Simulation.Counters total = runSeeds(200, seed -> replaceTwoOfThree(seed).counters());
    long runs = replaying() ? 1 : Integer.getInteger("raft.membership.seeds", 200);
    assertTrue(total.jointConfigurations >= runs, "every run went through a joint configuration: " + total);
    assertTrue(total.partitions > 0 && total.partitionsDuringConfigurationChange > 0, total::toString);
  }

  /** One run of the T4.3-04 scenario; returns the finished simulation. */
  static Simulation replaceTwoOfThree(long seed) {
    RandomizedSimulationTest.Run run = RandomizedSimulationTest.build(seed, 3, false, false, false);
    Chaos.Schedule schedule = run.schedule();
    schedule.partitions = true;
    schedule.membership = false; // only the scripted replacement
    // build() made no spares for a run without random membership changes: make the run again with them.
    Simulation sim = Simulation.builder().nodes(3).spares(2).seed(seed).raftConfig(run.sim().raftConfig())
        .storageDelay(1, 3).label(schedule + " replace-2-of-3").replayCommand(REPLAY + seed).recordTrace(replaying()).build();
    if (replaying()) Runtime.getRuntime().addShutdownHook(new Thread(() -> printTrace(sim)));
    SplittableRandom r = new SplittableRandom(seed);
    List<String> founders = List.of("n1", "n2", "n3");
    String kept = founders.get(r.nextInt(3));
    List<MembershipChange> replace = new ArrayList<>();
    for (String f : founders) if (!f.equals(kept)) replace.add(new MembershipChange.Remove(f));
    replace.add(new MembershipChange.AddVoter("n4", null));
    replace.add(new MembershipChange.AddVoter("n5", null));
    List<String> target = List.of(kept, "n4", "n5").stream().sorted().toList();
    long askFrom = 50 + r.nextInt(Math.max(1, schedule.chaosTicks / 2));
    Simulation.Admin[] last = new Simulation.Admin[1];
    int[] askedOf = new int[1]; // the incarnation of the node asked: a crash loses the request
    Runnable operator = () -> {
      if (sim.now() < askFrom || done(sim, target)) return;
      Simulation.Admin a = last[0];
      if (a != null && a.status() == Simulation.Admin.Status.PENDING && sim.isUp(a.node)
          && sim.incarnation(a.node) == askedOf[0]) {
        return; // still waiting for the answer
      }
      RaftCore l = sim.leader();
      if (l != null && !sim.isPaused(l.id())) {
        last[0] = sim.changeMembership(l.id(), replace);
        askedOf[0] = sim.incarnation(l.id());
      }
    };
    sim.beforeTick(operator);
    Chaos chaos = new Chaos(sim, schedule).willAdd(List.of("n4", "n5"));
    chaos.run();
    int et = sim.raftConfig().electionTimeoutMax();
    chaos.quiesce(30 * et, 30 * et);
    // The operator goes on asking after the healing until the change is done.
    int t = sim.runUntil(() -> done(sim, target), 100 * et);
    assertTrue(t >= 0, () -> "the replacement did not complete after healing: " + last[0] + "; earlier answers: "
        + sim.admins().stream().map(Simulation.Admin::detail).distinct().toList() + "\n" + sim.summary());
    chaos.quiesce(30 * et, 30 * et);
    ClusterConfig c = sim.leader().config();
    assertEquals(target, c.voters(), sim::summary);
    assertFalse(c.joint(), sim::summary);
    assertEquals(target, sim.members(), sim::summary);
    for (String id : target) assertEquals(c, sim.core(id).config(), () -> id + " has another configuration\n" + sim.summary());
    for (String f : founders) {
      if (!f.equals(kept) && sim.isUp(f)) assertTrue(sim.core(f).role() != Role.LEADER, () -> f + " was removed but leads");
    }
    return sim;
  }

  /** Whether one seed is being replayed ({@code -Draft.sim.seed}): its trace is then printed. */
  private static boolean replaying() {
    String single = System.getProperty("raft.sim.seed");
    return single != null && !single.isBlank();
  }

  private static void printTrace(Simulation sim) {
    Sims.printTrace(sim, "seed " + sim.seed() + ", " + sim.ids().size() + " nodes", sim.seed() + "-" + sim.ids().size(), 100);
  }

  private static boolean done(Simulation sim, List<String> target) {
    RaftCore l = sim.leader();
    return l != null && !l.config().joint() && l.config().voters().equals(target) && l.commitIndex() == l.lastIndex();
  }

  /**
   * NET-11: partitions (random, flapping, one-way, leader isolation, long isolations of one
   * member) hit while configuration entries and InstallSnapshot transfers are in flight: every
   * run changes members and transfers leadership during the faults, and compacts its log every
   * 2 to 20 entries, so that new and lagging members catch up through snapshots. Every invariant
   * holds (at most one uncommitted configuration in any log included); after healing every member
   * agrees on the configuration, its log and its state.
   */
  @Test
  void sim_NET_11_partitionsDuringMembershipChangesAndSnapshotTransfers() throws Exception {
    Simulation.Counters total = runSeeds(200, seed -> {
      Simulation.Counters c = new Simulation.Counters();
      for (int nodes : new int[] {3, 5}) {
        RandomizedSimulationTest.Run run = RandomizedSimulationTest.build(seed, nodes, replaying(), true, true);
        run.schedule().partitions = true;
        try {
          c.add(run.execute().counters());
        } catch (AssertionError e) {
          if (replaying()) printTrace(run.sim());
          throw new AssertionError(nodes + " nodes: " + e.getMessage(), e);
        }
      }
      return c;
    });
    System.out.println("NET-11: " + total);
    if (replaying()) return; // one seed need not exercise everything
    assertTrue(total.partitionsDuringConfigurationChange > 0, total::toString);
    assertTrue(total.partitionsDuringSnapshotTransfer > 0, total::toString);
    assertTrue(total.membershipChangesDone > 0 && total.jointConfigurations > 0 && total.transfersDone > 0, total::toString);
    assertTrue(total.snapshotsInstalled > 0, total::toString);
  }

  /**
   * LIN-10 (g): the KV workload of {@link LinearizabilityTest} runs while an operator adds,
   * promotes and removes members (the leader among them), replaces two voters at once and
   * transfers leadership, under the randomized faults; every key of every seed is linearizable.
   */
  @Test
  void lin_LIN_10_linearizableWhileMembersChangeAndLeadershipMoves() throws Exception {
    List<Object> results = new ArrayList<>();
    String single = System.getProperty("raft.sim.seed");
    List<long[]> seeds = LinearizabilityTest.seeds(true, 30);
    results.addAll(LinearizabilityTest.runAll(seeds, (seed, nodes) -> LinearizabilityTest.run(
        RandomizedSimulationTest.build(seed, nodes, false, true, false), seed, nodes,
        LinearizabilityTest.settings(seed, nodes, false), REPLAY), false, REPLAY));
    Simulation.Counters total = new Simulation.Counters();
    List<String> failures = new ArrayList<>();
    for (Object o : results) {
      if (o instanceof String s) {
        failures.add(s);
        continue;
      }
      LinearizabilityTest.RunResult rr = (LinearizabilityTest.RunResult) o;
      total.add(rr.counters());
      if (rr.result().verdict() != Verdict.LINEARIZABLE) failures.add(rr.result().verdict() + ": " + rr.description());
    }
    if (!failures.isEmpty()) fail(failures.size() + " failing runs; first:\n" + failures.get(0));
    if (single != null && !single.isBlank()) return;
    assertTrue(total.membershipChangesDone > 0 && total.jointConfigurations > 0 && total.transfersDone > 0, total::toString);
  }

  /** Runs {@code count} seeds (or the one replayed) on every core; fails with the first failure's replay line. */
  private static Simulation.Counters runSeeds(int count, LongFunction<Simulation.Counters> run) throws Exception {
    List<Long> seeds = new ArrayList<>();
    String single = System.getProperty("raft.sim.seed");
    if (single != null && !single.isBlank()) seeds.add(Long.parseLong(single.trim()));
    else for (long s = 1; s <= Integer.getInteger("raft.membership.seeds", count); s++) seeds.add(s);
    List<Object> results = Sims.inParallel(seeds, seed -> run.apply(seed));
    Simulation.Counters total = new Simulation.Counters();
    List<String> failures = new ArrayList<>();
    for (int i = 0; i < results.size(); i++) {
      if (results.get(i) instanceof Simulation.Counters c) total.add(c);
      else failures.add("FAILED seed " + seeds.get(i) + ": " + ((Throwable) results.get(i)).getMessage() + "\n  replay: " + REPLAY + seeds.get(i));
    }
    if (!failures.isEmpty()) fail(failures.size() + " failing runs; first:\n" + failures.get(0));
    return total;
  }
}
