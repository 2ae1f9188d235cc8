package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.AskPattern;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.MemberAddress;
import io.raftactors.testkit.RaftTestKit;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What a status page reads: a leader's status names each other member's match index, and {@link
 * RaftNode#nodeOf} finds any member's node actor the way its peers do.
 */
class StatusOfMembersTest {

  @Test
  void aLeaderReportsEachOtherMembersMatchIndexAndNoOtherNodeDoes() {
    try (RaftTestKit group = RaftTestKit.builder().members(3).stateMachine(id -> (i, c) -> c).start()) {
      String leader = group.awaitLeader();
      group.client().submit("x").toCompletableFuture().join();
      long last = group.status(leader).lastIndex();
      group.awaitApplied(last, Duration.ofSeconds(10));
      List<String> others = group.members().stream().filter(id -> !id.equals(leader)).toList();
      // Followers acknowledge what they hold; the leader hears it within a heartbeat or two.
      group.await(Duration.ofSeconds(5), "the leader knows both followers hold index " + last, () -> {
        Map<String, Long> m = group.status(leader).matchIndexes();
        return m.keySet().equals(java.util.Set.copyOf(others)) && m.values().stream().allMatch(v -> v == last);
      });
      for (String f : others) assertEquals(Map.of(), group.status(f).matchIndexes(), f + " does not lead");

      String down = others.get(0);
      String up = others.get(1);
      group.crash(down);
      group.client().submit("y").toCompletableFuture().join();
      group.await(Duration.ofSeconds(5), up + " keeps up while " + down + " stays behind", () -> {
        RaftNode.Status s = group.status(leader);
        return s.lastIndex() > last && s.matchIndexes().get(up) == s.lastIndex() && s.matchIndexes().get(down) == last;
      });
    }
  }

  @Test
  void nodeOfFindsAMemberFromTheSettingsOrFromTheConfigurationAndNothingElse() {
    try (RaftTestKit group = RaftTestKit.builder().members(3).stateMachine(id -> (i, c) -> c).start()) {
      group.awaitLeader();
      RaftSettings n1 = group.settings("n1");
      ActorRef<RaftNode.Command> n2 = RaftNode.nodeOf(group.system(), n1, null, "n2");
      assertNotNull(n2);
      RaftNode.Status s = AskPattern.<RaftNode.Command, RaftNode.Status>ask(n2, RaftNode.GetStatus::new,
          Duration.ofSeconds(3), group.system().scheduler()).toCompletableFuture().join();
      assertEquals("n2", s.memberId());

      assertNull(RaftNode.nodeOf(group.system(), n1, null, "n9"), "no address anywhere");
      ClusterConfig recorded = new ClusterConfig(List.of("n1", "n2", "n3"), List.of("n9"), List.of(),
          Map.of("n9", new MemberAddress("akka://" + group.system().name(), null)));
      ActorRef<RaftNode.Command> n9 = RaftNode.nodeOf(group.system(), n1, recorded, "n9");
      assertNotNull(n9, "the configuration records where n9 is");
      assertEquals(group.system().address() + "/system/raft-test-n9", n9.path().toString());
      ClusterConfig bad = new ClusterConfig(List.of("n1"), List.of("n9"), List.of(), Map.of("n9", new MemberAddress("not an address", null)));
      assertNull(RaftNode.nodeOf(group.system(), n1, bad, "n9"));
    }
  }
}
