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
}
