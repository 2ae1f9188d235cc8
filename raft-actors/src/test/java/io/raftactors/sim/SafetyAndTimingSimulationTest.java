package io.raftactors.sim;

import static io.raftactors.sim.InvariantCheckersTest.assertCheckerCanFail;
import static io.raftactors.sim.Sims.DEFAULTS;
import static io.raftactors.sim.Sims.ET_MAX;
import static io.raftactors.sim.Sims.ET_MIN;
import static io.raftactors.sim.Sims.HB;
import static io.raftactors.sim.Sims.awaitAck;
import static io.raftactors.sim.Sims.awaitLeader;
import static io.raftactors.sim.Sims.chaosRun;
import static io.raftactors.sim.Sims.cluster;
import static io.raftactors.sim.Sims.core;
import static io.raftactors.sim.Sims.others;
import static io.raftactors.sim.Sims.quiet;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.core.LogEntry;
import io.raftactors.core.RaftConfig;
import io.raftactors.core.RaftCore;
import io.raftactors.core.RaftMessage;
import io.raftactors.core.Role;
import io.raftactors.sim.Simulation.Invariant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Figure 3 safety properties and the timing items, in simulation. The Figure 3 properties are
 * checked by {@link Simulation} after every event of every run; the tests here name each item,
 * run the randomized seed set that exercises it and assert that the run did exercise it. Each
 * Figure 3 test also shows that its check can fail: a green randomized run proves nothing about a
 * check that could never fire, so the test makes the simulation observe a history that breaks the
 * property ({@link InvariantCheckersTest}) and asserts that the simulation names it.
 */
class SafetyAndTimingSimulationTest {

  private static Simulation.Counters randomized;

  /** 150 randomized seeds per size, shared by the Figure 3 tests (each run checks every invariant per event). */
  private static synchronized Simulation.Counters randomizedRuns() {
    if (randomized == null) {
      Simulation.Counters total = new Simulation.Counters();
      double messages = 0;
      double events = 0;
      for (long seed = 1001; seed <= 1150; seed++) {
        for (int nodes : new int[] {3, 5}) {
          Simulation sim = RandomizedSimulationTest.runSeed(seed, nodes, false);
          total.add(sim.counters());
          messages = Math.max(messages, sim.messagesPerNodePerTick());
          events = Math.max(events, sim.eventsPerNodePerTick());
        }
      }
      RandomizedSimulationTest.assertWellUnderBudget(messages, events);
      randomized = total;
    }
    return randomized;
  }

  @Test
  void sim_P5_2_15_twoNodeClusterNeedsBothNodes() {
    for (long seed = 1; seed <= 50; seed++) {
      Simulation sim = cluster(2, seed);
      sim.partition(List.of("n1"), List.of("n2"));
      sim.runTicks(50 * ET_MAX);
      assertTrue(sim.leaderHistory().isEmpty(), "no leader while partitioned");
      assertEquals(0, sim.committedMax(), "nothing commits");
      assertTrue(sim.counters().preVoteRounds > 0, "both tried");
      sim.heal();
      awaitLeader(sim);
    }
    // Without pre-vote the nodes campaign for real, and still neither wins.
    Simulation sim = cluster(2, 3, DEFAULTS.withPreVote(false));
    sim.partition(List.of("n1"), List.of("n2"));
    sim.runTicks(50 * ET_MAX);
    assertTrue(sim.leaderHistory().isEmpty());
    assertTrue(sim.counters().elections > 0);
    sim.heal();
    awaitLeader(sim);
  }

  @Test
  void sim_P5_2_16_electionSafetyUnderEverySchedule() {
    Simulation.Counters c = randomizedRuns();
    assertTrue(c.elections > 1000 && c.leadersElected > 500, "many elections were checked: " + c);
    // The check can fail: two candidates of one term, each with a forged grant from the same voter.
    assertCheckerCanFail(Invariant.ELECTION_SAFETY);
  }

  @Test
  void sim_P5_3_20_logMatchingUnderEverySchedule() {
    Simulation.Counters c = randomizedRuns();
    assertTrue(c.truncations > 0 && c.entriesApplied > 0, "divergent logs were repaired: " + c);
    // The check can fail: a follower stores another command at the leader's (index, term).
    assertCheckerCanFail(Invariant.LOG_MATCHING);
  }

  @Test
  void sim_P5_3_21_leaderAppendOnlyUnderEverySchedule() {
    Simulation.Counters c = randomizedRuns();
    assertTrue(c.leadersElected > 500 && c.truncations > 0 && c.proposals > 0, c.toString());
    // The check can fail: a leader's write of a new entry also replaces the entry before it.
    assertCheckerCanFail(Invariant.LEADER_APPEND_ONLY);
  }

  @Test
  void sim_P5_4_3_01_leaderCompletenessUnderEverySchedule() {
    Simulation.Counters c = randomizedRuns();
    assertTrue(c.leaderStepDowns > 0 && c.leaderCrashes > 0 && c.entriesApplied > 0, c.toString());
    // The check can fail: a node cut off before an entry committed wins a later term with a forged vote.
    assertCheckerCanFail(Invariant.LEADER_COMPLETENESS);
  }

  @Test
  void sim_P5_4_3_02_stateMachineSafetyUnderEverySchedule() {
    Simulation.Counters c = randomizedRuns();
    assertTrue(c.entriesApplied > 10_000 && c.restarts > 0, c.toString());
    // The checks can fail: a follower applies another command than the committed one; a forged
    // leader makes a follower mark another entry committed at an index committed before.
    assertCheckerCanFail(Invariant.STATE_MACHINE_SAFETY);
    assertCheckerCanFail(Invariant.COMMIT_AGREEMENT);
  }

  @Test
  void sim_P5_4_3_03_acknowledgedWritesAreNeverLost() {
    // Every seed ends with Chaos.quiesce -> Simulation.assertConverged: each acknowledged command is
    // applied at its acknowledged index on every node.
    Simulation.Counters c = randomizedRuns();
    assertTrue(c.clientOpsCompleted > 1000 && c.crashes > 0 && c.partitions > 0, c.toString());
    // The check can fail: every state machine lost an acknowledged write (all nodes restarted, and
    // convergence is asserted before they applied it again).
    assertCheckerCanFail(Invariant.ACKNOWLEDGED_WRITES);
  }

  @Test
  void sim_P5_1_07_everyMessageCarriesSendersTerm() {
    Simulation.Counters c = randomizedRuns();
    assertTrue(c.messagesSent > 100_000 && c.preVoteRounds > 0, c.toString());
    // And directly: in one run, every message's term against its sender's term at the moment it left.
    Simulation sim = cluster(5, 8);
    List<String> wrong = new ArrayList<>();
    sim.onSend(e -> {
      long t = sim.core(e.from()) == null ? -1 : sim.core(e.from()).term();
      RaftMessage m = e.message();
      boolean ok = m instanceof RaftMessage.PreVote ? m.term() == t + 1
          : m instanceof RaftMessage.PreVoteResponse r && r.granted() ? m.term() > t : m.term() == t;
      if (!ok && e.sentAt() == sim.now() && e.senderIncarnation() == sim.incarnation(e.from())) wrong.add(e.toString());
    });
    awaitLeader(sim);
    sim.crash(sim.leader().id());
    sim.runTicks(20 * ET_MAX);
    assertTrue(wrong.isEmpty(), wrong.toString());
  }

  @Test
  void sim_P5_3_14_commitIndexNeverDecreases() {
    // A follower that reached commitIndex c receives a delayed AppendEntries with an older leaderCommit.
    Simulation sim = cluster(3, 4);
    RaftCore leader = awaitLeader(sim);
    sim.runTicks(10);
    String f = others(sim, leader.id()).get(0);
    sim.holdWhere(e -> e.to().equals(f) && e.message() instanceof RaftMessage.AppendEntries);
    sim.propose(leader.id());
    sim.runTicks(1);
    sim.holdWhere(null);
    List<Simulation.Envelope> early = sim.held();
    assertTrue(!early.isEmpty());
    for (int i = 0; i < 5; i++) awaitAck(sim, sim.propose(leader.id()), 50);
    sim.runTicks(10);
    long commit = core(sim, f).commitIndex();
    long oldLeaderCommit = ((RaftMessage.AppendEntries) early.get(0).message()).leaderCommit();
    assertTrue(oldLeaderCommit < commit);
    for (Simulation.Envelope e : early) sim.deliver(e.id());
    assertEquals(commit, core(sim, f).commitIndex(), "a stale leaderCommit does not move commitIndex back");
    // The harness checks the same on every node after every event of the randomized runs.
    assertTrue(randomizedRuns().leaderStepDowns > 0);
  }

  @Test
  void sim_P5_3_17_appliedInOrderExactlyOnce() {
    for (long seed = 1; seed <= 100; seed++) {
      Simulation sim = RandomizedSimulationTest.runSeed(seed, 5, false);
      for (String id : sim.members()) {
        List<LogEntry> applied = sim.applied(id);
        for (int i = 0; i < applied.size(); i++) assertEquals(i + 1, applied.get(i).index());
        assertEquals(core(sim, id).lastApplied(), applied.size());
        assertTrue(core(sim, id).lastApplied() <= core(sim, id).commitIndex());
      }
    }
    Simulation.Counters c = randomizedRuns();
    assertTrue(c.truncations > 0 && c.restarts > 0 && c.leaderStepDowns > 0, c.toString());
  }

  @Test
  void sim_P5_5_01_leaderRetriesDownFollowerIndefinitely() {
    for (long seed = 1; seed <= 20; seed++) {
      Simulation sim = Simulation.builder().nodes(3).seed(seed).network(n -> n.reliable(1)).build();
      RaftCore leader = awaitLeader(sim);
      sim.runTicks(10);
      String f = others(sim, leader.id()).get(0);
      long[] lastSendTo = {sim.now()};
      long[] maxGap = {0};
      int[] sentInWindow = new int[50 * HB + 1];
      sim.crash(f);
      long downAt = sim.now();
      sim.onSend(e -> {
        if (e.from().equals(leader.id()) && e.to().equals(f) && !sim.isUp(f)) {
          maxGap[0] = Math.max(maxGap[0], sim.now() - lastSendTo[0]);
          lastSendTo[0] = sim.now();
          int slot = (int) (sim.now() - downAt);
          if (slot < sentInWindow.length) sentInWindow[slot]++;
        }
      });
      // 50 heartbeat intervals down while the leader commits 100 entries with the other follower.
      int committed = 0;
      for (int tick = 0; tick < 50 * HB; tick++) {
        if (committed < 100) {
          sim.propose(leader.id());
          sim.propose(leader.id());
          committed += 2;
        }
        sim.runTicks(1);
        assertTrue(leader.status().inflight(f) <= DEFAULTS.maxInflightAppends(), "bounded pipeline to the dead follower");
        assertTrue(sim.messagesInFlight(leader.id(), f) <= 10, "bounded queue: " + sim.messagesInFlight(leader.id(), f));
      }
      sim.runUntil(() -> leader.commitIndex() == leader.lastIndex(), 50);
      assertTrue(leader.commitIndex() >= 100, "the leader committed 100 entries meanwhile");
      assertTrue(maxGap[0] <= HB, "at least once per heartbeat interval; longest gap " + maxGap[0]);
      for (int s = 0; s + HB <= sentInWindow.length; s += HB) {
        int n = 0;
        for (int k = s; k < s + HB; k++) n += sentInWindow[k];
        // At first the pipeline window may fill; once the stall is detected the leader probes once per interval.
        int limit = s < 4 * HB ? DEFAULTS.maxInflightAppends() + 1 : 2;
        assertTrue(n <= limit, "not growing: " + n + " sends in the heartbeat interval at " + s);
      }
      assertEquals(Role.LEADER, leader.role());
      sim.restart(f);
      int t = sim.runUntil(() -> core(sim, f).lastIndex() == leader.lastIndex()
          && core(sim, f).commitIndex() == leader.commitIndex(), 10 * ET_MAX);
      assertTrue(t >= 0, "caught up");
    }
  }

  @Test
  void sim_P5_6_02_stableLeaderUnderNormalLatency() {
    for (long seed = 1; seed <= 3; seed++) {
      Simulation sim = Simulation.builder().nodes(5).seed(seed).network(n -> n.reliable(HB / 2)).build();
      RaftCore leader = awaitLeader(sim);
      long term = leader.term();
      long elections = sim.counters().elections;
      long preVotes = sim.counters().preVoteRounds;
      sim.runTicks(1000 * ET_MAX);
      assertEquals(elections, sim.counters().elections, "no further election");
      assertEquals(preVotes, sim.counters().preVoteRounds, "nobody even timed out");
      assertEquals(leader.id(), sim.leader().id());
      for (String id : sim.ids()) assertEquals(term, core(sim, id).term());
    }
  }

  @Test
  void sim_P5_6_03_boundedFailover() {
    int[] took = new int[500];
    for (int seed = 1; seed <= 500; seed++) {
      Simulation sim = cluster(5, seed);
      RaftCore old = awaitLeader(sim);
      sim.runTicks(5 * ET_MAX);
      long oldTerm = old.term();
      sim.crash(old.id());
      int t = sim.runUntil(() -> sim.leader() != null && sim.leader().term() > oldTerm, 10 * ET_MAX);
      assertTrue(t >= 0, "seed " + seed + ": no new leader within " + 10 * ET_MAX + " ticks");
      took[seed - 1] = t;
    }
    Arrays.sort(took);
    System.out.println("P5.6-03 failover over 500 seeds: median " + took[250] + " ticks, max " + took[499]
        + " ticks (bound " + 10 * ET_MAX + ")");
  }

  @Test
  void sim_P5_6_04_safetyDoesNotDependOnTiming() {
    long runs = 0;
    for (long seed = 1; seed <= 200; seed++) {
      Chaos.Schedule s = quiet(1000, x -> {
        x.maxDelay = 5 * ET_MAX;
        x.longDelayRate = 0.2;
        x.longDelayMax = 5 * ET_MAX;
        x.skewMin = 0.25;
        x.skewMax = 4.0;
        x.pauses = true;
      });
      RaftConfig cfg = seed % 2 == 0 ? DEFAULTS : DEFAULTS.withPreVote(false).withCheckQuorum(false);
      Simulation sim = chaosRun(seed % 3 == 0 ? 3 : 5, seed, cfg, s, false); // liveness not asserted
      assertTrue(sim.counters().events > 1000);
      runs++;
    }
    assertEquals(200, runs);
  }

  @Test
  void sim_T6_2_03_noFalseStepDowns() {
    for (boolean oneDead : new boolean[] {false, true}) {
      for (long seed = 1; seed <= 3; seed++) {
        Simulation sim = Simulation.builder().nodes(5).seed(seed).network(n -> n.reliable(2)).build();
        RaftCore leader = awaitLeader(sim);
        if (oneDead) sim.crash(others(sim, leader.id()).get(0));
        long stepDowns = sim.counters().leaderStepDowns;
        for (int i = 0; i < 1000; i++) {
          if (i % 10 == 0) sim.propose(leader.id());
          sim.runTicks(ET_MAX);
        }
        assertEquals(stepDowns, sim.counters().leaderStepDowns, "the leader never stepped down");
        assertEquals(Role.LEADER, leader.role());
      }
    }
  }

  @Test
  void sim_T6_2_04_minorityLeaderAnswersNotLeaderWithinOneElectionTimeout() {
    for (long seed = 1; seed <= 50; seed++) {
      Simulation sim = cluster(5, seed);
      RaftCore leader = awaitLeader(sim);
      sim.runTicks(10);
      String l = leader.id();
      String buddy = others(sim, l).get(0);
      sim.partition(List.of(l, buddy), others(sim, l, buddy));
      sim.runTicks(ET_MAX);
      Simulation.Proposal p = sim.propose(l);
      assertEquals(Simulation.Proposal.Status.NOT_LEADER, p.status(), "seed " + seed);
      assertEquals(-1, p.index, "nothing appended");
    }
  }

  @Test
  void sim_T9_6_04_rejoiningNodeDoesNotDisrupt() {
    for (long seed = 1; seed <= 30; seed++) {
      // Pre-vote on: S5 cannot raise its term while isolated; after healing the leader keeps its term.
      Simulation sim = cluster(5, seed);
      RaftCore leader = awaitLeader(sim);
      sim.runTicks(10);
      String s5 = others(sim, leader.id()).get(others(sim, leader.id()).size() - 1);
      long term = leader.term();
      long s5Term = core(sim, s5).term();
      sim.isolate(s5);
      sim.runTicks(20 * ET_MAX);
      assertEquals(s5Term, core(sim, s5).term(), "pre-votes never raise the isolated node's term");
      sim.heal();
      List<Simulation.Proposal> ps = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        ps.add(sim.propose(leader.id()));
        sim.runTicks(ET_MAX);
      }
      assertEquals(s5Term, core(sim, s5).term());
      assertEquals(Role.LEADER, leader.role());
      assertEquals(term, leader.term());
      for (Simulation.Proposal p : ps) assertTrue(p.acknowledged(), "no client request failed: " + p);

      // Pre-vote off: S5's term climbs and, once healed, the leader steps down.
      Simulation off = cluster(5, seed, DEFAULTS.withPreVote(false));
      RaftCore l2 = awaitLeader(off);
      off.runTicks(10);
      String s = others(off, l2.id()).get(others(off, l2.id()).size() - 1);
      long t2 = l2.term();
      off.isolate(s);
      off.runTicks(20 * ET_MAX);
      assertTrue(core(off, s).term() > t2 + 5, "the isolated node's term climbed: " + core(off, s).term());
      off.heal();
      off.runTicks(5 * ET_MAX);
      assertTrue(l2.term() > t2, "the leader was disrupted: " + l2);
      assertNotEquals(t2, off.leader().term());
    }
  }

  @Test
  void sim_T3_8_10_crashWithWritesInFlight() {
    Simulation.Counters total = new Simulation.Counters();
    for (long seed = 1; seed <= 200; seed++) {
      Simulation sim = chaosRun(seed % 2 == 0 ? 3 : 5, seed, DEFAULTS, quiet(800, s -> {
        s.crashes = true;
        s.proposeRate = 0.4;
      }), true); // quiesce: every acknowledged write is applied everywhere
      total.add(sim.counters());
    }
    assertTrue(total.crashesWithWritesInFlight > 0 && total.writesDiscardedByCrash > 0
        && total.messagesDiscardedByCrash > 0 && total.leaderCrashes > 0 && total.clientOpsCompleted > 0, total.toString());
  }

  @Test
  void sim_P5_2_16_electionSafetyScriptedAcrossPartitions() {
    // Two majorities can never exist: across many partitions every term has one leader (checked per event).
    for (long seed = 1; seed <= 50; seed++) {
      Simulation sim = chaosRun(5, seed, DEFAULTS.withPreVote(false).withCheckQuorum(false),
          quiet(1500, s -> {
            s.partitions = true;
            s.flapping = true;
          }), true);
      assertTrue(sim.leaderHistory().size() >= 1);
    }
    assertTrue(ET_MIN > 0);
  }
}
