package io.raftactors.examples.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.raftactors.testkit.RaftTestKit;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The README's testkit example, kept compiling and passing here. */
class MyReplicatedKvTest {
  @Test
  void survivesLosingItsLeader() throws Exception {
    try (RaftTestKit group = RaftTestKit.builder().members(3).stateMachine(id -> new KvStateMachine()).start()) {
      String leader = group.awaitLeader();
      group.client().submit(new KvCommand.Put("a", "1")).toCompletableFuture().get(10, TimeUnit.SECONDS);

      group.isolate(leader);                         // the other two elect a new leader
      group.client().submit(new KvCommand.Put("a", "2")).toCompletableFuture().get(10, TimeUnit.SECONDS);
      group.heal();

      String follower = group.members().stream().filter(id -> !id.equals(group.awaitLeader())).findFirst().get();
      group.crash(follower);                         // storage is kept, like a disk
      group.restart(follower);                       // recovers, with a new state machine
      group.awaitApplied(group.status(group.awaitLeader()).commitIndex(), Duration.ofSeconds(10));
      KvStateMachine replica = group.stateMachine(follower);
      assertEquals("2", replica.get("a"));
      assertEquals("2", group.client().query(new KvCommand.Get("a")).toCompletableFuture().get(10, TimeUnit.SECONDS));
    }
  }
}
