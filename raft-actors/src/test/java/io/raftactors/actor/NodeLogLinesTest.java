package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.LoggingTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.core.MemberAddress;
import io.raftactors.core.MembershipChange;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What an operator reads in the log: one INFO line for each role change, configuration change and
 * snapshot, naming the member, the group, the term and the index.
 */
class NodeLogLinesTest {
  private final Config cfg = ConfigFactory.parseString(String.join("\n",
          "raft.group-id = logs",
          "raft.member-id = n1",
          "raft.members { n1 = \"akka://NodeLogLinesTest\" }",
          "raft.election-timeout-min = 100ms",
          "raft.election-timeout-max = 150ms",
          "raft.heartbeat-interval = 20ms",
          "raft.snapshot.after-entries = 5"))
      .withFallback(ConfigFactory.load());
  private final ActorTestKit kit = ActorTestKit.create("NodeLogLinesTest", cfg);

  @AfterEach
  void stop() {
    kit.shutdownTestKit();
  }

  /** A counter that can be snapshotted. */
  private static final class Counter implements StateMachine {
    private long n;

    @Override
    public Object apply(long index, Object command) {
      return ++n;
    }

    @Override
    public byte[] takeSnapshot() {
      return ByteBuffer.allocate(8).putLong(n).array();
    }

    @Override
    public void restoreSnapshot(byte[] snapshot) {
      n = ByteBuffer.wrap(snapshot).getLong();
    }
  }

  @Test
  void roleConfigurationAndSnapshotChangesAreOneInfoLineEachWithGroupMemberTermAndIndex() {
    RaftSettings settings = RaftSettings.fromConfig(cfg);
    ActorRef<RaftNode.Command> node = LoggingTestKit
        .info("Raft node n1 of group logs became LEADER in term 1 (was FOLLOWER); leader n1, last index ")
        .withMessageRegex(".*last index \\d+, commit index \\d+$")
        .expect(kit.system(), () -> kit.spawn(RaftNode.create(settings, new InMemoryStorage(settings.bootstrapConfig()), new Counter()), "n1"));

    TestProbe<RaftNode.ProposeReply> client = kit.createTestProbe();
    LoggingTestKit.info("Raft node n1 of group logs took a snapshot up to index ")
        .withMessageRegex(".* up to index \\d+ in term 1 \\(8 bytes\\).*")
        .expect(kit.system(), () -> {
          for (int i = 0; i < 6; i++) {
            node.tell(new RaftNode.Propose("c" + i, client.ref()));
            assertInstanceOf(RaftNode.Applied.class, client.receiveMessage(Duration.ofSeconds(10)));
          }
          return null;
        });

    TestProbe<RaftNode.AdminReply> admin = kit.createTestProbe();
    LoggingTestKit.info("Raft node n1 of group logs: configuration now ")
        .withMessageRegex(".*learners.*n2.* in term 1, last index \\d+, commit index \\d+$")
        .expect(kit.system(), () -> {
          node.tell(new RaftNode.ChangeMembers(List.of(new MembershipChange.AddLearner("n2",
              new MemberAddress("akka://NodeLogLinesTest", null))), admin.ref()));
          return assertInstanceOf(RaftNode.MembersChanged.class, admin.receiveMessage(Duration.ofSeconds(10)));
        });
  }

  /** A member that the operator removed says so at INFO: removal is a decision, not a fault. */
  @Test
  void aRemovedMemberSaysSoAtInfo() throws Exception {
    try (io.raftactors.testkit.RaftTestKit group = io.raftactors.testkit.RaftTestKit.builder().members(3).groupId("logs").stateMachine(id -> new Counter()).start()) {
      String leader = group.awaitLeader();
      String removed = group.members().stream().filter(m -> !m.equals(leader)).findFirst().orElseThrow();
      LoggingTestKit.info("Raft node " + removed + " was removed from group logs in term ")
          .withMessageRegex(".* in term \\d+ \\(last index \\d+\\): it no longer votes.*")
          .expect(group.system(), () -> group.client().removeMember(removed).toCompletableFuture().join());
    }
  }
}
