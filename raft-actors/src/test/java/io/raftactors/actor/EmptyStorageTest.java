package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
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
import io.raftactors.core.RaftMessage.PreVote;
import io.raftactors.core.RaftMessage.PreVoteResponse;
import io.raftactors.core.RaftMessage.RequestVote;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * T3.8-11: a member that starts on empty storage must not take part as if it had always been
 * empty; it could have voted, or acknowledged committed entries, before its storage was lost.
 * One real node under ManualTime; its two peers are test probes.
 */
class EmptyStorageTest {
  private static final AtomicInteger SYSTEMS = new AtomicInteger();
  /** Longer than many election timeouts (100ms) and probe intervals. */
  private static final Duration MANY_TIMEOUTS = Duration.ofMillis(1_000);

  private ActorTestKit kit;
  private ManualTime time;
  private TestProbe<RaftNode.Command> n2;
  private TestProbe<RaftNode.Command> n3;
  private InMemoryStorage storage;
  private ActorRef<RaftNode.Command> node;

  private void start(String bootstrap) {
    String name = "EmptyStorageTest" + SYSTEMS.incrementAndGet();
    Config cfg = ConfigFactory.parseString(String.join("\n",
            "raft.group-id = g",
            "raft.member-id = n1",
            "raft.members { n1 = \"akka://" + name + "\", n2 = \"akka://" + name + "\", n3 = \"akka://" + name + "\" }",
            "raft.bootstrap = " + bootstrap,
            "raft.tick-interval = 10ms",
            "raft.election-timeout-min = 100ms",
            "raft.election-timeout-max = 100ms",
            "raft.heartbeat-interval = 20ms"))
        .withFallback(ManualTime.config())
        .withFallback(ConfigFactory.load());
    kit = ActorTestKit.create(name, cfg);
    time = ManualTime.get(kit.system());
    RaftSettings settings = RaftSettings.fromConfig(cfg);
    n2 = PeerProbes.peer(kit, "g", "n2");
    n3 = PeerProbes.peer(kit, "g", "n3");
    storage = InMemoryStorage.empty(settings.bootstrapConfig());
    node = kit.spawn(RaftNode.create(settings, storage, (i, c) -> c), "n1");
  }

  @AfterEach
  void stop() {
    if (kit != null) kit.shutdownTestKit();
  }


  private void fromPeer(RaftMessage m) {
    node.tell(new RaftNode.PeerEnvelope("g", "n1", m));
  }

  private RaftNode.Status status() {
    TestProbe<RaftNode.Status> p = kit.createTestProbe();
    node.tell(new RaftNode.GetStatus(p.ref()));
    return p.receiveMessage(Duration.ofSeconds(5));
  }

  private static RaftMessage expectPeerMessage(TestProbe<RaftNode.Command> p) {
    return assertInstanceOf(RaftNode.PeerEnvelope.class, p.receiveMessage(Duration.ofSeconds(5))).message();
  }

  /** The probe a waiting node sends: a pre-vote for term 1 from an empty log (changes nothing on the receiver). */
  private static void assertProbe(RaftMessage m) {
    PreVote pv = assertInstanceOf(PreVote.class, m);
    assertEquals(1, pv.term());
    assertEquals(0, pv.lastLogIndex());
  }

  @Test
  void durability_T3_8_11_aMemberOnEmptyStorageInAGroupWithHistoryNeverVotesCampaignsOrAcknowledges() {
    start("checked");
    assertProbe(expectPeerMessage(n2));
    assertProbe(expectPeerMessage(n3));
    // n2 answers with its term: the group has held elections before this storage existed.
    LoggingTestKit.error("has EMPTY storage, but member n2 is already in term 7").expect(kit.system(), () -> {
      fromPeer(new PreVoteResponse(7, "n2", false));
      return status();
    });

    // A candidate of term 8 asks for its vote, a leader of term 8 sends it entries: no answer.
    fromPeer(new RequestVote(8, "n3", 40, 7));
    fromPeer(new AppendEntries(8, "n2", 0, 0, List.of(new LogEntry(1, 1, new EntryData.Noop(1))), 1));
    // Many election timeouts pass: it never campaigns (no pre-vote with a log, no RequestVote).
    time.timePasses(MANY_TIMEOUTS);
    n2.expectNoMessage(Duration.ofMillis(200));
    n3.expectNoMessage(Duration.ofMillis(50));

    // Nothing was written: no vote, no term, no entry; the node reports term 0 and no leader.
    assertEquals(0, storage.writeCount());
    assertEquals(HardState.INITIAL, storage.hardState());
    RaftNode.Status s = status();
    assertEquals(0, s.term());
    assertEquals(null, s.leaderId());

    // It tells another member that lost its storage what it learned, so that one refuses too.
    fromPeer(new PreVote(1, "n3", 0, 0));
    PreVoteResponse answer = assertInstanceOf(PreVoteResponse.class, expectPeerMessage(n3));
    assertEquals(7, answer.term());
    assertEquals(false, answer.granted());

    // Proposals, queries and client commands are refused without a leader hint.
    TestProbe<RaftNode.ProposeReply> client = kit.createTestProbe();
    node.tell(new RaftNode.Propose("x", client.ref()));
    assertEquals(new RaftNode.NotLeader(null), client.receiveMessage(Duration.ofSeconds(5)));
    TestProbe<RaftNode.QueryReply> reader = kit.createTestProbe();
    node.tell(new RaftNode.Query("q", ReadConsistency.STALE, reader.ref()));
    assertEquals(new RaftNode.NotLeader(null), reader.receiveMessage(Duration.ofSeconds(5)));
    TestProbe<RaftNode.ClientReply> remote = kit.createTestProbe();
    node.tell(new RaftNode.ClientCommand(3, 1, 1, new Payload(20, "", new byte[] {1}), remote.ref()));
    assertEquals(new RaftNode.ClientNotLeader(1, null), remote.receiveMessage(Duration.ofSeconds(5)));
  }

  @Test
  void durability_T3_8_11_aLeaderContactingTheEmptyMemberAlsoRevealsTheHistory() {
    start("checked");
    assertProbe(expectPeerMessage(n2));
    assertProbe(expectPeerMessage(n3));
    LoggingTestKit.error("member n3 is already in term 4").expect(kit.system(), () -> {
      fromPeer(new AppendEntries(4, "n3", 10, 4, List.of(), 10));
      return status();
    });
    n3.expectNoMessage(Duration.ofMillis(200)); // no acknowledgement, not even a rejection
    assertEquals(0, storage.writeCount());
  }

  @Test
  void durability_T3_8_11_foundersWaitForEachOtherAndFoundOnlyWhenAllAreInTermZero() {
    start("checked");
    assertProbe(expectPeerMessage(n2));
    assertProbe(expectPeerMessage(n3));
    // n2 is a founded member still in term 0 (it refuses the empty log with its own term).
    fromPeer(new PreVoteResponse(0, "n2", false));
    // n3 is not up yet: nothing is founded, and time passing starts no election; the probe is repeated.
    time.timePasses(Duration.ofMillis(100));
    assertProbe(expectPeerMessage(n3));
    n2.expectNoMessage(Duration.ofMillis(100));
    assertEquals(0, storage.writeCount());
    // n3 starts, itself on empty storage: its probe is answered with term 0 and counts as its answer.
    fromPeer(new PreVote(1, "n3", 0, 0));
    PreVoteResponse answer = assertInstanceOf(PreVoteResponse.class, expectPeerMessage(n3));
    assertEquals(0, answer.term());
    // All others are in term 0: the founding configuration is written as entry 1 at term 0 ...
    n2.awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(1, storage.entries().size());
      return null;
    });
    LogEntry founding = storage.entries().get(0);
    assertEquals(1, founding.index());
    assertEquals(0, founding.term());
    EntryData.Configuration config = assertInstanceOf(EntryData.Configuration.class, founding.data());
    assertEquals(List.of("n1", "n2", "n3"), config.config().voters());
    // ... and after an election timeout it campaigns like any founded member: a real pre-vote.
    time.timePasses(Duration.ofMillis(110));
    PreVote pv = assertInstanceOf(PreVote.class, expectPeerMessage(n2));
    assertEquals(1, pv.lastLogIndex());
  }

  @Test
  void durability_T3_8_11_uncheckedBootstrapFoundsAtOnceWithoutAsking() {
    start("unchecked");
    n2.awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(1, storage.entries().size());
      return null;
    });
    time.timePasses(Duration.ofMillis(110));
    PreVote pv = assertInstanceOf(PreVote.class, expectPeerMessage(n2));
    assertTrue(pv.lastLogIndex() >= 1, "the first message is a real pre-vote, not a probe");
  }

  @Test
  void bootstrap_T4_4_01_aJoiningMemberWritesNothingNeverCampaignsAndLearnsTheConfigurationByReplication() {
    start("join");
    // Many election timeouts: no probe, no pre-vote, no vote request, nothing written.
    time.timePasses(MANY_TIMEOUTS);
    n2.expectNoMessage(Duration.ofMillis(200));
    n3.expectNoMessage(Duration.ofMillis(50));
    assertEquals(0, storage.writeCount());
    assertEquals(0, storage.entries().size());

    // The leader n2 (founded by the others) probes from the start of the log and sends it.
    fromPeer(new AppendEntries(1, "n2", 5, 1, List.of(), 5));
    RaftMessage.AppendEntriesResponse probe = assertInstanceOf(RaftMessage.AppendEntriesResponse.class, expectPeerMessage(n2));
    assertEquals(false, probe.success());
    assertEquals(1, probe.hintIndex(), "its log is empty: the leader must start at entry 1");
    LogEntry founding = new LogEntry(1, 0, new EntryData.Configuration(io.raftactors.core.ClusterConfig.of("n1", "n2", "n3")));
    fromPeer(new AppendEntries(1, "n2", 0, 0, List.of(founding, new LogEntry(2, 1, new EntryData.Noop(1))), 2));
    RaftMessage.AppendEntriesResponse ack = assertInstanceOf(RaftMessage.AppendEntriesResponse.class, expectPeerMessage(n2));
    assertTrue(ack.success());
    assertEquals(2, ack.matchIndex());
    assertEquals(List.of(founding), storage.entries().subList(0, 1), "exactly the leader's initial configuration, once");

    // Now a voter of the configuration it received: without a leader it campaigns like any member.
    time.timePasses(Duration.ofMillis(110));
    PreVote pv = assertInstanceOf(PreVote.class, expectPeerMessage(n2));
    assertEquals(2, pv.lastLogIndex());
  }
}
