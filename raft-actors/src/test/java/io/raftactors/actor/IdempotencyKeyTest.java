package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.TestProbe;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.SessionSnapshotTest.Counting;
import io.raftactors.testkit.RaftTestKit;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Proposals with an idempotency key (thesis 6.3 sessions named by the client): applied at most once
 * per key, whichever member and leader they reach and however often they are sent, across
 * snapshots and restarts; a key reused for another command is refused.
 */
class IdempotencyKeyTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private RaftTestKit group;

  @AfterEach
  void stop() {
    if (group != null) group.close();
  }

  private RaftNode.Applied propose(String member, String key, String command) {
    TestProbe<RaftNode.ProposeReply> p = TestProbe.create(group.system());
    group.node(member).tell(new RaftNode.Propose(command, key, p.ref()));
    return assertInstanceOf(RaftNode.Applied.class, p.receiveMessage(WAIT));
  }

  private void assertAppliedOnceEverywhere(String command) {
    String leader = group.awaitLeader();
    propose(leader, null, "barrier");
    group.awaitApplied(group.status(leader).commitIndex(), WAIT);
    for (String id : group.live()) assertEquals(1, ((Counting) group.stateMachine(id)).count(command), id + " applied " + command);
  }

  @Test
  void aRetryThroughANewLeaderGetsTheFirstAnswerAndHasNoSecondEffect() {
    group = RaftTestKit.builder().members(3).stateMachine(id -> new Counting()).start();
    String leader = group.awaitLeader();
    RaftNode.Applied first = propose(leader, "key-1", "x");
    group.crash(leader);
    String next = group.awaitLeader();
    assertEquals(first, propose(next, "key-1", "x"), "the first answer, with the first index");
    group.restart(leader);
    assertAppliedOnceEverywhere("x");
  }

  @Test
  void copiesCommittedTogetherAreAppliedOnceAndAllGetTheFirstAnswer() {
    group = RaftTestKit.builder().members(3).stateMachine(id -> new Counting()).start();
    String leader = group.awaitLeader();
    TestProbe<RaftNode.ProposeReply> p = TestProbe.create(group.system());
    // Both copies are appended before either is applied: the log holds the key twice.
    for (int i = 0; i < 3; i++) group.node(leader).tell(new RaftNode.Propose("y", "key-2", p.ref()));
    RaftNode.Applied a = assertInstanceOf(RaftNode.Applied.class, p.receiveMessage(WAIT));
    assertEquals(a, p.receiveMessage(WAIT));
    assertEquals(a, p.receiveMessage(WAIT));
    assertAppliedOnceEverywhere("y");
  }

  @Test
  void aKeyUsedAgainForAnotherCommandIsRefusedAndNothingIsApplied() {
    group = RaftTestKit.builder().members(3).stateMachine(id -> new Counting()).start();
    String leader = group.awaitLeader();
    propose(leader, "key-3", "first");
    TestProbe<RaftNode.ProposeReply> p = TestProbe.create(group.system());
    group.node(leader).tell(new RaftNode.Propose("second", "key-3", p.ref()));
    assertEquals(new RaftNode.IdempotencyKeyReused("key-3"), p.receiveMessage(WAIT));
    assertAppliedOnceEverywhere("first");
    for (String id : group.live()) assertEquals(0, ((Counting) group.stateMachine(id)).count("second"), id);
    // Without a key, the same command is a new command each time.
    propose(leader, null, "first");
    propose(leader, null, "first");
    assertEquals(3, ((Counting) group.stateMachine(leader)).count("first"));
  }

  @Test
  void keysSurviveSnapshotsAndARestartOfTheWholeGroup() {
    group = RaftTestKit.builder().members(3).stateMachine(id -> new Counting())
        .config(ConfigFactory.parseString("raft.snapshot.after-entries = 5")).start();
    String leader = group.awaitLeader();
    RaftNode.Applied first = propose(leader, "key-4", "z");
    for (int i = 0; i < 12; i++) propose(leader, null, "filler" + i); // past two snapshots
    group.awaitApplied(group.status(leader).commitIndex(), WAIT);
    for (String id : group.members()) group.crash(id);
    for (String id : group.members()) group.restart(id);
    String next = group.awaitLeader();
    for (String id : group.members()) {
      assertTrue(((Counting) group.stateMachine(id)).restores >= 1, id + " restarts from its snapshot");
    }
    assertEquals(first, propose(next, "key-4", "z"));
    assertAppliedOnceEverywhere("z");
  }

  @Test
  void keysAreValidated() {
    group = RaftTestKit.builder().members(1).stateMachine(id -> new Counting()).start();
    String leader = group.awaitLeader();
    TestProbe<RaftNode.ProposeReply> p = TestProbe.create(group.system());
    group.node(leader).tell(new RaftNode.Propose("v", "", p.ref()));
    assertInstanceOf(RaftNode.Rejected.class, p.receiveMessage(WAIT));
    group.node(leader).tell(new RaftNode.Propose("v", "k".repeat(RaftNode.MAX_IDEMPOTENCY_KEY_LENGTH + 1), p.ref()));
    assertInstanceOf(RaftNode.Rejected.class, p.receiveMessage(WAIT));
    assertEquals(0, ((Counting) group.stateMachine(leader)).count("v"));
  }
}
