package io.raftactors.core;

import static io.raftactors.core.CoreFixture.*;
import static org.junit.jupiter.api.Assertions.*;

import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import io.raftactors.core.RaftMessage.PreVoteResponse;
import io.raftactors.core.RaftMessage.ReadIndexRequest;
import io.raftactors.core.RaftMessage.ReadIndexResponse;
import io.raftactors.core.RaftMessage.RequestVoteResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Linearizable reads (thesis 6.4) and lease reads (thesis 6.4.1): unit tests of the pure core. The
 * leader is n1. Followers' acknowledgements are built by hand, so each test decides exactly which
 * heartbeat round is acknowledged, by whom and when; where a follower's own behaviour matters
 * (follower reads) it is a real core and messages are carried between the two by hand.
 */
class ReadIndexTest {
  static final ClusterConfig THREE = members(3);
  static final ClusterConfig FIVE = members(5);
  static final int HB = settings().heartbeatInterval();
  static final int LEASE = 8;

  /** ReadIndex does not depend on the optional election features: run with them on and off. */
  static Stream<Arguments> featureSettings() {
    return Stream.of(Arguments.of(false, false), Arguments.of(true, true));
  }

  static RaftConfig cfg(boolean preVote, boolean checkQuorum) {
    return settings().withPreVote(preVote).withCheckQuorum(checkQuorum);
  }

  /** The default settings with lease reads of {@code ticks} (check-quorum is on by default). */
  static RaftConfig leaseSettings(int ticks) {
    RaftConfig d = settings();
    return new RaftConfig(d.electionTimeoutMin(), d.electionTimeoutMax(), d.heartbeatInterval(), d.preVote(),
        d.checkQuorum(), d.conflictHint(), d.maxEntriesPerAppend(), d.maxBytesPerAppend(), d.maxInflightAppends(),
        d.snapshotChunkBytes(), ticks);
  }

  /**
   * Elects n1 of {@code members} holding {@code logTerms} (term 1 entries give a term 2 leader), lets
   * every follower acknowledge the no-op without echoing any round, and applies it: a leader with a
   * commit in its term and no round confirmed yet.
   */
  static RaftCore leaderWithCommit(ClusterConfig members, RaftConfig cfg, long... logTerms) {
    RaftCore leader = node("n1", members, 1, null, fixed(10), cfg, logTerms);
    ackAll(leader, elect(leader));
    leader.ready();
    assertEquals(leader.lastIndex(), leader.commitIndex(), "setup: the no-op is committed");
    assertEquals(leader.lastIndex(), leader.lastApplied(), "setup: the no-op is applied");
    return leader;
  }

  /** The AppendEntries of {@code r} addressed to {@code peer}. */
  static List<AppendEntries> appendsTo(Ready r, String peer) {
    return sentTo(r, peer, AppendEntries.class);
  }

  /** The success reply a follower gives to {@code ae}, echoing its round. */
  static AppendEntriesResponse ackOf(AppendEntries ae, String peer) {
    return AppendEntriesResponse.success(ae.term(), peer, ae.lastIndex()).withRound(ae.round());
  }

  /** Delivers the replies of {@code peers} to every AppendEntries {@code r} sent them. */
  static void ack(RaftCore leader, Ready r, String... peers) {
    for (String p : peers) for (AppendEntries ae : appendsTo(r, p)) leader.step(ackOf(ae, p));
  }

  /** Ticks {@code n} times; returns every AppendEntries sent meanwhile, by follower (all dropped). */
  static Map<String, List<AppendEntries>> tickCollect(RaftCore core, int n) {
    Map<String, List<AppendEntries>> out = new HashMap<>();
    for (Ready r : tick(core, n)) {
      for (Outbound o : allMessages(r)) {
        if (o.message() instanceof AppendEntries ae) out.computeIfAbsent(o.to(), k -> new ArrayList<>()).add(ae);
      }
    }
    return out;
  }

  static long maxRound(Ready r) {
    long m = -1;
    for (AppendEntries ae : sent(r, AppendEntries.class)) m = Math.max(m, ae.round());
    return m;
  }

  static List<Long> notLeaderIds(Ready r) {
    List<Long> out = new ArrayList<>();
    for (ProposalOutcome o : r.outcomes()) if (o instanceof ProposalOutcome.NotLeader) out.add(o.correlationId());
    return out;
  }

  // ------------------------------------------------------------------ T6.4-01

  /**
   * A new leader whose own write of its no-op is slow (thesis 10.2.1): one follower acknowledges
   * every round, so leadership is confirmed, but the no-op cannot commit. Until it does, the
   * leader's commit index may be behind what the previous leader committed, so no read is served.
   */
  @ParameterizedTest(name = "lease read={0}")
  @ValueSource(booleans = {false, true})
  void readIndex_T6_4_01_readWaitsForACommitInTheLeadersTerm(boolean lease) {
    RaftCore leader = node("n1", THREE, 1, null, fixed(10), lease ? leaseSettings(LEASE) : settings(), 1, 1, 1);
    // Elected by hand so that the no-op (index 4, term 2) is handed to storage but never reported durable.
    tickUntil(leader, 100, () -> leader.role() == Role.PRE_CANDIDATE);
    leader.step(new PreVoteResponse(2, "n2", true));
    leader.ready();
    leader.step(new RequestVoteResponse(2, "n2", true));
    assertEquals(Role.LEADER, leader.role(), "setup");
    Ready won = leader.ready();
    assertEquals(4, won.lastEntry().index(), "setup: the no-op");
    assertEquals(3, leader.status().stableIndex(), "setup: the no-op is not durable on the leader");

    if (lease) leader.leaseRead(7);
    else leader.readIndex(7);
    Ready r = leader.ready();
    ack(leader, won, "n2"); // n2 holds the no-op: match 4 on n2 only, 3 on the leader
    ack(leader, r, "n2");
    // Several heartbeat rounds, each acknowledged by n2: a majority (n1 + n2) confirms them.
    for (int i = 0; i < 3; i++) {
      for (Ready t : tick(leader, HB)) {
        ack(leader, t, "n2");
        assertEquals(List.of(), t.reads(), "no read before a commit in the leader's term");
      }
      if (lease) {
        leader.leaseRead(100 + i); // the lease holds, but the lease read needs the commit as well
        assertEquals(List.of(), leader.ready().reads(), "no lease read before a commit in the leader's term");
      }
    }
    assertEquals(0, leader.commitIndex(), "setup: nothing committed in term 2");
    assertEquals(List.of(), leader.ready().reads());

    // The leader's write completes: the no-op commits. The read is taken at the new commit index and
    // still needs a round started after that.
    leader.persisted(4, 2);
    assertEquals(4, leader.commitIndex());
    Ready afterCommit = leader.ready();
    assertEquals(List.of(), afterCommit.reads(), "a fresh round is still needed");
    ack(leader, afterCommit, "n2");
    List<ReadState> served = leader.ready().reads();
    assertTrue(served.contains(new ReadState(7, 4)), "served at the first commit of term 2: " + served);
    for (ReadState s : served) assertEquals(4, s.index(), "every read waited for index 4: " + served);
  }

  // ------------------------------------------------------------------ T6.4-02

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void readIndex_T6_4_02_readIndexIsTheCommitIndexWhenTheReadArrives(boolean preVote, boolean checkQuorum) {
    long[] log = new long[39];
    java.util.Arrays.fill(log, 1);
    RaftCore leader = leaderWithCommit(THREE, cfg(preVote, checkQuorum), log); // term 2, no-op at 40
    assertEquals(40, leader.commitIndex(), "setup");

    // A write is on its way; the read arrives while commitIndex is still 40.
    assertEquals(41, leader.propose(cmd("w"), 41));
    Ready w = leader.ready();
    persist(leader, w);
    leader.readIndex(5);
    // The write commits (its acks echo a round sent before the read) before the read is confirmed.
    ack(leader, w, "n2");
    assertEquals(41, leader.commitIndex(), "setup: the commit index moved on after the read arrived");
    Ready r = leader.ready();
    assertEquals(List.of(), r.reads(), "not confirmed yet");
    assertEquals(41, leader.lastApplied(), "setup");

    ack(leader, r, "n2");
    Ready served = leader.ready();
    assertEquals(List.of(new ReadState(5, 40)), served.reads(), "the read index is the commit index at arrival");
    // The answer reflects every entry up to its read index: the state machine has applied them.
    assertTrue(leader.lastApplied() >= 40);
  }

  // ------------------------------------------------------------------ T6.4-03

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void readIndex_T6_4_03_acksOfHeartbeatsSentBeforeTheReadDoNotConfirmIt(boolean preVote, boolean checkQuorum) {
    RaftCore leader = leaderWithCommit(FIVE, cfg(preVote, checkQuorum)); // term 2, no-op at 1
    long commit = leader.commitIndex();

    // A heartbeat round goes out to every follower; its acks are still in flight when the read arrives.
    Map<String, List<AppendEntries>> before = tickCollect(leader, HB);
    assertEquals(4, before.size(), "setup: heartbeats to every follower");
    long oldRound = before.get("n2").get(0).round();

    leader.readIndex(1);
    leader.step(ackOf(before.get("n2").get(0), "n2"));
    leader.step(ackOf(before.get("n3").get(0), "n3"));
    Ready r = leader.ready();
    assertEquals(List.of(), r.reads(), "acks of a round sent before the read do not confirm it");

    // The read makes the leader start a fresh round at once, to every follower.
    for (String f : List.of("n2", "n3", "n4", "n5")) {
      List<AppendEntries> fresh = appendsTo(r, f);
      assertFalse(fresh.isEmpty(), "a heartbeat to " + f + " right after the read: " + r);
      assertTrue(fresh.get(0).round() > oldRound, "the new heartbeat carries a later round");
    }
    // More late acks of the old round, now from the rest of the group: all four followers
    // acknowledged a round, but one sent before the read.
    leader.step(ackOf(before.get("n4").get(0), "n4"));
    leader.step(ackOf(before.get("n5").get(0), "n5"));
    assertEquals(List.of(), leader.ready().reads(), "four acks of an older round do not confirm the read");

    // A majority of 5, counting the leader, must acknowledge the new round.
    ack(leader, r, "n2");
    assertEquals(List.of(), leader.ready().reads(), "leader + n2 is not a majority of 5");
    ack(leader, r, "n3");
    assertEquals(List.of(new ReadState(1, commit)), leader.ready().reads(), "leader + n2 + n3 confirm the round");
  }

  /**
   * A rejection echoes the round too: it proves the follower still follows this leader in this
   * term, so it confirms the round. n2 holds [1,2,2] (entries of a deposed term-2 leader) and the
   * term 3 leader, without the conflict hint, backs up one index per rejection.
   */
  @Test
  void readIndex_T6_4_03_rejectionsEchoingANewRoundConfirmToo() {
    RaftCore leader = node("n1", THREE, 2, null, fixed(10), settings().withConflictHint(false), 1, 1, 1);
    Ready won = elect(leader); // term 3, no-op at 4
    ack(leader, won, "n3");
    leader.ready();
    assertEquals(4, leader.commitIndex(), "setup");
    AppendEntries probe = appendsTo(won, "n2").get(0);
    assertEquals(3, probe.prevLogIndex(), "setup");

    leader.readIndex(3);
    // n2's rejection of the probe sent at the election arrives after the read: it does not count.
    leader.step(AppendEntriesResponse.reject(3, "n2", 3, 2, 2).withRound(probe.round()));
    Ready r = leader.ready();
    assertEquals(List.of(), r.reads(), "a rejection of a message sent before the read does not confirm it");
    // The new probe (prev 2) carries the new round; n2 rejects it as well, and that confirms the read.
    AppendEntries probe2 = null;
    for (AppendEntries ae : appendsTo(r, "n2")) if (!ae.entries().isEmpty()) probe2 = ae;
    assertNotNull(probe2, "the leader backs up: " + r);
    assertEquals(2, probe2.prevLogIndex());
    leader.step(AppendEntriesResponse.reject(3, "n2", 2, 2, 2).withRound(probe2.round()));
    assertEquals(List.of(new ReadState(3, 4)), leader.ready().reads());
  }

  // ------------------------------------------------------------------ T6.4-04

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void readIndex_T6_4_04_readIsServedOnlyOnceItsIndexIsApplied(boolean preVote, boolean checkQuorum) {
    long[] log = new long[34];
    java.util.Arrays.fill(log, 1);
    RaftCore leader = leaderWithCommit(THREE, cfg(preVote, checkQuorum), log); // term 2, no-op at 35
    for (int i = 36; i <= 40; i++) leader.propose(cmd("w" + i), i);
    Ready w = leader.ready();
    // Both followers store 36..40: committed (the leader's own write is still outstanding), and the
    // read arrives before the core has handed them out to be applied: its index is 40.
    ack(leader, w, "n2", "n3");
    assertEquals(40, leader.commitIndex(), "setup");
    assertEquals(35, leader.lastApplied(), "setup: lastApplied 35, commitIndex 40");
    leader.readIndex(9);
    Ready r = leader.ready();
    assertEquals(40, r.committed().get(r.committed().size() - 1).entry().index(), "36..40 are applied in this Ready");
    assertEquals(List.of(), r.reads(), "not served before its round is confirmed");

    ack(leader, r, "n2", "n3"); // the round is confirmed
    Ready served = leader.ready();
    assertEquals(List.of(new ReadState(9, 40)), served.reads(), "served once confirmed, with lastApplied >= 40");
    assertEquals(40, leader.lastApplied());
    // A follower's read, whose index its own apply may lag, waits for it: T6.4-09 below.
  }

  // ------------------------------------------------------------------ T6.4-06

  @Test
  void readIndex_T6_4_06_readsNeverTouchTheLog() {
    RaftCore leader = leaderWithCommit(THREE, leaseSettings(LEASE), 1, 1);
    long last = leader.lastIndex();
    long lastTerm = leader.status().lastTerm();
    int served = 0;
    for (int i = 0; i < 1000; i++) {
      if (i % 2 == 0) leader.readIndex(i);
      else leader.leaseRead(i);
      if (i % 10 == 9) {
        Ready r = leader.ready();
        assertEquals(List.of(), r.entries(), "a read wrote to the log");
        assertNull(r.hardState());
        assertFalse(r.hasWrite());
        for (AppendEntries ae : sent(r, AppendEntries.class)) assertEquals(List.of(), ae.entries());
        served += r.reads().size();
        ack(leader, r, "n2", "n3");
        served += leader.ready().reads().size();
      }
    }
    assertEquals(1000, served, "every read was served");
    assertEquals(last, leader.lastIndex(), "the log length is unchanged");
    assertEquals(lastTerm, leader.status().lastTerm());
    assertEquals(last, leader.commitIndex());
  }

  // ------------------------------------------------------------------ T6.4-07

  @Test
  void readIndex_T6_4_07_oneRoundConfirmsManyReadsEachWithItsOwnIndex() {
    RaftCore leader = leaderWithCommit(THREE, settings(), 1, 1); // term 2, no-op at 3
    long first = leader.commitIndex();
    leader.propose(cmd("w"), 1);
    Ready w = leader.ready();
    persist(leader, w);
    for (int i = 0; i < 25; i++) leader.readIndex(i);
    ack(leader, w, "n2"); // the write commits between the two batches (its ack echoes an older round)
    long second = leader.commitIndex();
    assertEquals(first + 1, second, "setup");
    for (int i = 25; i < 50; i++) leader.readIndex(i);

    Ready r = leader.ready();
    assertEquals(List.of(), r.reads());
    for (String f : List.of("n2", "n3")) {
      assertEquals(1, appendsTo(r, f).size(), "one heartbeat per follower for all 50 reads: " + r);
    }
    ack(leader, r, "n2"); // one ack of the one round
    List<ReadState> served = leader.ready().reads();
    assertEquals(50, served.size(), "one round confirmed all 50 reads");
    for (ReadState s : served) {
      assertEquals(s.correlationId() < 25 ? first : second, s.index(), "read " + s.correlationId() + " keeps its index");
    }
  }

  // ------------------------------------------------------------------ T6.4-08

  enum StepDown { HIGHER_TERM_APPEND, HIGHER_TERM_RESPONSE, CHECK_QUORUM }

  static void stepDown(RaftCore leader, StepDown how) {
    long t = leader.term();
    if (how == StepDown.HIGHER_TERM_APPEND) {
      leader.step(new AppendEntries(t + 1, "n3", 0, 0, List.of(), 0));
    } else if (how == StepDown.HIGHER_TERM_RESPONSE) {
      leader.step(AppendEntriesResponse.reject(t + 1, "n2", 0, 1, 0));
    } else {
      // No follower is heard from: check-quorum. (No ready() in between: the step-down's output is
      // what the test reads next.)
      for (int i = 0; i < 100 && leader.role() == Role.LEADER; i++) leader.tick();
    }
    assertEquals(Role.FOLLOWER, leader.role(), "setup: stepped down");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("stepDowns")
  void readIndex_T6_4_08_pendingReadsFailWhenTheLeaderStepsDown(StepDown how) {
    RaftCore leader = leaderWithCommit(THREE, settings());
    leader.readIndex(1);
    leader.readIndex(2);
    leader.step(new ReadIndexRequest(leader.term(), "n2", 77)); // a read forwarded by n2
    Ready r = leader.ready();
    assertEquals(List.of(), r.reads(), "setup: waiting for the round");
    AppendEntries hb = appendsTo(r, "n2").get(0);

    stepDown(leader, how);
    Ready down = leader.ready();
    assertTrue(notLeaderIds(down).containsAll(List.of(1L, 2L)), "local reads fail as not-leader: " + down.outcomes());
    List<ReadIndexResponse> answers = sentTo(down, "n2", ReadIndexResponse.class);
    assertEquals(1, answers.size(), "the forwarding follower is told: " + down);
    assertEquals(77, answers.get(0).requestId());
    assertEquals(-1, answers.get(0).readIndex());
    assertEquals(List.of(), down.reads());

    // The round's acks arrive late: nothing is served any more.
    leader.step(ackOf(hb, "n2"));
    leader.step(ackOf(hb, "n3"));
    for (Ready t : tick(leader, 5)) {
      assertEquals(List.of(), t.reads(), "no read served after the step-down");
      assertTrue(sent(t, ReadIndexResponse.class).stream().allMatch(a -> a.readIndex() == -1));
    }
  }

  static Stream<StepDown> stepDowns() {
    return Stream.of(StepDown.values());
  }

  /** Reads waiting for the first commit of the term fail too. */
  @Test
  void readIndex_T6_4_08_readsWaitingForTheFirstCommitFailOnStepDown() {
    RaftCore leader = node("n1", THREE, 1, null, fixed(10), settings(), 1, 1);
    Ready won = elect(leader);
    leader.readIndex(4);
    leader.ready();
    stepDown(leader, StepDown.HIGHER_TERM_APPEND);
    Ready down = leader.ready();
    assertEquals(List.of(4L), notLeaderIds(down));
    ProposalOutcome.NotLeader nl = (ProposalOutcome.NotLeader) down.outcomes().get(0);
    assertEquals("n3", nl.leaderHint(), "the new leader is named");
    // The old term's acks of the no-op change nothing now.
    ackAll(leader, won);
    assertEquals(List.of(), leader.ready().reads());
  }

  // ------------------------------------------------------------------ T6.4-09

  /** A leader n1 and a real follower n2 of three; n3's replies are built by hand. */
  static final class Pair {
    final RaftCore leader;
    final RaftCore follower;

    Pair(RaftConfig cfg) {
      leader = node("n1", THREE, 1, null, fixed(10), cfg, 1, 1, 1);
      follower = node("n2", THREE, 1, null, fixed(20), cfg, 1, 1, 1);
      Ready won = elect(leader); // term 2, no-op at 4
      toFollower(won);
      ack(leader, won, "n3");
      leader.ready();
    }

    /** Delivers the leader's messages for n2 in {@code r}, persists n2's writes, returns n2's Ready. */
    Ready toFollower(Ready r) {
      Ready last = null;
      for (Outbound o : allMessages(r)) {
        if (!o.to().equals("n2")) continue;
        follower.step(o.message());
        last = follower.ready();
        persist(follower, last);
        for (Outbound back : allMessages(last)) leader.step(back.message());
      }
      return last;
    }
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void readIndex_T6_4_09_followerAsksTheLeaderAndAnswersOnceApplied(boolean preVote, boolean checkQuorum) {
    Pair p = new Pair(cfg(preVote, checkQuorum));
    RaftCore leader = p.leader;
    RaftCore f = p.follower;
    assertEquals(4, leader.commitIndex(), "setup");
    assertEquals("n1", f.leaderId(), "setup");
    // The leader commits index 5 with n3 only; n2 does not hear of it yet.
    leader.propose(cmd("x"), 50);
    Ready w = leader.ready();
    persist(leader, w);
    ack(leader, w, "n3");
    leader.ready();
    assertEquals(5, leader.commitIndex(), "setup");
    assertTrue(f.lastApplied() < 5, "setup: n2 lags");

    f.readIndex(42);
    Ready fr = f.ready();
    assertEquals(List.of(), fr.reads(), "a follower never serves from its local state");
    List<ReadIndexRequest> asks = sentTo(fr, "n1", ReadIndexRequest.class);
    assertEquals(1, asks.size(), "the follower asks the leader: " + fr);

    // The leader runs ReadIndex for it: commit in term (done), read index 5, a fresh round.
    leader.step(asks.get(0));
    Ready round = leader.ready();
    assertEquals(List.of(), sent(round, ReadIndexResponse.class), "not before the round is confirmed");
    ack(leader, round, "n3");
    Ready answered = leader.ready();
    List<ReadIndexResponse> answer = sentTo(answered, "n2", ReadIndexResponse.class);
    assertEquals(1, answer.size());
    assertEquals(42, answer.get(0).requestId());
    assertEquals(5, answer.get(0).readIndex(), "the leader's commit index when the request arrived");

    f.step(answer.get(0));
    assertEquals(List.of(), f.ready().reads(), "n2 has not applied index 5");
    // n2 now gets the entry (with leaderCommit 4 as sent) and then a heartbeat carrying commit 5.
    Ready got = p.toFollower(w);
    assertEquals(List.of(), got.reads(), "applied up to " + f.lastApplied() + " only");
    Ready served = null;
    for (int i = 0; i < HB && served == null; i++) {
      leader.tick();
      Ready fr2 = p.toFollower(leader.ready());
      if (fr2 != null && !fr2.reads().isEmpty()) served = fr2;
    }
    assertNotNull(served, "n2 serves the read once it applies index 5");
    assertEquals(List.of(new ReadState(42, 5)), served.reads());
    assertEquals(5, served.committed().get(served.committed().size() - 1).entry().index(),
        "index 5 is applied in the same Ready, before the read is served");
  }

  @Test
  void readIndex_T6_4_09_followerReadFailsIfTheLeaderCannotBeReached() {
    Pair p = new Pair(settings());
    RaftCore f = p.follower;
    p.toFollower(tick(p.leader, HB).get(HB - 1)); // n2 learns commit 4 and applies it
    assertEquals(4, f.lastApplied(), "setup: n2's state machine is up to date");

    f.readIndex(8); // the request is lost: the leader is unreachable
    Ready asked = f.ready();
    assertEquals(List.of(), asked.reads(), "never served from local state");
    assertEquals(1, sent(asked, ReadIndexRequest.class).size());
    int ticks = 0;
    List<Long> failed = List.of();
    while (failed.isEmpty() && ticks++ < 100) {
      f.tick();
      Ready r = f.ready();
      assertEquals(List.of(), r.reads(), "never served from local state");
      failed = notLeaderIds(r);
    }
    assertEquals(List.of(8L), failed, "the read fails as not-leader");
    assertTrue(ticks <= settings().electionTimeoutMax(), "within an election timeout: " + ticks);
  }

  /** The leader is heard from (heartbeats), but the request or its answer is lost: the read still fails. */
  @Test
  void readIndex_T6_4_09_forwardedReadWhoseAnswerIsLostFailsAfterAnElectionTimeout() {
    Pair p = new Pair(settings());
    RaftCore f = p.follower;
    f.readIndex(8);
    Ready asked = f.ready();
    assertEquals(1, sent(asked, ReadIndexRequest.class).size(), "setup: the request (lost)");
    int ticks = 0;
    List<Long> failed = List.of();
    while (failed.isEmpty() && ticks++ < 100) {
      p.leader.tick();
      Ready fromLeader = p.toFollower(p.leader.ready());
      f.tick();
      Ready r = f.ready();
      assertEquals(Role.FOLLOWER, f.role(), "setup: n2 keeps following n1");
      assertEquals("n1", f.leaderId());
      for (Ready x : new Ready[] {fromLeader, r}) {
        if (x == null) continue;
        assertEquals(List.of(), x.reads(), "never served from local state");
        failed = failed.isEmpty() ? notLeaderIds(x) : failed;
      }
    }
    assertEquals(List.of(8L), failed, "the unanswered read fails as not-leader; the client may retry");
    assertTrue(ticks <= settings().electionTimeoutMax(), "within an election timeout: " + ticks);
  }

  @Test
  void readIndex_T6_4_09_followerWithoutALeaderOrACandidateRefusesAtOnce() {
    RaftCore fresh = node("n2", THREE, 1, 1);
    fresh.readIndex(1);
    Ready r = fresh.ready();
    assertEquals(List.of(1L), notLeaderIds(r), "no known leader: not-leader");
    assertEquals(List.of(), allMessages(r));

    RaftCore cand = node("n3", THREE, 1, null, fixed(10), settings().withPreVote(false), 1);
    tickUntil(cand, 100, () -> cand.role() == Role.CANDIDATE);
    cand.readIndex(2);
    Ready c = cand.ready();
    assertEquals(List.of(2L), notLeaderIds(c), "a candidate is no leader");
    assertEquals(List.of(), sent(c, ReadIndexRequest.class));
    assertEquals(List.of(), c.reads());
  }

  @Test
  void readIndex_T6_4_09_forwardedReadFailsWhenTheFollowersLeaderChanges() {
    Pair p = new Pair(settings());
    RaftCore f = p.follower;
    f.readIndex(5);
    f.ready();
    // n3 won term 3: its AppendEntries reaches n2 before n1 answers.
    f.step(new AppendEntries(3, "n3", 4, 2, List.of(), 4));
    Ready r = f.ready();
    assertEquals(List.of(5L), notLeaderIds(r));
    assertEquals("n3", ((ProposalOutcome.NotLeader) r.outcomes().get(0)).leaderHint());
    // The old leader's answer, if it still comes, is stale and ignored.
    f.step(new ReadIndexResponse(2, "n1", 5, 4));
    assertEquals(List.of(), f.ready().reads());
  }

  @Test
  void readIndex_T6_4_09_leaderThatCannotServeAnswersMinusOneAndTheFollowerFails() {
    Pair p = new Pair(settings());
    RaftCore f = p.follower;
    f.readIndex(6);
    ReadIndexRequest ask = sent(f.ready(), ReadIndexRequest.class).get(0);
    // The request reaches n1 after it stepped down in the same term (check-quorum).
    tickUntil(p.leader, 100, () -> p.leader.role() != Role.LEADER);
    p.leader.ready();
    p.leader.step(ask);
    List<ReadIndexResponse> no = sentTo(p.leader.ready(), "n2", ReadIndexResponse.class);
    assertEquals(1, no.size());
    assertEquals(-1, no.get(0).readIndex());
    f.step(no.get(0));
    Ready r = f.ready();
    assertEquals(List.of(6L), notLeaderIds(r));
    assertEquals(List.of(), r.reads());
  }

  // ------------------------------------------------------------------ T6.4.1-01, T6.4.1-02

  /**
   * The leader sends round s at tick s; the acks arrive 3 ticks later. The lease runs to s + LEASE,
   * counted from the send: a lease counted from the acks would still hold at s + LEASE.
   */
  @Test
  void lease_T6_4_1_01_leaseRunsFromTheRoundsSendNotFromItsAcks() {
    RaftCore leader = leaderWithCommit(THREE, leaseSettings(LEASE));
    long commit = leader.commitIndex();
    leader.leaseRead(1);
    Ready r0 = leader.ready();
    assertEquals(List.of(), r0.reads(), "no lease before any round is confirmed");
    ack(leader, r0, "n2");
    assertEquals(List.of(new ReadState(1, commit)), leader.ready().reads(), "served through ReadIndex");

    // Round s: sent at tick s, acknowledged by n2 at tick s + 3; later rounds are lost.
    Map<String, List<AppendEntries>> sentAtS = tickCollect(leader, HB);
    long s = leader.status().now();
    AppendEntries roundS = sentAtS.get("n2").get(0);
    tickCollect(leader, 3);
    leader.step(ackOf(roundS, "n2"));
    assertEquals(s + 3, leader.status().now());

    for (long id = 10; leader.status().now() < s + LEASE; id++) {
      leader.leaseRead(id);
      Ready r = leader.ready();
      assertEquals(List.of(new ReadState(id, commit)), r.reads(), "within the lease at tick " + leader.status().now());
      assertEquals(List.of(), sent(r, AppendEntries.class), "a lease read needs no round");
      tickCollect(leader, 1);
    }
    assertEquals(s + LEASE, leader.status().now());
    leader.leaseRead(99);
    Ready expired = leader.ready();
    assertEquals(List.of(), expired.reads(), "the lease ended at s + " + LEASE + ", whenever the acks came");
    assertFalse(sent(expired, AppendEntries.class).isEmpty(), "it falls back to a ReadIndex round");
    ack(leader, expired, "n2");
    assertEquals(List.of(new ReadState(99, commit)), leader.ready().reads(), "served once the new round is confirmed");
  }

  @Test
  void lease_T6_4_1_02_afterTheLeaseEndsReadsFallBackOrFail() {
    int lease = 4; // well inside the check-quorum limit, so the lease ends while the leader still leads
    RaftCore leader = leaderWithCommit(THREE, leaseSettings(lease));
    long commit = leader.commitIndex();
    Map<String, List<AppendEntries>> sentAtS = tickCollect(leader, HB);
    long s = leader.status().now();
    leader.step(ackOf(sentAtS.get("n2").get(0), "n2"));
    leader.leaseRead(1);
    assertEquals(List.of(new ReadState(1, commit)), leader.ready().reads(), "setup: the lease holds");

    // No acknowledgement arrives any more.
    tickCollect(leader, (int) (s + lease - leader.status().now()));
    List<Ready> fallbacks = new ArrayList<>();
    for (long id = 2; id < 6; id++) {
      leader.leaseRead(id);
      Ready r = leader.ready();
      assertEquals(List.of(), r.reads(), "no read on an expired lease (tick " + leader.status().now() + ")");
      fallbacks.add(r);
      tickCollect(leader, 1);
    }
    // Late acks of the round of tick s, sent before these reads, serve none of them.
    leader.step(ackOf(sentAtS.get("n2").get(0), "n2"));
    leader.step(ackOf(sentAtS.get("n3").get(0), "n3"));
    assertEquals(List.of(), leader.ready().reads());

    // The round started for the first fallback read is acknowledged: that read is served through
    // ReadIndex; the later ones wait for rounds started after them.
    ack(leader, fallbacks.get(0), "n2");
    List<ReadState> served = leader.ready().reads();
    assertEquals(List.of(new ReadState(2, commit)), served);

    // With no further acks the leader steps down (check-quorum) and the rest fail: none is served.
    List<Long> failed = new ArrayList<>();
    for (int i = 0; i < 100 && leader.role() == Role.LEADER; i++) {
      leader.tick();
      Ready r = leader.ready();
      assertEquals(List.of(), r.reads());
      failed.addAll(notLeaderIds(r));
    }
    assertEquals(List.of(3L, 4L, 5L), failed);
  }

  @Test
  void lease_T6_4_1_02_followersLeaseReadGoesToTheLeader() {
    Pair p = new Pair(leaseSettings(LEASE));
    p.follower.leaseRead(3);
    Ready r = p.follower.ready();
    assertEquals(List.of(), r.reads());
    assertEquals(1, sent(r, ReadIndexRequest.class).size(), "a follower holds no lease: it asks the leader");
  }

  // ------------------------------------------------------------------ T6.4.1-04

  @Test
  void lease_T6_4_1_04_leaseReadsRequireCheckQuorum() {
    RaftConfig d = settings();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new RaftConfig(d.electionTimeoutMin(), d.electionTimeoutMax(), d.heartbeatInterval(), d.preVote(),
            false, d.conflictHint(), d.maxEntriesPerAppend(), d.maxBytesPerAppend(), d.maxInflightAppends(),
            d.snapshotChunkBytes(), LEASE));
    assertTrue(e.getMessage().contains("check-quorum"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> leaseSettings(LEASE).withCheckQuorum(false),
        "switching check-quorum off keeps the lease: rejected");
    // Accepted with the rule on, or with lease reads off.
    assertEquals(LEASE, leaseSettings(LEASE).leaseTicks());
    assertEquals(0, settings().withCheckQuorum(false).leaseTicks());
  }

  /**
   * A follower that acknowledged a round promised the leader to ignore candidates for an election
   * timeout; if it crashes and restarts meanwhile, the promise must survive, or a new leader can be
   * elected under the old leader's lease. With lease reads on, a (re)started node grants no vote or
   * pre-vote for its first electionTimeoutMin ticks; without them it votes at once.
   */
  @ParameterizedTest(name = "lease reads={0}")
  @ValueSource(booleans = {true, false})
  void lease_T6_4_1_04_restartedNodeIgnoresCandidatesForAnElectionTimeout(boolean lease) {
    RaftConfig cfg = lease ? leaseSettings(LEASE) : settings();
    int min = cfg.electionTimeoutMin();
    // Restarted from storage: term 1, log [1]; its own timeout (20) is longer than the window.
    RaftCore n = node("n2", THREE, 1, null, fixed(20), cfg, 1);
    n.step(new RaftMessage.PreVote(2, "n3", 1, 1));
    List<RaftMessage.PreVoteResponse> pre = sent(n.ready(), RaftMessage.PreVoteResponse.class);
    assertEquals(1, pre.size());
    n.step(new RaftMessage.RequestVote(2, "n3", 1, 1));
    Ready r = n.ready();
    if (!lease) {
      assertTrue(pre.get(0).granted(), "without leases a restarted node pre-votes at once");
      assertTrue(sent(r, RequestVoteResponse.class).get(0).granted(), "and votes at once");
      return;
    }
    assertFalse(pre.get(0).granted(), "no pre-vote right after the restart");
    assertEquals(List.of(), sent(r, RequestVoteResponse.class), "a RequestVote is ignored");
    assertEquals(1, n.term(), "and its term is not adopted");
    tick(n, min - 1);
    n.step(new RaftMessage.RequestVote(2, "n3", 1, 1));
    assertEquals(List.of(), sent(n.ready(), RequestVoteResponse.class), "still ignored at tick " + n.status().now());
    tick(n, 1);
    assertEquals(Role.FOLLOWER, n.role(), "setup: it has not campaigned itself");
    n.step(new RaftMessage.RequestVote(2, "n3", 1, 1));
    List<RequestVoteResponse> vote = sent(n.ready(), RequestVoteResponse.class);
    assertEquals(1, vote.size());
    assertTrue(vote.get(0).granted(), "an election timeout after the restart it votes again");
  }

  /**
   * The follower side of a lease: while it is inside the window after its last contact with the
   * leader, a higher term reaching it in anything but a leader's message (here a late pre-vote
   * rejection and a stray vote response) must not make it drop the leader and vote in that term.
   * Once the window has passed it adopts the term as usual; without lease reads it adopts at once.
   */
  @ParameterizedTest(name = "lease reads={0}")
  @ValueSource(booleans = {true, false})
  void lease_T6_4_1_01_aFollowerInsideTheLeaseAdoptsNoHigherTermFromNonLeaderMessages(boolean lease) {
    RaftConfig cfg = lease ? leaseSettings(LEASE) : settings();
    RaftCore n = node("n2", THREE, 2, null, fixed(20), cfg, 1, 2);
    tick(n, cfg.electionTimeoutMin()); // past the restart window of the previous test's rule
    n.step(new AppendEntries(2, "n1", 2, 2, List.of(), 2)); // leader contact: the window starts now
    n.ready();
    n.step(new PreVoteResponse(5, "n3", false));
    n.step(new RequestVoteResponse(5, "n3", false));
    n.ready();
    if (!lease) {
      assertEquals(5, n.term(), "without leases the higher term is adopted at once");
      return;
    }
    assertEquals(2, n.term(), "inside the lease window the term stays");
    assertEquals("n1", n.leaderId(), "and the leader is kept");
    n.step(new RaftMessage.RequestVote(5, "n3", 2, 2));
    assertEquals(List.of(), sent(n.ready(), RequestVoteResponse.class), "no vote in the higher term");
    tick(n, cfg.electionTimeoutMin());
    n.step(new RequestVoteResponse(5, "n3", false));
    n.ready();
    assertEquals(5, n.term(), "after the window the higher term is adopted");
  }

  /**
   * Without check-quorum a cut-off leader never steps down by itself, so a read waiting for a round
   * that nobody acknowledges would wait forever: after an election timeout it fails as not-leader
   * (safe: a failed read has no effect), for a local and for a forwarded read alike.
   */
  @Test
  void readIndex_T6_4_08_aReadThatCannotBeConfirmedFailsAfterAnElectionTimeout() {
    RaftConfig cfg = settings().withCheckQuorum(false);
    RaftCore leader = leaderWithCommit(THREE, cfg);
    leader.readIndex(7);
    leader.step(new ReadIndexRequest(leader.term(), "n2", 8));
    Ready first = leader.ready();
    assertEquals(List.of(), first.reads());
    List<Long> failed = new ArrayList<>();
    List<ReadIndexResponse> refused = new ArrayList<>();
    for (Ready r : tick(leader, cfg.electionTimeoutMax())) {
      assertEquals(List.of(), r.reads(), "never served without a confirmed round");
      failed.addAll(notLeaderIds(r));
      refused.addAll(sentTo(r, "n2", ReadIndexResponse.class));
    }
    assertEquals(Role.LEADER, leader.role(), "setup: it still believes it leads");
    assertEquals(List.of(7L), failed);
    assertEquals(1, refused.size());
    assertEquals(-1, refused.get(0).readIndex());
  }
}
