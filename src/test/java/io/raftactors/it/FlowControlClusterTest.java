package io.raftactors.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.TestProbe;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.RaftNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Backpressure on real ActorSystems over Artery: one follower is cut off (stalled) while a flood of
 * proposals far beyond what the group commits in the meantime reaches the leader at once. Every
 * proposal is answered, each either applied or refused as overloaded, the refused ones are nowhere
 * in the log, the leader never holds more than raft.flow-control allows, and the stalled follower
 * catches up after it is reconnected.
 */
class FlowControlClusterTest {
  private static final int BOUND = 200;
  private static final int FLOOD = 20_000;

  @Test
  void aFloodWithAStalledFollowerIsAnsweredInFullWithinTheBound() throws Exception {
    try (LocalCluster c = LocalCluster.start(3, ConfigFactory.parseString("raft.flow-control.max-pending-proposals = " + BOUND))) {
      String leader = ThreeNodeClusterTest.awaitLeader(c, c.ids);
      String stalled = c.ids.stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
      c.blackhole(leader, stalled);

      List<CompletableFuture<RaftNode.ProposeReply>> all = new ArrayList<>(FLOOD);
      for (int i = 0; i < FLOOD; i++) all.add(c.propose(leader, new TestCommand("flood", i)).toCompletableFuture());
      CompletableFuture.allOf(all.toArray(new CompletableFuture[0])).get(60, TimeUnit.SECONDS);

      Set<Integer> applied = new HashSet<>();
      int overloaded = 0;
      for (int i = 0; i < FLOOD; i++) {
        RaftNode.ProposeReply r = all.get(i).join();
        if (r instanceof RaftNode.Applied) applied.add(i);
        else if (r instanceof RaftNode.Overloaded) overloaded++;
        else throw new AssertionError("proposal " + i + " answered " + r);
      }
      System.out.printf("flow control: %d proposals at once, bound %d: %d applied, %d refused as overloaded%n",
          FLOOD, BOUND, applied.size(), overloaded);
      assertEquals(FLOOD, applied.size() + overloaded);
      assertTrue(overloaded > 0, "the flood never reached the bound");
      assertTrue(applied.size() >= BOUND, "at least the first " + BOUND + " fit");

      // Exactly the applied ones are in the log, once each, in the order they were proposed.
      String other = c.ids.stream().filter(id -> !id.equals(leader) && !id.equals(stalled)).findFirst().orElseThrow();
      List<RecordingStateMachine.AppliedCommand> log = ThreeNodeClusterTest.awaitConverged(c, List.of(leader, other), applied.size());
      List<Integer> seqs = log.stream().map(a -> (int) ((TestCommand) a.command()).seq()).toList();
      assertEquals(applied, new HashSet<>(seqs));
      assertEquals(seqs.size(), applied.size(), "a command was applied twice");

      c.heal(leader, stalled);
      TestProbe<Object> probe = TestProbe.create(c.system(leader));
      probe.awaitAssert(Duration.ofSeconds(30), Duration.ofMillis(100),
          () -> {
            assertEquals(c.status(leader).commitIndex(), c.status(stalled).lastApplied(), "the stalled follower caught up");
            return null;
          });
    }
  }
}
