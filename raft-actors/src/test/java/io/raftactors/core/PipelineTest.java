package io.raftactors.core;

import static io.raftactors.core.CoreFixture.*;
import static org.junit.jupiter.api.Assertions.*;

import io.raftactors.core.LogReplicationTest.Net;
import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import java.util.ArrayDeque;
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
 * The leader's disk write in parallel with replication, batching and pipelining (thesis 10.2):
 * unit tests of the pure core. The leader is n1; followers are real cores where their replies
 * matter, or their acknowledgements are built by hand.
 */
class PipelineTest {
  static final ClusterConfig THREE = members(3);
  static final ClusterConfig FIVE = members(5);

  static Stream<Arguments> featureSettings() {
    return LogReplicationTest.featureSettings();
  }

  /** A window of 4 AppendEntries per follower, one entry each, so every request is one index. */
  static RaftConfig window4(boolean features) {
    return settings().withPreVote(features).withCheckQuorum(features).withBatching(1, 1 << 20, 4);
  }

  /** Elects n1 of {@code members} (empty logs, no-op at 1) and lets every follower acknowledge the no-op. */
  static RaftCore replicatingLeader(ClusterConfig members, RaftConfig cfg, long... logTerms) {
    RaftCore leader = node("n1", members, 1, null, fixed(10), cfg, logTerms);
    ackAll(leader, elect(leader));
    leader.ready(); // the no-op is committed and applied
    return leader;
  }

  static boolean carries(AppendEntries ae, long index) {
    for (LogEntry e : ae.entries()) if (e.index() == index) return true;
    return false;
  }

  // ------------------------------------------------------------------ T10.2.1

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void leaderWrite_T10_2_1_01_replicatesBeforeOwnWriteAndCommitsOnFollowerAcks(boolean preVote, boolean checkQuorum) {
    RaftConfig cfg = settings().withPreVote(preVote).withCheckQuorum(checkQuorum);
    RaftCore leader = replicatingLeader(THREE, cfg, 1, 1, 1, 1, 1, 1, 1); // term 2, no-op at 8
    assertEquals(8, leader.commitIndex(), "setup");

    assertEquals(9, leader.propose(cmd("x"), 9));
    Ready r = leader.ready();
    assertEquals(9, r.lastEntry().index(), "this Ready asks for the write of index 9");
    // The AppendEntries for 9 go out now, not after the leader's own write.
    for (String f : List.of("n2", "n3")) {
      boolean sentNow = false;
      for (Outbound o : r.messages()) {
        if (o.to().equals(f) && o.message() instanceof AppendEntries ae && carries(ae, 9)) sentNow = true;
      }
      assertTrue(sentNow, "AppendEntries with index 9 to " + f + " is sent before the write completes: " + r);
    }

    // The write is held back; both followers ack: index 9 commits on their two copies alone.
    leader.step(AppendEntriesResponse.success(2, "n2", 9));
    assertEquals(8, leader.commitIndex(), "one follower ack without the leader's durable copy is no majority");
    leader.step(AppendEntriesResponse.success(2, "n3", 9));
    assertEquals(9, leader.commitIndex(), "two follower acks are a majority of 3");
    assertEquals(8, leader.status().stableIndex(), "setup: the leader's write is still outstanding");
    // Committed is durable on a majority: applied without waiting for the leader's own copy.
    List<Committed> applied = leader.ready().committed();
    assertEquals(1, applied.size());
    assertEquals(9, applied.get(0).entry().index());
    persist(leader, r);
    assertTrue(leader.ready().committed().isEmpty(), "applied once");
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void leaderWrite_T10_2_1_01_withOneFollowerAckCommitsOnlyAfterOwnWrite(boolean preVote, boolean checkQuorum) {
    RaftConfig cfg = settings().withPreVote(preVote).withCheckQuorum(checkQuorum);
    RaftCore leader = replicatingLeader(THREE, cfg, 1, 1, 1, 1, 1, 1, 1);
    leader.propose(cmd("x"), 9);
    Ready r = leader.ready();

    leader.step(AppendEntriesResponse.success(2, "n2", 9));
    leader.ready();
    assertEquals(8, leader.commitIndex(), "not committed while the leader's write is outstanding");
    persist(leader, r);
    assertEquals(9, leader.commitIndex(), "committed once the leader's own write is done");
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void leaderWrite_T10_2_1_02_leaderCountsItselfOnlyWhenDurable(boolean preVote, boolean checkQuorum) {
    RaftConfig cfg = settings().withPreVote(preVote).withCheckQuorum(checkQuorum);
    RaftCore leader = replicatingLeader(FIVE, cfg, 1, 1, 1, 1, 1, 1, 1); // term 2, no-op at 8
    assertEquals(8, leader.status().stableIndex(), "setup");

    leader.propose(cmd("x"), 9);
    Ready r = leader.ready();
    assertEquals(9, leader.lastIndex());
    assertEquals(8, leader.status().stableIndex(), "its own match is the last durable index, not the last appended");
    leader.step(AppendEntriesResponse.success(2, "n2", 9));
    leader.step(AppendEntriesResponse.success(2, "n3", 9));
    // Counting its appended index 9 would make 3 of 5; counting its durable index 8 makes 2 of 5.
    assertEquals(8, leader.commitIndex(), "the leader's appended, not durable, copy is not counted");

    persist(leader, r);
    assertEquals(9, leader.status().stableIndex());
    assertEquals(9, leader.commitIndex(), "once durable it counts: 3 of 5");

    // A later write that completes only in part: durable through 10 of 11.
    leader.propose(cmd("y"), 10);
    leader.propose(cmd("z"), 11);
    leader.ready();
    leader.persisted(10, 2);
    leader.step(AppendEntriesResponse.success(2, "n2", 11));
    leader.step(AppendEntriesResponse.success(2, "n3", 11));
    assertEquals(10, leader.status().stableIndex());
    assertEquals(10, leader.commitIndex(), "the leader counts up to its durable index 10 only");
  }

  // ------------------------------------------------------------------ T10.2.2-01

  /**
   * With one AppendEntries of a partial batch in flight (raft.max-inflight-partial-appends = 1),
   * entries proposed meanwhile wait for its reply and then leave together; full batches, as for a
   * follower that catches up, still fill the window.
   */
  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void batching_T10_2_2_01_entriesWaitingForAPartialBatchLeaveTogether_fullBatchesStillPipeline(boolean preVote,
      boolean checkQuorum) {
    RaftConfig cfg = settings().withPreVote(preVote).withCheckQuorum(checkQuorum).withBatching(32, 1 << 20, 8);
    assertEquals(1, cfg.maxInflightPartialAppends(), "the default");
    RaftCore leader = replicatingLeader(THREE, cfg); // no-op at 1
    leader.propose(cmd("a"), 1);
    Ready first = leader.ready();
    persist(leader, first);
    for (String f : List.of("n2", "n3")) assertEquals(1, sentTo(first, f, AppendEntries.class).size());
    leader.propose(cmd("b"), 2);
    leader.propose(cmd("c"), 3);
    Ready waiting = leader.ready();
    persist(leader, waiting);
    for (String f : List.of("n2", "n3")) {
      assertTrue(sentTo(waiting, f, AppendEntries.class).isEmpty(), "b and c wait for the reply to a: " + waiting);
    }
    leader.step(AppendEntriesResponse.success(leader.term(), "n2", 2));
    Ready afterReply = leader.ready();
    List<AppendEntries> toN2 = sentTo(afterReply, "n2", AppendEntries.class);
    assertEquals(1, toN2.size(), "one message for both");
    assertEquals(2, toN2.get(0).prevLogIndex());
    assertEquals(2, toN2.get(0).entries().size());
    assertTrue(sentTo(afterReply, "n3", AppendEntries.class).isEmpty(), "n3 has not answered yet");

    for (int k = 0; k < 70; k++) leader.propose(cmd("x" + k), 100 + k);
    Ready bulk = leader.ready();
    List<AppendEntries> toN3 = sentTo(bulk, "n3", AppendEntries.class);
    assertEquals(2, toN3.size(), "two full batches pipeline behind the partial one; the partial rest waits: " + toN3);
    for (AppendEntries ae : toN3) assertEquals(32, ae.entries().size());
    assertEquals(2, toN3.get(0).prevLogIndex());
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void batching_T10_2_2_01_hundredProposalsOneWriteFewestMessages(boolean preVote, boolean checkQuorum) {
    RaftConfig cfg = settings().withPreVote(preVote).withCheckQuorum(checkQuorum).withBatching(32, 1 << 20, 8);
    RaftCore leader = replicatingLeader(THREE, cfg); // no-op at 1

    List<Long> callers = new ArrayList<>();
    for (int k = 0; k < 100; k++) {
      long caller = 1000 + k;
      assertEquals(2 + k, leader.propose(cmd("p" + k), caller));
      callers.add(caller);
    }
    Ready r = leader.ready();

    // One write with all 100, in arrival order.
    assertEquals(100, r.entries().size(), "one write carries all 100 entries");
    for (int k = 0; k < 100; k++) {
      assertEquals(new LogEntry(2 + k, leader.term(), cmd("p" + k)), r.entries().get(k));
    }
    // As few AppendEntries as the limit of 32 allows: 32, 32, 32, 4, contiguous and in order.
    for (String f : List.of("n2", "n3")) {
      List<AppendEntries> aes = sentTo(r, f, AppendEntries.class);
      assertEquals(4, aes.size(), "ceil(100 / 32) messages to " + f);
      long next = 2;
      int[] sizes = {32, 32, 32, 4};
      for (int i = 0; i < aes.size(); i++) {
        AppendEntries ae = aes.get(i);
        assertEquals(next - 1, ae.prevLogIndex(), "message " + i + " to " + f + " continues the previous one");
        assertEquals(sizes[i], ae.entries().size());
        assertEquals(r.entries().subList((int) (next - 2), (int) (next - 2) + sizes[i]), ae.entries());
        next += sizes[i];
      }
    }
    persist(leader, r);
    assertFalse(leader.ready().hasWrite(), "no second write");

    // Commit; every caller gets its own result exactly once, in order.
    ackAll(leader, r);
    List<Long> answered = new ArrayList<>();
    for (Committed c : leader.ready().committed()) if (c.hasCaller()) answered.add(c.correlationId());
    for (Ready later : tick(leader, 4)) {
      for (Committed c : later.committed()) if (c.hasCaller()) answered.add(c.correlationId());
    }
    assertEquals(callers, answered, "each caller exactly once, in arrival order");
  }

  // ------------------------------------------------------------------ T10.2.2-02

  @ParameterizedTest(name = "optional features on={0}")
  @ValueSource(booleans = {false, true})
  void pipelining_T10_2_2_02_optimisticNextIndexWithinWindow(boolean features) {
    RaftCore leader = replicatingLeader(THREE, window4(features)); // no-op at 1, nextIndex 2
    Map<String, ArrayDeque<AppendEntries>> outstanding = new HashMap<>();
    outstanding.put("n2", new ArrayDeque<>());
    outstanding.put("n3", new ArrayDeque<>());

    // Six proposals, one at a time: the first four leave at once, each advancing nextIndex.
    for (int k = 1; k <= 6; k++) {
      leader.propose(cmd("p" + k), k);
      Ready r = leader.ready();
      persist(leader, r); // the leader's own copy is durable: only followers can hold commit back
      for (String f : List.of("n2", "n3")) {
        List<AppendEntries> aes = sentTo(r, f, AppendEntries.class);
        outstanding.get(f).addAll(aes);
        if (k <= 4) {
          assertEquals(1, aes.size(), "request " + k + " leaves without waiting");
          assertEquals(k, aes.get(0).prevLogIndex());
          CoreStatus st = leader.status();
          assertEquals(k + 2, st.nextIndex(f), "nextIndex advances after each send");
          assertEquals(k, st.inflight(f));
        } else {
          assertTrue(aes.isEmpty(), "the window of 4 is full: " + aes);
          CoreStatus st = leader.status();
          assertEquals(6, st.nextIndex(f));
          assertEquals(4, st.inflight(f));
        }
      }
      assertEquals(1, leader.commitIndex(), "commit follows matchIndex, never nextIndex");
    }

    // Acks one at a time: each frees a slot that is filled again; the window never exceeds 4.
    long lastSent = 0;
    while (!outstanding.get("n2").isEmpty() || !outstanding.get("n3").isEmpty()) {
      for (String f : List.of("n2", "n3")) {
        AppendEntries ae = outstanding.get(f).pollFirst();
        if (ae == null) continue;
        lastSent = Math.max(lastSent, ae.lastIndex());
        leader.step(AppendEntriesResponse.success(ae.term(), f, ae.lastIndex()));
        Ready r = leader.ready();
        for (String g : List.of("n2", "n3")) {
          for (AppendEntries more : sentTo(r, g, AppendEntries.class)) {
            outstanding.get(g).addLast(more);
            lastSent = Math.max(lastSent, more.lastIndex());
          }
          int inflight = leader.status().inflight(g);
          assertTrue(inflight <= 4, "at most W outstanding to " + g);
          assertEquals(outstanding.get(g).size(), inflight, "one window slot per unanswered request");
        }
      }
    }
    assertEquals(7, lastSent);
    for (String f : List.of("n2", "n3")) assertEquals(7, leader.status().matchIndex(f), "matchIndex = last index sent");
    assertEquals(7, leader.commitIndex());
  }

  // ------------------------------------------------------------------ T10.2.2-03, -04, -05

  /**
   * A leader (window 4, one entry per request) and follower n2 holding its no-op. The third node n3
   * holds the no-op too; the scripted tests drop its traffic, and it takes part only in {@link #converge}.
   */
  static final class Pair {
    final RaftCore leader;
    final RaftCore follower;
    final RaftCore other;
    final List<Ready> followerReadies = new ArrayList<>();

    Pair(boolean features) {
      RaftConfig cfg = window4(features);
      leader = node("n1", THREE, 1, null, fixed(10), cfg);
      follower = node("n2", THREE, 1, null, fixed(10), cfg);
      other = node("n3", THREE, 1, null, fixed(10), cfg);
      Ready elected = elect(leader);
      for (AppendEntries ae : sentTo(elected, "n2", AppendEntries.class)) leader.step(deliver(ae));
      for (AppendEntries ae : sentTo(elected, "n3", AppendEntries.class)) {
        other.step(ae);
        Ready r = other.ready();
        persist(other, r);
        for (AppendEntriesResponse resp : sent(r, AppendEntriesResponse.class)) leader.step(resp);
      }
      leader.ready();
      CoreStatus st = leader.status();
      assertEquals(1, st.matchIndex("n2"), "setup");
      assertEquals(1, st.matchIndex("n3"), "setup");
    }

    /** The follower handles {@code ae}, its write completes, and its reply is returned. */
    AppendEntriesResponse deliver(AppendEntries ae) {
      follower.step(ae);
      Ready r = follower.ready();
      followerReadies.add(r);
      persist(follower, r);
      List<AppendEntriesResponse> replies = sent(r, AppendEntriesResponse.class);
      assertEquals(1, replies.size(), "one reply: " + r);
      return replies.get(0);
    }

    /** Proposes {@code n} entries and returns the AppendEntries for n2 that the next Ready sends. */
    List<AppendEntries> propose(int n) {
      for (int i = 0; i < n; i++) leader.propose(cmd("e" + leader.lastIndex()), -1);
      Ready r = leader.ready();
      persist(leader, r);
      return sentTo(r, "n2", AppendEntries.class);
    }

    /**
     * Delivers everything among the three nodes without loss, ticking (heartbeats) if the leader is
     * waiting for a reply that was lost, until n2 is caught up; checks the logs agree.
     */
    void converge() {
      Net net = new Net(leader, follower, other);
      net.drain();
      int maxTicks = 5 * leader.settings().heartbeatInterval();
      for (int t = 0; t < maxTicks && leader.status().matchIndex("n2") < leader.lastIndex(); t++) net.tick();
      followerReadies.addAll(net.readies.get("n2"));
      assertEquals(Role.LEADER, leader.role());
      assertEquals(leader.lastIndex(), leader.status().matchIndex("n2"), "caught up within " + maxTicks + " ticks");
      assertEquals(leader.entriesFrom(1), follower.entriesFrom(1), "the follower's log equals the leader's");
    }

    void assertNothingTruncated() {
      for (Ready r : followerReadies) assertEquals(0, r.truncateFrom(), "no valid entry is truncated: " + r);
    }
  }

  static Stream<Arguments> replyOrders() {
    List<Arguments> out = new ArrayList<>();
    for (boolean features : List.of(false, true)) {
      out.add(Arguments.of(features, true));
      out.add(Arguments.of(features, false));
    }
    return out.stream();
  }

  @ParameterizedTest(name = "optional features on={0}, rejection reaches the leader first={1}")
  @MethodSource("replyOrders")
  void pipelining_T10_2_2_03_reorderedPipeline(boolean features, boolean rejectionFirst) {
    Pair p = new Pair(features);
    List<AppendEntries> reqs = p.propose(2); // #1 carries 2, #2 carries 3
    assertEquals(2, reqs.size(), "setup");

    AppendEntriesResponse r2 = p.deliver(reqs.get(1));
    assertFalse(r2.success(), "#2 is rejected because of the gap");
    assertEquals(1, p.follower.lastIndex(), "nothing appended past the gap");
    AppendEntriesResponse r1 = p.deliver(reqs.get(0));
    assertTrue(r1.success(), "#1 is accepted");
    assertEquals(2, r1.matchIndex());

    if (rejectionFirst) {
      p.leader.step(r2);
      p.leader.step(r1);
    } else {
      p.leader.step(r1);
      p.leader.step(r2);
    }
    assertEquals(2, p.leader.status().matchIndex("n2"), "the leader's matchIndex is the acknowledged 2");
    // Whatever the order of the two replies, the leader resends entry 3 at once (no heartbeat wait):
    // a rejection at exactly matchIndex means the gap is filled but #2's entries were not taken.
    List<AppendEntries> resent = sentTo(p.leader.ready(), "n2", AppendEntries.class);
    assertEquals(1, resent.size(), "one resend: " + resent);
    assertEquals(2, resent.get(0).prevLogIndex());
    assertTrue(carries(resent.get(0), 3));
    p.leader.step(p.deliver(resent.get(0)));
    assertEquals(3, p.leader.status().matchIndex("n2"));
    p.converge();
    assertEquals(3, p.leader.status().matchIndex("n2"));
    p.assertNothingTruncated();
  }

  @ParameterizedTest(name = "optional features on={0}")
  @ValueSource(booleans = {false, true})
  void pipelining_T10_2_2_04_lossInsidePipeline(boolean features) {
    Pair p = new Pair(features);
    List<AppendEntries> reqs = p.propose(4); // #1..#4 carry 2..5
    assertEquals(4, reqs.size(), "setup");

    // #2 is dropped: #1 is accepted, #3 and #4 are rejected.
    AppendEntriesResponse r1 = p.deliver(reqs.get(0));
    AppendEntriesResponse r3 = p.deliver(reqs.get(2));
    AppendEntriesResponse r4 = p.deliver(reqs.get(3));
    assertTrue(r1.success());
    assertFalse(r3.success(), "#3 is rejected");
    assertFalse(r4.success(), "#4 is rejected");
    p.leader.step(r1);
    p.leader.step(r3);
    p.leader.step(r4);
    CoreStatus st = p.leader.status();
    assertEquals(2, st.matchIndex("n2"));
    assertEquals(3, st.nextIndex("n2"), "nextIndex is reset to just after the acknowledged index");
    List<AppendEntries> resent = sentTo(p.leader.ready(), "n2", AppendEntries.class);
    assertEquals(1, resent.size(), "one resend: " + resent);
    assertEquals(2, resent.get(0).prevLogIndex(), "resent from index 3");
    assertTrue(carries(resent.get(0), 3));

    p.leader.step(p.deliver(resent.get(0)));
    p.converge();
    assertEquals(5, p.leader.status().matchIndex("n2"));
    p.assertNothingTruncated();
  }

  @ParameterizedTest(name = "optional features on={0}")
  @ValueSource(booleans = {false, true})
  void pipelining_T10_2_2_04_lostTailRecoveredThroughHeartbeat(boolean features) {
    Pair p = new Pair(features);
    int h = p.leader.settings().heartbeatInterval();
    List<AppendEntries> reqs = p.propose(4);
    // #4 is lost: no rejection will ever tell the leader; #1-#3 are acknowledged.
    for (int i = 0; i < 3; i++) p.leader.step(p.deliver(reqs.get(i)));
    p.leader.ready();
    CoreStatus st = p.leader.status();
    assertEquals(4, st.matchIndex("n2"), "setup");
    assertEquals(1, st.inflight("n2"), "setup: #4 is still outstanding");

    // Ticks pass with heartbeats delivered; within a few heartbeat intervals the leader probes from 5 again.
    AppendEntries retry = null;
    int ticks = 0;
    while (retry == null && ticks < 3 * h) {
      ticks++;
      p.leader.tick();
      for (AppendEntries ae : sentTo(p.leader.ready(), "n2", AppendEntries.class)) {
        if (!ae.entries().isEmpty()) {
          retry = ae;
        } else {
          // Heartbeats carry prevLogIndex = the follower's match, so they succeed and never disturb the pipeline.
          AppendEntriesResponse resp = p.deliver(ae);
          assertTrue(resp.success(), "a heartbeat is accepted: " + ae);
          p.leader.step(resp);
        }
      }
    }
    assertNotNull(retry, "the lost request is resent within " + 3 * h + " ticks");
    assertEquals(4, retry.prevLogIndex(), "probing from matchIndex + 1");
    assertTrue(carries(retry, 5));
    p.leader.step(p.deliver(retry));
    p.converge();
    p.assertNothingTruncated();
  }

  @ParameterizedTest(name = "optional features on={0}")
  @ValueSource(booleans = {false, true})
  void pipelining_T10_2_2_05_lateRejectionAfterNewerSuccess(boolean features) {
    Pair p = new Pair(features);
    List<AppendEntries> reqs = p.propose(4); // #1..#4 carry 2..5
    // The network duplicates #2: one copy overtakes #1 and is rejected; its reply is delayed.
    AppendEntriesResponse lateRejection = p.deliver(reqs.get(1));
    assertFalse(lateRejection.success(), "setup");
    for (AppendEntries ae : reqs) p.leader.step(p.deliver(ae));
    p.leader.ready();
    assertEquals(5, p.leader.status().matchIndex("n2"), "setup");

    p.leader.step(lateRejection);

    CoreStatus st = p.leader.status();
    assertEquals(5, st.matchIndex("n2"), "matchIndex is not lowered");
    assertTrue(st.nextIndex("n2") >= 6, "nextIndex stays >= matchIndex + 1");
    assertTrue(sentTo(p.leader.ready(), "n2", AppendEntries.class).isEmpty(), "nothing is resent");
    // No resend loop: over several heartbeat intervals only empty heartbeats go to n2.
    for (int t = 0; t < 4 * p.leader.settings().heartbeatInterval(); t++) {
      p.leader.tick();
      for (AppendEntries ae : sentTo(p.leader.ready(), "n2", AppendEntries.class)) {
        assertTrue(ae.entries().isEmpty(), "no entries resent: " + ae);
        assertEquals(5, ae.prevLogIndex());
        p.leader.step(p.deliver(ae));
      }
    }
    assertEquals(5, p.leader.status().matchIndex("n2"));
    p.assertNothingTruncated();
  }

  @Test
  void pipelining_T10_2_2_05_lateProbeRejectionIgnored() {
    // While probing (conflict hint off), a rejection of an earlier probe arriving again is stale: it
    // must not start another probe; only the outstanding probe's answer counts.
    RaftConfig cfg = settings().withConflictHint(false);
    RaftCore leader = node("n1", THREE, 1, null, fixed(10), cfg, 1, 1, 1, 1, 1); // no-op at 6
    Ready elected = elect(leader);
    RaftCore follower = node("n2", THREE, 1, null, fixed(10), cfg, 1, 1);
    AppendEntries probe = sentTo(elected, "n2", AppendEntries.class).get(0);
    AppendEntriesResponse rejection = sent(step(follower, probe), AppendEntriesResponse.class).get(0);
    assertFalse(rejection.success(), "setup");

    leader.step(rejection);
    assertEquals(5, leader.status().nextIndex("n2"));
    List<AppendEntries> secondProbe = sentTo(leader.ready(), "n2", AppendEntries.class);
    assertEquals(1, secondProbe.size(), "setup");
    assertEquals(4, secondProbe.get(0).prevLogIndex(), "setup");
    AppendEntriesResponse secondRejection = sent(step(follower, secondProbe.get(0)), AppendEntriesResponse.class).get(0);

    leader.step(rejection); // the first rejection again, late
    assertEquals(5, leader.status().nextIndex("n2"), "the late rejection is ignored");
    assertTrue(sentTo(leader.ready(), "n2", AppendEntries.class).isEmpty(), "no extra probe while one is outstanding");
    leader.step(secondRejection);
    assertEquals(4, leader.status().nextIndex("n2"), "the current probe's rejection still counts");
  }

  // ------------------------------------------------------------------ T10.2.2-06

  @Test
  void flowControl_T10_2_2_06_slowFollowerWindowAndBytesBounded() {
    // Entries of about 100 bytes; at most 250 bytes (so 2 entries) per request and 3 requests in flight.
    int maxBytes = 250;
    int window = 3;
    RaftConfig cfg = settings().withBatching(8, maxBytes, window);
    RaftCore leader = replicatingLeader(THREE, cfg);
    String payload = "x".repeat(60);

    List<AppendEntries> toSlow = new ArrayList<>(); // sent to n3, never answered until the end
    for (int round = 0; round < 8; round++) {
      for (int k = 0; k < 5; k++) leader.propose(cmd(payload + round + k), -1);
      Ready r = leader.ready();
      persist(leader, r);
      for (AppendEntries ae : sentTo(r, "n2", AppendEntries.class)) {
        leader.step(AppendEntriesResponse.success(ae.term(), "n2", ae.lastIndex())); // n2 answers at once
      }
      toSlow.addAll(sentTo(r, "n3", AppendEntries.class));
      int inflight = leader.status().inflight("n3");
      assertTrue(inflight <= window, "in-flight requests to n3: " + inflight);
      assertTrue(toSlow.size() <= window, "requests to the slow follower: " + toSlow.size());
      long bytes = 0;
      for (AppendEntries ae : toSlow) {
        long size = 0;
        for (LogEntry e : ae.entries()) size += e.sizeInBytes();
        assertTrue(ae.entries().size() == 1 || size <= maxBytes, "request over the byte limit: " + size);
        assertTrue(ae.entries().size() <= 2, "setup: the byte limit, not the entry limit, cuts batches");
        bytes += size;
      }
      assertTrue(bytes <= (long) window * maxBytes, "bytes in flight to n3: " + bytes);
    }
    assertEquals(41, leader.commitIndex(), "the fast follower keeps commit moving");
    assertEquals(window, toSlow.size(), "the slow follower got exactly one window");

    // n3 catches up one acknowledgement at a time, still within the window.
    ArrayDeque<AppendEntries> queue = new ArrayDeque<>(toSlow);
    while (!queue.isEmpty()) {
      AppendEntries ae = queue.pollFirst();
      leader.step(AppendEntriesResponse.success(ae.term(), "n3", ae.lastIndex()));
      queue.addAll(sentTo(leader.ready(), "n3", AppendEntries.class));
      assertTrue(queue.size() <= window);
      assertEquals(queue.size(), leader.status().inflight("n3"));
    }
    assertEquals(41, leader.status().matchIndex("n3"));
  }
}
