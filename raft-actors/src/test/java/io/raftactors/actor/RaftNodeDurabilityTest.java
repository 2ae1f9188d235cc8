package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.LoggingTestKit;
import akka.actor.testkit.typed.javadsl.ManualTime;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.core.EntryData;
import io.raftactors.core.HardState;
import io.raftactors.core.LogEntry;
import io.raftactors.core.RaftMessage;
import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import io.raftactors.core.RaftMessage.PreVote;
import io.raftactors.core.RaftMessage.PreVoteResponse;
import io.raftactors.core.RaftMessage.RequestVote;
import io.raftactors.core.RaftMessage.RequestVoteResponse;
import io.raftactors.core.Role;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * One real RaftNode actor under ManualTime, its peers played by test probes, its journal by a
 * storage whose writes complete only when the test releases them. Checks that nothing leaves
 * before the state it depends on is durable (Figure 2 "persistent state", thesis 3.8).
 */
class RaftNodeDurabilityTest {
  private static final AtomicInteger SYSTEMS = new AtomicInteger();
  private static final Duration QUIET = Duration.ofMillis(200);
  private static final Duration PAST_ELECTION_TIMEOUT = Duration.ofMillis(110);

  private ActorTestKit kit;
  private ManualTime time;
  private TestProbe<RaftNode.Command> n2;
  private TestProbe<RaftNode.Command> n3;
  private GatedStorage storage;
  private RaftSettings settings;
  private ActorRef<RaftNode.Command> node;
  /** The state machine blocks on applying the command "hold" until this opens (the node's actor is busy meanwhile). */
  private final java.util.concurrent.CountDownLatch holdOpens = new java.util.concurrent.CountDownLatch(1);
  private final java.util.concurrent.CountDownLatch holding = new java.util.concurrent.CountDownLatch(1);

  @BeforeEach
  void start() {
    String name = "RaftNodeDurabilityTest" + SYSTEMS.incrementAndGet();
    Config cfg = ConfigFactory.parseString(String.join("\n",
            "raft.group-id = g",
            "raft.member-id = n1",
            "raft.members { n1 = \"akka://" + name + "\", n2 = \"akka://" + name + "\", n3 = \"akka://" + name + "\" }",
            "raft.tick-interval = 10ms",
            "raft.election-timeout-min = 100ms",
            // min = max: no jitter, so one advance of time fires exactly one election timeout.
            "raft.election-timeout-max = 100ms",
            "raft.heartbeat-interval = 20ms",
            "raft.restart-backoff.min = 100ms",
            "raft.restart-backoff.max = 100ms"))
        .withFallback(ManualTime.config())
        .withFallback(ConfigFactory.load());
    kit = ActorTestKit.create(name, cfg);
    time = ManualTime.get(kit.system());
    settings = RaftSettings.fromConfig(cfg);
    n2 = PeerProbes.peer(kit, "g", "n2");
    n3 = PeerProbes.peer(kit, "g", "n3");
    storage = new GatedStorage(settings.bootstrapConfig());
    node = startNode();
  }

  @AfterEach
  void stop() {
    kit.shutdownTestKit();
  }


  private ActorRef<RaftNode.Command> startNode() {
    ActorRef<RaftNode.Command> ref = kit.spawn(RaftNode.create(settings, storage, (i, c) -> {
          if ("boom".equals(c)) throw new IllegalStateException("the state machine fails");
          if ("hold".equals(c)) {
            holding.countDown();
            try {
              holdOpens.await(30, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
          return "applied " + c;
        }),
        settings.actorName() + "-" + SYSTEMS.incrementAndGet());
    status(ref); // wait until recovered
    return ref;
  }

  private void restartNode() {
    kit.stop(node);
    node = startNode();
  }

  /** The node's status once it has read its storage (status is also answered while it recovers). */
  private RaftNode.Status status(ActorRef<RaftNode.Command> ref) {
    TestProbe<RaftNode.Status> p = kit.createTestProbe();
    return p.awaitAssert(Duration.ofSeconds(5), Duration.ofMillis(10), () -> {
      ref.tell(new RaftNode.GetStatus(p.ref()));
      RaftNode.Status s = p.receiveMessage(Duration.ofSeconds(5));
      if (s.phase() == RaftNode.Phase.RECOVERING) throw new AssertionError("still recovering");
      return s;
    });
  }

  private void fromPeer(RaftMessage m) {
    node.tell(new RaftNode.PeerEnvelope("g", "n1", m));
  }

  private static RaftMessage expectPeerMessage(TestProbe<RaftNode.Command> p) {
    return expectPeerMessage(p, Duration.ofSeconds(5));
  }

  private static RaftMessage expectPeerMessage(TestProbe<RaftNode.Command> p, Duration max) {
    RaftNode.Command c = p.receiveMessage(max);
    return assertInstanceOf(RaftNode.PeerEnvelope.class, c).message();
  }

  /** Blocks until the node has handed a write to storage. */
  private RaftStorage.Write awaitPendingWrite() {
    return n2.awaitAssert(Duration.ofSeconds(5), () -> {
      assertTrue(storage.pendingWrites() > 0, "no write pending");
      return storage.peek();
    });
  }

  @Test
  void election_P5_2_11_voteIsDurableBeforeTheGrantLeaves() {
    fromPeer(new RequestVote(1, "n2", 1, 0));
    RaftStorage.Write w = awaitPendingWrite();
    assertEquals(new HardState(1, "n2"), w.hardState());
    n2.expectNoMessage(QUIET); // the grant waits for the write
    storage.releaseOne();
    assertEquals(new RequestVoteResponse(1, "n1", true), expectPeerMessage(n2));
  }

  @Test
  void durability_T3_8_09_failedVoteWriteNeverGrantsAndTheNodeRecoversAndRejoins() {
    fromPeer(new RequestVote(1, "n2", 1, 0));
    awaitPendingWrite();
    storage.failOne(); // P5.2-11: if the write fails, no grant is ever sent
    n2.expectNoMessage(QUIET);
    time.timePasses(Duration.ofMillis(150)); // restart backoff
    RaftNode.Status afterRestart = n2.awaitAssert(Duration.ofSeconds(5), () -> {
      RaftNode.Status s = status(node);
      assertEquals(0, s.term(), "the failed write must not have taken effect");
      return s;
    });
    assertEquals(Role.FOLLOWER, afterRestart.role());
    assertNull(storage.hardState().votedFor());
    n2.expectNoMessage(QUIET);
    // Recovered and working again: the retried request is granted once durable.
    fromPeer(new RequestVote(1, "n2", 1, 0));
    awaitPendingWrite();
    storage.releaseOne();
    assertEquals(new RequestVoteResponse(1, "n1", true), expectPeerMessage(n2));
  }

  @Test
  void election_P5_2_12_aVoteSurvivesRestart() {
    storage.open();
    fromPeer(new RequestVote(7, "n2", 1, 0));
    assertEquals(new RequestVoteResponse(7, "n1", true), expectPeerMessage(n2));
    restartNode();
    RaftNode.Status s = status(node);
    assertEquals(7, s.term());
    assertEquals(new HardState(7, "n2"), storage.hardState());
    fromPeer(new RequestVote(7, "n3", 5, 1)); // an even better log, same term
    assertEquals(new RequestVoteResponse(7, "n1", false), expectPeerMessage(n3));
  }

  @Test
  void durability_T3_8_01_candidacyIsDurableBeforeRequestVoteAndAppendsBeforeTheirAck() {
    time.timePasses(PAST_ELECTION_TIMEOUT);
    // Pre-vote: nothing is persisted, so the requests leave at once with the proposed term.
    assertEquals(new PreVote(1, "n1", 1, 0), expectPeerMessage(n2));
    assertEquals(new PreVote(1, "n1", 1, 0), expectPeerMessage(n3));
    assertEquals(0, storage.pendingWrites());
    fromPeer(new PreVoteResponse(1, "n2", true));
    RaftStorage.Write w = awaitPendingWrite();
    assertEquals(new HardState(1, "n1"), w.hardState()); // P5.2-01: term and self-vote
    n2.expectNoMessage(QUIET);
    n3.expectNoMessage(Duration.ZERO);
    storage.releaseOne();
    assertEquals(new RequestVote(1, "n1", 1, 0), expectPeerMessage(n2));
    assertEquals(new RequestVote(1, "n1", 1, 0), expectPeerMessage(n3));

    // A leader of term 2 appears; its entries are acknowledged only once durable.
    LogEntry noop = new LogEntry(2, 2, new EntryData.Noop(2));
    fromPeer(new AppendEntries(2, "n3", 1, 0, List.of(noop), 0));
    RaftStorage.Write append = awaitPendingWrite();
    assertEquals(List.of(noop), append.entries());
    n3.expectNoMessage(QUIET);
    storage.releaseOne();
    assertEquals(AppendEntriesResponse.success(2, "n1", 2), expectPeerMessage(n3));
  }

  /**
   * The acknowledgement of durable entries leaves from the thread that finished the write, not on
   * the node's next turn: here the node's actor is busy applying a command when the write of entry
   * 4 completes, and the leader gets its acknowledgement all the same. (Still never before the
   * write, as the test above checks.)
   */
  @Test
  void durability_T3_8_01_anAcknowledgementLeavesOnceItsWriteIsDurable_evenWhileTheNodeIsBusy() throws Exception {
    LogEntry e2 = new LogEntry(2, 1, new EntryData.Noop(1));
    LogEntry hold = new LogEntry(3, 1, new EntryData.Command(20, "", "hold".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    fromPeer(new AppendEntries(1, "n3", 1, 0, List.of(e2, hold), 0));
    awaitPendingWrite();
    storage.releaseOne();
    assertEquals(AppendEntriesResponse.success(1, "n1", 3), expectPeerMessage(n3));
    LogEntry e4 = new LogEntry(4, 1, new EntryData.Noop(1));
    try {
      fromPeer(new AppendEntries(1, "n3", 3, 1, List.of(e4), 3)); // commits 3: the node applies "hold"
      assertTrue(holding.await(5, java.util.concurrent.TimeUnit.SECONDS), "the node never applied entry 3");
      assertEquals(List.of(e4), storage.peek().entries(), "entry 4's write started before the node applied entry 3");
      n3.expectNoMessage(QUIET); // not before the write
      storage.releaseOne();
      // The node stays busy until holdOpens opens (30 s): this answer can only come from the write's thread.
      assertEquals(AppendEntriesResponse.success(1, "n1", 4), expectPeerMessage(n3));
    } finally {
      holdOpens.countDown();
    }
    assertEquals(3, status(node).lastApplied());
  }

  @Test
  void durability_T3_8_09_anAppendWhoseWriteFailsIsNeverAcknowledged() {
    LogEntry e2 = new LogEntry(2, 1, new EntryData.Noop(1));
    fromPeer(new AppendEntries(1, "n3", 1, 0, List.of(e2), 0));
    assertEquals(List.of(e2), awaitPendingWrite().entries());
    storage.failOne();
    // Neither from the thread that failed the write nor later from the actor: no success for entry 2.
    List<RaftMessage> sent = sentUntilQuiet(n3);
    assertTrue(sent.stream().noneMatch(m -> m instanceof AppendEntriesResponse r && r.success() && r.matchIndex() >= 2), sent.toString());
  }

  /** A node stopped while a write is in flight: the write completing later logs no ERROR (Akka's dead-letter logger and a null result). */
  @Test
  void aNodeStoppedWithAWriteInFlightLogsNoErrorWhenTheWriteCompletes() {
    fromPeer(new AppendEntries(1, "n3", 1, 0, List.of(new LogEntry(2, 1, new EntryData.Noop(1))), 0));
    awaitPendingWrite();
    TestProbe<akka.actor.AllDeadLetters> dead = kit.createTestProbe();
    // Subscribed at once (the typed EventStream.Subscribe is a message and may land after the dead letter).
    kit.system().classicSystem().eventStream().subscribe(akka.actor.typed.javadsl.Adapter.toClassic(dead.ref()),
        akka.actor.AllDeadLetters.class);
    kit.stop(node);
    LoggingTestKit.empty().withLogLevel(org.slf4j.event.Level.ERROR).withOccurrences(0).expect(kit.system(), () -> {
      storage.releaseOne();
      dead.receiveMessage(Duration.ofSeconds(5)); // the write's completion, for the stopped node
      dead.expectNoMessage(QUIET);
      return null;
    });
  }

  /**
   * A write still in flight when the node stops (writes in flight may or may not complete; nothing
   * that depends on them has been sent). The node starts again on the same storage and reads it
   * before that write lands (a storage need not order a recovery after writes in flight). The old
   * incarnation's acknowledgement of entries 2-3 must not leave afterwards: the new incarnation does
   * not know them and grants its term-2 vote to a candidate whose log ends at 1.
   */
  @Test
  void durability_T3_8_01_aStoppedIncarnationNeverAcknowledgesItsWriteAfterTheNextOneRecovered() {
    LogEntry e2 = new LogEntry(2, 1, new EntryData.Noop(1));
    LogEntry e3 = new LogEntry(3, 1, new EntryData.Noop(1));
    fromPeer(new AppendEntries(1, "n3", 1, 0, List.of(e2, e3), 0));
    awaitPendingWrite();
    restartNode(); // stopped with the write in flight; the new incarnation recovered without it
    assertEquals(1, status(node).lastIndex());
    storage.releaseOne(); // the old incarnation's write lands only now
    fromPeer(new RequestVote(2, "n2", 1, 1)); // a candidate whose log ends at index 1
    awaitPendingWrite();
    storage.releaseOne();
    assertEquals(new RequestVoteResponse(2, "n1", true), expectPeerMessage(n2));
    // n1 granted a vote to a log without entries 2-3: it must never have acknowledged them.
    List<RaftMessage> toLeader = sentUntilQuiet(n3);
    assertTrue(toLeader.stream().noneMatch(m -> m instanceof AppendEntriesResponse r && r.success() && r.matchIndex() >= 2),
        "acknowledged entries 2-3 and then voted for a log without them: " + toLeader);
  }

  /**
   * The completion of the old incarnation's write 1 reaches the restarted node (same ActorRef)
   * while its own write 1 is in flight: it must not be taken for it.
   */
  @Test
  void durability_T3_8_01_aStaleWriteCompletionOfAnEarlierIncarnationIsNotTakenForTheCurrentWrite() {
    LogEntry e2 = new LogEntry(2, 1, new EntryData.Noop(1));
    LogEntry boom = new LogEntry(3, 1, new EntryData.Command(20, "", "boom".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    fromPeer(new AppendEntries(1, "n3", 1, 0, List.of(e2, boom), 3));
    awaitPendingWrite(); // the old incarnation's write 1
    time.timePasses(Duration.ofMillis(150)); // applying "boom" failed: restart after the backoff
    n2.awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(1, status(node).lastIndex());
      return null;
    });
    AppendEntries again = new AppendEntries(1, "n3", 1, 0, List.of(e2), 0);
    fromPeer(again); // the new incarnation's write 1
    fromPeer(again); // its acknowledgement waits for that write too
    n2.awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(2, storage.pendingWrites());
      return null;
    });
    storage.releaseOne(); // only the OLD write completes
    List<RaftMessage> toLeader = sentUntilQuiet(n3);
    assertEquals(1, storage.pendingWrites(), "the new incarnation's write is still in flight");
    assertTrue(toLeader.stream().noneMatch(m -> m instanceof AppendEntriesResponse r && r.success() && r.matchIndex() >= 2),
        "acknowledged entry 2 before its write completed: " + toLeader);
  }

  /** As above, stopped by RaftNode.Stop (how RaftTestKit crashes a node). */
  @Test
  void durability_T3_8_01_aNodeStoppedByStopNeverAcknowledgesItsOldWrite() {
    fromPeer(new AppendEntries(1, "n3", 1, 0, List.of(new LogEntry(2, 1, new EntryData.Noop(1))), 0));
    awaitPendingWrite();
    TestProbe<RaftNode.Command> watcher = kit.createTestProbe();
    node.tell(RaftNode.Stop.INSTANCE);
    watcher.expectTerminated(node, Duration.ofSeconds(5));
    node = startNode();
    storage.releaseOne();
    List<RaftMessage> toLeader = sentUntilQuiet(n3);
    assertTrue(toLeader.stream().noneMatch(m -> m instanceof AppendEntriesResponse r && r.success()), toLeader.toString());
  }

  /** As above, but the incarnation ends by a supervisor restart (the state machine throws). */
  @Test
  void durability_T3_8_01_anIncarnationRestartedBySupervisionNeverAcknowledgesItsOldWrite() {
    LogEntry e2 = new LogEntry(2, 1, new EntryData.Noop(1));
    LogEntry boom = new LogEntry(3, 1, new EntryData.Command(20, "", "boom".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    fromPeer(new AppendEntries(1, "n3", 1, 0, List.of(e2, boom), 3)); // committed: applied before it is durable here
    awaitPendingWrite();
    time.timePasses(Duration.ofMillis(150)); // restart backoff
    n2.awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(1, status(node).lastIndex()); // the new incarnation read storage without entries 2-3
      return null;
    });
    storage.releaseOne(); // the old incarnation's write lands only now
    List<RaftMessage> toLeader = sentUntilQuiet(n3);
    assertTrue(toLeader.stream().noneMatch(m -> m instanceof AppendEntriesResponse r && r.success() && r.matchIndex() >= 2),
        "an earlier incarnation acknowledged entries this one does not hold: " + toLeader);
  }

  @Test
  void election_P5_2_13_aCandidatesSelfVoteSurvivesRestart() {
    storage.open();
    time.timePasses(PAST_ELECTION_TIMEOUT);
    expectPeerMessage(n2);
    fromPeer(new PreVoteResponse(1, "n2", true));
    assertInstanceOf(RequestVote.class, expectPeerMessage(n2));
    restartNode();
    RaftNode.Status s = status(node);
    assertEquals(Role.FOLLOWER, s.role()); // P5.5-04: back as a follower with term and self-vote
    assertEquals(1, s.term());
    fromPeer(new RequestVote(1, "n2", 1, 0));
    assertEquals(new RequestVoteResponse(1, "n1", false), expectPeerMessage(n2));
  }

  @Test
  void durability_T3_8_08_aRestartedLeaderComesBackAsAFollowerAndSendsNoHeartbeats() {
    storage.open();
    time.timePasses(PAST_ELECTION_TIMEOUT);
    expectPeerMessage(n2);
    fromPeer(new PreVoteResponse(1, "n2", true));
    expectPeerMessage(n2);
    fromPeer(new RequestVoteResponse(1, "n2", true));
    assertInstanceOf(AppendEntries.class, expectPeerMessage(n2));
    assertEquals(Role.LEADER, status(node).role());
    restartNode();
    RaftNode.Status s = status(node);
    assertEquals(Role.FOLLOWER, s.role()); // P5.1-08
    assertNull(s.leaderId());
    // Less than the minimum election timeout later it has sent nothing at all: no heartbeats.
    drain(n2);
    time.timePasses(Duration.ofMillis(90));
    n2.expectNoMessage(QUIET);
  }

  /** The peer messages {@code p} receives until none comes for {@link #QUIET}. */
  private static List<RaftMessage> sentUntilQuiet(TestProbe<RaftNode.Command> p) {
    List<RaftMessage> sent = new java.util.ArrayList<>();
    while (true) {
      try {
        sent.add(expectPeerMessage(p, QUIET));
      } catch (AssertionError quiet) {
        return sent;
      }
    }
  }

  private static void drain(TestProbe<RaftNode.Command> p) {
    while (true) {
      try {
        p.receiveMessage(Duration.ofMillis(50));
      } catch (AssertionError e) {
        return;
      }
    }
  }

  /** Elects n1 with the probes' votes, releasing each write; returns once its no-op is durable and acknowledged. */
  private void electNode() {
    time.timePasses(PAST_ELECTION_TIMEOUT);
    assertInstanceOf(PreVote.class, expectPeerMessage(n2));
    assertInstanceOf(PreVote.class, expectPeerMessage(n3));
    fromPeer(new PreVoteResponse(1, "n2", true));
    awaitPendingWrite();
    storage.releaseOne();
    assertInstanceOf(RequestVote.class, expectPeerMessage(n2));
    assertInstanceOf(RequestVote.class, expectPeerMessage(n3));
    fromPeer(new RequestVoteResponse(1, "n2", true));
    assertEquals(List.of(new LogEntry(2, 1, new EntryData.Noop(1))), awaitPendingWrite().entries());
    storage.releaseOne();
    assertInstanceOf(AppendEntries.class, expectPeerMessage(n2));
    assertInstanceOf(AppendEntries.class, expectPeerMessage(n3));
    fromPeer(AppendEntriesResponse.success(1, "n2", 2));
    n2.awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(2, status(node).commitIndex());
      return null;
    });
  }

  /**
   * T3.8-09 on a leader: its write of two proposals fails (a full disk). Nothing is answered
   * "applied"; both callers learn at once that the outcome is unknown (the entries went out to the
   * followers with the write, and may yet commit); the failure is logged at ERROR with member, group
   * and cause; and the node comes back as a follower.
   */
  @Test
  void durability_T3_8_09_aLeaderWhoseWriteFailsAnswersOutcomeUnknownLogsTheCauseAndStepsDown() {
    electNode();
    TestProbe<RaftNode.ProposeReply> client = kit.createTestProbe();
    node.tell(new RaftNode.Propose("x", client.ref()));
    node.tell(new RaftNode.Propose("y", client.ref()));
    status(node); // both are appended: one write in flight, the other batched behind it
    awaitPendingWrite();
    LoggingTestKit.error("Raft node n1 of group g: a storage write failed (java.io.IOException: injected write failure)")
        .withMessageContains("As LEADER in term 1 it stops taking part: 2 waiting request(s) are answered 'outcome unknown'")
        .expect(kit.system(), () -> {
          storage.failOne();
          return null;
        });
    for (int i = 0; i < 2; i++) {
      RaftNode.OutcomeUnknown u = assertInstanceOf(RaftNode.OutcomeUnknown.class, client.receiveMessage(Duration.ofSeconds(5)));
      assertTrue(u.reason().contains("injected write failure"), u.reason());
    }
    client.expectNoMessage(QUIET);
    time.timePasses(Duration.ofMillis(150)); // restart backoff
    RaftNode.Status s = status(node);
    assertEquals(RaftNode.Phase.RUNNING, s.phase());
    assertEquals(Role.FOLLOWER, s.role());
    assertEquals(2, s.lastIndex(), "the failed write's entries are not in the recovered log");
  }

  @Test
  void batching_T10_2_2_01_proposalsArrivingDuringAWriteAreWrittenAndRepliedTogether() {
    electNode();
    TestProbe<RaftNode.ProposeReply> client = kit.createTestProbe();
    node.tell(new RaftNode.Propose("first", client.ref()));
    RaftStorage.Write first = awaitPendingWrite();
    assertEquals(1, first.entries().size());
    for (int i = 0; i < 100; i++) node.tell(new RaftNode.Propose("cmd-" + i, client.ref()));
    status(node); // all 100 are in the node
    assertEquals(1, storage.pendingWrites(), "a second write started while the first was in flight");
    storage.releaseOne();
    // The 100 gathered behind the partial batch in flight with the first; its answer sends them on,
    // and the leader writes them as they leave (RaftDriver), in one write.
    fromPeer(AppendEntriesResponse.success(1, "n2", 3));
    RaftStorage.Write batch = awaitPendingWrite();
    assertEquals(100, batch.entries().size(), "the 100 proposals must share one write");
    assertEquals(4, batch.entries().get(0).index());
    storage.releaseOne();
    // One follower acknowledgement commits all of them (with the leader's own durable copy).
    fromPeer(AppendEntriesResponse.success(1, "n2", 103));
    List<RaftNode.ProposeReply> replies = client.receiveSeveralMessages(101, Duration.ofSeconds(5));
    java.util.Set<Long> indexes = new java.util.HashSet<>();
    for (RaftNode.ProposeReply r : replies) indexes.add(assertInstanceOf(RaftNode.Applied.class, r).index());
    assertEquals(101, indexes.size(), "each caller gets its own result");
  }

  @Test
  void replication_T10_2_1_01_P5_3_18_leaderSendsBeforeItsOwnWriteAndRepliesOnceCommittedAndApplied() {
    electNode();
    drain(n2);
    drain(n3);
    TestProbe<RaftNode.ProposeReply> client = kit.createTestProbe();
    node.tell(new RaftNode.Propose("x", client.ref()));
    RaftStorage.Write w = awaitPendingWrite();
    assertEquals(3, w.entries().get(0).index());
    // The AppendEntries for index 3 left while the leader's own write is still pending.
    AppendEntries ae = assertInstanceOf(AppendEntries.class, expectPeerMessage(n2));
    assertEquals(3, ae.lastIndex());
    assertEquals(1, storage.pendingWrites());
    client.expectNoMessage(QUIET); // not committed yet
    // One follower ack plus a leader whose own write is pending is not a majority of durable copies.
    fromPeer(AppendEntriesResponse.success(1, "n2", 3));
    assertEquals(2, status(node).commitIndex());
    // Two follower acks are a majority of three without the leader: index 3 commits.
    fromPeer(AppendEntriesResponse.success(1, "n3", 3));
    assertEquals(3, status(node).commitIndex());
    // Committed is durable on a majority: the leader applies and answers without waiting for its own write.
    RaftNode.Applied applied = assertInstanceOf(RaftNode.Applied.class, client.receiveMessage(Duration.ofSeconds(5)));
    assertEquals(3, applied.index());
    assertEquals("applied x", applied.result());
    assertEquals(1, storage.pendingWrites(), "its own write is still pending");
    storage.releaseOne();
    client.expectNoMessage(QUIET); // exactly once
  }

  @Test
  void replication_P5_3_05_aTruncationIsJournalledBeforeTheReply() {
    storage.open();
    LogEntry e2 = new LogEntry(2, 1, new EntryData.Noop(1));
    LogEntry e3 = new LogEntry(3, 1, new EntryData.Noop(1));
    fromPeer(new AppendEntries(1, "n2", 1, 0, List.of(e2, e3), 0));
    assertEquals(AppendEntriesResponse.success(1, "n1", 3), expectPeerMessage(n2));
    storage.gate();
    LogEntry conflicting = new LogEntry(3, 2, new EntryData.Noop(2));
    fromPeer(new AppendEntries(2, "n3", 2, 1, List.of(conflicting), 0));
    RaftStorage.Write w = awaitPendingWrite();
    assertEquals(3, w.truncateFrom());
    assertEquals(List.of(conflicting), w.entries());
    n3.expectNoMessage(QUIET);
    storage.releaseOne();
    assertEquals(AppendEntriesResponse.success(2, "n1", 3), expectPeerMessage(n3));
    assertEquals(3, storage.entries().size()); // bootstrap configuration, e2, the new entry 3
    assertEquals(conflicting, storage.entries().get(2));
    assertEquals(e2, storage.entries().get(1));
  }

  @Test
  void basics_P5_1_01_termIsMonotonicAndSurvivesRestart() {
    storage.open();
    long[] terms = {3, 1, 5, 2};
    long[] expected = {3, 3, 5, 5};
    for (int i = 0; i < terms.length; i++) {
      fromPeer(new AppendEntries(terms[i], "n2", 0, 0, List.of(), 0));
      assertEquals(expected[i], status(node).term());
    }
    restartNode();
    assertEquals(5, status(node).term());
    assertEquals(5, storage.hardState().term());
  }

  @Test
  void badInput_messagesOfOtherGroupsWithoutSenderOrMalformedFieldsAreDroppedWithAWarning() {
    storage.open();
    RaftNode.Status before = status(node);
    RaftMessage vote = new RequestVote(5, "n2", 1, 0);
    LoggingTestKit.warn("unknown group 'other'").expect(kit.system(), () -> {
      node.tell(new RaftNode.PeerEnvelope("other", "n1", vote));
      return status(node);
    });
    LoggingTestKit.warn("addressed to member 'n2'").expect(kit.system(), () -> {
      node.tell(new RaftNode.PeerEnvelope("g", "n2", vote));
      return status(node);
    });
    LoggingTestKit.warn("no sender id").expect(kit.system(), () -> {
      fromPeer(new RequestVote(5, " ", 1, 0));
      return status(node);
    });
    LoggingTestKit.warn("negative term").expect(kit.system(), () -> {
      fromPeer(new RequestVote(-1, "n2", 1, 0));
      return status(node);
    });
    LoggingTestKit.warn("not contiguous").expect(kit.system(), () -> {
      fromPeer(new AppendEntries(5, "n2", 1, 0, List.of(new LogEntry(3, 5, new EntryData.Noop(5))), 0));
      return status(node);
    });
    LoggingTestKit.warn("above the message term").expect(kit.system(), () -> {
      fromPeer(new RequestVote(5, "n2", 1, 9));
      return status(node);
    });
    RaftNode.Status after = status(node);
    assertEquals(before, after, "a dropped message changed state");
    assertEquals(HardState.INITIAL, storage.hardState());
    assertEquals(1, storage.entries().size());
    n2.expectNoMessage(Duration.ZERO);
    assertFalse(after.term() > 0);
  }
}
