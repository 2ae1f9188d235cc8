package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.LoggingTestKit;
import akka.actor.testkit.typed.javadsl.ManualTime;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.core.DurableState;
import io.raftactors.core.Role;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A node whose storage is slow to answer, or fails, while it reads its state: the node says so in
 * its status, fails the attempt visibly after raft.recovery-timeout and tries again. One node of a
 * group of one under ManualTime; the storage answers each recover() only when the test says so.
 */
class RecoveryTest {
  private static final Duration RECOVERY_TIMEOUT = Duration.ofSeconds(2);
  private static final Duration BACKOFF = Duration.ofMillis(300);

  /** Storage whose recover() calls complete only when the test completes (or fails) them. */
  private static final class StalledRecovery extends InMemoryStorage {
    private final List<CompletableFuture<DurableState>> calls = new ArrayList<>();

    StalledRecovery(io.raftactors.core.ClusterConfig bootstrap) {
      super(bootstrap);
    }

    @Override
    public synchronized CompletionStage<DurableState> recover() {
      CompletableFuture<DurableState> f = new CompletableFuture<>();
      calls.add(f);
      return f;
    }

    synchronized int calls() {
      return calls.size();
    }

    /** Completes call {@code i} (0-based) with what this storage holds. */
    void answer(int i) {
      CompletableFuture<DurableState> f;
      synchronized (this) {
        f = calls.get(i);
      }
      super.recover().thenAccept(f::complete);
    }

    void fail(int i, Throwable cause) {
      CompletableFuture<DurableState> f;
      synchronized (this) {
        f = calls.get(i);
      }
      f.completeExceptionally(cause);
    }
  }

  private ActorTestKit kit;
  private ManualTime time;
  private StalledRecovery storage;
  private ActorRef<RaftNode.Command> node;

  @BeforeEach
  void start() {
    Config cfg = ConfigFactory.parseString(String.join("\n",
            "raft.group-id = solo",
            "raft.member-id = n1",
            "raft.members { n1 = \"akka://RecoveryTest\" }",
            "raft.tick-interval = 10ms",
            "raft.election-timeout-min = 100ms",
            "raft.election-timeout-max = 100ms",
            "raft.heartbeat-interval = 20ms",
            "raft.recovery-timeout = " + RECOVERY_TIMEOUT.toMillis() + "ms",
            "raft.restart-backoff.min = " + BACKOFF.toMillis() + "ms",
            "raft.restart-backoff.max = " + BACKOFF.toMillis() + "ms"))
        .withFallback(ManualTime.config())
        .withFallback(ConfigFactory.load());
    kit = ActorTestKit.create("RecoveryTest", cfg);
    time = ManualTime.get(kit.system());
    RaftSettings settings = RaftSettings.fromConfig(cfg);
    storage = new StalledRecovery(settings.bootstrapConfig());
    node = kit.spawn(RaftNode.create(settings, storage, (i, c) -> c), "node");
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

  private void awaitRecoverCalls(int n) {
    kit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(n, storage.calls());
      return null;
    });
  }

  /**
   * Lets virtual time pass in small steps until the node has called recover() {@code n} times: the
   * supervisor schedules its backoff only once it has seen the failure.
   */
  private void advanceUntilRecoverCalls(int n) {
    kit.createTestProbe().awaitAssert(Duration.ofSeconds(10), Duration.ofMillis(20), () -> {
      if (storage.calls() < n) time.timePasses(Duration.ofMillis(50));
      assertEquals(n, storage.calls());
      return null;
    });
  }

  @Test
  void aRecoveryThatNeverCompletesIsReportedFailsAfterTheTimeoutAndIsRetried() {
    awaitRecoverCalls(1);
    RaftNode.Status recovering = status(); // answered while the storage has not answered
    // A proposal meanwhile is answered at once, certainly not appended: not stashed for a restart to lose.
    TestProbe<RaftNode.ProposeReply> proposer = kit.createTestProbe();
    node.tell(new RaftNode.Propose("early", proposer.ref()));
    assertEquals(new RaftNode.NotLeader(null), proposer.receiveMessage(Duration.ofSeconds(5)));
    assertEquals(RaftNode.Phase.RECOVERING, recovering.phase());
    assertTrue(recovering.problem().contains("attempt 1"), recovering.toString());

    LoggingTestKit.error("recovery attempt 1 from storage failed").withMessageContains("raft.recovery-timeout")
        .expect(kit.system(), () -> {
          time.timePasses(RECOVERY_TIMEOUT);
          return null;
        });
    LoggingTestKit.info("recovery attempt 2").expect(kit.system(), () -> {
      advanceUntilRecoverCalls(2);
      return null;
    });
    RaftNode.Status retrying = status();
    assertEquals(RaftNode.Phase.RECOVERING, retrying.phase());
    assertTrue(retrying.problem().contains("attempt 2"), retrying.toString());

    storage.answer(1);
    kit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(RaftNode.Phase.RUNNING, status().phase());
      return null;
    });
    storage.answer(0); // the abandoned first attempt answers late: ignored
    kit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      time.timePasses(Duration.ofMillis(110)); // a group of one elects itself
      assertEquals(Role.LEADER, status().role());
      return null;
    });
    assertEquals(2, storage.calls());
  }

  @Test
  void aFailedRecoveryIsLoggedWithItsCauseAndRetried() {
    awaitRecoverCalls(1);
    LoggingTestKit.error("recovery attempt 1 from storage failed").withMessageContains("disk on fire")
        .expect(kit.system(), () -> {
          storage.fail(0, new java.io.IOException("disk on fire"));
          return null;
        });
    advanceUntilRecoverCalls(2);
    storage.answer(1);
    kit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      RaftNode.Status s = status();
      assertEquals(RaftNode.Phase.RUNNING, s.phase());
      assertEquals(null, s.problem());
      return null;
    });
  }
}
