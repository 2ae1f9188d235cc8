package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.core.ClusterConfig;
import io.raftactors.core.ProposalOutcome.Rejection;
import io.raftactors.testkit.RaftTestKit;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Membership changes and leadership transfer through the actor API and {@link RaftClient}, on real
 * node actors in one ActorSystem: grow, transfer, shrink (the leader too), and the refusals.
 */
class MembershipActorTest {
  private RaftTestKit kit;

  @AfterEach
  void stop() {
    if (kit != null) kit.close();
  }

  private static <T> T get(java.util.concurrent.CompletionStage<T> f) {
    try {
      return f.toCompletableFuture().get(20, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw new CompletionException(e.getCause());
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static Throwable failure(java.util.concurrent.CompletionStage<?> f) {
    CompletionException e = assertThrows(CompletionException.class, () -> get(f));
    return e.getCause();
  }

  @Test
  void growTransferAndShrinkWhileCommandsKeepTheirEffects() {
    kit = RaftTestKit.builder().stateMachine(id -> new SessionSnapshotTest.Counting()).start();
    kit.awaitLeader();
    RaftClient client = kit.client();
    for (int i = 0; i < 20; i++) get(client.submit("c" + i));

    kit.startNewMember("n4");
    assertNotNull(kit.status("n4").problem(), "before it is added, n4 says it does not take part: " + kit.status("n4"));
    ClusterConfig four = get(client.addMember("n4", kit.address("n4"), false));
    assertEquals(List.of("n1", "n2", "n3", "n4"), four.voters());
    kit.await(Duration.ofSeconds(10), "n4 applies the log", () -> kit.status("n4").lastApplied() >= kit.status(kit.awaitLeader()).commitIndex());
    assertNull(kit.status("n4").problem());
    assertEquals(four, kit.status("n4").configuration());
    SessionSnapshotTest.Counting sm4 = kit.stateMachine("n4");
    assertTrue(sm4.applied.containsAll(List.of("c0", "c19")), "n4 applied the earlier commands: " + sm4.applied);

    assertEquals("n4", get(client.transferLeadership("n4")));
    assertEquals("n4", kit.awaitLeader());
    get(client.submit("after-transfer"));
    // A client whose settings know n1..n3 only is redirected to n4 with its address, and reaches it.
    try (RaftClient fresh = RaftClient.create(kit.system(), kit.settings("n1"))) {
      Object r = get(fresh.submit("fresh"));
      assertTrue(String.valueOf(r).startsWith("applied fresh at "), String.valueOf(r));
    }

    ClusterConfig three = get(client.removeMember("n4")); // the leader removes itself
    assertEquals(List.of("n1", "n2", "n3"), three.voters());
    String next = kit.awaitLeader();
    assertNotEquals("n4", next);
    kit.await(Duration.ofSeconds(5), "n4 says it was removed", () -> kit.status("n4").problem() != null);
    get(client.submit("after-removal"));
    RaftClient.Members m = get(client.members());
    assertEquals(three, m.configuration());
    assertEquals(next, m.leaderId());
  }

  @Test
  void learnersFollowTheLogWithoutVotingAndCanBePromoted() {
    kit = RaftTestKit.builder().stateMachine(id -> new SessionSnapshotTest.Counting()).start();
    kit.awaitLeader();
    RaftClient client = kit.client();
    get(client.submit("x"));
    kit.startNewMember("r1");
    ClusterConfig withLearner = get(client.addMember("r1", kit.address("r1"), true));
    assertEquals(List.of("r1"), withLearner.learners());
    assertEquals(3, withLearner.voters().size());
    kit.await(Duration.ofSeconds(10), "the learner applies the log", () -> kit.status("r1").lastApplied() >= 3);
    ClusterConfig promoted = get(client.promote("r1"));
    assertTrue(promoted.voters().contains("r1") && promoted.learners().isEmpty());
  }

  @Test
  void refusedChangesAndTransfersSayWhyAndChangeNothing() {
    kit = RaftTestKit.builder().stateMachine(id -> new SessionSnapshotTest.Counting()).start();
    String leader = kit.awaitLeader();
    RaftClient client = kit.client();
    Throwable unknown = failure(client.removeMember("n9"));
    assertTrue(unknown instanceof RaftClient.RejectedException && unknown.getMessage().contains("not in the group"), unknown.toString());
    Throwable present = failure(client.addMember("n2", null, false));
    assertTrue(present instanceof RaftClient.RejectedException && present.getMessage().contains("already"), present.toString());
    Throwable self = failure(client.transferLeadership(leader));
    assertTrue(self instanceof RaftClient.RejectedException && self.getMessage().contains("leader already"), self.toString());
    Throwable nonMember = failure(client.transferLeadership("n9"));
    assertTrue(nonMember instanceof RaftClient.RejectedException && nonMember.getMessage().contains("not a voter"), nonMember.toString());
    Throwable noAddress = failure(client.addMember("n8", new io.raftactors.core.MemberAddress("not an address", null), false));
    assertTrue(noAddress instanceof RaftClient.RejectedException && noAddress.getMessage().contains("no Akka address")
        && ((RaftClient.RejectedException) noAddress).rejection() == Rejection.INVALID_REQUEST, noAddress.toString());
    // A new voter that never answers: the change fails after an election timeout without progress.
    Throwable dead = failure(client.addMember("n7", kit.address("n1"), false));
    assertTrue(dead instanceof RaftClient.RejectedException && dead.getMessage().contains("did not answer"), dead.toString());
    // The same reasons as values a program can act on.
    assertEquals(List.of(Rejection.NOT_A_MEMBER, Rejection.ALREADY_A_MEMBER, Rejection.NOT_A_VOTER, Rejection.NOT_A_VOTER,
            Rejection.CATCH_UP_FAILED),
        java.util.stream.Stream.of(unknown, present, self, nonMember, dead)
            .map(t -> ((RaftClient.RejectedException) t).rejection()).toList());
    assertEquals(ClusterConfig.of("n1", "n2", "n3"), get(client.members()).configuration());
    assertFalse(kit.status(leader).configuration().isMember("n7"));
  }
}
