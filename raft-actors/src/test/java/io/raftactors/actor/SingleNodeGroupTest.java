package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.ManualTime;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.core.HardState;
import io.raftactors.core.Role;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A group of one voter, driven by ManualTime, with a journal that holds writes until released. */
class SingleNodeGroupTest {
  private ActorTestKit kit;
  private ManualTime time;
  private GatedStorage storage;
  private ActorRef<RaftNode.Command> node;

  @BeforeEach
  void start() {
    Config cfg = ConfigFactory.parseString(String.join("\n",
            "raft.group-id = solo",
            "raft.member-id = n1",
            "raft.members { n1 = \"akka://SingleNodeGroupTest\" }",
            "raft.tick-interval = 10ms",
            "raft.election-timeout-min = 100ms",
            "raft.election-timeout-max = 100ms",
            "raft.heartbeat-interval = 20ms"))
        .withFallback(ManualTime.config())
        .withFallback(ConfigFactory.load());
    kit = ActorTestKit.create("SingleNodeGroupTest", cfg);
    time = ManualTime.get(kit.system());
    RaftSettings settings = RaftSettings.fromConfig(cfg);
    storage = new GatedStorage(settings.bootstrapConfig());
    node = kit.spawn(RaftNode.create(settings, storage, (i, c) -> "applied " + c), "node");
  }

  @AfterEach
  void stop() {
    kit.shutdownTestKit();
  }

  private RaftNode.Status status() {
    TestProbe<RaftNode.Status> p = kit.createTestProbe();
    node.tell(new RaftNode.GetStatus(p.ref()));
    return p.receiveMessage(Duration.ofSeconds(5));
  }

  private RaftStorage.Write awaitPendingWrite() {
    TestProbe<Object> p = kit.createTestProbe();
    return p.awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(1, storage.pendingWrites());
      return storage.peek();
    });
  }

  @Test
  void election_P5_2_14_P5_1_08_aSingleVoterStartsAsFollowerElectsItselfAndCommitsOnlyAfterItsOwnWrite() {
    RaftNode.Status fresh = status();
    assertEquals(Role.FOLLOWER, fresh.role()); // P5.1-08
    assertNull(fresh.leaderId());
    time.timePasses(Duration.ofMillis(110));
    RaftStorage.Write vote = awaitPendingWrite();
    assertEquals(new HardState(1, "n1"), vote.hardState());
    assertEquals(1, vote.entries().size()); // the term-1 no-op, in the same write
    assertEquals(Role.LEADER, status().role());
    assertEquals(1, status().term());

    TestProbe<RaftNode.ProposeReply> client = kit.createTestProbe();
    node.tell(new RaftNode.Propose("x", client.ref()));
    client.expectNoMessage(Duration.ofMillis(200)); // its write has not even started
    storage.releaseOne(); // the no-op is durable and commits
    RaftStorage.Write cmd = awaitPendingWrite();
    assertEquals(3, cmd.entries().get(0).index());
    assertEquals(2, status().commitIndex());
    client.expectNoMessage(Duration.ofMillis(200)); // appended, not durable: not committed
    storage.releaseOne();
    RaftNode.Applied applied = assertInstanceOf(RaftNode.Applied.class, client.receiveMessage(Duration.ofSeconds(5)));
    assertEquals(3, applied.index());
    assertEquals("applied x", applied.result());
  }

  private NodeMetrics.Snapshot metrics(boolean reset) {
    TestProbe<NodeMetrics.Snapshot> p = kit.createTestProbe();
    node.tell(new RaftNode.GetMetrics(reset, p.ref()));
    return p.receiveMessage(Duration.ofSeconds(5));
  }

  @Test
  void metrics_aProposalIsTimedThroughEachStage_andBatchSizesAreCounted() {
    time.timePasses(Duration.ofMillis(110));
    awaitPendingWrite(); // the vote and the no-op
    TestProbe<RaftNode.ProposeReply> client = kit.createTestProbe();
    for (String c : new String[] {"a", "b", "c"}) node.tell(new RaftNode.Propose(c, client.ref()));
    client.expectNoMessage(Duration.ofMillis(100)); // all three wait behind the write in flight
    storage.releaseOne();
    RaftStorage.Write batch = awaitPendingWrite();
    assertEquals(3, batch.entries().size(), "the three proposals in one write");
    storage.releaseOne();
    for (int i = 0; i < 3; i++) assertInstanceOf(RaftNode.Applied.class, client.receiveMessage(Duration.ofSeconds(5)));

    NodeMetrics.Snapshot m = metrics(true);
    assertEquals("n1", m.memberId());
    assertEquals(3, m.stages().get(NodeMetrics.Stage.PROPOSED_TO_APPLIED).count());
    assertEquals(3, m.stages().get(NodeMetrics.Stage.PROPOSED_TO_WRITE).count());
    assertEquals(3, m.stages().get(NodeMetrics.Stage.APPLY).count(), "the no-op and configuration are not applied to the state machine");
    assertEquals(2, m.writes());
    assertEquals(2, m.stages().get(NodeMetrics.Stage.WRITE).count());
    assertEquals(3, m.sizes().get(NodeMetrics.Size.ENTRIES_PER_WRITE).max());
    assertEquals(4, m.entriesWritten(), "the no-op, then the batch of three");
    assertEquals(m.writes() / (double) m.entriesCommitted(), m.fsyncsPerCommittedEntry());
    // The proposals waited for the first write: each took at least as long to reach storage as to be applied minus the write.
    NodeMetrics.Summary toWrite = m.stages().get(NodeMetrics.Stage.PROPOSED_TO_WRITE);
    NodeMetrics.Summary toApplied = m.stages().get(NodeMetrics.Stage.PROPOSED_TO_APPLIED);
    org.junit.jupiter.api.Assertions.assertTrue(toApplied.max() >= toWrite.max(), toApplied + " vs " + toWrite);

    NodeMetrics.Snapshot after = metrics(false);
    assertEquals(0, after.stages().get(NodeMetrics.Stage.PROPOSED_TO_APPLIED).count(), "reset");
    assertEquals(0, after.writes());
  }
}
