package io.raftactors.core;

import static io.raftactors.core.CoreFixture.*;
import static org.junit.jupiter.api.Assertions.*;

import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import io.raftactors.core.RaftMessage.PreVote;
import io.raftactors.core.RaftMessage.RequestVote;
import io.raftactors.core.RaftMessage.RequestVoteResponse;
import io.raftactors.core.RaftMessage.TimeoutNow;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Leadership transfer (thesis 3.10) and how it meets the rules around it: the disruption guard of
 * thesis 4.2.3, pre-vote (9.6), lease reads (6.4.1) and the removal of a leader (4.2.2). Rules that
 * one node decides alone are tested on a single core whose peers' messages are built by hand; the
 * rest on a {@link CoreCluster} of n1, n2, n3, where n1 is elected first and leads.
 */
class LeadershipTransferTest {
  static final ClusterConfig THREE = members(3);
  static final int HB = settings().heartbeatInterval();
  static final int TIMEOUT_MIN = settings().electionTimeoutMin();
  static final int TIMEOUT_MAX = settings().electionTimeoutMax();
  static final int LEASE = 8;

  /** The default settings (pre-vote and check-quorum on) with lease reads of {@code ticks}. */
  static RaftConfig leaseSettings(int ticks) {
    RaftConfig d = settings();
    return new RaftConfig(d.electionTimeoutMin(), d.electionTimeoutMax(), d.heartbeatInterval(), d.preVote(),
        d.checkQuorum(), d.conflictHint(), d.maxEntriesPerAppend(), d.maxBytesPerAppend(), d.maxInflightAppends(),
        d.snapshotChunkBytes(), ticks);
  }

  /**
   * n1 elected leader of {@code members} (term 2, over one entry of term 1); every other member
   * acknowledges the no-op, which commits: each follower's matchIndex equals the leader's last index.
   */
  static RaftCore leaderOf(ClusterConfig members, RaftConfig cfg) {
    RaftCore l = node("n1", members, 1, null, fixed(10), cfg, 1);
    ackAll(l, elect(l));
    l.ready();
    assertEquals(Role.LEADER, l.role(), "setup");
    assertEquals(l.lastIndex(), l.commitIndex(), "setup: the no-op is committed");
    for (String p : members.members()) {
      if (!p.equals("n1")) assertEquals(l.lastIndex(), l.status().matchIndex(p), "setup: " + p + " holds the whole log");
    }
    return l;
  }

  static RaftCore leaderOf(ClusterConfig members) {
    return leaderOf(members, settings());
  }

  /** The TimeoutNow messages of {@code r}, with their recipients. */
  static List<Outbound> timeoutNows(Ready r) {
    List<Outbound> out = new ArrayList<>();
    for (Outbound o : allMessages(r)) if (o.message() instanceof TimeoutNow) out.add(o);
    return out;
  }

  /** Delivers the replies of {@code peers} to every AppendEntries of {@code r}, echoing its round. */
  static void ackRounds(RaftCore leader, Ready r, String... peers) {
    for (String p : peers) {
      for (AppendEntries ae : sentTo(r, p, AppendEntries.class)) {
        leader.step(AppendEntriesResponse.success(ae.term(), p, ae.lastIndex()).withRound(ae.round()));
      }
    }
  }

  /**
   * Ticks {@code n} times, one at a time; after each tick {@code peers} acknowledge every
   * AppendEntries of its Ready (echoing rounds). Returns the Readies of the ticks.
   */
  static List<Ready> tickAcking(RaftCore leader, int n, String... peers) {
    List<Ready> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      leader.tick();
      Ready r = leader.ready();
      persist(leader, r);
      ackRounds(leader, r, peers);
      out.add(r);
    }
    return out;
  }

  /** A cluster of n1, n2, n3 where n1 leads, has written {@code writes} commands and all hold all of it. */
  static CoreCluster clusterLedByN1(RaftConfig cfg, int writes) {
    CoreCluster c = CoreCluster.founded(THREE, cfg);
    RaftCore l = c.elect();
    assertEquals("n1", l.id(), "setup");
    c.write(writes);
    c.tick(HB);
    for (String p : List.of("n2", "n3")) {
      assertEquals(l.lastIndex(), c.node(p).commitIndex(), "setup: " + p + " holds and knows committed the whole log");
    }
    return c;
  }

  static ProposalOutcome single(List<ProposalOutcome> outcomes) {
    assertEquals(1, outcomes.size(), "one outcome: " + outcomes);
    return outcomes.get(0);
  }

  // ------------------------------------------------------------------ T3.10-01

  /**
   * T's matchIndex equals L's last index: L's very next Ready holds TimeoutNow to T; T becomes a
   * candidate of term + 1 on receiving it, with its election timer far from firing and no tick in
   * between, and wins; L stays leader until a message of T's term reaches it, then steps down.
   */
  @Test
  void transfer_T3_10_01_upToDateFollowerCampaignsAtOnceAndWins() {
    CoreCluster c = clusterLedByN1(settings(), 3);
    RaftCore l = c.node("n1");
    RaftCore t = c.node("n2");
    long term = l.term();
    CoreStatus ts = t.status();
    long now = ts.now();
    assertEquals(l.lastIndex(), l.status().matchIndex("n2"), "setup: T's matchIndex equals L's last index");
    assertTrue(ts.electionElapsed() + 2 < ts.randomizedElectionTimeout(), "setup: T's timer is far from firing");

    l.transferLeadership("n2", 42);
    Ready r = l.ready();
    assertEquals(List.of(new Outbound("n2", new TimeoutNow(term, "n1"))), allMessages(r), "L sends TimeoutNow to T");
    assertEquals(List.of(), r.outcomes(), "the transfer is under way, not finished");

    t.step(r.messages().get(0).message());
    assertEquals(Role.CANDIDATE, t.role(), "T campaigns at once, without pre-vote");
    assertEquals(term + 1, t.term(), "in term + 1");
    assertEquals(now, t.status().now(), "no tick: T did not wait for its timer");
    assertEquals(Role.LEADER, l.role(), "L leads until it sees T's term");
    assertEquals(term, l.term());

    int deliveredBefore = c.delivered.size();
    c.settle(); // delivers T's RequestVotes and what follows; no tick
    assertEquals(Role.LEADER, t.role(), "T wins");
    assertEquals(term + 1, t.term());
    assertEquals(now, t.status().now(), "without any tick");
    assertEquals(Role.FOLLOWER, l.role(), "L stepped down");
    assertEquals(term + 1, l.term());
    assertEquals("n2", c.node("n3").leaderId());

    // L stepped down on the first message of T's term that reached it, and that message was T's.
    Outbound first = null;
    for (Outbound o : c.delivered.subList(deliveredBefore, c.delivered.size())) {
      if (o.to().equals("n1")) {
        first = o;
        break;
      }
    }
    assertNotNull(first, "T contacted L");
    assertEquals("n2", first.message().from());
    assertEquals(term + 1, first.message().term());

    assertEquals(List.of(new ProposalOutcome.Transferred(42, "n2")), c.outcomesOf("n1", 42), "the caller is told Transferred");
    // The new leader serves: a write through it commits everywhere.
    long idx = t.propose(cmd("after"), 43);
    c.settle();
    c.tick(HB);
    assertTrue(c.committedWith("n2", 43));
    assertEquals(idx, l.commitIndex());
  }

  // ------------------------------------------------------------------ T3.10-02

  /**
   * One core: T (n2) lags by 20 entries; its acknowledgements arrive one index at a time. No Ready
   * carries TimeoutNow until T's matchIndex equals L's last index; the one that does carries it to T.
   */
  @Test
  void transfer_T3_10_02_timeoutNowOnlyOnceTheTargetHoldsTheWholeLog() {
    RaftCore l = leaderOf(THREE);
    for (int i = 0; i < 20; i++) l.propose(cmd("c" + i), -1);
    Ready w = l.ready();
    persist(l, w);
    for (AppendEntries ae : sentTo(w, "n3", AppendEntries.class)) {
      l.step(AppendEntriesResponse.success(ae.term(), "n3", ae.lastIndex()));
    }
    l.ready();
    long last = l.lastIndex();
    CoreStatus ls = l.status();
    long match = ls.matchIndex("n2");
    assertEquals(20, last - match, "setup: T lags by 20 entries");
    assertEquals(last, ls.matchIndex("n3"), "setup: the other follower is caught up");

    l.transferLeadership("n2", 7);
    Ready r0 = l.ready();
    assertEquals(List.of(), timeoutNows(r0), "T lags: no TimeoutNow yet");
    for (int i = 0; i < HB; i++) { // heartbeats flow, n3 answers; T still lags
      l.tick();
      Ready h = l.ready();
      assertEquals(List.of(), timeoutNows(h), "no TimeoutNow while T lags");
      ackRounds(l, h, "n3");
      assertEquals(List.of(), timeoutNows(l.ready()), "n3's acknowledgement is not T's");
    }

    for (long m = match + 1; m <= last; m++) {
      l.step(AppendEntriesResponse.success(l.term(), "n2", m));
      Ready r = l.ready();
      assertEquals(m, l.status().matchIndex("n2"));
      if (m < last) {
        assertEquals(List.of(), timeoutNows(r), "T's matchIndex " + m + " < last index " + last + ": no TimeoutNow");
      } else {
        assertEquals(List.of(new Outbound("n2", new TimeoutNow(l.term(), "n1"))), timeoutNows(r),
            "T's matchIndex reached L's last index: TimeoutNow");
      }
    }
    assertEquals(last, l.lastIndex(), "L appended nothing meanwhile");
  }

  /**
   * A cluster: T (n2) is down while L writes 20 entries, comes back and is named the target. Each
   * TimeoutNow that reaches T finds L's matchIndex for T equal to L's last index and T's log as long
   * as L's; T takes over once caught up.
   */
  @Test
  void transfer_T3_10_02_laggingTargetIsCaughtUpBeforeTimeoutNow() {
    CoreCluster c = clusterLedByN1(settings(), 2);
    RaftCore l = c.node("n1");
    RaftCore t = c.node("n2");
    c.down("n2");
    c.write(20);
    c.up("n2");
    assertEquals(20, l.lastIndex() - l.status().matchIndex("n2"), "setup: T lags by 20 entries");
    assertEquals(20, l.lastIndex() - t.lastIndex(), "setup: T's log lacks 20 entries");

    List<String> early = new ArrayList<>();
    List<Long> sentAtMatch = new ArrayList<>();
    c.dropIf((to, m) -> {
      if (m instanceof TimeoutNow) {
        long lMatch = l.status().matchIndex("n2");
        sentAtMatch.add(lMatch);
        if (lMatch != l.lastIndex() || t.lastIndex() != l.lastIndex()) {
          early.add("TimeoutNow with L match " + lMatch + ", T last " + t.lastIndex() + ", L last " + l.lastIndex());
        }
      }
      return false;
    });
    long term = l.term();
    l.transferLeadership("n2", 8);
    c.settle();
    int ticks = c.tickUntil(TIMEOUT_MAX - 1, () -> t.role() == Role.LEADER);
    assertEquals(List.of(), early, "TimeoutNow never before T is caught up");
    assertFalse(sentAtMatch.isEmpty(), "TimeoutNow was sent (after " + ticks + " ticks)");
    assertEquals(term + 1, t.term());
    assertEquals(List.of(new ProposalOutcome.Transferred(8, "n2")), c.outcomesOf("n1", 8));
  }

  // ------------------------------------------------------------------ T3.10-03

  /** While the transfer is pending L appends no proposal; each caller is told not-leader, hint: the target. */
  @Test
  void transfer_T3_10_03_proposalsArePausedAndRedirectedToTheTarget() {
    RaftCore l = leaderOf(THREE);
    long last = l.lastIndex();
    l.transferLeadership("n2", 1);
    assertEquals(1, timeoutNows(l.ready()).size(), "setup: the transfer is under way"); // never delivered

    for (int round = 0; round < 3; round++) {
      long corr = 10 + 10L * round;
      List<ProposalOutcome> expected = new ArrayList<>();
      for (long k = corr; k < corr + 3; k++) {
        assertEquals(-1, l.propose(cmd("x" + k), k), "no index for a proposal during a transfer");
        expected.add(new ProposalOutcome.NotLeader(k, "n2"));
      }
      assertEquals(-1, l.propose(cmd("no caller"), -1));
      expected.add(new ProposalOutcome.NotLeader(-1, "n2"));
      Ready r = l.ready();
      assertEquals(last, l.lastIndex(), "L appended none of them");
      assertEquals(List.of(), r.entries(), "nothing to write");
      for (AppendEntries ae : sent(r, AppendEntries.class)) assertEquals(List.of(), ae.entries(), "nothing replicated");
      assertEquals(expected, r.outcomes(), "callers get not-leader with the target as hint");
      assertEquals(0, l.status().pendingProposals());
      tickAcking(l, 3, "n2", "n3"); // still within the transfer's election timeout
      assertEquals(Role.LEADER, l.role());
    }
  }

  // ------------------------------------------------------------------ T3.10-04

  /**
   * T crashes right after the transfer starts (its TimeoutNow is lost). Until one election timeout
   * has passed the transfer stays pending; then L cancels it, tells the caller Rejected, still leads
   * in the same term and accepts proposals again.
   */
  @Test
  void transfer_T3_10_04_abortsAfterOneElectionTimeout() {
    CoreCluster c = clusterLedByN1(settings(), 2);
    RaftCore l = c.node("n1");
    long term = l.term();
    long started = l.status().now();
    l.transferLeadership("n2", 9);
    c.down("n2"); // before anything L sent reaches it
    c.settle();

    for (int tick = 1; tick < TIMEOUT_MAX; tick++) {
      c.tick(1);
      assertEquals(List.of(), c.outcomesOf("n1", 9), "still pending after " + tick + " ticks");
      long probe = 1000 + tick;
      assertEquals(-1, l.propose(cmd("p" + tick), probe));
      c.settle();
      assertEquals(List.of(new ProposalOutcome.NotLeader(probe, "n2")), c.outcomesOf("n1", probe), "paused at tick " + tick);
    }
    c.tick(1);
    assertEquals(TIMEOUT_MAX, l.status().now() - started, "one election timeout (the maximum) has passed");
    ProposalOutcome o = single(c.outcomesOf("n1", 9));
    assertTrue(o instanceof ProposalOutcome.Rejected, "the caller gets a failure: " + o);
    assertEquals(Role.LEADER, l.role(), "L is still leader");
    assertEquals(term, l.term(), "in the same term");
    assertEquals(term, c.node("n3").term());

    long idx = l.propose(cmd("again"), 77);
    assertTrue(idx > 0, "L accepts proposals again");
    c.settle();
    c.tick(HB);
    assertTrue(c.committedWith("n1", 77), c.outcomes.toString());
    assertEquals(idx, c.node("n3").commitIndex());
  }

  // ------------------------------------------------------------------ T3.10-05

  /**
   * Pre-vote and check-quorum on. n3 has just heard from L, and T's RequestVote to L is lost, so T
   * can win only with n3's vote. T sends no PreVote; its RequestVote is flagged as a transfer; n3
   * grants it; T wins and L hands over.
   */
  @Test
  void transfer_T3_10_05_transferElectionPassesPreVoteAndCheckQuorumGuards() {
    RaftConfig cfg = settings();
    assertTrue(cfg.preVote() && cfg.checkQuorum(), "setup: both guards on");
    CoreCluster c = clusterLedByN1(cfg, 2);
    RaftCore l = c.node("n1");
    RaftCore t = c.node("n2");
    RaftCore v = c.node("n3");
    long term = l.term();
    assertEquals("n1", v.leaderId(), "setup");
    assertTrue(v.status().electionElapsed() < TIMEOUT_MIN, "setup: n3 has just heard from L");
    c.dropIf((to, m) -> to.equals("n1") && m instanceof RequestVote);
    int from = c.delivered.size();

    l.transferLeadership("n2", 11);
    c.settle();

    List<Outbound> after = c.delivered.subList(from, c.delivered.size());
    for (Outbound o : after) {
      assertFalse(o.message() instanceof PreVote, "T skips pre-vote: " + o);
    }
    List<RequestVote> votes = new ArrayList<>();
    List<RequestVoteResponse> answers = new ArrayList<>();
    for (Outbound o : after) {
      if (o.to().equals("n3") && o.message() instanceof RequestVote rv) votes.add(rv);
      if (o.to().equals("n2") && o.message() instanceof RequestVoteResponse rr) answers.add(rr);
    }
    assertEquals(List.of(new RequestVote(term + 1, "n2", t.lastIndex() - 1, term, true)), votes,
        "T's RequestVote (before its no-op) is flagged as a transfer election");
    assertEquals(List.of(new RequestVoteResponse(term + 1, "n3", true)), answers, "n3 considered and granted it");
    assertEquals(Role.LEADER, t.role(), "the transfer succeeds");
    assertEquals(term + 1, t.term());
    assertEquals("n2", v.leaderId());
    assertEquals(Role.FOLLOWER, l.role());
    assertEquals(List.of(new ProposalOutcome.Transferred(11, "n2")), c.outcomesOf("n1", 11));
  }

  // ------------------------------------------------------------------ T4.2.3-04

  /**
   * One follower (n1) that has just heard from leader n2: a RequestVote of a higher term without
   * the transfer flag is ignored (no answer, term and vote unchanged); the same RequestVote flagged
   * as a transfer is handled normally: the term is adopted and the vote granted. With lease reads on
   * as well, whose guard it must pass too.
   */
  @ParameterizedTest(name = "lease reads={0}")
  @ValueSource(booleans = {false, true})
  void disruption_T4_2_3_04_flaggedTransferVotePassesUnflaggedIsIgnored(boolean lease) {
    RaftCore f = recentFollower(lease);

    Ready ignored = step(f, new RequestVote(3, "n3", 2, 2, false));
    assertEquals(List.of(), allMessages(ignored), "without the flag: no answer");
    assertNull(ignored.hardState(), "nothing persisted");
    assertEquals(2, f.term(), "term unchanged");
    assertNull(f.status().votedFor());
    assertEquals("n2", f.leaderId(), "still follows n2");

    Ready handled = step(f, new RequestVote(3, "n3", 2, 2, true));
    assertEquals(3, f.term(), "with the flag: term adopted");
    assertEquals("n3", f.status().votedFor(), "vote granted to an up-to-date candidate");
    assertEquals(new HardState(3, "n3"), handled.hardState());
    assertEquals(List.of(new Outbound("n3", new RequestVoteResponse(3, "n1", true))), handled.messagesAfterPersist());
    assertEquals(Role.FOLLOWER, f.role());
  }

  /** The flagged RequestVote of a candidate whose log is behind: the term is adopted, the vote denied. */
  @ParameterizedTest(name = "lease reads={0}")
  @ValueSource(booleans = {false, true})
  void disruption_T4_2_3_04_flaggedTransferVoteStillNeedsAnUpToDateLog(boolean lease) {
    RaftCore f = recentFollower(lease);
    Ready r = step(f, new RequestVote(3, "n3", 1, 1, true));
    assertEquals(3, f.term(), "term adopted");
    assertNull(f.status().votedFor(), "no vote for a log that is behind");
    assertEquals(List.of(new Outbound("n3", new RequestVoteResponse(3, "n1", false))), allMessages(r));
  }

  /** n1 of THREE in term 2, log 1@1 2@2, with check-quorum on, one tick after an AppendEntries of leader n2. */
  static RaftCore recentFollower(boolean lease) {
    RaftConfig cfg = lease ? leaseSettings(LEASE) : settings();
    assertTrue(cfg.checkQuorum(), "setup: the T4.2.3 rule is on");
    RaftCore f = node("n1", THREE, 2, null, fixed(10), cfg, 1, 2);
    step(f, new AppendEntries(2, "n2", 2, 2, List.of(), 2));
    tick(f, 1);
    assertEquals("n2", f.leaderId(), "setup");
    assertTrue(f.status().electionElapsed() < cfg.electionTimeoutMin(), "setup: soon after leader contact");
    return f;
  }

  // ------------------------------------------------------------------ T3.10-06

  /**
   * Voters n1..n3 and learner n4, which holds the whole log. Transfers to the leader itself, to the
   * learner and to a non-member fail at once with Rejected; no TimeoutNow leaves and proposals are
   * not paused.
   */
  @ParameterizedTest(name = "target={0}")
  @ValueSource(strings = {"n1", "n4", "n9"})
  void transfer_T3_10_06_badTargetIsRejectedAtOnce(String target) {
    ClusterConfig withLearner = new ClusterConfig(List.of("n1", "n2", "n3"), List.of("n4"), List.of(), Map.of());
    RaftCore l = leaderOf(withLearner);
    assertEquals(l.lastIndex(), l.status().matchIndex("n4"), "setup: the learner is caught up");

    l.transferLeadership(target, 5);
    Ready r = l.ready();
    ProposalOutcome o = single(r.outcomes());
    assertEquals(5, o.correlationId());
    assertTrue(o instanceof ProposalOutcome.Rejected, "fails at once: " + o);
    assertEquals(List.of(), timeoutNows(r), "no TimeoutNow");
    assertProposalsFlow(l);
    for (Ready t : tickAcking(l, TIMEOUT_MAX + HB, "n2", "n3", "n4")) {
      assertEquals(List.of(), timeoutNows(t), "no TimeoutNow later either");
    }
    assertEquals(Role.LEADER, l.role());
  }

  /** A transfer asked of a follower fails at once with NotLeader (hint: its leader); nothing is left pending. */
  @Test
  void transfer_T3_10_06_transferAskedOfANonLeaderFailsAtOnce() {
    RaftCore f = node("n2", THREE, 2, null, fixed(10), settings(), 1, 2);
    step(f, new AppendEntries(2, "n1", 2, 2, List.of(), 2));
    f.transferLeadership("n3", 4);
    Ready r = f.ready();
    assertEquals(List.of(new ProposalOutcome.NotLeader(4, "n1")), r.outcomes());
    assertEquals(List.of(), timeoutNows(r), "no TimeoutNow");
    // Proposals are not paused: once this node leads, it appends at once.
    elect(f);
    assertProposalsFlow(f);
  }

  /** A second transfer while one is pending is Rejected; the first stays pending. */
  @Test
  void transfer_T3_10_06_secondTransferWhilePendingIsRejected() {
    RaftCore l = leaderOf(THREE);
    l.transferLeadership("n2", 1);
    assertEquals(List.of(new Outbound("n2", new TimeoutNow(l.term(), "n1"))), timeoutNows(l.ready()), "setup");

    l.transferLeadership("n3", 2);
    l.transferLeadership("n2", 3);
    l.transferLeadership(null, 4);
    Ready r = l.ready();
    assertEquals(3, r.outcomes().size(), r.outcomes().toString());
    for (ProposalOutcome o : r.outcomes()) assertTrue(o instanceof ProposalOutcome.Rejected, "rejected: " + o);
    assertEquals(List.of(2L, 3L, 4L), r.outcomes().stream().map(ProposalOutcome::correlationId).toList());
    assertEquals(List.of(), timeoutNows(r), "no TimeoutNow for the refused ones");
    // The first transfer is still the pending one.
    assertEquals(-1, l.propose(cmd("x"), 9));
    assertEquals(List.of(new ProposalOutcome.NotLeader(9, "n2")), l.ready().outcomes());
  }

  /** A group with a single voter has no one to transfer to: a transfer to "the best voter" is Rejected. */
  @Test
  void transfer_T3_10_06_noOtherVoterIsRejected() {
    RaftCore l = node("n1", members(1), 1, null, fixed(10), settings(), 1);
    elect(l);
    persistAll(l);
    l.ready();
    l.transferLeadership(null, 6);
    Ready r = l.ready();
    assertTrue(single(r.outcomes()) instanceof ProposalOutcome.Rejected, r.outcomes().toString());
    assertEquals(List.of(), timeoutNows(r));
    assertProposalsFlow(l);
  }

  /** The leader appends a proposal at once and reports no refusal for it. */
  static void assertProposalsFlow(RaftCore l) {
    long last = l.lastIndex();
    assertEquals(last + 1, l.propose(cmd("flows"), 99), "proposals are not paused");
    Ready r = l.ready();
    assertEquals(last + 1, r.lastEntry().index());
    assertEquals(List.of(), r.outcomes());
  }

  // ------------------------------------------------------------------ T6.4.1-03

  /**
   * A leader whose lease holds serves a lease read at once. Right after transferLeadership (same
   * tick) a lease read is not served: it waits for a ReadIndex round, already in the Ready that
   * carries TimeoutNow (or, if T lags, in the Ready right after the transfer starts). That round,
   * confirmed during the transfer, serves it but renews no lease: the next lease read needs a round
   * of its own. If T lags, the majority that confirms rounds is n1 and n3.
   */
  @ParameterizedTest(name = "target caught up={0}")
  @ValueSource(booleans = {true, false})
  void lease_T6_4_1_03_transferCancelsTheLease(boolean caughtUp) {
    RaftCore l = leaderOf(THREE, leaseSettings(LEASE));
    String[] ackers = caughtUp ? new String[] {"n2", "n3"} : new String[] {"n3"};
    if (!caughtUp) {
      l.propose(cmd("n2 misses this"), -1);
      Ready w = l.ready();
      persist(l, w);
      ackRounds(l, w, "n3");
      l.ready();
      assertTrue(l.status().matchIndex("n2") < l.lastIndex(), "setup: T lags");
    }
    long commit = l.commitIndex();
    assertEquals(l.lastIndex(), commit, "setup");
    tickAcking(l, HB, ackers);
    l.leaseRead(1);
    Ready r1 = l.ready();
    assertEquals(List.of(new ReadState(1, commit)), r1.reads(), "setup: the lease holds, the read is served at once");
    assertEquals(List.of(), sent(r1, AppendEntries.class), "setup: no round needed");
    long now = l.status().now();

    l.transferLeadership("n2", 50);
    l.leaseRead(2);
    Ready r2 = l.ready();
    assertEquals(now, l.status().now(), "the same tick: the old lease would still hold");
    if (caughtUp) {
      assertEquals(List.of(new Outbound("n2", new TimeoutNow(l.term(), "n1"))), timeoutNows(r2), "the Ready carries TimeoutNow");
    } else {
      assertEquals(List.of(), timeoutNows(r2), "T lags: no TimeoutNow yet");
    }
    assertEquals(List.of(), r2.reads(), "the lease no longer serves the read");
    assertFalse(sentTo(r2, "n2", AppendEntries.class).isEmpty(), "a ReadIndex round goes to n2");
    assertFalse(sentTo(r2, "n3", AppendEntries.class).isEmpty(), "and to n3");

    ackRounds(l, r2, ackers); // the round is confirmed during the transfer
    Ready r3 = l.ready();
    assertEquals(List.of(new ReadState(2, commit)), r3.reads(), "the read is served through its round");

    l.leaseRead(3);
    Ready r4 = l.ready();
    assertEquals(List.of(), r4.reads(), "a round confirmed during the transfer renews no lease");
    assertFalse(sent(r4, AppendEntries.class).isEmpty(), "the read waits for another round");
    // Still the case a few ticks later, rounds being confirmed all along.
    tickAcking(l, HB, ackers);
    ackRounds(l, r4, ackers);
    assertEquals(List.of(new ReadState(3, commit)), l.ready().reads());
    l.leaseRead(4);
    assertEquals(List.of(), l.ready().reads(), "no lease while the transfer is pending");
    assertEquals(Role.LEADER, l.role());
  }

  /**
   * The transfer's TimeoutNow is delayed in the network until after L has aborted the transfer and
   * gone on leading, its rounds confirmed by both followers. When it reaches T, T's election is a
   * transfer election that n3 considers although it has just heard from L; T wins with n3 and
   * commits a write, while T's messages to L are lost. L, which still believes it leads, must not
   * serve a read from a lease then: a TimeoutNow sent in a term may start an election at any time,
   * so a leader that sent one takes no lease for the rest of that term.
   */
  @Test
  void lease_T6_4_1_03_noLeaseAfterAnAbortedTransferInTheSameTerm() {
    CoreCluster c = clusterLedByN1(leaseSettings(LEASE), 2);
    RaftCore l = c.node("n1");
    RaftCore t = c.node("n2");
    List<TimeoutNow> held = new ArrayList<>();
    c.dropIf((to, m) -> {
      if (m instanceof TimeoutNow tn) held.add(tn);
      return m instanceof TimeoutNow;
    });
    l.transferLeadership("n2", 30);
    c.settle();
    assertEquals(1, held.size(), "setup: the TimeoutNow left L and is held in the network");
    c.tickUntil(TIMEOUT_MAX, () -> !c.outcomesOf("n1", 30).isEmpty());
    assertTrue(single(c.outcomesOf("n1", 30)) instanceof ProposalOutcome.Rejected, "setup: the transfer was aborted");
    c.tick(2 * HB); // L leads on; both followers confirm its rounds
    assertEquals(Role.LEADER, l.role(), "setup");
    assertEquals("n1", t.leaderId(), "setup: T still follows L");

    c.dropIf((to, m) -> to.equals("n1") && m.from().equals("n2")); // L hears nothing of T's term
    t.step(held.get(0)); // the late TimeoutNow
    c.settle();
    assertEquals(Role.LEADER, t.role(), "setup: T won its transfer election with n3's vote");
    long w = t.propose(cmd("written by T"), 31);
    c.settle();
    assertTrue(c.committedWith("n2", 31), "setup: T committed a write at " + w);
    assertEquals(Role.LEADER, l.role(), "setup: L does not know yet");

    l.leaseRead(32);
    Ready r = l.ready();
    for (ReadState rs : r.reads()) {
      assertTrue(rs.index() >= w, "read " + rs.correlationId() + " served at index " + rs.index()
          + ", missing the write committed at " + w + ": a stale read");
    }
    assertEquals(List.of(), r.reads(), "no lease: the read waits for a round, which L cannot complete");
  }

  /**
   * The bar on leases lasts only for the term in which TimeoutNow was sent: n1 hands over to n2,
   * n2 hands back, and n1, leading again in a later term, serves lease reads at once once its
   * rounds are confirmed.
   */
  @Test
  void lease_T6_4_1_03_leaseReturnsInALaterTerm() {
    CoreCluster c = clusterLedByN1(leaseSettings(LEASE), 2);
    RaftCore l = c.node("n1");
    long term = l.term();
    l.transferLeadership("n2", 60);
    c.settle();
    assertEquals(List.of(new ProposalOutcome.Transferred(60, "n2")), c.outcomesOf("n1", 60), "setup");
    c.tick(HB);
    c.node("n2").transferLeadership("n1", 61);
    c.settle();
    assertEquals(List.of(new ProposalOutcome.Transferred(61, "n1")), c.outcomesOf("n2", 61), "setup");
    assertEquals(Role.LEADER, l.role(), "setup");
    assertEquals(term + 2, l.term(), "setup: n1 leads again, in a later term");
    c.tick(2 * HB); // its no-op commits, its rounds are confirmed

    l.leaseRead(62);
    Ready r = l.ready();
    assertEquals(List.of(new ReadState(62, l.commitIndex())), r.reads(), "a lease read is served at once");
    assertEquals(List.of(), sent(r, AppendEntries.class), "without a round");
  }

  // ------------------------------------------------------------------ T4.2.2-04

  /**
   * L hands its leadership to the most up-to-date voter, which then removes L. The removal commits,
   * and at no point is the group without a leader (of the highest term any member holds) for more
   * than one election timeout, counted in ticks.
   */
  @Test
  void removal_T4_2_2_04_transferThenRemoveTheOldLeader() {
    CoreCluster c = clusterLedByN1(settings(), 3);
    RaftCore l = c.node("n1");
    long term = l.term();
    int[] gap = {0};
    int[] longest = {0};
    Runnable count = () -> {
      long highest = 0;
      for (String id : List.of("n1", "n2", "n3")) highest = Math.max(highest, c.node(id).term());
      RaftCore ld = c.leader();
      if (ld == null || ld.term() < highest) gap[0]++;
      else gap[0] = 0;
      longest[0] = Math.max(longest[0], gap[0]);
    };

    l.transferLeadership(null, 20);
    for (int i = 0; i < TIMEOUT_MAX && c.outcomesOf("n1", 20).isEmpty(); i++) {
      c.tick(1);
      count.run();
    }
    ProposalOutcome o = single(c.outcomesOf("n1", 20));
    assertTrue(o instanceof ProposalOutcome.Transferred, "transferred: " + o);
    RaftCore nl = c.leader();
    assertNotNull(nl);
    assertNotEquals("n1", nl.id());
    assertEquals(((ProposalOutcome.Transferred) o).target(), nl.id());
    assertEquals(term + 1, nl.term());
    c.tickUntil(TIMEOUT_MAX, () -> nl.commitIndex() == nl.lastIndex()); // its no-op commits

    nl.changeMembership(List.of(new MembershipChange.Remove("n1")), 21);
    for (int i = 0; i < 5 * TIMEOUT_MAX; i++) {
      c.tick(1);
      count.run();
    }
    assertTrue(c.committedWith(nl.id(), 21), "the removal commits: " + c.outcomes);
    List<String> rest = new ArrayList<>(List.of("n2", "n3"));
    for (String id : rest) assertEquals(List.of("n2", "n3"), c.node(id).config().voters(), id);
    assertSame(nl, c.leader(), "the new leader still leads");
    assertEquals(term + 1, nl.term(), "in the same term: the removed member disrupted nothing");
    assertTrue(longest[0] <= TIMEOUT_MAX, "leaderless for " + longest[0] + " ticks in a row");
  }
}
