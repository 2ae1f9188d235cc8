package io.raftactors.core;

import static io.raftactors.core.CoreFixture.*;
import static io.raftactors.core.RaftBasicsTest.cfg;
import static io.raftactors.core.RaftBasicsTest.makeCandidate;
import static org.junit.jupiter.api.Assertions.*;

import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import io.raftactors.core.RaftMessage.PreVote;
import io.raftactors.core.RaftMessage.PreVoteResponse;
import io.raftactors.core.RaftMessage.RequestVote;
import io.raftactors.core.RaftMessage.RequestVoteResponse;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Pre-vote (thesis 9.6), and the client-facing side of leadership (thesis 6.2): redirection of
 * proposals and the check-quorum step-down. Unit tests of the pure core; the subject is n1.
 * Pre-vote tests run with pre-vote on and check-quorum both on and off; the thesis 6.2 tests run
 * with check-quorum on.
 */
class PreVoteAndCheckQuorumTest {
  static final ClusterConfig THREE = members(3);
  static final ClusterConfig FIVE = members(5);

  static RaftConfig preVoteOn(boolean checkQuorum) {
    return cfg(true, checkQuorum);
  }

  /** The PreVotes of a Ready by recipient. */
  static Map<String, List<PreVote>> preVotesByPeer(Ready r) {
    Map<String, List<PreVote>> m = new TreeMap<>();
    for (Outbound o : allMessages(r)) {
      if (o.message() instanceof PreVote pv) m.computeIfAbsent(o.to(), k -> new java.util.ArrayList<>()).add(pv);
    }
    return m;
  }

  // ------------------------------------------------------------------ T9.6-01

  @ParameterizedTest(name = "checkQuorum={0}")
  @ValueSource(booleans = {false, true})
  void preVote_T9_6_01_preCandidateKeepsItsTermAndPersistsNothing(boolean checkQuorum) {
    RaftCore f = node("n1", FIVE, 5, "n2", fixed(10), preVoteOn(checkQuorum), 1, 2, 4);
    List<Ready> quiet = tick(f, 9);
    assertEquals(Role.FOLLOWER, f.role(), "setup: not before the timeout");
    assertTrue(sent(quiet, PreVote.class).isEmpty());

    f.tick(); // the timeout fires
    Ready r = f.ready();

    assertEquals(Role.PRE_CANDIDATE, f.role());
    assertEquals(5, f.term(), "the term stays 5");
    assertEquals("n2", f.status().votedFor(), "the vote is unchanged");
    assertFalse(r.hasWrite(), "nothing is persisted: " + r);
    PreVote expected = new PreVote(6, "n1", 3, 4);
    assertEquals(Map.of("n2", List.of(expected), "n3", List.of(expected), "n4", List.of(expected), "n5",
        List.of(expected)), preVotesByPeer(r), "PreVote{proposed term 6, lastLogIndex 3, lastLogTerm 4} to every other voter");
    assertTrue(sent(r, RequestVote.class).isEmpty(), "no real election yet");
  }

  // ------------------------------------------------------------------ T9.6-02

  /** Delivers a PreVote and checks the answer changed none of the voter's own election state. */
  static boolean askPreVote(RaftCore v, PreVote pv) {
    long term = v.term();
    Role role = v.role();
    String leader = v.leaderId();
    CoreStatus before = v.status();

    Ready r = step(v, pv);

    CoreStatus after = v.status();
    assertEquals(term, v.term(), "answering never changes the term");
    assertEquals(before.votedFor(), after.votedFor(), "nor the vote");
    assertEquals(role, v.role());
    assertEquals(leader, v.leaderId());
    assertEquals(before.electionElapsed(), after.electionElapsed(), "nor the timer");
    assertEquals(before.randomizedElectionTimeout(), after.randomizedElectionTimeout(), "no new timeout drawn");
    assertNull(r.hardState(), "nothing written");
    List<PreVoteResponse> replies = sentTo(r, pv.from(), PreVoteResponse.class);
    assertEquals(1, replies.size(), "one reply: " + r);
    PreVoteResponse reply = replies.get(0);
    assertEquals(reply.granted() ? pv.term() : term, reply.term(),
        "a grant carries the proposed term, a denial the voter's own");
    return reply.granted();
  }

  @ParameterizedTest(name = "checkQuorum={0}")
  @ValueSource(booleans = {false, true})
  void preVote_T9_6_02_grantOnlyToUpToDateLogWithoutRecentLeader(boolean checkQuorum) {
    // The timeout drawn is 20 ticks, so the voter stays a follower past electionTimeoutMin (10).
    RaftCore v = node("n1", FIVE, 5, "n2", fixed(20), preVoteOn(checkQuorum), 1, 1, 3, 3);

    // No leader heard from: the log decides (the P5.4.1-01 comparison).
    assertTrue(askPreVote(v, new PreVote(6, "n3", 4, 3)), "same last term, same length");
    assertTrue(askPreVote(v, new PreVote(9, "n4", 2, 4)), "higher last term; a much higher proposed term is no different");
    assertFalse(askPreVote(v, new PreVote(6, "n3", 3, 3)), "same last term, shorter log");
    assertFalse(askPreVote(v, new PreVote(6, "n5", 40, 2)), "lower last term");

    // A leader is heard from: even an up-to-date candidate is denied while the leader is recent.
    step(v, new AppendEntries(5, "n2", 4, 3, List.of(), 0));
    assertEquals("n2", v.leaderId(), "setup");
    for (int i = 0; i < 10; i++) {
      int elapsed = v.status().electionElapsed();
      boolean granted = askPreVote(v, new PreVote(6, "n3", 10, 4));
      assertEquals(elapsed >= 10, granted, "heard from the leader " + elapsed + " ticks ago");
      v.tick();
      v.ready();
      assertEquals(elapsed + 1, v.status().electionElapsed(), "the timer keeps counting after each answer");
    }
    assertEquals(10, v.status().electionElapsed());
    assertTrue(askPreVote(v, new PreVote(6, "n3", 10, 4)), "electionTimeoutMin ticks without the leader");
    assertFalse(askPreVote(v, new PreVote(6, "n3", 3, 3)), "still never to a stale log");
    assertEquals(Role.FOLLOWER, v.role());

    // The answers did not move the deadline: the timer fires at its 20th tick.
    tick(v, 9);
    assertEquals(Role.FOLLOWER, v.role());
    v.tick();
    assertEquals(Role.PRE_CANDIDATE, v.role());
  }

  @ParameterizedTest(name = "checkQuorum={0}")
  @ValueSource(booleans = {false, true})
  void preVote_T9_6_02_leaderDeniesPreVote(boolean checkQuorum) {
    RaftCore l = node("n1", THREE, 4, null, fixed(10), preVoteOn(checkQuorum), 1, 1);
    elect(l);
    long term = l.term();
    Ready r = step(l, new PreVote(term + 1, "n2", 10, term));
    assertEquals(List.of(new PreVoteResponse(term, "n1", false)), sent(r, PreVoteResponse.class));
    assertEquals(Role.LEADER, l.role());
    assertEquals(term, l.term());
  }

  // ------------------------------------------------------------------ T9.6-03

  @ParameterizedTest(name = "checkQuorum={0}")
  @ValueSource(booleans = {false, true})
  void preVote_T9_6_03_realElectionOnlyAfterPreVoteMajority(boolean checkQuorum) {
    RaftCore p = node("n1", FIVE, 5, null, fixed(10), preVoteOn(checkQuorum), 1, 2);
    tickUntil(p, 100, () -> p.role() == Role.PRE_CANDIDATE);

    Ready r = step(p, new PreVoteResponse(6, "n2", true));
    assertEquals(Role.PRE_CANDIDATE, p.role(), "2 of 5");
    assertEquals(5, p.term());
    assertFalse(r.hasWrite());
    assertTrue(sent(r, RequestVote.class).isEmpty());

    p.step(new PreVoteResponse(6, "n4", true));
    r = p.ready();
    // With a majority (3 of 5, counting itself) it runs a normal election (P5.2-01).
    assertEquals(Role.CANDIDATE, p.role());
    assertEquals(6, p.term(), "term + 1");
    assertEquals("n1", p.status().votedFor());
    assertEquals(new HardState(6, "n1"), r.hardState(), "term and self-vote written");
    assertTrue(r.messages().isEmpty(), "RequestVote waits for the write");
    RequestVote rv = new RequestVote(6, "n1", 2, 2);
    assertEquals(List.of(new Outbound("n2", rv), new Outbound("n3", rv), new Outbound("n4", rv), new Outbound("n5", rv)),
        r.messagesAfterPersist());
  }

  @ParameterizedTest(name = "checkQuorum={0}")
  @ValueSource(booleans = {false, true})
  void preVote_T9_6_03_withoutMajorityNoElectionAndRetryAfterNewTimeout(boolean checkQuorum) {
    // Draws: 10 at start, 14 for the first pre-vote round, 12 for the next.
    RaftCore p = node("n1", FIVE, 5, "n3", sequence(10, 14, 12), preVoteOn(checkQuorum), 1, 2);
    tickUntil(p, 100, () -> p.role() == Role.PRE_CANDIDATE);
    assertEquals(14, p.status().randomizedElectionTimeout(), "setup");

    // One grant and three denials: no majority.
    p.step(new PreVoteResponse(6, "n2", true));
    p.step(new PreVoteResponse(5, "n3", false));
    p.step(new PreVoteResponse(5, "n4", false));
    p.step(new PreVoteResponse(5, "n5", false));
    Ready r = p.ready();
    // It never left term 5: the pre-candidate role is the follower state of term 5 plus a pending
    // pre-vote round; it did not become a candidate, and wrote and sent nothing.
    assertNotEquals(Role.CANDIDATE, p.role());
    assertNotEquals(Role.LEADER, p.role());
    assertEquals(5, p.term());
    assertEquals("n3", p.status().votedFor());
    assertTrue(r.isEmpty(), "no write, no RequestVote: " + r);

    // Still a follower of term 5: a leader of term 5 is accepted as such.
    RaftCore q = node("n1", FIVE, 5, "n3", sequence(10, 14, 12), preVoteOn(checkQuorum), 1, 2);
    tickUntil(q, 100, () -> q.role() == Role.PRE_CANDIDATE);
    q.step(new PreVoteResponse(5, "n4", false));
    step(q, new AppendEntries(5, "n3", 2, 2, List.of(), 0));
    assertEquals(Role.FOLLOWER, q.role());
    assertEquals("n3", q.leaderId());
    assertEquals(5, q.term());

    // It tries again only when the newly drawn timeout (14) fires, with the same proposed term.
    List<Ready> waiting = tick(p, 13);
    assertTrue(sent(waiting, PreVote.class).isEmpty(), "no new round before the timeout");
    assertTrue(sent(waiting, RequestVote.class).isEmpty());
    p.tick();
    r = p.ready();
    assertEquals(Role.PRE_CANDIDATE, p.role());
    assertEquals(5, p.term());
    assertEquals(Set.of("n2", "n3", "n4", "n5"), preVotesByPeer(r).keySet(), "a new pre-vote round");
    assertTrue(sent(r, PreVote.class).stream().allMatch(pv -> pv.term() == 6));
    CoreStatus st = p.status();
    assertEquals(12, st.randomizedElectionTimeout(), "with a new timeout");
    assertEquals(Set.of("n1"), st.votesGranted(), "the new round starts with its own vote only");
    assertFalse(r.hasWrite());
  }

  // ------------------------------------------------------------------ T9.6-05

  @ParameterizedTest(name = "checkQuorum={0}")
  @ValueSource(booleans = {false, true})
  void preVote_T9_6_05_higherTermInPreVoteRejectionForcesStepDown(boolean checkQuorum) {
    RaftCore p = node("n1", THREE, 5, "n2", fixed(10), preVoteOn(checkQuorum), 1, 2);
    tickUntil(p, 100, () -> p.role() == Role.PRE_CANDIDATE);

    // A grant carries the proposed term 6; that is not a newer term to adopt.
    RaftCore g = node("n1", FIVE, 5, "n2", fixed(10), preVoteOn(checkQuorum), 1, 2);
    tickUntil(g, 100, () -> g.role() == Role.PRE_CANDIDATE);
    Ready gr = step(g, new PreVoteResponse(6, "n3", true));
    assertEquals(5, g.term(), "a grant's proposed term is not adopted");
    assertFalse(gr.hasWrite());

    Ready r = step(p, new PreVoteResponse(9, "n3", false));
    assertEquals(Role.FOLLOWER, p.role());
    assertEquals(9, p.term());
    assertNull(p.status().votedFor());
    assertNull(p.leaderId());
    assertEquals(new HardState(9, null), r.hardState(), "the new term is persisted");
  }

  // ------------------------------------------------------------------ T6.2-01

  @Test
  void client_T6_2_01_followerRedirectsToKnownLeader() {
    RaftCore f = node("n1", THREE, 5, "n2", fixed(20), settings(), 1, 2); // times out after 20 ticks
    persist(f, step(f, new AppendEntries(5, "n2", 2, 2, List.of(), 0)));

    assertEquals(-1, f.propose(cmd("x"), 7));
    Ready r = f.ready();
    assertEquals(List.of(new ProposalOutcome.NotLeader(7, "n2")), r.outcomes(), "not-leader, with the leader of term 5");
    assertEquals(2, f.lastIndex(), "nothing appended");
    assertFalse(r.hasWrite());
    assertTrue(allMessages(r).isEmpty(), "nothing forwarded to any node: " + r);

    // Once the term moves on, the leader of an older term is no longer offered.
    // No leader contact for electionTimeoutMin ticks, so a higher-term RequestVote is heard (and
    // denied: its log is stale); the node moves to term 6, where it knows no leader.
    tick(f, 10);
    persist(f, step(f, new RequestVote(6, "n3", 1, 1)));
    assertEquals(6, f.term(), "setup");
    assertEquals(Role.FOLLOWER, f.role(), "setup");
    assertEquals(-1, f.propose(cmd("y"), 8));
    assertEquals(List.of(new ProposalOutcome.NotLeader(8, null)), f.ready().outcomes(), "no leader known in term 6");
    assertEquals(2, f.lastIndex());
  }

  @ParameterizedTest(name = "preVote={0}")
  @ValueSource(booleans = {false, true})
  void client_T6_2_01_candidateAnswersNotLeaderWithoutLeader(boolean preVote) {
    RaftCore c = node("n1", THREE, 5, "n2", fixed(10), cfg(preVote, true), 1, 2);
    persist(c, step(c, new AppendEntries(5, "n2", 2, 2, List.of(), 0))); // n2 led term 5
    makeCandidate(c);
    assertEquals(6, c.term(), "setup");
    long last = c.lastIndex();

    assertEquals(-1, c.propose(cmd("x"), 3));
    Ready r = c.ready();
    assertEquals(List.of(new ProposalOutcome.NotLeader(3, null)), r.outcomes(), "no leader known in term 6");
    assertEquals(last, c.lastIndex(), "nothing appended");
    assertFalse(r.hasWrite());
    assertTrue(allMessages(r).isEmpty(), "nothing sent: " + r);
    assertEquals(Role.CANDIDATE, c.role());
  }

  // ------------------------------------------------------------------ T6.2-02

  @Test
  void client_T6_2_02_leaderCutOffStepsDownWithinOneElectionTimeoutOfMajorityContact() {
    RaftConfig c = settings(); // check-quorum on, electionTimeoutMin 10
    RaftCore l = node("n1", FIVE, 2, null, fixed(10), c, 1, 2);
    Ready won = elect(l);
    ackAll(l, won);
    long term = l.term();
    long match = l.lastIndex();
    assertEquals(match, l.commitIndex(), "setup");

    // Normal operation for a while: n2 and n3 answer every tick, n4 and n5 are silent (dead).
    for (int i = 0; i < 15; i++) {
      l.tick();
      l.ready();
      l.step(AppendEntriesResponse.success(term, "n2", match));
      l.step(AppendEntriesResponse.success(term, "n3", match));
    }
    assertEquals(Role.LEADER, l.role(), "a majority (itself, n2, n3) keeps it leader");

    // n3's last word, 3 ticks before the cut, is a (late, stale) rejection: it still counts as
    // contact. n2's last word is at the cut, tick t.
    l.tick();
    l.step(AppendEntriesResponse.success(term, "n3", match));
    l.tick();
    l.tick();
    l.step(AppendEntriesResponse.reject(term, "n3", 1, 1, 0));
    long majorityContact = l.status().now();
    l.tick();
    l.tick();
    l.tick();
    l.step(AppendEntriesResponse.success(term, "n2", match));
    long cut = l.status().now();
    l.ready();

    // Proposals and a read made after the cut stay pending: they cannot commit, and no majority
    // confirms the read's heartbeat round.
    long p1 = l.propose(cmd("a"), 101);
    long p2 = l.propose(cmd("b"), 102);
    l.readIndex(201);
    Ready pr = l.ready();
    persist(l, pr);
    assertEquals(List.of(p1, p2), pr.entries().stream().map(LogEntry::index).toList(), "setup");
    assertEquals(List.of(), pr.reads(), "setup");
    assertEquals(List.of(), pr.outcomes(), "setup");

    // The majority (itself, n2, n3) was last complete at majorityContact: it steps down no later
    // than electionTimeoutMin ticks after that, and not while that majority is recent.
    long deadline = majorityContact + c.electionTimeoutMin();
    assertTrue(deadline > cut, "setup: the bound is after the cut");
    Ready last = null;
    for (long now = l.status().now(); now < deadline; now = l.status().now()) {
      assertEquals(Role.LEADER, l.role(), "tick " + now + ": a majority was heard " + (now - majorityContact) + " ticks ago");
      l.tick();
      last = l.ready();
      if (l.role() == Role.LEADER) {
        assertEquals(List.of(), last.outcomes(), "nothing fails while leader");
        assertEquals(List.of(), last.reads(), "no read is served without a majority");
      }
    }
    CoreStatus st = l.status();
    assertEquals(deadline, st.now());
    assertEquals(Role.FOLLOWER, l.role(), "stepped down at " + st.now() + ", majority contact at " + majorityContact);
    assertEquals(term, l.term(), "in the same term");
    assertEquals("n1", st.votedFor());
    assertNull(l.leaderId());
    assertNull(last.hardState(), "no term change to write");
    assertTrue(sent(last, AppendEntries.class).isEmpty(), "no more heartbeats");
    assertTrue(last.committed().isEmpty());
    assertEquals(List.of(), last.reads(), "the read is not served");
    assertEquals(Set.of(new ProposalOutcome.Unknown(101, ""), new ProposalOutcome.Unknown(102, ""),
            new ProposalOutcome.NotLeader(201, null)),
        Set.copyOf(last.outcomes().stream()
            .map(o -> o instanceof ProposalOutcome.Unknown ? new ProposalOutcome.Unknown(o.correlationId(), "") : o)
            .toList()),
        "pending proposals end as unknown, the pending read as not-leader: " + last.outcomes());
    assertEquals(3, last.outcomes().size(), "each exactly once: " + last.outcomes());
    assertEquals(0, l.status().pendingProposals());

    // New work is refused from now on.
    assertEquals(-1, l.propose(cmd("c"), 103));
    assertEquals(List.of(new ProposalOutcome.NotLeader(103, null)), l.ready().outcomes());
  }
}
