package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.TestProbe;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.SessionSnapshotTest.Counting;
import io.raftactors.testkit.RaftTestKit;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Backpressure (raft.flow-control): a leader that cannot commit holds at most the configured number
 * and bytes of proposals; every proposal past the bound is answered at once as overloaded and
 * certainly not applied, and the ones it holds are applied once the followers are back.
 */
class FlowControlTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private RaftTestKit group;

  @AfterEach
  void stop() {
    if (group != null) group.close();
  }

  /** Check-quorum off: the leader keeps leading while its followers are down, so nothing commits. */
  private String stalledLeader(String flowControl) {
    group = RaftTestKit.builder().members(3).stateMachine(id -> new Counting())
        .config(ConfigFactory.parseString("raft.check-quorum = off\n" + flowControl)).start();
    String leader = group.awaitLeader();
    for (String id : group.members()) if (!id.equals(leader)) group.crash(id);
    return leader;
  }

  @Test
  void proposalsPastTheCountBoundAreRefusedAtOnceAndTheRestApplyLater() {
    String leader = stalledLeader("raft.flow-control.max-pending-proposals = 50");
    TestProbe<RaftNode.ProposeReply> p = TestProbe.create(group.system());
    int flood = 2_000;
    for (int i = 0; i < flood; i++) group.node(leader).tell(new RaftNode.Propose("c" + i, p.ref()));
    // Nothing can commit: every answer that arrives now is a refusal, and all but 50 arrive.
    List<RaftNode.ProposeReply> refused = p.receiveSeveralMessages(flood - 50, WAIT);
    for (RaftNode.ProposeReply r : refused) assertInstanceOf(RaftNode.Overloaded.class, r);
    p.expectNoMessage(Duration.ofMillis(200));
    for (String id : group.members()) if (!id.equals(leader)) group.restart(id);
    List<RaftNode.ProposeReply> applied = p.receiveSeveralMessages(50, WAIT);
    for (RaftNode.ProposeReply r : applied) assertInstanceOf(RaftNode.Applied.class, r);
    // The held proposals were the first 50, and nothing refused was applied.
    Counting sm = group.stateMachine(leader);
    for (int i = 0; i < flood; i++) assertEquals(i < 50 ? 1 : 0, sm.count("c" + i), "c" + i);
    // With room again, proposals are accepted.
    group.node(leader).tell(new RaftNode.Propose("later", p.ref()));
    assertInstanceOf(RaftNode.Applied.class, p.receiveMessage(WAIT));
  }

  @Test
  void proposalsPastTheByteBoundAreRefused() {
    String leader = stalledLeader("raft.flow-control.max-pending-bytes = 10KiB");
    TestProbe<RaftNode.ProposeReply> p = TestProbe.create(group.system());
    String big = "b".repeat(1000);
    for (int i = 0; i < 100; i++) group.node(leader).tell(new RaftNode.Propose(big + i, p.ref()));
    // Commands are serialized as their UTF-8 bytes: ten of 1,001 bytes fit in 10 KiB, an eleventh does not.
    List<RaftNode.ProposeReply> refused = p.receiveSeveralMessages(90, WAIT);
    for (RaftNode.ProposeReply r : refused) assertInstanceOf(RaftNode.Overloaded.class, r);
    p.expectNoMessage(Duration.ofMillis(200));
  }

  @Test
  void aClientRefusedUntilItsDeadlineFailsAsOverloadedNotAsUnknown() throws Exception {
    group = RaftTestKit.builder().members(3).stateMachine(id -> new Counting())
        .config(ConfigFactory.parseString("raft.check-quorum = off\nraft.flow-control.max-pending-proposals = 5\n"
            + "raft.client.deadline = 1s\nraft.client.backoff-max = 100ms")).start();
    String leader = group.awaitLeader();
    RaftClient client = group.client();
    client.submit("open").toCompletableFuture().get(10, TimeUnit.SECONDS); // opens the session
    for (String id : group.members()) if (!id.equals(leader)) group.crash(id);
    TestProbe<RaftNode.ProposeReply> p = TestProbe.create(group.system());
    for (int i = 0; i < 5; i++) group.node(leader).tell(new RaftNode.Propose("fill" + i, p.ref()));
    CompletionException e = org.junit.jupiter.api.Assertions.assertThrows(CompletionException.class,
        () -> client.submit("refused").toCompletableFuture().join());
    assertInstanceOf(RaftClient.OverloadedException.class, e.getCause(), String.valueOf(e.getCause()));
    for (String id : group.members()) if (!id.equals(leader)) group.restart(id);
    p.receiveSeveralMessages(5, WAIT);
    assertEquals(0, ((Counting) group.stateMachine(leader)).count("refused"));
    assertTrue(group.status(leader).commitIndex() > 0);
  }
}
