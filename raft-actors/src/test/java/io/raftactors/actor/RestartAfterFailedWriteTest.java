package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.javadsl.AskPattern;
import io.raftactors.core.ClusterConfig;
import io.raftactors.testkit.RaftTestKit;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A node whose storage fails a write restarts (supervised, with backoff) and reads its state from
 * storage again, but keeps its state machine: what that state machine applied before the restart
 * must not be applied again, and the session table the node rebuilds must keep the answers it
 * recorded for it.
 */
class RestartAfterFailedWriteTest {
  private static final Duration WAIT = Duration.ofSeconds(20);

  /** In-memory storage that fails every write while {@link #failing} is set, as a full disk would. */
  static final class FailingStorage extends InMemoryStorage {
    volatile boolean failing;
    final AtomicInteger failures = new AtomicInteger();

    FailingStorage(ClusterConfig bootstrap) {
      super(bootstrap);
    }

    @Override
    public CompletionStage<Void> write(Write w) {
      if (failing) {
        failures.incrementAndGet();
        return CompletableFuture.failedFuture(new IOException("No space left on device"));
      }
      return super.write(w);
    }
  }

  /**
   * Answers "#n:command", n counting the commands it applied, so that an answer given twice can be
   * told from a second application. Records how often each index was applied. No snapshots.
   */
  static final class CountingMachine implements StateMachine {
    final Map<Long, Integer> appliedTimes = new TreeMap<>();
    final List<Object> commands = new ArrayList<>();

    @Override
    public synchronized Object apply(long index, Object command) {
      appliedTimes.merge(index, 1, Integer::sum);
      commands.add(command);
      return "#" + commands.size() + ":" + command;
    }

    synchronized List<Long> appliedTwice() {
      List<Long> out = new ArrayList<>();
      appliedTimes.forEach((i, n) -> {
        if (n > 1) out.add(i);
      });
      return out;
    }

    synchronized List<Object> commands() {
      return List.copyOf(commands);
    }
  }

  private final Map<String, FailingStorage> storages = new ConcurrentHashMap<>();

  private RaftTestKit group() {
    return RaftTestKit.builder().members(3)
        .storage((system, s) -> storages.computeIfAbsent(s.memberId(), id -> new FailingStorage(s.bootstrapConfig())))
        .stateMachine(id -> new CountingMachine())
        .start();
  }

  private static RaftNode.Applied propose(RaftTestKit g, String node, String command, String key) throws Exception {
    RaftNode.ProposeReply r = AskPattern.<RaftNode.Command, RaftNode.ProposeReply>ask(g.node(node),
            reply -> new RaftNode.Propose(command, key, reply), Duration.ofSeconds(5), g.system().scheduler())
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    return assertInstanceOf(RaftNode.Applied.class, r, () -> node + " answered " + r);
  }

  /** Makes {@code id}'s storage fail until it has failed a write (the node restarts), then lets writes through again. */
  private void failOneRound(RaftTestKit g, String id, String leader) throws Exception {
    FailingStorage s = storages.get(id);
    s.failing = true;
    // The leader's next entry reaches id as an AppendEntries, whose write fails there.
    g.client().submit("while " + id + " cannot write").toCompletableFuture().get(20, TimeUnit.SECONDS);
    g.await(WAIT, id + " failing a write", () -> s.failures.get() > 0);
    s.failing = false;
  }

  @Test
  void aNodeRestartedAfterAFailedWriteAppliesNothingTwice_andEndsInTheSameStateAsTheOthers() throws Exception {
    try (RaftTestKit g = group()) {
      String leader = g.awaitLeader();
      for (int i = 0; i < 20; i++) g.client().submit("c" + i).toCompletableFuture().get(20, TimeUnit.SECONDS);
      String follower = g.members().stream().filter(m -> !m.equals(leader)).findFirst().orElseThrow();
      g.awaitApplied(g.status(leader).commitIndex(), WAIT);
      failOneRound(g, follower, leader);
      for (int i = 20; i < 30; i++) g.client().submit("c" + i).toCompletableFuture().get(20, TimeUnit.SECONDS);
      g.awaitApplied(g.status(g.awaitLeader()).commitIndex(), WAIT);
      for (String id : g.members()) {
        CountingMachine m = g.stateMachine(id);
        assertEquals(List.of(), m.appliedTwice(), id + " applied these indexes twice");
      }
      List<Object> expected = g.<CountingMachine>stateMachine(leader).commands();
      assertEquals(expected, g.<CountingMachine>stateMachine(follower).commands(), "the restarted node's state");
    }
  }

  /**
   * The keyed command is applied everywhere; then one follower fails a write and restarts, and
   * rebuilds its session table from the log without applying the command again. Made leader, it
   * answers the command proposed again under the same key with the first answer, not with a
   * second application nor with an empty one.
   */
  @Test
  void aNodeRestartedAfterAFailedWriteKeepsTheFirstAnswerOfAKeyedCommand() throws Exception {
    try (RaftTestKit g = group()) {
      String leader = g.awaitLeader();
      for (int i = 0; i < 3; i++) g.client().submit("c" + i).toCompletableFuture().get(20, TimeUnit.SECONDS);
      RaftNode.Applied first = propose(g, leader, "once", "key-1");
      String follower = g.members().stream().filter(m -> !m.equals(leader)).findFirst().orElseThrow();
      g.awaitApplied(first.index(), WAIT);
      failOneRound(g, follower, leader);
      g.awaitApplied(g.status(g.awaitLeader()).commitIndex(), WAIT);
      assertEquals(follower, g.client().transferLeadership(follower).toCompletableFuture().get(20, TimeUnit.SECONDS));
      RaftNode.Applied again = propose(g, follower, "once", "key-1");
      assertEquals(first, again, "the answer to the repeated keyed command");
      CountingMachine m = g.stateMachine(follower);
      assertEquals(List.of(), m.appliedTwice(), "indexes applied twice on " + follower);
      assertTrue(m.commands().stream().filter("once"::equals).count() == 1, "applied once: " + m.commands());
    }
  }
}
