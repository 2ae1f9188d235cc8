package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.serialization.SerializationExtension;
import com.typesafe.config.ConfigFactory;
import io.raftactors.testkit.RaftTestKit;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * T5.1-15: the session table travels with snapshots. Two followers are down while the leader
 * applies a session command and compacts past it; they come back through InstallSnapshot, the
 * leader dies, and the retried command reaches a leader whose only knowledge of it is the
 * installed snapshot: it must be recognised as a duplicate and answered with the first answer.
 */
class SessionSnapshotTest {
  private RaftTestKit group;

  @AfterEach
  void stop() {
    if (group != null) group.close();
  }

  /** Counts commands and snapshot restores; its snapshot is the list of applied commands. */
  static final class Counting implements StateMachine {
    final List<String> applied = new ArrayList<>();
    int restores;

    @Override
    public synchronized Object apply(long index, Object command) {
      applied.add((String) command);
      return "applied " + command + " at " + index;
    }

    @Override
    public synchronized byte[] takeSnapshot() {
      return String.join("\n", applied).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public synchronized void restoreSnapshot(byte[] snapshot) {
      applied.clear();
      String s = new String(snapshot, StandardCharsets.UTF_8);
      if (!s.isEmpty()) applied.addAll(List.of(s.split("\n")));
      restores++;
    }

    synchronized long count(String command) {
      return applied.stream().filter(command::equals).count();
    }
  }

  private Payload payload(Object o) {
    return Payload.of(SerializationExtension.get(group.system().classicSystem()), o);
  }

  @Test
  void compaction_T5_1_15_aRetryAfterAnInstalledSnapshotIsStillADuplicate() throws Exception {
    group = RaftTestKit.builder().members(3).stateMachine(id -> new Counting())
        .config(ConfigFactory.parseString("raft.snapshot.after-entries = 5\nraft.snapshot.catch-up-entries = 0")).start();
    String leader = group.awaitLeader();
    List<String> others = group.members().stream().filter(id -> !id.equals(leader)).toList();
    TestProbe<RaftNode.ClientReply> client = TestProbe.create(group.system());
    group.node(leader).tell(new RaftNode.OpenClientSession(1, client.ref()));
    long session = assertInstanceOf(RaftNode.ClientSessionOpened.class, client.receiveMessage(Duration.ofSeconds(10))).session();

    for (String f : others) group.crash(f);
    // Without a majority nothing commits now; bring one follower back to apply the command, then
    // take it down again so that both followers end up behind the leader's snapshot.
    group.restart(others.get(0));
    RaftNode.ClientCommand x = new RaftNode.ClientCommand(session, 1, 1, payload("x"), client.ref());
    group.node(leader).tell(x);
    RaftNode.ClientResult first = assertInstanceOf(RaftNode.ClientResult.class, client.receiveMessage(Duration.ofSeconds(10)));
    group.crash(others.get(0));
    group.restart(others.get(1));
    TestProbe<RaftNode.ProposeReply> proposer = TestProbe.create(group.system());
    for (int i = 0; i < 12; i++) { // past two snapshots
      group.node(leader).tell(new RaftNode.Propose("filler" + i, proposer.ref()));
      assertInstanceOf(RaftNode.Applied.class, proposer.receiveMessage(Duration.ofSeconds(10)));
    }
    // Both followers now restart far behind the leader's snapshot and catch up through it.
    group.crash(others.get(1));
    for (String f : others) group.restart(f);
    group.awaitApplied(group.status(leader).commitIndex(), Duration.ofSeconds(10));
    for (String f : others) {
      Counting sm = group.stateMachine(f);
      assertTrue(sm.restores >= 1, f + " did not restore a snapshot");
      assertEquals(1, sm.count("x"), f);
    }

    // The old leader dies; the retry reaches a leader whose session table came from a snapshot.
    group.crash(leader);
    String next = group.awaitLeader();
    group.node(next).tell(x);
    assertEquals(first, client.receiveMessage(Duration.ofSeconds(10)), "the first answer, not a second execution");
    TestProbe<RaftNode.ProposeReply> after = TestProbe.create(group.system());
    group.node(next).tell(new RaftNode.Propose("after", after.ref()));
    assertInstanceOf(RaftNode.Applied.class, after.receiveMessage(Duration.ofSeconds(10)));
    group.awaitApplied(group.status(next).commitIndex(), Duration.ofSeconds(10));
    for (String f : others) assertEquals(1, ((Counting) group.stateMachine(f)).count("x"), f + " applied x again");
  }
}
