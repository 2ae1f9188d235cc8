package io.raftactors.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.TestProbe;
import io.raftactors.actor.RaftNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import org.junit.jupiter.api.Test;

/** A 3-node group, one ActorSystem per node, over Artery on 127.0.0.1. */
class ThreeNodeClusterTest {
  private static final Duration ELECTION_WAIT = Duration.ofSeconds(20);

  static String awaitLeader(LocalCluster c, List<String> among) {
    TestProbe<Object> probe = TestProbe.create(c.system(among.get(0)));
    return probe.awaitAssert(ELECTION_WAIT, Duration.ofMillis(50), () -> {
      String leader = c.agreedLeader(among);
      assertNotNull(leader, "no agreed leader among " + among);
      return leader;
    });
  }

  /** Proposes {@code n} commands to {@code node} with at most {@code window} outstanding; returns the replies. */
  static List<RaftNode.ProposeReply> proposeMany(LocalCluster c, String node, String client, int n, int window) {
    Semaphore permits = new Semaphore(window);
    ConcurrentLinkedQueue<RaftNode.ProposeReply> replies = new ConcurrentLinkedQueue<>();
    List<CompletableFuture<?>> all = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      permits.acquireUninterruptibly();
      all.add(c.propose(node, new TestCommand(client, i)).toCompletableFuture()
          .whenComplete((r, e) -> {
            permits.release();
            if (r != null) replies.add(r);
          }));
    }
    CompletableFuture.allOf(all.toArray(new CompletableFuture[0])).exceptionally(e -> null).join();
    return new ArrayList<>(replies);
  }

  /** Waits until every node in {@code among} has applied the same sequence of at least {@code min} commands. */
  static List<RecordingStateMachine.AppliedCommand> awaitConverged(LocalCluster c, List<String> among, int min) {
    TestProbe<Object> probe = TestProbe.create(c.system(among.get(0)));
    return probe.awaitAssert(Duration.ofSeconds(20), Duration.ofMillis(50), () -> {
      List<RecordingStateMachine.AppliedCommand> first = c.machines.get(among.get(0)).applied();
      assertTrue(first.size() >= min, "applied " + first.size() + " < " + min);
      for (String id : among) assertEquals(first, c.machines.get(id).applied(), "node " + id + " diverges");
      return first;
    });
  }

  @Test
  void electsExactlyOneLeaderAndReplicatesAThousandCommandsInTheSameOrderEverywhere() {
    try (LocalCluster c = LocalCluster.start(3)) {
      String leader = awaitLeader(c, c.ids);
      long start = System.nanoTime();
      List<RaftNode.ProposeReply> replies = proposeMany(c, leader, "a", 1000, 32);
      double seconds = (System.nanoTime() - start) / 1e9;
      System.out.printf("3 ActorSystems: 1000 commands, 32 outstanding, in %.2f s = %.0f commands/s%n",
          seconds, 1000 / seconds);
      assertEquals(1000, replies.size());
      for (RaftNode.ProposeReply r : replies) assertInstanceOf(RaftNode.Applied.class, r);
      List<RecordingStateMachine.AppliedCommand> applied = awaitConverged(c, c.ids, 1000);
      // Exactly once: every command appears once, in increasing index order.
      assertEquals(1000, applied.stream().map(RecordingStateMachine.AppliedCommand::command).distinct().count());
      // Only one leader in the term: every node names it.
      assertEquals(leader, c.agreedLeader(c.ids));
    }
  }

  @Test
  void aNewLeaderTakesOverWhenTheLeadersActorSystemTerminates() {
    try (LocalCluster c = LocalCluster.start(3)) {
      String first = awaitLeader(c, c.ids);
      long firstTerm = c.status(first).term();
      assertTrue(proposeMany(c, first, "before", 50, 8).stream().allMatch(r -> r instanceof RaftNode.Applied));
      c.terminate(first);
      List<String> rest = c.live();
      String second = awaitLeader(c, rest);
      assertFalse(second.equals(first));
      assertTrue(c.status(second).term() > firstTerm);
      assertTrue(proposeMany(c, second, "after", 50, 8).stream().allMatch(r -> r instanceof RaftNode.Applied));
      List<RecordingStateMachine.AppliedCommand> applied = awaitConverged(c, rest, 100);
      long before = applied.stream().filter(a -> ((TestCommand) a.command()).client().equals("before")).count();
      assertEquals(50, before, "commands committed under the first leader survive");
    }
  }

  @Test
  void aBlackholedLeaderCommitsNothingWhileTheMajorityMovesOnAndLogsConvergeAfterHealing() {
    try (LocalCluster c = LocalCluster.start(3)) {
      String old = awaitLeader(c, c.ids);
      assertTrue(proposeMany(c, old, "before", 20, 8).stream().allMatch(r -> r instanceof RaftNode.Applied));
      List<String> majority = new ArrayList<>(c.ids);
      majority.remove(old);
      long commitBefore = c.status(old).commitIndex();
      for (String other : majority) c.blackhole(old, other);

      // Proposals to the isolated leader must never succeed.
      List<CompletableFuture<RaftNode.ProposeReply>> isolated = new ArrayList<>();
      for (int i = 0; i < 10; i++) isolated.add(c.propose(old, new TestCommand("isolated", i)).toCompletableFuture());

      String fresh = awaitLeader(c, majority);
      assertTrue(proposeMany(c, fresh, "majority", 30, 8).stream().allMatch(r -> r instanceof RaftNode.Applied));
      assertEquals(commitBefore, c.status(old).commitIndex(), "the isolated leader committed something");

      for (CompletableFuture<RaftNode.ProposeReply> f : isolated) {
        RaftNode.ProposeReply r = f.exceptionally(e -> new RaftNode.OutcomeUnknown("ask timed out")).join();
        assertFalse(r instanceof RaftNode.Applied, "a command proposed to the isolated leader was applied: " + r);
      }

      for (String other : majority) c.heal(old, other);
      List<RecordingStateMachine.AppliedCommand> applied = awaitConverged(c, c.ids, 50);
      List<String> clients = applied.stream().map(a -> ((TestCommand) a.command()).client()).toList();
      assertEquals(20, clients.stream().filter("before"::equals).count());
      assertEquals(30, clients.stream().filter("majority"::equals).count());
      assertFalse(clients.contains("isolated"), "uncommitted entries of the old leader must be replaced");
    }
  }
}
