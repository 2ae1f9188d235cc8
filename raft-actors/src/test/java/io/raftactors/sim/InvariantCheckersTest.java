package io.raftactors.sim;

import static io.raftactors.sim.Sims.DEFAULTS;
import static io.raftactors.sim.Sims.ET_MAX;
import static io.raftactors.sim.Sims.awaitAck;
import static io.raftactors.sim.Sims.awaitLeader;
import static io.raftactors.sim.Sims.cluster;
import static io.raftactors.sim.Sims.others;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.core.ClusterConfig;
import io.raftactors.core.Committed;
import io.raftactors.core.DurableState;
import io.raftactors.core.EntryData;
import io.raftactors.core.HardState;
import io.raftactors.core.LogEntry;
import io.raftactors.core.Outbound;
import io.raftactors.core.ProposalOutcome;
import io.raftactors.core.RaftConfig;
import io.raftactors.core.RaftCore;
import io.raftactors.core.RaftMessage;
import io.raftactors.core.ReadState;
import io.raftactors.core.Ready;
import io.raftactors.core.Role;
import io.raftactors.core.Snapshot;
import io.raftactors.core.SnapshotMeta;
import io.raftactors.sim.Simulation.Invariant;
import io.raftactors.sim.Simulation.SimulationFailure;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every invariant check of {@link Simulation} can fail. A randomized run of a correct core never
 * trips a check, so it would stay green if the check were deleted; here, for each {@link
 * Invariant}, a short scenario makes the simulation observe a history that breaks it, and the
 * test asserts that a {@link SimulationFailure} naming that invariant is thrown. The broken
 * histories come from a forged message ({@link Simulation#inject}), a Ready rewritten the way a
 * broken core would hand it out ({@link Simulation#rewriteReady}), a correct core put into a bad
 * state ({@link Simulation#replaceCore}) or crafted start states ({@link Simulation.Builder#node}).
 * The Figure 3 tests of {@link SafetyAndTimingSimulationTest} run the same scenarios for their
 * property.
 */
class InvariantCheckersTest {

  private static final RaftConfig NO_PRE_VOTE = DEFAULTS.withPreVote(false).withCheckQuorum(false);
  private static final ClusterConfig THREE = ClusterConfig.of("n1", "n2", "n3");

  @ParameterizedTest
  @EnumSource(Invariant.class)
  void everyCheckCanFail(Invariant invariant) {
    assertCheckerCanFail(invariant);
  }

  /**
   * Runs the broken history for {@code invariant} and asserts that the simulation stopped it with a
   * failure naming that invariant; returns the failure.
   */
  static SimulationFailure assertCheckerCanFail(Invariant invariant) {
    SimulationFailure f = assertThrows(SimulationFailure.class, scenario(invariant),
        () -> "the simulation did not notice a history that breaks " + invariant.label());
    assertEquals(invariant, f.invariant, f::getMessage);
    assertTrue(f.violation.startsWith(invariant.label() + ": "), f.violation);
    assertTrue(f.getMessage().contains("violated at step") && f.getMessage().contains("seed="), f.getMessage());
    return f;
  }

  private static Executable scenario(Invariant invariant) {
    switch (invariant) {
      case ELECTION_SAFETY: return InvariantCheckersTest::twoLeadersInOneTerm;
      case LEADER_APPEND_ONLY: return InvariantCheckersTest::leaderRewritesItsLog;
      case LOG_MATCHING: return InvariantCheckersTest::followerStoresAnotherCommandAtTheSameIndexAndTerm;
      case LEADER_COMPLETENESS: return InvariantCheckersTest::staleNodeWinsWithAForgedVote;
      case STATE_MACHINE_SAFETY: return InvariantCheckersTest::followerAppliesAnotherCommand;
      case COMMIT_AGREEMENT: return InvariantCheckersTest::forgedLeaderMakesAFollowerCommitAnotherEntry;
      case ACKNOWLEDGED_WRITES: return InvariantCheckersTest::everyStateMachineLostAnAcknowledgedWrite;
      case CONVERGENCE: return InvariantCheckersTest::convergenceAssertedWhileAFollowerIsCutOff;
      case MONOTONIC_TERM: return InvariantCheckersTest::coreGoesBackATerm;
      case MONOTONIC_COMMIT_INDEX: return InvariantCheckersTest::coreForgetsItsCommitIndex;
      case MONOTONIC_LAST_APPLIED: return InvariantCheckersTest::coreForgetsWhatItApplied;
      case MONOTONIC_DURABLE_TERM: return InvariantCheckersTest::storageWritesAnOlderTerm;
      case DURABLE_BEFORE_SEND: return InvariantCheckersTest::candidateAsksForVotesBeforeItsTermIsDurable;
      case MESSAGE_TERM: return InvariantCheckersTest::leaderStampsATermItDoesNotHave;
      case STALE_READ: return InvariantCheckersTest::forgedStaleReadIndex;
      case UNAPPLIED_READ: return InvariantCheckersTest::readServedBeforeItsIndexIsApplied;
      case READ_ANSWERS: return InvariantCheckersTest::readServedThatNobodyAsked;
      case APPLY_ORDER: return InvariantCheckersTest::followerAppliesEntriesTwice;
      case CLIENT_ANSWERS: return InvariantCheckersTest::leaderAnswersAClientThatNeverAsked;
      case READY_CONSISTENCY: return InvariantCheckersTest::followerAppendsWithoutReportingIt;
      case CORE_REPORTED: return InvariantCheckersTest::secondLeaderOfTheSameTermContactsTheLeader;
      case ADDED: return InvariantCheckersTest::addedInvariantFails;
      case BUDGET: return InvariantCheckersTest::normalRunOverATinyBudget;
      case COMMITTED_KEPT: return InvariantCheckersTest::forgedNewerLeaderOverwritesACommittedEntry;
      case COMMIT_QUORUM: return InvariantCheckersTest::forgedAcknowledgementCommitsWithoutAMajority;
      case CONFLICT_HINT: return InvariantCheckersTest::followerHintsAnIndexItsLogDoesNotGive;
      case SNAPSHOT_INTEGRITY: return InvariantCheckersTest::snapshotChunksPutTogetherInTheWrongOrder;
      case PROBE_AFTER_REJECTION: return InvariantCheckersTest::leaderKeepsPipeliningAfterARejection;
      case CONFIGURATION: return InvariantCheckersTest::leaderAppendsAConfigurationItDoesNotUse;
      case ONE_CHANGE_AT_A_TIME: return InvariantCheckersTest::isolatedLeaderAppendsTwoConfigurations;
      case SESSION_DECISIONS: return InvariantCheckersTest::aFollowerLosesItsSessionTable;
      default: return () -> { throw new AssertionError("no broken history for " + invariant + " yet"); };
    }
  }

  @Test
  void durableBeforeSend_aVoteGrantedBeforeTheVoteIsDurable() {
    // n3 is already at term 2 (durable), with no vote; n1 campaigns in term 2. n3's grant must wait for
    // its vote to be written, but a broken n3 sends it at once.
    Simulation sim = Simulation.builder().node("n1", bootstrapAt(1)).node("n2", bootstrapAt(1)).node("n3", bootstrapAt(2))
        .seed(14).raftConfig(NO_PRE_VOTE).holdAllMessages().holdAllWrites().build();
    while (sim.core("n1").role() != Role.CANDIDATE) sim.tick("n1", 1);
    assertEquals(2, sim.core("n1").term());
    sim.completeWrites("n1"); // n1's term and self-vote are durable: its RequestVotes leave
    sim.rewriteReady((id, r) -> !id.equals("n3") ? r : edit(r, InvariantCheckersTest::sendEverythingAtOnce));
    Simulation.Envelope toN3 = sim.held(e -> e.to().equals("n3")).get(0);
    SimulationFailure f = assertThrows(SimulationFailure.class, () -> sim.deliver(toN3.id()));
    assertEquals(Invariant.DURABLE_BEFORE_SEND, f.invariant, f.getMessage());
    assertTrue(f.violation.contains("granted a vote in term 2 to n1 before the vote was durable"), f.violation);
  }

  /**
   * A follower acknowledges entries at once instead of after writing them (T3.8-01): the leader
   * could count copies that no storage holds.
   */
  @Test
  void durableBeforeSend_anAcknowledgementOfEntriesBeforeTheyAreDurable() {
    Simulation sim = settled(34);
    String l = sim.leader().id();
    String f = others(sim, l).get(0);
    sim.rewriteReady((id, r) -> !id.equals(f) || r.entries().isEmpty() ? r : edit(r, InvariantCheckersTest::sendEverythingAtOnce));
    SimulationFailure x = assertThrows(SimulationFailure.class, () -> {
      sim.propose(l);
      sim.runTicks(10);
    });
    assertEquals(Invariant.DURABLE_BEFORE_SEND, x.invariant, x.getMessage());
    assertTrue(x.violation.contains(f + " acknowledged entries up to"), x.violation);
  }

  @Test
  void committedKept_aFollowerTruncatesAtItsCommitIndex() {
    Simulation sim = settled(27);
    String f = others(sim, sim.leader().id()).get(0);
    sim.rewriteReady((id, r) -> !id.equals(f) || r.entries().isEmpty() ? r : edit(r, e -> {
      e.truncateFrom = sim.core(f).commitIndex();
      e.entries = List.of();
    }));
    sim.propose(sim.leader().id());
    SimulationFailure fail = assertThrows(SimulationFailure.class, () -> sim.runTicks(10));
    assertEquals(Invariant.COMMITTED_KEPT, fail.invariant, fail.getMessage());
    assertTrue(fail.violation.contains("at or below its commitIndex"), fail.violation);
  }

  @Test
  void logMatching_startStatesThatDisagree() {
    List<LogEntry> one = List.of(new LogEntry(1, 1, Simulation.command("x")));
    List<LogEntry> other = List.of(new LogEntry(1, 1, Simulation.command("y")));
    ClusterConfig two = ClusterConfig.of("a", "b");
    SimulationFailure f = assertThrows(SimulationFailure.class, () -> Simulation.builder()
        .node("a", new DurableState(new HardState(1, null), SnapshotMeta.initial(two), one))
        .node("b", new DurableState(new HardState(1, null), SnapshotMeta.initial(two), other))
        .build());
    assertEquals(Invariant.LOG_MATCHING, f.invariant, f.getMessage());
  }

  // ------------------------------------------------------------------ the broken histories

  /**
   * A follower's session table is emptied (as by a snapshot taken without it): the session the
   * others know is unknown to it, so it refuses a command the others apply.
   */
  static void aFollowerLosesItsSessionTable() {
    Simulation sim = settled(41);
    String l = sim.leader().id();
    String f = others(sim, l).get(0);
    Simulation.Proposal open = sim.propose(l, new EntryData.OpenSession(5));
    assertTrue(sim.runUntil(() -> open.index > 0 && sim.core(f).lastApplied() >= open.index, 200) >= 0, "opened everywhere");
    sim.sessions(f).restore(new io.raftactors.core.SessionTable(Simulation.DEFAULT_SESSION_TIMEOUT).toBytes());
    sim.propose(l, new EntryData.SessionCommand(open.index, 1, 1, 6, Simulation.command("x")));
    sim.runTicks(50);
  }

  /** Two candidates of term 1 each receive a forged grant from n3, which can vote only once. */
  static void twoLeadersInOneTerm() {
    Simulation sim = Simulation.builder().nodes(3).seed(1).raftConfig(NO_PRE_VOTE).holdAllMessages().holdAllWrites()
        .build();
    for (String id : List.of("n1", "n2")) {
      while (sim.core(id).role() != Role.CANDIDATE) sim.tick(id, 1);
      sim.completeWrites(id); // its term and self-vote are durable
    }
    assertEquals(1, sim.core("n1").term());
    assertEquals(1, sim.core("n2").term());
    sim.inject("n1", new RaftMessage.RequestVoteResponse(1, "n3", true));
    sim.inject("n2", new RaftMessage.RequestVoteResponse(1, "n3", true));
  }

  /** The leader's write of a new entry also truncates the entry before it. */
  static void leaderRewritesItsLog() {
    Simulation sim = settled(2);
    String l = sim.leader().id();
    sim.rewriteReady((id, r) -> !id.equals(l) || r.entries().isEmpty() ? r
        : edit(r, e -> e.truncateFrom = r.entries().get(0).index() - 1));
    sim.propose(l);
  }

  /** A follower stores another command than the leader's at the same (index, term). */
  static void followerStoresAnotherCommandAtTheSameIndexAndTerm() {
    Simulation sim = settled(3);
    String l = sim.leader().id();
    String f = others(sim, l).get(0);
    sim.rewriteReady((id, r) -> !id.equals(f) || r.entries().isEmpty() ? r : edit(r, e -> {
      List<LogEntry> forged = new ArrayList<>();
      for (LogEntry x : r.entries()) forged.add(new LogEntry(x.index(), x.term(), Simulation.command("forged")));
      e.entries = forged;
    }));
    sim.propose(l);
    sim.runTicks(10);
  }

  /**
   * A follower cut off before an entry committed campaigns alone; a forged grant makes it leader of
   * a later term without the committed entry.
   */
  static void staleNodeWinsWithAForgedVote() {
    Simulation sim = cluster(3, 4, NO_PRE_VOTE);
    RaftCore l = awaitLeader(sim);
    sim.runTicks(10);
    String f = others(sim, l.id()).get(0);
    String g = others(sim, l.id(), f).get(0);
    sim.isolate(f);
    awaitAck(sim, sim.propose(l.id()), 50); // committed by the leader and g
    assertTrue(sim.runUntil(() -> sim.core(f).role() == Role.CANDIDATE, 5 * ET_MAX) >= 0);
    sim.runTicks(2); // its new term and self-vote are durable
    sim.reconnect(g, f); // g sends nothing to f by itself: f's RequestVote never reached it
    sim.inject(f, new RaftMessage.RequestVoteResponse(sim.core(f).term(), g, true));
  }

  /** A follower's state machine applies another command than the committed one. */
  static void followerAppliesAnotherCommand() {
    Simulation sim = settled(5);
    String l = sim.leader().id();
    String f = others(sim, l).get(0);
    sim.rewriteReady((id, r) -> !id.equals(f) || r.committed().isEmpty() ? r : edit(r, e -> {
      List<Committed> forged = new ArrayList<>();
      for (Committed c : r.committed()) {
        forged.add(new Committed(new LogEntry(c.entry().index(), c.entry().term(), Simulation.command("forged")),
            c.correlationId()));
      }
      e.committed = forged;
    }));
    sim.propose(l);
    sim.runTicks(20);
  }

  /**
   * n3 hears nothing while the others commit entries 2 and 3 in term 3; then a forged AppendEntries
   * of term 3 hands it other entries 2 and 3 (of term 2) and says they are committed.
   */
  static void forgedLeaderMakesAFollowerCommitAnotherEntry() {
    Simulation sim = Simulation.builder().node("n1", bootstrapAt(2)).node("n2", bootstrapAt(2)).node("n3", bootstrapAt(2))
        .seed(6).network(n -> n.reliable(2)).build();
    sim.holdWhere(e -> e.to().equals("n3") || e.from().equals("n3"));
    RaftCore l = awaitLeader(sim);
    awaitAck(sim, sim.propose(l.id()), 50);
    assertTrue(sim.committedMax() >= 3);
    List<LogEntry> other = List.of(new LogEntry(2, 2, new EntryData.Noop(2)), new LogEntry(3, 2, Simulation.command("other")));
    sim.inject("n3", new RaftMessage.AppendEntries(l.term(), l.id(), 1, 0, other, 3));
  }

  /** Every node restarts with an empty state machine, and convergence is asserted before they re-apply. */
  static void everyStateMachineLostAnAcknowledgedWrite() {
    Simulation sim = settled(7);
    assertTrue(!sim.acknowledged().isEmpty());
    for (String id : sim.ids()) sim.crash(id);
    for (String id : sim.ids()) sim.restart(id);
    sim.assertConverged();
  }

  static void convergenceAssertedWhileAFollowerIsCutOff() {
    Simulation sim = settled(8);
    String l = sim.leader().id();
    sim.isolate(others(sim, l).get(0));
    awaitAck(sim, sim.propose(l), 50);
    sim.assertConverged();
  }

  /** A follower's core is rebuilt with a lower term than the one it had. */
  static void coreGoesBackATerm() {
    Simulation sim = settled(9);
    String f = others(sim, sim.leader().id()).get(0);
    DurableState d = sim.durableState(f);
    assertTrue(d.hardState().term() >= 1);
    sim.replaceCore(f, new DurableState(new HardState(d.hardState().term() - 1, null), d.snapshot(), d.entries()));
  }

  /**
   * A follower that had marked entries committed but not yet applied them (their writes pending)
   * has its core rebuilt at a snapshot of what it applied: lastApplied stays, commitIndex goes back.
   */
  static void coreForgetsItsCommitIndex() {
    Simulation sim = Simulation.builder().nodes(3).seed(11).network(n -> n.reliable(2)).storageDelay(3, 3).build();
    RaftCore l = awaitLeader(sim);
    for (int t = 0; t < 500; t++) {
      sim.propose(l.id());
      sim.runTicks(1);
      long lc = l.commitIndex();
      for (String f : others(sim, l.id())) {
        RaftCore c = sim.core(f);
        if (c.commitIndex() < lc && lc <= c.lastIndex() && c.termAt(lc) == l.termAt(lc) && c.lastApplied() > c.snapshotIndex()) {
          // The follower holds entries the leader committed and learns so, but (paused) is observed
          // with commitIndex above lastApplied before it applies them (a core applies what is
          // committed at its next output). Then it is rebuilt as if it forgot that commit index.
          sim.pause(f, 1000);
          c.step(new RaftMessage.AppendEntries(l.term(), l.id(), lc, l.termAt(lc), List.of(), lc));
          sim.runTicks(1);
          long s = c.lastApplied();
          sim.replaceCore(f, new DurableState(new HardState(c.term(), c.status().votedFor()),
              new SnapshotMeta(s, c.termAt(s), c.config()), c.entriesFrom(s + 1)));
          return;
        }
      }
    }
    throw new AssertionError("setup: no follower ever held entries committed before it knew");
  }

  /** A follower's core is rebuilt from its durable state, as if it had forgotten what it applied. */
  static void coreForgetsWhatItApplied() {
    Simulation sim = settled(10);
    String f = others(sim, sim.leader().id()).get(0);
    assertTrue(sim.core(f).lastApplied() >= 3);
    sim.replaceCore(f, sim.durableState(f));
  }

  /** Every node starts at term 1; storage writes term 0 instead of the first new term. */
  static void storageWritesAnOlderTerm() {
    Simulation sim = Simulation.builder().node("n1", bootstrapAt(1)).node("n2", bootstrapAt(1)).node("n3", bootstrapAt(1))
        .seed(12).network(n -> n.reliable(2)).build();
    sim.rewriteReady((id, r) -> r.hardState() == null || r.hardState().term() < 2 ? r
        : edit(r, e -> e.hardState = HardState.INITIAL));
    sim.runTicks(20 * ET_MAX);
  }

  /** Messages that must wait for the write of their Ready leave at once. */
  static void candidateAsksForVotesBeforeItsTermIsDurable() {
    Simulation sim = Simulation.builder().nodes(3).seed(13).raftConfig(NO_PRE_VOTE).storageDelay(2, 2)
        .network(n -> n.reliable(2)).build();
    sim.rewriteReady((id, r) -> edit(r, InvariantCheckersTest::sendEverythingAtOnce));
    sim.runTicks(20 * ET_MAX);
  }

  /** The leader stamps its AppendEntries with the next term. */
  static void leaderStampsATermItDoesNotHave() {
    Simulation sim = settled(15);
    String l = sim.leader().id();
    sim.rewriteReady((id, r) -> !id.equals(l) ? r : edit(r, e -> {
      List<Outbound> out = new ArrayList<>();
      for (Outbound o : e.messages) {
        RaftMessage m = o.message();
        if (m instanceof RaftMessage.AppendEntries ae) {
          m = new RaftMessage.AppendEntries(ae.term() + 1, ae.from(), ae.prevLogIndex(), ae.prevLogTerm(), ae.entries(),
              ae.leaderCommit(), ae.round());
        }
        out.add(new Outbound(o.to(), m));
      }
      e.messages = out;
    }));
    sim.runTicks(10);
  }

  /** A follower forwards a read; a forged answer gives it a read index below what was committed. */
  static void forgedStaleReadIndex() {
    Simulation sim = settled(16);
    String l = sim.leader().id();
    String f = others(sim, l).get(0);
    sim.holdWhere(e -> e.message() instanceof RaftMessage.ReadIndexRequest);
    Simulation.Read rd = sim.read(f);
    assertTrue(rd.mustSee >= 3, rd::toString);
    sim.inject(f, new RaftMessage.ReadIndexResponse(sim.core(f).term(), l, rd.correlationId, 1));
  }

  /** The leader hands out a read at an index its state machine has not applied yet. */
  static void readServedBeforeItsIndexIsApplied() {
    Simulation sim = settled(17);
    String l = sim.leader().id();
    sim.rewriteReady((id, r) -> {
      if (!id.equals(l) || r.reads().isEmpty()) return r;
      long beyond = sim.core(l).lastApplied() + 1;
      return edit(r, e -> {
        List<ReadState> moved = new ArrayList<>();
        for (ReadState rs : r.reads()) moved.add(new ReadState(rs.correlationId(), beyond));
        e.reads = moved;
      });
    });
    sim.read(l);
    sim.runTicks(10);
  }

  static void readServedThatNobodyAsked() {
    Simulation sim = settled(18);
    String l = sim.leader().id();
    sim.rewriteReady((id, r) -> !id.equals(l) ? r : edit(r, e -> e.reads.add(new ReadState(424242, 0))));
    sim.runTicks(2);
  }

  static void followerAppliesEntriesTwice() {
    Simulation sim = settled(19);
    String l = sim.leader().id();
    String f = others(sim, l).get(0);
    sim.rewriteReady((id, r) -> !id.equals(f) || r.committed().isEmpty() ? r : edit(r, e -> e.committed.addAll(r.committed())));
    sim.propose(l);
    sim.runTicks(20);
  }

  /** A follower applies a new entry in the same round it hands it to storage. */
  static void leaderAnswersAClientThatNeverAsked() {
    Simulation sim = settled(21);
    String l = sim.leader().id();
    sim.rewriteReady((id, r) -> !id.equals(l) || r.committed().isEmpty() ? r : edit(r, e -> {
      List<Committed> forged = new ArrayList<>();
      for (Committed c : r.committed()) forged.add(new Committed(c.entry(), 424242));
      e.committed = forged;
    }));
    sim.propose(l);
    sim.runTicks(10);
  }

  @Test
  void clientAnswers_leaderHandsOverBeforeItsEntriesAreKnownCommitted() {
    // The followers store n1's entry, but their acknowledgements are held: n1 does not know it
    // committed. A broken n1 tells a follower to campaign anyway (T3.10-02); when it steps down for
    // that follower's election, the caller of the entry it held is told "unknown".
    Simulation sim = settled(22);
    String l = sim.leader().id();
    String f = others(sim, l).get(0);
    sim.holdWhere(e -> e.to().equals(l) && e.message() instanceof RaftMessage.AppendEntriesResponse);
    Simulation.Proposal p = sim.propose(l);
    boolean[] sent = {false};
    sim.rewriteReady((id, r) -> {
      if (!id.equals(l) || sent[0] || sim.core(f).lastIndex() < p.index) return r;
      sent[0] = true;
      return edit(r, e -> e.messages.add(new Outbound(f, new RaftMessage.TimeoutNow(sim.core(l).term(), l))));
    });
    SimulationFailure failure = assertThrows(SimulationFailure.class, () -> sim.runTicks(20));
    assertEquals(Invariant.CLIENT_ANSWERS, failure.invariant, failure.getMessage());
    assertTrue(failure.violation.contains("sent TimeoutNow in term"), failure.violation);
  }

  /** A follower's core appends entries that its Ready does not hand out. */
  static void followerAppendsWithoutReportingIt() {
    Simulation sim = settled(22);
    String l = sim.leader().id();
    String f = others(sim, l).get(0);
    sim.rewriteReady((id, r) -> !id.equals(f) || r.entries().isEmpty() ? r : edit(r, e -> {
      e.entries = List.of();
      e.after = List.of(); // no acknowledgement of what it never wrote either
    }));
    sim.propose(l);
    sim.runTicks(10);
  }

  /** A forged AppendEntries of the leader's own term from a follower's id: the core reports two leaders. */
  static void secondLeaderOfTheSameTermContactsTheLeader() {
    Simulation sim = settled(23);
    RaftCore l = sim.leader();
    String f = others(sim, l.id()).get(0);
    sim.inject(l.id(), new RaftMessage.AppendEntries(l.term(), f, 0, 0, List.of(), 0));
  }

  static void addedInvariantFails() {
    Simulation sim = cluster(3, 24);
    sim.addInvariant("no leader ever", s -> s.leader() != null ? s.leader().id() + " leads" : null);
    awaitLeader(sim);
  }

  /** A normal run under a budget far below what any run needs. */
  static void normalRunOverATinyBudget() {
    Simulation sim = Simulation.builder().nodes(3).seed(25).network(n -> n.reliable(2)).budget(0.2, 0.5, 100).build();
    new Chaos(sim, Sims.quiet(500, s -> {})).run();
  }

  /**
   * A follower holds a committed entry but has not heard that it is committed; a forged leader of
   * the next term, whose log lacks it, makes it overwrite the entry.
   */
  static void forgedNewerLeaderOverwritesACommittedEntry() {
    Simulation sim = settled(26);
    RaftCore l = sim.leader();
    String f = others(sim, l.id()).get(0);
    String g = others(sim, l.id(), f).get(0);
    sim.holdWhere(e -> e.to().equals(f) && e.message() instanceof RaftMessage.AppendEntries ae && ae.entries().isEmpty());
    Simulation.Proposal p = sim.propose(l.id());
    awaitAck(sim, p, 50);
    RaftCore fc = sim.core(f);
    assertTrue(fc.lastIndex() >= p.index && fc.commitIndex() < p.index, fc::toString);
    List<LogEntry> other = List.of(new LogEntry(p.index, l.term() + 1, Simulation.command("other")));
    sim.inject(f, new RaftMessage.AppendEntries(l.term() + 1, g, p.index - 1, fc.termAt(p.index - 1), other, 0));
  }

  /** Nothing the leader sends arrives, but a forged acknowledgement lets it commit a new entry. */
  static void forgedAcknowledgementCommitsWithoutAMajority() {
    Simulation sim = settled(28);
    RaftCore l = sim.leader();
    String f = others(sim, l.id()).get(0);
    sim.holdWhere(e -> e.from().equals(l.id()));
    Simulation.Proposal p = sim.propose(l.id());
    sim.runTicks(3); // the leader's own write is durable
    sim.inject(l.id(), RaftMessage.AppendEntriesResponse.success(l.term(), f, p.index));
  }

  /**
   * A joint configuration (thesis 4.3): the leader's entries reach the new voters but never the
   * outgoing ones n4 and n5; a forged acknowledgement from n4 lets it commit with a majority of the
   * new voters and only a forged one of the old.
   */
  @Test
  void commitQuorum_aJointCommitNeedsAMajorityOfTheOutgoingVotersToo() {
    ClusterConfig joint = new ClusterConfig(List.of("n1", "n2", "n3"), List.of(), List.of("n1", "n4", "n5"), java.util.Map.of());
    Simulation.Builder b = Simulation.builder().seed(31).network(n -> n.reliable(2));
    for (String id : List.of("n1", "n2", "n3", "n4", "n5")) b.node(id, DurableState.bootstrap(joint));
    Simulation sim = b.build();
    // Votes reach everyone (both majorities must elect); entries never reach n4 or n5.
    sim.holdWhere(e -> (e.to().equals("n4") || e.to().equals("n5")) && e.message() instanceof RaftMessage.AppendEntries);
    RaftCore l = awaitLeader(sim);
    sim.runTicks(5); // the new voters acknowledge the leader's first entry; it cannot commit
    assertTrue(l.commitIndex() < l.lastIndex(), sim::summary);
    SimulationFailure f = assertThrows(SimulationFailure.class,
        () -> sim.inject(l.id(), RaftMessage.AppendEntriesResponse.success(l.term(), "n4", l.lastIndex())));
    assertEquals(Invariant.COMMIT_QUORUM, f.invariant, f::getMessage);
    assertTrue(f.violation.contains("[n1, n4, n5]"), f.violation);
  }

  /** A leader appends a configuration entry (n3 removed) but goes on counting n3. */
  static void leaderAppendsAConfigurationItDoesNotUse() {
    Simulation sim = settled(32);
    String l = sim.leader().id();
    sim.rewriteReady((id, r) -> !id.equals(l) || r.entries().isEmpty() ? r : edit(r, e -> {
      LogEntry x = r.entries().get(0);
      e.entries = List.of(new LogEntry(x.index(), x.term(), new EntryData.Configuration(ClusterConfig.of("n1", "n2"))));
    }));
    sim.propose(l);
  }

  /**
   * A leader cut off from the others appends a second configuration entry while the first is not
   * committed (both the configuration it has, so that it uses what its log says).
   */
  static void isolatedLeaderAppendsTwoConfigurations() {
    Simulation sim = settled(33);
    RaftCore l = sim.leader();
    ClusterConfig same = l.config();
    sim.isolate(l.id());
    sim.rewriteReady((id, r) -> !id.equals(l.id()) || r.entries().isEmpty() ? r : edit(r, e -> {
      LogEntry x = r.entries().get(0);
      e.entries = List.of(new LogEntry(x.index(), x.term(), new EntryData.Configuration(same)));
    }));
    sim.propose(l.id());
    sim.propose(l.id());
  }

  /** A follower rejects an AppendEntries past its log with a hint one index too far. */
  static void followerHintsAnIndexItsLogDoesNotGive() {
    Simulation sim = settled(29);
    RaftCore l = sim.leader();
    String f = others(sim, l.id()).get(0);
    sim.rewriteReady((id, r) -> !id.equals(f) ? r : edit(r, e -> {
      List<Outbound> out = new ArrayList<>();
      for (Outbound o : e.after) {
        RaftMessage m = o.message();
        if (m instanceof RaftMessage.AppendEntriesResponse a && !a.success()) {
          m = new RaftMessage.AppendEntriesResponse(a.term(), a.from(), false, 0, a.rejectedIndex(), a.hintIndex() + 1,
              a.hintTerm(), a.round());
        }
        out.add(new Outbound(o.to(), m));
      }
      e.after = out;
    }));
    RaftCore fc = sim.core(f);
    sim.inject(f,
        new RaftMessage.AppendEntries(l.term(), l.id(), fc.lastIndex() + 3, l.term(), List.of(), l.commitIndex()));
  }

  /**
   * The leader compacts its log while a follower is cut off; the follower then receives the
   * leader's snapshot with its two halves the wrong way round, as if two chunks were swapped.
   */
  static void snapshotChunksPutTogetherInTheWrongOrder() {
    Simulation sim = Simulation.builder().nodes(3).seed(30).network(n -> n.reliable(2)).snapshotEvery(2).build();
    RaftCore l = awaitLeader(sim);
    String f = others(sim, l.id()).get(0);
    sim.isolate(f);
    for (int i = 0; i < 6; i++) awaitAck(sim, sim.propose(l.id()), 50);
    Snapshot s = l.snapshot();
    assertTrue(s != null && s.index() > sim.core(f).commitIndex(), () -> "setup: " + s + " " + sim.summary());
    byte[] d = s.data();
    int half = d.length / 2;
    byte[] swapped = new byte[d.length];
    System.arraycopy(d, half, swapped, 0, d.length - half);
    System.arraycopy(d, 0, swapped, d.length - half, half);
    sim.reconnect(l.id(), f);
    sim.inject(f, new RaftMessage.InstallSnapshot(l.term(), l.id(), s.index(), s.term(), s.meta().config(), 0, swapped,
        true, swapped.length));
  }

  /**
   * A follower's acknowledgements are held while the leader pipelines three entries to it; then
   * the follower reports a gap at its match index. The leader probes with one request, but a
   * broken one sends that request and another with the next entries at once.
   */
  static void leaderKeepsPipeliningAfterARejection() {
    Simulation sim = Simulation.builder().nodes(3).seed(31).network(n -> n.reliable(2))
        .raftConfig(DEFAULTS.withBatching(1, 1 << 20, 8)).build();
    RaftCore l = awaitLeader(sim);
    sim.runTicks(10);
    String f = others(sim, l.id()).get(0);
    long match = l.status().matchIndex(f);
    sim.holdWhere(e -> e.to().equals(f) || e.from().equals(f));
    for (int i = 0; i < 3; i++) sim.propose(l.id());
    sim.runTicks(2);
    sim.rewriteReady((id, r) -> !id.equals(l.id()) ? r : edit(r, e -> {
      List<Outbound> out = new ArrayList<>(e.messages);
      for (Outbound o : e.messages) {
        if (o.to().equals(f) && o.message() instanceof RaftMessage.AppendEntries ae && !ae.entries().isEmpty()
            && ae.lastIndex() < l.lastIndex()) {
          List<LogEntry> next = l.entriesFrom(ae.lastIndex() + 1).subList(0, 1);
          out.add(new Outbound(f, new RaftMessage.AppendEntries(ae.term(), ae.from(), ae.lastIndex(),
              l.termAt(ae.lastIndex()), next, ae.leaderCommit(), ae.round())));
        }
      }
      e.messages = out;
    }));
    sim.inject(l.id(), RaftMessage.AppendEntriesResponse.reject(l.term(), f, match, match + 1, 0));
  }

  // ------------------------------------------------------------------ helpers

  /** A 3-node group whose leader committed a command that every node has applied. */
  static Simulation settled(long seed) {
    Simulation sim = cluster(3, seed);
    RaftCore l = awaitLeader(sim);
    awaitAck(sim, sim.propose(l.id()), 50);
    int t = sim.runUntil(() -> {
      for (String id : sim.ids()) if (sim.core(id).lastApplied() != l.lastIndex()) return false;
      return true;
    }, 50);
    assertTrue(t >= 0, sim::summary);
    sim.runTicks(5);
    return sim;
  }

  /** The founding state of n1..n3, already at {@code term}. */
  static DurableState bootstrapAt(long term) {
    DurableState b = DurableState.bootstrap(THREE);
    return new DurableState(new HardState(term, null), b.snapshot(), b.entries());
  }

  /** Everything a Ready holds, as mutable parts. */
  static final class Edit {
    HardState hardState;
    Snapshot snapshot;
    long truncateFrom;
    List<LogEntry> entries;
    List<Outbound> messages;
    List<Outbound> after;
    Snapshot restore;
    List<Committed> committed;
    List<ProposalOutcome> outcomes;
    List<ReadState> reads;
    List<String> violations;

    Edit(Ready r) {
      hardState = r.hardState();
      snapshot = r.snapshot();
      truncateFrom = r.truncateFrom();
      entries = new ArrayList<>(r.entries());
      messages = new ArrayList<>(r.messages());
      after = new ArrayList<>(r.messagesAfterPersist());
      restore = r.restore();
      committed = new ArrayList<>(r.committed());
      outcomes = new ArrayList<>(r.outcomes());
      reads = new ArrayList<>(r.reads());
      violations = new ArrayList<>(r.violations());
    }

    Ready ready() {
      return new Ready(hardState, snapshot, truncateFrom, List.copyOf(entries), List.copyOf(messages), List.copyOf(after),
          restore, List.copyOf(committed), List.copyOf(outcomes), List.copyOf(reads), List.copyOf(violations));
    }
  }

  /** {@code r} with {@code change} applied. */
  static Ready edit(Ready r, Consumer<Edit> change) {
    Edit e = new Edit(r);
    change.accept(e);
    return e.ready();
  }

  /** A core that forgets to wait for its write: everything leaves at once. */
  static void sendEverythingAtOnce(Edit e) {
    e.messages.addAll(e.after);
    e.after.clear();
  }
}
