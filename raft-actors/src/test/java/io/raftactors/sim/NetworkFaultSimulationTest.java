package io.raftactors.sim;

import static io.raftactors.sim.Sims.DEFAULTS;
import static io.raftactors.sim.Sims.ET_MAX;
import static io.raftactors.sim.Sims.ET_MIN;
import static io.raftactors.sim.Sims.awaitAck;
import static io.raftactors.sim.Sims.awaitLeader;
import static io.raftactors.sim.Sims.chaosRun;
import static io.raftactors.sim.Sims.cluster;
import static io.raftactors.sim.Sims.core;
import static io.raftactors.sim.Sims.others;
import static io.raftactors.sim.Sims.quiet;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.core.LogEntry;
import io.raftactors.core.RaftConfig;
import io.raftactors.core.RaftCore;
import io.raftactors.core.Role;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Network faults (section 19): each test runs a fixed seed set with every invariant checked after every event. */
class NetworkFaultSimulationTest {

  /** Each node applied indices 1, 2, 3, ... exactly once, in order. */
  private static void assertAppliedOnceInOrder(Simulation sim) {
    for (String id : sim.ids()) {
      List<LogEntry> applied = sim.applied(id);
      for (int i = 0; i < applied.size(); i++) assertEquals(i + 1, applied.get(i).index(), id + " apply order");
    }
  }

  @Test
  void net_NET_01_lossThenLeaderAndSameCommittedLog() {
    long dropped = 0;
    for (long seed = 1; seed <= 200; seed++) {
      Simulation sim = chaosRun(seed % 2 == 0 ? 3 : 5, seed, DEFAULTS, quiet(400, s -> s.dropRate = 0.2), true);
      dropped += sim.counters().messagesDropped;
      assertTrue(sim.counters().clientOpsCompleted > 0, "seed " + seed + " made progress despite loss");
    }
    assertTrue(dropped > 0);
  }

  @Test
  void net_NET_02_duplicationAppliesEachIndexOnce() {
    for (long seed = 1; seed <= 200; seed++) {
      Simulation sim = chaosRun(seed % 2 == 0 ? 3 : 5, seed, DEFAULTS, quiet(400, s -> s.duplicateRate = 0.2), true);
      assertTrue(sim.counters().messagesDuplicated > 0);
      assertAppliedOnceInOrder(sim);
      // Vote tallies are unaffected: duplicated grants never made a second leader in any term (checked per
      // event), and every term had at most one leader.
      assertTrue(sim.leaderHistory().size() >= 1);
    }
  }

  @Test
  void net_NET_03_reorderingConverges() {
    for (long seed = 1; seed <= 200; seed++) {
      // Independent delays of 1..8 ticks per message reorder every link.
      Simulation sim = chaosRun(seed % 2 == 0 ? 3 : 5, seed, DEFAULTS, quiet(400, s -> s.maxDelay = 8), true);
      assertAppliedOnceInOrder(sim);
      assertTrue(sim.counters().clientOpsCompleted > 0);
    }
  }

  @Test
  void net_NET_04_longDelaysThenStableLeader() {
    for (long seed = 1; seed <= 100; seed++) {
      Simulation sim = chaosRun(5, seed, DEFAULTS, quiet(600, s -> {
        s.longDelayRate = 0.3;
        s.longDelayMax = 3 * ET_MAX;
      }), true);
      // Stable: once delays are normal the leader and term stay put for 10 election timeouts.
      RaftCore leader = sim.leader();
      long term = leader.term();
      long elections = sim.counters().elections;
      sim.runTicks(10 * ET_MAX);
      assertEquals(leader.id(), sim.leader().id(), "seed " + seed);
      assertEquals(term, sim.leader().term());
      assertEquals(elections, sim.counters().elections);
    }
  }

  /** A 5-node cluster with a leader and some committed entries; then the leader and one follower are cut off. */
  private record Split(Simulation sim, String oldLeader, String buddy, List<String> majority, long oldTerm, long oldCommit) {}

  private static Split split(long seed, RaftConfig cfg) {
    Simulation sim = cluster(5, seed, cfg);
    RaftCore leader = awaitLeader(sim);
    awaitAck(sim, sim.propose(leader.id()), 50);
    sim.runTicks(10);
    String l = leader.id();
    String buddy = others(sim, l).get(0);
    List<String> majority = others(sim, l, buddy);
    sim.partition(List.of(l, buddy), majority);
    return new Split(sim, l, buddy, majority, leader.term(), leader.commitIndex());
  }

  @Test
  void net_NET_05_minorityLeaderCannotCommit() {
    for (RaftConfig cfg : List.of(DEFAULTS, DEFAULTS.withCheckQuorum(false).withPreVote(false))) {
      for (long seed = 1; seed <= 50; seed++) {
        Split s = split(seed, cfg);
        Simulation sim = s.sim();
        RaftCore old = core(sim, s.oldLeader());
        sim.afterEvent(() -> {
          if (sim.isUp(s.oldLeader())) assertEquals(s.oldCommit(), core(sim, s.oldLeader()).commitIndex(), "minority commit");
        });
        List<Simulation.Proposal> ps = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
          ps.add(sim.propose(s.oldLeader()));
          sim.runTicks(ET_MAX);
        }
        for (Simulation.Proposal p : ps) {
          assertNotEquals(Simulation.Proposal.Status.APPLIED, p.status(), "no success for a minority leader");
        }
        if (cfg.checkQuorum()) {
          assertNotEquals(Role.LEADER, old.role(), "check-quorum made it step down");
          assertEquals(Simulation.Proposal.Status.NOT_LEADER, ps.get(ps.size() - 1).status());
        }
      }
    }
  }

  /** Waits for a leader of a higher term on the majority side and returns its id. */
  private static String awaitMajorityLeader(Split s, long seed) {
    Simulation sim = s.sim();
    String[] found = new String[1];
    int t = sim.runUntil(() -> {
      for (String id : s.majority()) {
        RaftCore c = sim.core(id);
        if (c.role() == Role.LEADER && c.term() > s.oldTerm()) found[0] = id;
      }
      return found[0] != null;
    }, 10 * ET_MAX);
    assertTrue(t >= 0, "seed " + seed + ": no majority-side leader within 10 election timeouts\n" + sim.summary());
    return found[0];
  }

  @Test
  void net_NET_06_majoritySideElectsHigherTermLeaderAndCommits() {
    for (long seed = 1; seed <= 50; seed++) {
      Split s = split(seed, DEFAULTS);
      Simulation sim = s.sim();
      String newLeader = awaitMajorityLeader(s, seed);
      Simulation.Proposal p = sim.propose(newLeader);
      awaitAck(sim, p, 10 * ET_MAX);
      assertTrue(p.appliedIndex() > s.oldCommit());
    }
  }

  @Test
  void net_NET_07_healingReplacesOldLeadersUncommittedEntries() {
    for (RaftConfig cfg : List.of(DEFAULTS, DEFAULTS.withCheckQuorum(false).withPreVote(false))) {
      for (long seed = 1; seed <= 50; seed++) {
        Split s = split(seed, cfg);
        Simulation sim = s.sim();
        RaftCore old = core(sim, s.oldLeader());
        List<Simulation.Proposal> stranded = new ArrayList<>();
        for (int i = 0; i < 3; i++) stranded.add(sim.propose(s.oldLeader()));
        String newLeader = awaitMajorityLeader(s, seed);
        Simulation.Proposal committed = sim.propose(newLeader);
        awaitAck(sim, committed, 10 * ET_MAX);
        sim.heal();
        // The old leader steps down once it hears of the higher term.
        int t = sim.runUntil(() -> old.term() > s.oldTerm() && old.role() != Role.LEADER, 5 * ET_MAX);
        assertTrue(t >= 0, "old leader did not step down: " + old);
        sim.runTicks(10 * ET_MAX);
        sim.assertConverged();
        for (Simulation.Proposal p : stranded) {
          if (p.index <= 0) continue;
          RaftCore o = core(sim, s.oldLeader());
          // replaced by another term's entry, or removed
          assertTrue(o.lastIndex() < p.index || o.termAt(p.index) != p.term, "uncommitted entry " + p.index + " was replaced");
          assertNotEquals(Simulation.Proposal.Status.APPLIED, p.status());
        }
        // The majority's committed entry is everywhere.
        for (String id : sim.ids()) assertEquals(committed.data, core(sim, id).entry(committed.appliedIndex()).data());
      }
    }
  }

  @Test
  void net_NET_08_oneWayLinkLeaderCannotHearReplies() {
    // With check-quorum and pre-vote: the deaf leader steps down within one election timeout, the others
    // elect a leader among themselves, and the old leader's term stops rising.
    for (long seed = 1; seed <= 50; seed++) {
      Simulation sim = cluster(5, seed, DEFAULTS);
      RaftCore old = awaitLeader(sim);
      sim.runTicks(10);
      for (String f : others(sim, old.id())) sim.cut(f, old.id());
      long cutAt = sim.now();
      int t = sim.runUntil(() -> old.role() != Role.LEADER, ET_MAX);
      assertTrue(t >= 0 && t <= ET_MIN + 1, "seed " + seed + ": stepped down after " + t + " ticks");
      RaftCore fresh = awaitLeader(sim);
      assertNotEquals(old.id(), fresh.id());
      long oldTerm = old.term();
      long newLeaderTerm = fresh.term();
      sim.runTicks(20 * ET_MAX);
      assertEquals(oldTerm, old.term(), "the cut-off node's pre-votes fail, its term stays");
      assertEquals(fresh.id(), sim.leader().id());
      assertEquals(newLeaderTerm, sim.leader().term());
      assertTrue(sim.now() > cutAt);
    }
    // Without check-quorum: the leader stays leader (its heartbeats still arrive) but commits nothing.
    for (long seed = 1; seed <= 50; seed++) {
      Simulation sim = cluster(5, seed, DEFAULTS.withCheckQuorum(false));
      RaftCore old = awaitLeader(sim);
      sim.runTicks(10);
      long commit = old.commitIndex();
      for (String f : others(sim, old.id())) sim.cut(f, old.id());
      List<Simulation.Proposal> ps = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        ps.add(sim.propose(old.id()));
        sim.runTicks(4 * ET_MAX);
      }
      assertEquals(commit, old.commitIndex(), "stuck but safe");
      for (Simulation.Proposal p : ps) assertNotEquals(Simulation.Proposal.Status.APPLIED, p.status());
      assertEquals(Role.LEADER, old.role());
    }
  }

  /** NET-09: 1,2,3 fully connected; 4 reaches only 2; 5 reaches only 3. */
  private static Simulation partialConnectivity(long seed, RaftConfig cfg) {
    Simulation sim = cluster(5, seed, cfg);
    String[][] cuts = {{"n1", "n4"}, {"n1", "n5"}, {"n3", "n4"}, {"n2", "n5"}, {"n4", "n5"}};
    for (String[] c : cuts) {
      sim.cut(c[0], c[1]);
      sim.cut(c[1], c[0]);
    }
    return sim;
  }

  @Test
  void net_NET_09_partialConnectivity() {
    int contrastShown = 0;
    for (long seed = 1; seed <= 50; seed++) {
      // Pre-vote and check-quorum: a leader from {1,2,3}, and the term stops rising.
      Simulation sim = partialConnectivity(seed, DEFAULTS);
      RaftCore leader = awaitLeader(sim);
      assertTrue(Set.of("n1", "n2", "n3").contains(leader.id()));
      sim.runTicks(10 * ET_MAX);
      long term = sim.leader().term();
      String id = sim.leader().id();
      long elections = sim.counters().elections;
      sim.runTicks(50 * ET_MAX);
      assertEquals(id, sim.leader().id(), "seed " + seed);
      assertEquals(term, sim.leader().term(), "seed " + seed + ": term stopped rising");
      assertEquals(elections, sim.counters().elections);
      for (String n : sim.ids()) assertTrue(core(sim, n).term() <= term, n + " term rose");

      // Both off: nodes 4 and 5 never hear the leader, campaign with ever higher terms, and their
      // RequestVotes (through 2 or 3) depose whoever leads.
      Simulation off = partialConnectivity(seed, DEFAULTS.withPreVote(false).withCheckQuorum(false));
      awaitLeader(off);
      long startTerm = maxTerm(off);
      long leadersBefore = off.counters().leadersElected;
      off.runTicks(50 * ET_MAX);
      long rise = maxTerm(off) - startTerm;
      long newLeaders = off.counters().leadersElected - leadersBefore;
      assertTrue(rise >= 10, "seed " + seed + ": with both features off the term keeps rising (rose " + rise + ")");
      if (newLeaders >= 5) contrastShown++;
    }
    assertTrue(contrastShown >= 40, "leadership kept changing in " + contrastShown + " of 50 seeds");
  }

  private static long maxTerm(Simulation sim) {
    long t = 0;
    for (String id : sim.ids()) if (sim.isUp(id)) t = Math.max(t, sim.core(id).term());
    return t;
  }

  @Test
  void net_NET_10_flappingPartitions() {
    for (long seed = 1; seed <= 10; seed++) {
      Simulation sim = chaosRun(5, seed, DEFAULTS, quiet(10_000, s -> {
        s.partitions = true;
        s.flapping = true;
        s.oneWay = true;
      }), true);
      assertTrue(sim.counters().partitions >= 10_000 / (5 * ET_MAX), "partitions changed often: " + sim.counters());
      // Stable afterwards.
      String leader = sim.leader().id();
      long term = sim.leader().term();
      sim.runTicks(10 * ET_MAX);
      assertEquals(leader, sim.leader().id());
      assertEquals(term, sim.leader().term());
    }
  }

  @Test
  void net_NET_12_messagesFromBeforeRestart() {
    for (long seed = 1; seed <= 50; seed++) {
      Simulation sim = cluster(3, seed);
      RaftCore leader = awaitLeader(sim);
      awaitAck(sim, sim.propose(leader.id()), 50);
      String f = others(sim, leader.id()).get(0);
      // Hold everything f sends and everything sent to it, crash and restart it, then release the old traffic.
      sim.holdWhere(e -> e.from().equals(f) || e.to().equals(f));
      for (int i = 0; i < 3; i++) sim.propose(leader.id());
      sim.runTicks(2 * ET_MAX);
      sim.holdWhere(null);
      List<Simulation.Envelope> old = sim.held();
      assertTrue(!old.isEmpty());
      sim.crash(f);
      sim.restart(f);
      sim.runTicks(ET_MAX);
      long stale = sim.counters().messagesFromEarlierIncarnation;
      // late and in reverse order
      for (int i = old.size() - 1; i >= 0; i--) sim.deliver(old.get(i).id());
      assertTrue(sim.counters().messagesFromEarlierIncarnation > stale, "pre-crash messages were delivered");
      sim.runTicks(10 * ET_MAX);
      sim.assertConverged();
    }
  }
}
