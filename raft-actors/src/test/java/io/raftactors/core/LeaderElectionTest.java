package io.raftactors.core;

import static io.raftactors.core.CoreFixture.*;
import static io.raftactors.core.RaftBasicsTest.cfg;
import static io.raftactors.core.RaftBasicsTest.makeCandidate;
import static org.junit.jupiter.api.Assertions.*;

import io.raftactors.core.RaftBasicsTest.CountingRandom;
import io.raftactors.core.RaftBasicsTest.Disk;
import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import io.raftactors.core.RaftMessage.PreVote;
import io.raftactors.core.RaftMessage.PreVoteResponse;
import io.raftactors.core.RaftMessage.RequestVote;
import io.raftactors.core.RaftMessage.RequestVoteResponse;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Leader election (paper 5.2, thesis 3.4): unit tests of the pure core. Timeouts are injected so
 * that every timer firing can be checked to the tick; most tests run with the optional election
 * features (pre-vote, check-quorum) both off and on.
 */
class LeaderElectionTest {
  static final ClusterConfig THREE = members(3);
  static final ClusterConfig FIVE = members(5);

  static Stream<Arguments> featureSettings() {
    return RaftBasicsTest.featureSettings();
  }

  /** Ticks once per call until the role changes; returns the number of ticks taken. */
  static int ticksUntilRoleChanges(RaftCore n, int max) {
    Role before = n.role();
    for (int i = 1; i <= max; i++) {
      n.tick();
      if (n.role() != before) return i;
      n.ready();
    }
    throw new AssertionError("role did not change within " + max + " ticks: " + n);
  }

  /** The RequestVotes of a Ready, each with its recipient. */
  static Map<String, List<RequestVote>> requestVotesByPeer(List<Outbound> out) {
    Map<String, List<RequestVote>> m = new TreeMap<>();
    for (Outbound o : out) {
      if (o.message() instanceof RequestVote rv) m.computeIfAbsent(o.to(), k -> new ArrayList<>()).add(rv);
    }
    return m;
  }

  // ------------------------------------------------------------------ P5.2-01

  @ParameterizedTest(name = "checkQuorum={0}")
  @ValueSource(booleans = {false, true})
  void election_P5_2_01_timedOutFollowerBecomesCandidate_preVoteOff(boolean checkQuorum) {
    // Draws: 15 at start, 11 at the leader's last heartbeat, 17 for the candidacy.
    RaftCore f = node("n1", THREE, 2, null, sequence(15, 11, 17), cfg(false, checkQuorum), 1, 2);
    step(f, new AppendEntries(2, "n2", 2, 2, List.of(), 0)); // last word from the leader

    List<Ready> quiet = tick(f, 10);
    assertEquals(Role.FOLLOWER, f.role(), "not before the drawn timeout");
    assertTrue(sent(quiet, RequestVote.class).isEmpty());

    f.tick(); // tick 11: the drawn timeout
    assertEquals(Role.CANDIDATE, f.role(), "at that exact tick");
    Ready r = f.ready();
    assertCandidacy(f, r, 17);
  }

  @ParameterizedTest(name = "checkQuorum={0}")
  @ValueSource(booleans = {false, true})
  void election_P5_2_01_timedOutFollowerBecomesCandidate_preVoteOn(boolean checkQuorum) {
    // Draws: 15 at start, 11 at the leader's last heartbeat, 13 for the pre-vote, 17 for the candidacy.
    RaftCore f = node("n1", THREE, 2, null, sequence(15, 11, 13, 17), cfg(true, checkQuorum), 1, 2);
    step(f, new AppendEntries(2, "n2", 2, 2, List.of(), 0));

    tick(f, 10);
    assertEquals(Role.FOLLOWER, f.role(), "not before the drawn timeout");
    f.tick(); // tick 11: the timer fires and F first runs pre-vote, in its old term
    assertEquals(Role.PRE_CANDIDATE, f.role());
    Ready pre = f.ready();
    assertEquals(2, f.term(), "pre-vote changes no term");
    assertNull(pre.hardState(), "pre-vote persists nothing");
    assertTrue(sent(pre, RequestVote.class).isEmpty(), "no RequestVote before a pre-vote majority");
    assertEquals(2, sent(pre, PreVote.class).size());
    assertEquals(13, f.status().randomizedElectionTimeout(), "a fresh timeout for the pre-vote round");

    // One grant is a majority of 3: candidacy follows at once.
    f.step(new PreVoteResponse(3, "n3", true));
    assertEquals(Role.CANDIDATE, f.role());
    assertCandidacy(f, f.ready(), 17);
  }

  /** n1 (log [1,2]) is Candidate of term 3 and {@code r} is the Ready of its candidacy. */
  private static void assertCandidacy(RaftCore f, Ready r, int freshTimeout) {
    CoreStatus st = f.status();
    assertEquals(3, f.term());
    assertEquals("n1", st.votedFor());
    // Term and self-vote are written in the same round as the RequestVotes, which leave only
    // after the write.
    assertEquals(new HardState(3, "n1"), r.hardState());
    assertTrue(requestVotesByPeer(r.messages()).isEmpty(), "no RequestVote before the write: " + r.messages());
    Map<String, List<RequestVote>> rvs = requestVotesByPeer(r.messagesAfterPersist());
    assertEquals(Set.of("n2", "n3"), rvs.keySet(), "each other voter");
    for (List<RequestVote> perPeer : rvs.values()) {
      assertEquals(List.of(new RequestVote(3, "n1", 2, 2)), perPeer, "exactly one, with the last log entry");
    }
    assertEquals(freshTimeout, st.randomizedElectionTimeout(), "a freshly drawn timeout");
    assertEquals(0, st.electionElapsed());
  }

  // ------------------------------------------------------------------ P5.2-02

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_02_rejectedAppendEntriesFromLeaderResetsTimer(boolean preVote, boolean checkQuorum) {
    // Draws: 10 at start, 14 at a reset.
    RaftCore f = node("n1", THREE, 3, null, sequence(10, 14), cfg(preVote, checkQuorum), 1, 1);
    tick(f, 4);
    Ready r = step(f, new AppendEntries(3, "n2", 5, 3, List.of(), 0)); // fails the consistency check
    assertFalse(sent(r, AppendEntriesResponse.class).get(0).success(), "setup");
    assertEquals(14, ticksUntilRoleChanges(f, 100), "fires the drawn 14 ticks after the request");
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_02_grantedVoteResetsTimer(boolean preVote, boolean checkQuorum) {
    RaftCore f = node("n1", THREE, 3, null, sequence(10, 14), cfg(preVote, checkQuorum), 1, 1);
    tick(f, 4);
    Ready r = step(f, new RequestVote(4, "n3", 2, 1));
    assertTrue(sent(r, RequestVoteResponse.class).get(0).granted(), "setup");
    assertEquals(14, ticksUntilRoleChanges(f, 100), "fires the drawn 14 ticks after the grant");
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_02_deniedVoteDoesNotResetTimer(boolean preVote, boolean checkQuorum) {
    // n1 already voted for n2 in term 3; a reset would draw 14.
    RaftCore f = node("n1", THREE, 3, "n2", sequence(10, 14), cfg(preVote, checkQuorum), 1, 1);
    tick(f, 4);
    Ready r = step(f, new RequestVote(3, "n3", 2, 1));
    assertFalse(sent(r, RequestVoteResponse.class).get(0).granted(), "setup");
    assertEquals(6, ticksUntilRoleChanges(f, 100), "still fires at the original tick 10");
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_02_staleAppendEntriesDoesNotResetTimer(boolean preVote, boolean checkQuorum) {
    RaftCore f = node("n1", THREE, 3, null, sequence(10, 14), cfg(preVote, checkQuorum), 1, 1);
    tick(f, 4);
    Ready r = step(f, new AppendEntries(2, "n2", 2, 1, List.of(), 0));
    assertFalse(sent(r, AppendEntriesResponse.class).get(0).success(), "setup");
    assertEquals(6, ticksUntilRoleChanges(f, 100), "still fires at the original tick 10");
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_02_timeoutCountsFromTheLastResettingEvent(boolean preVote, boolean checkQuorum) {
    // Draws: 10 at start, then 16 for the grant (b), then 13 for the rejected AppendEntries (a).
    RaftCore f = node("n1", THREE, 3, null, sequence(10, 16, 13, 19), cfg(preVote, checkQuorum), 1, 1);
    tick(f, 3);
    assertTrue(sent(step(f, new RequestVote(3, "n3", 2, 1)), RequestVoteResponse.class).get(0).granted()); // (b)
    tick(f, 3);
    assertFalse(sent(step(f, new RequestVote(3, "n2", 2, 1)), RequestVoteResponse.class).get(0).granted()); // (c)
    tick(f, 3);
    assertFalse(sent(step(f, new AppendEntries(2, "n2", 2, 1, List.of(), 0)), AppendEntriesResponse.class)
        .get(0).success()); // (d)
    tick(f, 2);
    // (a): n3 won term 3; its first request does not match n1's log.
    assertFalse(sent(step(f, new AppendEntries(3, "n3", 4, 3, List.of(), 0)), AppendEntriesResponse.class)
        .get(0).success());
    tick(f, 4);
    assertFalse(sent(step(f, new RequestVote(3, "n2", 2, 1)), RequestVoteResponse.class).get(0).granted()); // (c)
    tick(f, 2);
    assertFalse(sent(step(f, new AppendEntries(2, "n2", 2, 1, List.of(), 0)), AppendEntriesResponse.class)
        .get(0).success()); // (d)
    assertEquals(Role.FOLLOWER, f.role(), "setup");
    // 13 ticks after (a), of which 6 have passed.
    assertEquals(7, ticksUntilRoleChanges(f, 100));
  }

  // ------------------------------------------------------------------ P5.2-03

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_03_candidateWithMajorityBecomesLeader(boolean preVote, boolean checkQuorum) {
    RaftCore c = node("n1", FIVE, 2, null, fixed(10), cfg(preVote, checkQuorum), 1, 1, 2);
    if (preVote) {
      tickUntil(c, 100, () -> c.role() == Role.PRE_CANDIDATE);
      c.step(new PreVoteResponse(3, "n2", true));
      c.step(new PreVoteResponse(3, "n3", true));
    } else {
      tickUntil(c, 100, () -> c.role() == Role.CANDIDATE);
    }
    assertEquals(Role.CANDIDATE, c.role(), "setup");
    persist(c, c.ready());
    long t = c.term();

    step(c, new RequestVoteResponse(t, "n4", true));
    assertEquals(Role.CANDIDATE, c.role(), "2 of 5 is no majority");

    c.step(new RequestVoteResponse(t, "n5", true));
    assertEquals(Role.LEADER, c.role(), "3 of 5, counting itself");
    assertEquals(t, c.term());
    CoreStatus st = c.status();
    for (String p : List.of("n2", "n3", "n4", "n5")) {
      assertEquals(4, st.nextIndex(p), "nextIndex = lastLogIndex + 1 for " + p);
      assertEquals(0, st.matchIndex(p), "matchIndex = 0 for " + p);
    }
    // It contacts every peer at once, without waiting for its own write (thesis 10.2.1).
    Ready r = c.ready();
    for (String p : List.of("n2", "n3", "n4", "n5")) {
      List<AppendEntries> aes = new ArrayList<>();
      for (Outbound o : r.messages()) {
        if (o.to().equals(p) && o.message() instanceof AppendEntries ae) aes.add(ae);
      }
      assertEquals(1, aes.size(), "one AppendEntries to " + p + ": " + r);
      AppendEntries ae = aes.get(0);
      assertEquals(t, ae.term());
      assertEquals(3, ae.prevLogIndex());
      assertEquals(2, ae.prevLogTerm());
    }
  }

  // ------------------------------------------------------------------ P5.2-04

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_04_eachVoterIsCountedOnce(boolean preVote, boolean checkQuorum) {
    RaftCore c = node("n1", FIVE, 1, null, fixed(10), cfg(preVote, checkQuorum), 1);
    if (preVote) {
      tickUntil(c, 100, () -> c.role() == Role.PRE_CANDIDATE);
      c.step(new PreVoteResponse(2, "n2", true));
      c.step(new PreVoteResponse(2, "n3", true));
    } else {
      tickUntil(c, 100, () -> c.role() == Role.CANDIDATE);
    }
    assertEquals(Role.CANDIDATE, c.role(), "setup");
    c.ready();
    for (int i = 0; i < 3; i++) c.step(new RequestVoteResponse(c.term(), "n4", true));

    assertEquals(Role.CANDIDATE, c.role(), "one voter three times is still one vote");
    assertEquals(Set.of("n1", "n4"), c.status().votesGranted(), "a tally of 2 of 5");
    // The same holds for a duplicated pre-vote grant, which would otherwise open an election.
    if (preVote) {
      RaftCore p = node("n1", FIVE, 1, null, fixed(10), cfg(true, checkQuorum), 1);
      tickUntil(p, 100, () -> p.role() == Role.PRE_CANDIDATE);
      for (int i = 0; i < 3; i++) p.step(new PreVoteResponse(2, "n4", true));
      assertEquals(Role.PRE_CANDIDATE, p.role());
      assertEquals(Set.of("n1", "n4"), p.status().votesGranted());
    }
  }

  // ------------------------------------------------------------------ P5.2-05

  @Test
  void election_P5_2_05_denialsDoNotEndElection_preVoteOff() {
    // Draws: 10 at start, 13 for the first candidacy, 16 for the next.
    RaftCore c = node("n1", THREE, 2, null, sequence(10, 13, 16), cfg(false, false), 1, 1);
    makeCandidate(c);
    long t = c.term();
    assertDenialsKeepCandidate(c, t);

    c.tick(); // the 13th tick: a new election in t+1
    assertEquals(Role.CANDIDATE, c.role());
    assertEquals(t + 1, c.term());
    CoreStatus st = c.status();
    assertEquals("n1", st.votedFor());
    assertEquals(16, st.randomizedElectionTimeout(), "a newly drawn timeout");
    Ready r = c.ready();
    assertEquals(new HardState(t + 1, "n1"), r.hardState());
    assertEquals(Set.of("n2", "n3"), requestVotesByPeer(r.messagesAfterPersist()).keySet());
  }

  @Test
  void election_P5_2_05_denialsDoNotEndElection_preVoteOn() {
    // Draws: 10 at start, 11 pre-vote, 13 candidacy, 16 for the next pre-vote round.
    RaftCore c = node("n1", THREE, 2, null, sequence(10, 11, 13, 16), cfg(true, true), 1, 1);
    makeCandidate(c);
    long t = c.term();
    assertDenialsKeepCandidate(c, t);

    c.tick(); // the 13th tick: the next round starts, with pre-vote, for term t+1
    assertEquals(Role.PRE_CANDIDATE, c.role());
    assertEquals(16, c.status().randomizedElectionTimeout(), "a newly drawn timeout");
    Ready r = c.ready();
    List<PreVote> pvs = sent(r, PreVote.class);
    assertEquals(2, pvs.size());
    for (PreVote pv : pvs) assertEquals(t + 1, pv.term(), "it proposes term t+1");
    // Its voters' logs turned out older than they said (or were caught up meanwhile): it proceeds.
    c.step(new PreVoteResponse(t + 1, "n2", true));
    assertEquals(Role.CANDIDATE, c.role());
    assertEquals(t + 1, c.term());
  }

  /** Both peers deny in term t; the candidate keeps campaigning in t for its full 13-tick timeout. */
  private static void assertDenialsKeepCandidate(RaftCore c, long t) {
    assertEquals(13, c.status().randomizedElectionTimeout(), "setup");
    c.step(new RequestVoteResponse(t, "n2", false));
    c.step(new RequestVoteResponse(t, "n3", false));
    c.ready();
    for (int i = 1; i < 13; i++) {
      assertEquals(Role.CANDIDATE, c.role(), "still Candidate after " + (i - 1) + " ticks");
      assertEquals(t, c.term());
      c.tick();
      c.ready();
    }
    assertEquals(Role.CANDIDATE, c.role());
    assertEquals(t, c.term());
  }

  // ------------------------------------------------------------------ P5.2-06

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_06_candidateYieldsToLeaderOfEqualTerm(boolean preVote, boolean checkQuorum) {
    RaftCore c = node("n1", THREE, 3, null, fixed(10), cfg(preVote, checkQuorum), 1, 1);
    makeCandidate(c);
    assertEquals(4, c.term(), "setup");

    // L = n2, leader of term 4; its request matches at (2, 1) and brings entry 3 of term 4.
    Ready r = step(c, new AppendEntries(4, "n2", 2, 1, entriesFrom(3, 4), 2));

    assertEquals(Role.FOLLOWER, c.role());
    assertEquals(4, c.term());
    assertEquals("n1", c.status().votedFor(), "its vote in term 4 stays cast");
    assertEquals("n2", c.leaderId());
    assertNull(r.hardState(), "term and vote are unchanged");
    assertEquals(3, c.lastIndex());
    assertEquals(4, c.termAt(3));
    assertEquals(List.of(3L), r.entries().stream().map(LogEntry::index).toList(), "the entry is written");
    assertEquals(List.of(AppendEntriesResponse.success(4, "n1", 3)), sent(r, AppendEntriesResponse.class));
    assertEquals(2, c.commitIndex());
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_06_candidateYieldsAndRejectsMismatchingRequest(boolean preVote, boolean checkQuorum) {
    RaftCore c = node("n1", THREE, 3, null, fixed(10), cfg(preVote, checkQuorum), 1, 1);
    makeCandidate(c);
    Ready r = step(c, new AppendEntries(4, "n2", 5, 4, entriesFrom(6, 4), 2));

    assertEquals(Role.FOLLOWER, c.role());
    assertEquals("n2", c.leaderId());
    assertEquals("n1", c.status().votedFor());
    List<AppendEntriesResponse> replies = sent(r, AppendEntriesResponse.class);
    assertEquals(1, replies.size());
    assertFalse(replies.get(0).success(), "the consistency check still applies");
    assertEquals(2, c.lastIndex(), "log unchanged");
  }

  // ------------------------------------------------------------------ P5.2-07

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_07_candidateYieldsToHigherTerm(boolean preVote, boolean checkQuorum) {
    RaftCore c = node("n1", THREE, 3, null, fixed(10), cfg(preVote, checkQuorum), 1, 1);
    makeCandidate(c);
    assertEquals(4, c.term(), "setup");

    Ready r = step(c, new AppendEntries(6, "n2", 2, 1, List.of(), 0));

    assertEquals(Role.FOLLOWER, c.role());
    assertEquals(6, c.term());
    assertNull(c.status().votedFor(), "votedFor cleared");
    assertEquals(new HardState(6, null), r.hardState());
    assertEquals("n2", c.leaderId());
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_07_candidateIgnoresLowerTermLeader(boolean preVote, boolean checkQuorum) {
    RaftCore c = node("n1", THREE, 3, null, fixed(10), cfg(preVote, checkQuorum), 1, 1);
    makeCandidate(c);
    int elapsed = c.status().electionElapsed();

    Ready r = step(c, new AppendEntries(3, "n2", 2, 1, entriesFrom(3, 3), 2));

    assertEquals(Role.CANDIDATE, c.role());
    assertEquals(4, c.term());
    assertEquals("n1", c.status().votedFor());
    assertNull(c.leaderId());
    List<AppendEntriesResponse> replies = sent(r, AppendEntriesResponse.class);
    assertEquals(1, replies.size());
    assertEquals(4, replies.get(0).term(), "the reply carries the candidate's term");
    assertFalse(replies.get(0).success());
    assertEquals(2, c.lastIndex(), "nothing appended");
    assertFalse(r.hasWrite());
    assertEquals(elapsed, c.status().electionElapsed(), "its election timer runs on");
  }

  // ------------------------------------------------------------------ P5.2-08 (core part)

  /**
   * A scripted network of cores: each node's write completes as soon as its output is collected,
   * and messages wait in one queue until the test delivers them. It records every (term, leader)
   * pair it ever observes.
   */
  private static final class Net {
    final Map<String, RaftCore> nodes = new LinkedHashMap<>();
    final Deque<Outbound> queue = new ArrayDeque<>();
    final Map<Long, Set<String>> leaders = new TreeMap<>();

    Net(RaftCore... cores) {
      for (RaftCore c : cores) nodes.put(c.id(), c);
    }

    void collect(RaftCore c) {
      Ready r = c.ready();
      persist(c, r);
      queue.addAll(r.messages());
      queue.addAll(r.messagesAfterPersist());
      for (RaftCore n : nodes.values()) {
        if (n.role() == Role.LEADER) leaders.computeIfAbsent(n.term(), k -> new HashSet<>()).add(n.id());
      }
    }

    void tickAll() {
      for (RaftCore c : nodes.values()) {
        c.tick();
        collect(c);
      }
    }

    void deliver(Outbound o) {
      RaftCore to = nodes.get(o.to());
      to.step(o.message());
      collect(to);
    }

    /** Delivers the first queued message from {@code from} to {@code to} of the given type. */
    void deliver(String from, String to, Class<? extends RaftMessage> type) {
      for (Iterator<Outbound> it = queue.iterator(); it.hasNext(); ) {
        Outbound o = it.next();
        if (o.to().equals(to) && o.message().from().equals(from) && type.isInstance(o.message())) {
          it.remove();
          deliver(o);
          return;
        }
      }
      throw new AssertionError("no " + type.getSimpleName() + " " + from + "->" + to + " in " + queue);
    }

    /** Delivers, in order, every queued message of the given types (and what they cause), until none is left. */
    void deliverAllOf(Set<Class<?>> types) {
      boolean again = true;
      while (again) {
        again = false;
        for (Iterator<Outbound> it = queue.iterator(); it.hasNext(); ) {
          Outbound o = it.next();
          if (types.stream().anyMatch(t -> t.isInstance(o.message()))) {
            it.remove();
            deliver(o);
            again = true;
            break;
          }
        }
      }
    }

    void deliverAll() {
      while (!queue.isEmpty()) deliver(queue.poll());
    }
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_08_splitVoteResolvesThroughFreshTimeouts(boolean preVote, boolean checkQuorum) {
    RaftConfig cfg = cfg(preVote, checkQuorum);
    ClusterConfig four = members(4);
    // n1 and n2 both time out at tick 10; at their next draw n1 gets 12 and n2 gets 17.
    RaftCore n1 = new RaftCore("n1", cfg, sequence(10, 12), DurableState.empty(four));
    RaftCore n2 = new RaftCore("n2", cfg, sequence(10, 17), DurableState.empty(four));
    RaftCore n3 = new RaftCore("n3", cfg, fixed(20), DurableState.empty(four));
    RaftCore n4 = new RaftCore("n4", cfg, fixed(20), DurableState.empty(four));
    Net net = new Net(n1, n2, n3, n4);

    for (int i = 0; i < 10; i++) net.tickAll();
    net.deliverAllOf(Set.of(PreVote.class, PreVoteResponse.class)); // both pass pre-vote, if on
    assertEquals(Role.CANDIDATE, n1.role(), "setup");
    assertEquals(Role.CANDIDATE, n2.role(), "setup");
    long t = n1.term();
    assertEquals(t, n2.term(), "setup: both start the same term");

    // n3 hears n1 first and n4 hears n2 first: each candidate wins exactly one other vote.
    net.deliver("n1", "n3", RequestVote.class);
    net.deliver("n2", "n4", RequestVote.class);
    net.deliverAll();
    CoreStatus s1 = n1.status();
    CoreStatus s2 = n2.status();
    assertEquals(Set.of("n1", "n3"), s1.votesGranted());
    assertEquals(Set.of("n2", "n4"), s2.votesGranted());
    assertEquals(Role.CANDIDATE, n1.role());
    assertEquals(Role.CANDIDATE, n2.role());
    assertFalse(net.leaders.containsKey(t), "no leader in term " + t);
    // Each drew a new timeout from the injected source when it became candidate.
    assertEquals(12, s1.randomizedElectionTimeout());
    assertEquals(17, s2.randomizedElectionTimeout());

    // 11 ticks later still nothing; at the 12th n1's timer fires first and it wins term t+1.
    for (int i = 0; i < 11; i++) net.tickAll();
    assertTrue(net.queue.isEmpty(), "nobody campaigns before n1's fresh timeout: " + net.queue);
    assertEquals(t, n1.term());
    net.tickAll();
    net.deliverAll();
    assertEquals(Role.LEADER, n1.role());
    assertEquals(t + 1, n1.term());
    assertEquals(Role.FOLLOWER, n2.role());
    assertEquals(Map.of(t + 1, Set.of("n1")), net.leaders, "exactly one leader, in term t+1 only");
  }

  // ------------------------------------------------------------------ P5.2-09

  @Test
  void election_P5_2_09_seededTimeoutsAreWithinBoundsAndReproducible() {
    RaftConfig cfg = settings();
    int min = cfg.electionTimeoutMin();
    int max = cfg.electionTimeoutMax();
    List<String> ids = List.of("n1", "n2", "n3", "n4", "n5");
    Map<String, int[]> seqs = new LinkedHashMap<>();
    for (String id : ids) {
      RandomSource r = RandomSource.seeded(42, id);
      int[] s = new int[10_000];
      Set<Integer> seen = new HashSet<>();
      for (int i = 0; i < s.length; i++) {
        s[i] = r.between(min, max);
        assertTrue(s[i] >= min && s[i] <= max, id + " drew " + s[i]);
        seen.add(s[i]);
      }
      // Both bounds are inclusive and every value is reachable.
      assertEquals(max - min + 1, seen.size(), id + " covers [" + min + ", " + max + "]");
      seqs.put(id, s);
    }
    for (int a = 0; a < ids.size(); a++) {
      for (int b = a + 1; b < ids.size(); b++) {
        assertFalse(java.util.Arrays.equals(seqs.get(ids.get(a)), seqs.get(ids.get(b))),
            ids.get(a) + " and " + ids.get(b) + " must not share a sequence");
      }
    }
    for (String id : ids) {
      RandomSource again = RandomSource.seeded(42, id);
      int[] s = new int[10_000];
      for (int i = 0; i < s.length; i++) s[i] = again.between(min, max);
      assertArrayEquals(seqs.get(id), s, "the same seed reproduces " + id + "'s sequence");
    }
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_09_everyResetDrawsANewTimeout(boolean preVote, boolean checkQuorum) {
    RaftConfig cfg = cfg(preVote, checkQuorum);
    CountingRandom rnd = new CountingRandom(RandomSource.seeded(42, "n1"));
    RaftCore f = new RaftCore("n1", cfg, rnd, DurableState.empty(THREE));
    Set<Integer> timeouts = new HashSet<>();
    for (int i = 1; i <= 200; i++) {
      int before = rnd.draws;
      tick(f, 1 + i % 5);
      step(f, new AppendEntries(1, "n2", 0, 0, List.of(), 0)); // a heartbeat: a timer reset
      assertEquals(before + 1, rnd.draws, "reset " + i + " draws once");
      CoreStatus st = f.status();
      assertEquals(rnd.last, st.randomizedElectionTimeout(), "and arms what it drew");
      assertEquals(0, st.electionElapsed());
      timeouts.add(st.randomizedElectionTimeout());
    }
    assertTrue(timeouts.size() > 1, "resets do not reuse one value: " + timeouts);

    // A candidacy (and a pre-vote round, if on) draws anew as well.
    int before = rnd.draws;
    int armed = f.status().randomizedElectionTimeout();
    assertEquals(armed, ticksUntilRoleChanges(f, 100), "the armed timeout is the one that fires");
    assertEquals(before + 1, rnd.draws, "the new round draws");
    assertEquals(rnd.last, f.status().randomizedElectionTimeout());
  }

  // ------------------------------------------------------------------ P5.2-10

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_10_atMostOneVotePerTerm(boolean preVote, boolean checkQuorum) {
    RaftCore f = node("n1", FIVE, 6, null, fixed(20), cfg(preVote, checkQuorum), 1, 1);

    Ready a = step(f, new RequestVote(7, "n2", 2, 1)); // A
    assertEquals(List.of(new RequestVoteResponse(7, "n1", true)), sent(a, RequestVoteResponse.class));
    assertEquals(new HardState(7, "n2"), a.hardState());

    Ready b = step(f, new RequestVote(7, "n3", 9, 6)); // B, with an even better log
    assertEquals(List.of(new RequestVoteResponse(7, "n1", false)), sent(b, RequestVoteResponse.class));
    assertEquals("n2", f.status().votedFor(), "votedFor stays A");
    assertNull(b.hardState());

    Ready again = step(f, new RequestVote(7, "n2", 2, 1)); // A's repeat
    assertEquals(List.of(new RequestVoteResponse(7, "n1", true)), sent(again, RequestVoteResponse.class),
        "granting is idempotent");
    assertEquals("n2", f.status().votedFor());
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_10_candidateAndLeaderDenyOtherCandidatesOfTheirTerm(boolean preVote, boolean checkQuorum) {
    RaftCore c = node("n1", FIVE, 6, null, fixed(10), cfg(preVote, checkQuorum), 1, 1);
    if (preVote) {
      tickUntil(c, 100, () -> c.role() == Role.PRE_CANDIDATE);
      c.step(new PreVoteResponse(7, "n4", true));
      c.step(new PreVoteResponse(7, "n5", true));
    } else {
      tickUntil(c, 100, () -> c.role() == Role.CANDIDATE);
    }
    assertEquals(Role.CANDIDATE, c.role(), "setup");
    assertEquals(7, c.term(), "setup");
    c.ready();
    for (String other : List.of("n2", "n3")) {
      Ready r = step(c, new RequestVote(7, other, 9, 6));
      assertEquals(List.of(new RequestVoteResponse(7, "n1", false)), sent(r, RequestVoteResponse.class));
      assertEquals("n1", c.status().votedFor());
      assertEquals(Role.CANDIDATE, c.role());
    }

    RaftCore l = node("n1", FIVE, 6, null, fixed(10), cfg(preVote, checkQuorum), 1, 1);
    elect(l);
    assertEquals(7, l.term(), "setup");
    for (String other : List.of("n2", "n3")) {
      Ready r = step(l, new RequestVote(7, other, 9, 6));
      assertEquals(List.of(new RequestVoteResponse(7, "n1", false)), sent(r, RequestVoteResponse.class));
      assertEquals("n1", l.status().votedFor());
      assertEquals(Role.LEADER, l.role());
    }
  }

  // ------------------------------------------------------------------ P5.2-13 (core part)

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_13_selfVoteSurvivesRestart(boolean preVote, boolean checkQuorum) {
    RaftConfig cfg = cfg(preVote, checkQuorum);
    Disk disk = new Disk(THREE, 8, null, logOfTerms(1, 8));
    RaftCore c = disk.restart("n1", cfg, fixed(10));
    for (int i = 0; i < 100 && c.role() != Role.CANDIDATE; i++) {
      c.tick();
      if (c.role() == Role.PRE_CANDIDATE) c.step(new PreVoteResponse(9, "n3", true));
      disk.ready(c); // every write the node asks for completes
    }
    assertEquals(Role.CANDIDATE, c.role(), "setup");
    assertEquals(9, c.term(), "setup");

    // Crash now, then restart from what storage holds.
    RaftCore restarted = disk.restart("n1", cfg, fixed(10));
    assertEquals(9, restarted.term());
    assertEquals("n1", restarted.status().votedFor());
    Ready r = step(restarted, new RequestVote(9, "n2", 5, 9)); // B, with a better log
    assertEquals(List.of(new RequestVoteResponse(9, "n1", false)), sent(r, RequestVoteResponse.class));
    assertEquals("n1", restarted.status().votedFor());
  }

  // ------------------------------------------------------------------ P5.2-14 (core part)

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void election_P5_2_14_singleVoterElectsItselfAndCommitsOnlyAfterItsOwnWrite(boolean preVote, boolean checkQuorum) {
    RaftCore n = new RaftCore("n1", cfg(preVote, checkQuorum), fixed(10), DurableState.empty(ClusterConfig.of("n1")));

    List<Ready> rs = tick(n, 10);
    assertEquals(Role.LEADER, n.role(), "its timeout fired at tick 10");
    assertEquals(1, n.term());
    for (Ready r : rs) assertTrue(allMessages(r).isEmpty(), "no message: " + r);
    Ready election = rs.get(rs.size() - 1);
    assertEquals(new HardState(1, "n1"), election.hardState());
    assertEquals(1, election.entries().size(), "its no-op");
    assertTrue(election.committed().isEmpty(), "the no-op is not applied before its write completes");
    assertEquals(0, n.commitIndex());

    // The no-op's write completes: now it commits and is applied.
    persist(n, election);
    Ready noop = n.ready();
    assertEquals(1, n.commitIndex());
    assertEquals(List.of(1L), noop.committed().stream().map(c -> c.entry().index()).toList());

    long idx = n.propose(cmd("x"), 5);
    Ready append = n.ready();
    assertEquals(List.of(idx), append.entries().stream().map(LogEntry::index).toList());
    assertTrue(append.committed().isEmpty(), "never applied in the same step as the append");
    assertEquals(1, n.commitIndex(), "not committed before the write completes");
    assertTrue(n.ready().committed().isEmpty(), "nor later, while the write is outstanding");
    n.tick();
    assertTrue(n.ready().committed().isEmpty(), "nor after a tick");

    n.persisted(idx, 1);
    Ready applied = n.ready();
    assertEquals(idx, n.commitIndex());
    assertEquals(1, applied.committed().size());
    assertEquals(idx, applied.committed().get(0).entry().index());
    assertEquals(5, applied.committed().get(0).correlationId(), "its caller is answered");
  }
}
