package io.raftactors.sim;

import static io.raftactors.sim.Sims.ET_MAX;
import static io.raftactors.sim.Sims.awaitAck;
import static io.raftactors.sim.Sims.awaitLeader;
import static io.raftactors.sim.Sims.cluster;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.core.ClusterConfig;
import io.raftactors.core.DurableState;
import io.raftactors.core.HardState;
import io.raftactors.core.LogEntry;
import io.raftactors.core.Outbound;
import io.raftactors.core.RaftCore;
import io.raftactors.core.RaftMessage;
import io.raftactors.core.Role;
import io.raftactors.core.SnapshotMeta;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The simulation harness itself: determinism, network and storage control, scripting, replay, budget (SIM-01..08, SIM-10). */
class SimulationHarnessTest {

  @Test
  void sim_SIM_01_sameSeedGivesIdenticalTrace() {
    for (long seed : new long[] {1, 17, 4242}) {
      long h1 = RandomizedSimulationTest.runSeed(seed, 5, false).traceHash();
      long h2 = RandomizedSimulationTest.runSeed(seed, 5, false).traceHash();
      assertEquals(h1, h2, "seed " + seed);
      // The readable trace is identical line by line too.
      List<String> t1 = RandomizedSimulationTest.runSeed(seed, 3, true).trace();
      List<String> t2 = RandomizedSimulationTest.runSeed(seed, 3, true).trace();
      assertEquals(t1, t2);
      assertTrue(t1.size() > 1000);
    }
    // The hash depends on the run: another seed gives another trace.
    assertNotEquals(RandomizedSimulationTest.runSeed(1, 5, false).traceHash(),
        RandomizedSimulationTest.runSeed(2, 5, false).traceHash());
  }

  @Test
  void sim_SIM_02_scriptHoldsReleasesDropsAndDuplicatesOneMessage() {
    Simulation sim = cluster(3, 5);
    RaftCore leader = awaitLeader(sim);
    sim.runTicks(10);
    String f = Sims.others(sim, leader.id()).get(0);
    long before = Sims.core(sim, f).lastIndex();
    // Catch the leader's AppendEntries carrying entries to f.
    sim.holdWhere(e -> e.to().equals(f) && e.message() instanceof RaftMessage.AppendEntries ae && !ae.entries().isEmpty());
    sim.propose(leader.id());
    sim.runTicks(1);
    List<Simulation.Envelope> held = sim.held();
    assertEquals(1, held.size(), "one AppendEntries held: " + held);
    long id = held.get(0).id();
    sim.holdWhere(null);
    // Dropping a copy does not affect the original.
    long copy = sim.duplicate(id);
    sim.drop(copy);
    assertEquals(before, Sims.core(sim, f).lastIndex(), "a held message is not delivered");
    long copy2 = sim.duplicate(id);
    sim.deliver(id);
    assertEquals(before + 1, Sims.core(sim, f).lastIndex(), "delivered: f appended the entry");
    sim.deliver(copy2); // the duplicate changes nothing
    assertEquals(before + 1, Sims.core(sim, f).lastIndex());
    assertTrue(sim.held().isEmpty());
    sim.runTicks(20);
    assertThrows(IllegalArgumentException.class, () -> sim.deliver(id), "a delivered message is gone");
    // hold / release of a scheduled message
    sim.holdWhere(e -> e.to().equals(f));
    sim.propose(leader.id());
    sim.runTicks(1);
    sim.holdWhere(null);
    List<Simulation.Envelope> waiting = sim.held();
    assertTrue(!waiting.isEmpty());
    for (Simulation.Envelope e : waiting) sim.release(e.id());
    assertTrue(sim.held().isEmpty());
    sim.runTicks(20);
    assertEquals(Sims.core(sim, leader.id()).lastIndex(), Sims.core(sim, f).lastIndex(), "released messages arrive");
  }

  @Test
  void sim_SIM_03_crashDiscardsIncompleteWritesWholeAndRestartUsesDurableStateOnly() {
    // Every proposal leaves at once (no waiting for a reply to a partial batch), so that all three reach f in one tick.
    Simulation sim = Simulation.builder().nodes(3).seed(3).storageDelay(1, 1).network(n -> n.reliable(1))
        .raftConfig(Sims.DEFAULTS.withPartialAppendsInFlight(Sims.DEFAULTS.maxInflightAppends())).build();
    RaftCore leader = awaitLeader(sim);
    Simulation.Proposal p = sim.propose(leader.id());
    awaitAck(sim, p, 50);
    String f = Sims.others(sim, leader.id()).get(0);
    long durableBefore = sim.durableState(f).entries().size();
    assertEquals(Sims.core(sim, f).lastIndex(), durableBefore);
    // Now f's storage is slow: three proposals reach it but are not yet durable.
    sim.holdWhere(e -> e.to().equals(f));
    for (int i = 0; i < 3; i++) sim.propose(leader.id());
    sim.runTicks(1);
    sim.holdWhere(null);
    List<Simulation.Envelope> toF = sim.held();
    assertTrue(!toF.isEmpty());
    for (Simulation.Envelope e : toF) sim.deliver(e.id());
    assertTrue(sim.pendingWrites(f) > 0, "write pending");
    assertEquals(durableBefore + 3, Sims.core(sim, f).lastIndex(), "in memory: appended");
    long completedAckCount = sim.counters().messagesDiscardedByCrash;
    sim.crash(f);
    assertTrue(sim.counters().messagesDiscardedByCrash > completedAckCount, "the acknowledgement waiting for the write is lost");
    assertEquals(durableBefore, sim.durableState(f).entries().size(), "the incomplete write left nothing");
    sim.restart(f);
    RaftCore back = Sims.core(sim, f);
    assertEquals(durableBefore, back.lastIndex(), "rebuilt from the durable log");
    assertEquals(sim.durableState(f).hardState(), new HardState(back.term(), back.status().votedFor()));
    assertEquals(Role.FOLLOWER, back.role());
    assertTrue(sim.applied(f).isEmpty(), "a fresh state machine");
    sim.runTicks(40);
    assertEquals(Sims.core(sim, leader.id()).lastIndex(), back.lastIndex());
    sim.assertConverged();
  }

  @Test
  void sim_SIM_04_scriptedElectionStepByStep() {
    // Every message and write is held: the script decides each step.
    Simulation sim = Simulation.builder().nodes(3).seed(1).holdAllMessages().holdAllWrites().build();
    while (Sims.core(sim, "n1").role() == Role.FOLLOWER) sim.tick("n1", 1);
    assertEquals(Role.PRE_CANDIDATE, Sims.core(sim, "n1").role());
    assertEquals(2, sim.held().size(), "two PreVotes");
    sim.deliverAllHeld(); // PreVotes, then the grants they cause
    assertEquals(Role.CANDIDATE, Sims.core(sim, "n1").role());
    assertTrue(sim.held().isEmpty(), "RequestVote waits for the term and vote to be durable");
    sim.completeWrites("n1");
    assertEquals(2, sim.held(e -> e.message() instanceof RaftMessage.RequestVote).size());
    sim.drop(sim.held().get(0).id()); // n2 never hears of it
    sim.deliverAllHeld();
    sim.completeWrites("n3"); // n3's vote becomes durable and leaves
    sim.deliverAllHeld();
    assertEquals(Role.LEADER, Sims.core(sim, "n1").role());
    settle(sim);
    assertEquals(2, Sims.core(sim, "n2").lastIndex(), "the no-op reached n2");
    // partition, crash and restart through the same API
    sim.isolate("n2");
    sim.propose("n1");
    settle(sim);
    assertEquals(3, Sims.core(sim, "n1").commitIndex(), "config, no-op and the command commit with n3");
    assertEquals(2, Sims.core(sim, "n2").lastIndex(), "n2 was cut off before the command");
    sim.heal();
    sim.crash("n3");
    sim.restart("n3");
    assertEquals(3, Sims.core(sim, "n3").lastIndex());
  }

  /** Completes every pending write and delivers every held message until nothing is left. */
  private static void settle(Simulation sim) {
    for (int i = 0; i < 20; i++) {
      for (String id : sim.ids()) if (sim.isUp(id)) sim.completeWrites(id);
      if (sim.held().isEmpty()) return;
      sim.deliverAllHeld();
    }
  }

  @Test
  void sim_SIM_04_nodesStartFromArbitraryDurableStates() {
    ClusterConfig members = ClusterConfig.of("a", "b", "c");
    List<LogEntry> log = io.raftactors.core.CoreFixture.logOfTerms(1, 1, 2);
    Simulation sim = Simulation.builder()
        .node("a", new DurableState(new HardState(2, null), SnapshotMeta.initial(members), log))
        .node("b", new DurableState(new HardState(2, null), SnapshotMeta.initial(members), log.subList(0, 2)))
        .node("c", new DurableState(new HardState(1, null), SnapshotMeta.initial(members), log.subList(0, 1)))
        .seed(9).network(n -> n.reliable(2)).build();
    RaftCore leader = awaitLeader(sim);
    assertTrue(leader.id().equals("a") || leader.id().equals("b"), "c's log is not up to date");
    sim.runTicks(20);
    assertTrue(Sims.core(sim, "c").commitIndex() >= 4, "entries 1-3 plus the new leader's no-op commit everywhere");
    sim.assertConverged();
  }

  @Test
  void sim_SIM_05_harnessDetectsLogMatchingViolationInStartStates() {
    ClusterConfig members = ClusterConfig.of("a", "b");
    List<LogEntry> one = List.of(new LogEntry(1, 1, Simulation.command("x")));
    List<LogEntry> other = List.of(new LogEntry(1, 1, Simulation.command("y")));
    Simulation.SimulationFailure f = assertThrows(Simulation.SimulationFailure.class, () -> Simulation.builder()
        .node("a", new DurableState(new HardState(1, null), SnapshotMeta.initial(members), one))
        .node("b", new DurableState(new HardState(1, null), SnapshotMeta.initial(members), other))
        .build());
    assertTrue(f.violation.contains("Log Matching"), f.getMessage());
  }

  @Test
  void sim_SIM_06_failingSeedReplaysToSameViolationAtSameStep() {
    // A deliberately wrong invariant ("nothing past index 5 ever commits") stands in for a bug.
    Simulation.SimulationFailure first = runBroken(77);
    Simulation.SimulationFailure again = runBroken(77);
    assertEquals(first.step, again.step);
    assertEquals(first.violation, again.violation);
    assertEquals(first.getMessage(), again.getMessage());
    assertTrue(first.getMessage().contains("replay: " + RandomizedSimulationTest.REPLAY + "77"), first.getMessage());
    assertTrue(first.getMessage().contains("seed=77") && first.getMessage().contains("nodes=5")
        && first.getMessage().contains("preVote="), first.getMessage());
  }

  private static Simulation.SimulationFailure runBroken(long seed) {
    RandomizedSimulationTest.Run run = RandomizedSimulationTest.build(seed, 5, false);
    run.sim().addInvariant("test hook", s -> s.committedMax() > 5 ? "index " + s.committedMax() + " committed" : null);
    return assertThrows(Simulation.SimulationFailure.class, run::execute);
  }

  @Test
  void sim_SIM_08_countersShowEveryFaultWasExercised() {
    Simulation.Counters total = new Simulation.Counters();
    for (long seed = 1; seed <= 150; seed++) {
      total.add(RandomizedSimulationTest.runSeed(seed, 3, false).counters());
      total.add(RandomizedSimulationTest.runSeed(seed, 5, false).counters());
    }
    RandomizedSimulationTest.assertCountersExercised(total, true);
  }

  @Test
  void sim_SIM_10_aTinyBudgetStopsANormalRunWithItsSeedAndReplayCommand() {
    String replay = RandomizedSimulationTest.REPLAY + "31 -Draft.sim.nodes=5";
    Simulation sim = Simulation.builder().nodes(5).seed(31).budget(0.2, 0.5, 1000).replayCommand(replay).build();
    Simulation.SimulationFailure f = assertThrows(Simulation.SimulationFailure.class,
        () -> new Chaos(sim, Sims.quiet(2000, s -> s.dropRate = 0.05)).run());
    assertEquals(Simulation.Invariant.BUDGET, f.invariant, f.getMessage());
    assertTrue(f.getMessage().contains("seed=31") && f.getMessage().contains("replay: " + replay), f.getMessage());
    assertTrue(sim.now() < 2000, "stopped during the run, at tick " + sim.now());
  }

  /**
   * A message storm (every message a node emits leaves 30 times, as when a broken rule answers
   * every reply with a new burst) fails fast under the default budget: within a few hundred ticks,
   * not after millions of messages.
   */
  @Test
  void sim_SIM_10_aMessageStormFailsFastUnderTheDefaultBudget() {
    Simulation sim = Simulation.builder().nodes(3).seed(32).network(n -> n.reliable(2))
        .replayCommand(RandomizedSimulationTest.REPLAY + "32").build();
    sim.rewriteReady((id, r) -> InvariantCheckersTest.edit(r, e -> {
      e.messages = thirtyTimes(e.messages);
      e.after = thirtyTimes(e.after);
    }));
    long started = System.nanoTime();
    Simulation.SimulationFailure f = assertThrows(Simulation.SimulationFailure.class, () -> sim.runTicks(100_000));
    assertEquals(Simulation.Invariant.BUDGET, f.invariant, f.getMessage());
    assertTrue(f.getMessage().contains("seed=32") && f.getMessage().contains("replay: "), f.getMessage());
    assertTrue(sim.now() < 1000, "failed at tick " + sim.now());
    assertTrue(sim.counters().messagesSent < 2 * Simulation.DEFAULT_BUDGET_ALLOWANCE, sim.counters().toString());
    System.out.printf("SIM-10: a message storm stopped at tick %d after %d messages in %d ms%n", sim.now(),
        sim.counters().messagesSent, (System.nanoTime() - started) / 1_000_000);
  }

  private static List<Outbound> thirtyTimes(List<Outbound> messages) {
    List<Outbound> storm = new ArrayList<>();
    for (Outbound o : messages) for (int i = 0; i < 30; i++) storm.add(o);
    return storm;
  }

  @Test
  void sim_SIM_02_partitionIsDirectional() {
    Simulation sim = cluster(3, 11);
    RaftCore leader = awaitLeader(sim);
    sim.runTicks(10);
    String f = Sims.others(sim, leader.id()).get(0);
    sim.cut(f, leader.id());
    assertTrue(sim.linkOpen(leader.id(), f));
    long before = Sims.core(sim, f).lastIndex();
    sim.propose(leader.id());
    sim.runTicks(6);
    assertEquals(before + 1, Sims.core(sim, f).lastIndex(), "leader -> f still works");
    assertEquals(before, leader.status().matchIndex(f), "f -> leader is cut: no acknowledgement arrives");
    sim.reconnect(f, leader.id());
    sim.runTicks(3 * ET_MAX);
    assertEquals(before + 1, Sims.core(sim, sim.leader().id()).status().matchIndex(f));
  }
}
