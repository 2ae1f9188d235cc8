package io.raftactors.sim;

import static io.raftactors.sim.Sims.ET_MAX;
import static io.raftactors.sim.Sims.awaitAck;
import static io.raftactors.sim.Sims.awaitLeader;
import static io.raftactors.sim.Sims.cluster;
import static io.raftactors.sim.Sims.core;
import static io.raftactors.sim.Sims.others;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.core.CoreStatus;
import io.raftactors.core.RaftConfig;
import io.raftactors.core.RaftCore;
import io.raftactors.core.Role;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * T6.4-05: a deposed leader serves no stale read. In each scenario the old leader is cut off, the
 * rest of the group elects a new leader that commits a write W, and a client then reads from the
 * old leader, which still believes it leads (with lease reads: while it still believes its lease
 * holds). The simulation itself fails the run if any node ever
 * hands out a read whose index is below an index committed before the read was issued, or before
 * its state machine applied that index; the tests add that these reads are never served at all and
 * end as not-leader once the old leader learns of the new term.
 */
class ReadSimulationTest {

  /** A served read at a healthy leader: the positive control that the harness serves reads at all. */
  private static void assertReadServed(Simulation sim, String node) {
    Simulation.Read r = sim.read(node);
    int t = sim.runUntil(r::done, 5 * ET_MAX);
    assertTrue(t >= 0 && r.status() == Simulation.Read.Status.SERVED, () -> r + "\n" + sim.summary());
  }

  /** Runs until a leader other than {@code old} leads a later term; commits a write there; returns it. */
  private static Simulation.Proposal newLeaderCommits(Simulation sim, String old) {
    int t = sim.runUntil(() -> sim.leader() != null && !sim.leader().id().equals(old), 20 * ET_MAX);
    assertTrue(t >= 0, () -> "no new leader\n" + sim.summary());
    Simulation.Proposal w = sim.propose(sim.leader().id());
    awaitAck(sim, w, 10 * ET_MAX);
    return w;
  }

  /** The scenario's premise: the old leader still leads its old term and has not seen W committed. */
  private static void assertStillBelievesItLeads(Simulation sim, String old, Simulation.Proposal w) {
    RaftCore c = core(sim, old);
    assertEquals(Role.LEADER, c.role(), () -> "setup: " + old + " still believes it leads\n" + sim.summary());
    assertTrue(c.term() < w.term, "setup: of an older term");
    assertTrue(c.commitIndex() < w.appliedIndex(), "setup: its commit index is stale");
  }

  /**
   * The lease scenarios' common part: the leader's clock runs at a quarter of the others' rate; it
   * serves a lease read (the positive control), is cut off, and the others elect a new leader that
   * commits a write W while the old one still believes it leads. Returns the old leader.
   */
  private static String slowLeaderCutOffWhileANewOneCommits(Simulation sim) {
    String old = awaitLeader(sim).id();
    sim.setTickRate(old, 0.25);
    awaitAck(sim, sim.propose(old), 10 * ET_MAX);
    Simulation.Read before = sim.leaseRead(old);
    assertTrue(sim.runUntil(before::done, 10 * ET_MAX) >= 0 && before.status() == Simulation.Read.Status.SERVED,
        () -> "positive control: " + before + "\n" + sim.summary());
    sim.isolate(old);
    assertStillBelievesItLeads(sim, old, newLeaderCommits(sim, old));
    return old;
  }

  private static void assertNeverServedAndFails(Simulation sim, Simulation.Read... reads) {
    sim.heal();
    int t = sim.runUntil(() -> {
      for (Simulation.Read r : reads) if (!r.done()) return false;
      return true;
    }, 10 * ET_MAX);
    assertTrue(t >= 0, () -> List.of(reads) + " still pending after healing\n" + sim.summary());
    for (Simulation.Read r : reads) {
      assertEquals(Simulation.Read.Status.NOT_LEADER, r.status(), () -> r + " must fail, never be served\n" + sim.summary());
    }
  }

  /**
   * Without check-quorum the old leader never steps down by itself: the old leader and the follower
   * on its side of a partition keep it as leader while the majority moves on. A read at either
   * waits for a heartbeat round the old leader cannot get confirmed; it fails once the partition
   * heals and the old leader sees the new term. (The follower's forwarded read may also fail
   * earlier, when it gives up on an unanswered request.)
   */
  @ParameterizedTest(name = "preVote={0}")
  @ValueSource(booleans = {false, true})
  void readIndex_T6_4_05_partitionedOldLeaderAndItsFollowerServeNoStaleRead(boolean preVote) {
    RaftConfig cfg = RaftConfig.defaults().withCheckQuorum(false).withPreVote(preVote);
    Simulation sim = cluster(5, 11, cfg);
    String old = awaitLeader(sim).id();
    awaitAck(sim, sim.propose(old), 5 * ET_MAX);
    assertReadServed(sim, old);
    String follower = others(sim, old).get(0);
    sim.partition(List.of(old, follower), others(sim, old, follower));

    Simulation.Proposal w = newLeaderCommits(sim, old);
    assertStillBelievesItLeads(sim, old, w);
    assertEquals(old, core(sim, follower).leaderId(), "setup: the follower still follows the old leader");
    Simulation.Read atOld = sim.read(old);
    Simulation.Read viaFollower = sim.read(follower);
    assertEquals(w.appliedIndex(), atOld.mustSee, "setup: the read must see W");
    sim.runTicks(10 * ET_MAX);
    assertNotEquals(Simulation.Read.Status.SERVED, atOld.status(), atOld.toString());
    assertNotEquals(Simulation.Read.Status.SERVED, viaFollower.status(), viaFollower.toString());
    assertEquals(Role.LEADER, core(sim, old).role(), "still the old leader: the read is simply not answered");
    assertNeverServedAndFails(sim, atOld, viaFollower);
  }

  /**
   * With check-quorum on, an old leader normally steps down before a new leader exists. A GC-like
   * stall of the cut-off leader freezes it in its belief; when it resumes the partition heals at
   * once, so its heartbeat round reaches the new majority, which answers with the new term.
   */
  @Test
  void readIndex_T6_4_05_oldLeaderBackFromAStallServesNoStaleRead() {
    Simulation sim = cluster(3, 5, RaftConfig.defaults());
    String old = awaitLeader(sim).id();
    awaitAck(sim, sim.propose(old), 5 * ET_MAX);
    assertReadServed(sim, old);
    sim.isolate(old);
    sim.pause(old, 30 * ET_MAX);

    Simulation.Proposal w = newLeaderCommits(sim, old);
    assertTrue(sim.runUntil(() -> !sim.isPaused(old), 40 * ET_MAX) >= 0, "setup: the stall ends");
    assertStillBelievesItLeads(sim, old, w);
    sim.heal();
    Simulation.Read atOld = sim.read(old);
    assertNeverServedAndFails(sim, atOld);
  }

  /**
   * Lease reads (thesis 6.4.1): the old leader's clock runs at a quarter of the others' rate, the
   * worst drift the lease allows for (lease = electionTimeoutMin / 4). Its lease ends before the
   * followers stop ignoring candidates; when the new leader has committed W the old one still leads
   * (check-quorum has not fired on its slow clock) but holds no lease, so its lease read falls back
   * to a round that is never confirmed, and fails when it steps down.
   */
  @Test
  void leaseRead_T6_4_05_slowOldLeaderWithinTheDriftBoundServesNoStaleRead() {
    RaftConfig d = RaftConfig.defaults();
    Simulation sim = cluster(3, 3, RandomizedSimulationTest.withLeaseTicks(d, d.electionTimeoutMin() / 4));
    String old = slowLeaderCutOffWhileANewOneCommits(sim);
    Simulation.Read lease = sim.leaseRead(old);
    Simulation.Read readIndex = sim.read(old);
    sim.runUntil(() -> lease.done() && readIndex.done(), 20 * ET_MAX);
    assertEquals(Simulation.Read.Status.NOT_LEADER, lease.status(), () -> lease + "\n" + sim.summary());
    assertEquals(Simulation.Read.Status.NOT_LEADER, readIndex.status(), () -> readIndex + "\n" + sim.summary());
  }

  /**
   * T6.4.1-05, the companion that shows the check can fail: the same slow old leader (a quarter of
   * the others' clock rate), but a lease as long as the whole minimum election timeout, as if clocks
   * never drifted. Its lease now outlasts the followers' promise; the others elect a new leader that
   * commits W while the old one still serves from its lease, and the simulation's read check
   * reports the stale read. (Within the bound, the test above, the same run serves nothing stale.)
   */
  @Test
  void lease_T6_4_1_05_driftBeyondTheBoundIsCaughtAsAStaleRead() {
    RaftConfig d = RaftConfig.defaults();
    Simulation sim = cluster(3, 3, RandomizedSimulationTest.withLeaseTicks(d, d.electionTimeoutMin()));
    String old = slowLeaderCutOffWhileANewOneCommits(sim);
    Simulation.SimulationFailure f = assertThrows(Simulation.SimulationFailure.class, () -> {
      Simulation.Read lease = sim.leaseRead(old);
      sim.runUntil(lease::done, 20 * ET_MAX);
    });
    assertEquals(Simulation.Invariant.STALE_READ, f.invariant, f.violation);
  }

  /**
   * Lease reads and a follower restart. The lease holds because a majority acknowledged a round and
   * so ignores candidates for an election timeout; a follower that crashes and restarts within that
   * time must keep the promise, or it can vote a new leader in while the old one still serves from
   * its lease. Five nodes: the leader's links to c and d are cut, so c and d are leaderless and
   * ready to elect each other; a and b acknowledge the leader's rounds. Right before c campaigns the
   * leader is isolated and a restarts. Without a's vote c cannot win (b keeps the lease), so no
   * write W can commit during the old leader's lease; a lease read there is served or not, but
   * never stale. Election timeouts are long relative to message and disk delays (as they are in a
   * real deployment), so an election and a commit fit easily inside a lease.
   */
  @Test
  void leaseRead_T6_4_05_followerRestartedWithinTheLeaseDoesNotElectANewLeaderUnderIt() {
    RaftConfig cfg = RandomizedSimulationTest.withLeaseTicks(RaftConfig.defaults().withTimeouts(40, 80, 2), 26);
    Simulation sim = Simulation.builder().nodes(5).seed(2).raftConfig(cfg).network(n -> n.reliable(1))
        .storageDelay(1, 1).build();
    int et = cfg.electionTimeoutMax();
    String old = awaitLeader(sim).id();
    awaitAck(sim, sim.propose(old), et);
    List<String> rest = others(sim, old);
    String a = rest.get(0);
    String c = rest.get(2);
    String d = rest.get(3);
    sim.cut(old, c);
    sim.cut(old, d);
    assertTrue(sim.runUntil(() -> core(sim, c).leaderId() == null && core(sim, d).leaderId() == null, 4 * et) >= 0,
        "setup: c and d no longer know a leader");
    // Right before c's next campaign: isolate the leader, restart a.
    assertTrue(sim.runUntil(() -> {
      CoreStatus st = core(sim, c).status();
      return st.randomizedElectionTimeout() - st.electionElapsed() == 2;
    }, 2 * et) >= 0, "setup: c about to campaign");
    sim.isolate(old);
    sim.crash(a);
    sim.restart(a);

    // For the whole lease (and beyond), the old leader answers lease reads; none may be stale.
    List<Simulation.Read> reads = new java.util.ArrayList<>();
    for (int t = 0; t < cfg.electionTimeoutMin() && core(sim, old).role() == Role.LEADER; t++) {
      reads.add(sim.leaseRead(old));
      sim.runTicks(1);
      RaftCore l = sim.leader();
      if (l != null && !l.id().equals(old) && l.commitIndex() > core(sim, old).commitIndex()) {
        // A new leader committed something: the lease must be over by now, so the read falls back.
        Simulation.Read late = sim.leaseRead(old);
        assertNotEquals(Simulation.Read.Status.SERVED, late.status(), () -> late + "\n" + sim.summary());
      }
    }
    assertTrue(reads.stream().anyMatch(r -> r.status() == Simulation.Read.Status.SERVED),
        () -> "positive control: the lease served reads after the isolation " + reads);
    // The restarted node only waits an election timeout: the majority still elects a new leader.
    newLeaderCommits(sim, old);
  }
}
