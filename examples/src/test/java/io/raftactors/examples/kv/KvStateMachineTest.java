package io.raftactors.examples.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.RaftClient;
import io.raftactors.actor.ReadConsistency;
import io.raftactors.testkit.RaftTestKit;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The KV state machine replicated by a 3-node group of the RaftTestKit, faults included. */
class KvStateMachineTest {
  private RaftTestKit group;

  @AfterEach
  void stop() {
    if (group != null) group.close();
  }

  private static Object get(RaftClient client, Object request) throws Exception {
    return client.submit(request).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private static Object read(RaftClient client, String key) throws Exception {
    return client.query(new KvCommand.Get(key)).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void putsCasAndDeletesAreReplicatedAndSurviveALeaderPartitionAndACrash() throws Exception {
    group = RaftTestKit.builder()
        .members(3)
        .stateMachine(id -> new KvStateMachine())
        .config(ConfigFactory.parseString("raft.snapshot.after-entries = 20"))
        .start();
    String leader = group.awaitLeader();
    RaftClient client = group.client();

    assertNull(get(client, new KvCommand.Put("a", "1")), "no previous value");
    assertEquals("1", get(client, new KvCommand.Put("a", "2")));
    assertEquals(new KvCommand.CasResult(false, "2"), get(client, new KvCommand.Cas("a", "1", "3")));
    assertEquals(new KvCommand.CasResult(true, "3"), get(client, new KvCommand.Cas("a", "2", "3")));
    assertEquals(new KvCommand.CasResult(true, "x"), get(client, new KvCommand.Cas("b", null, "x")));
    assertEquals("x", get(client, new KvCommand.Delete("b")));
    assertNull(read(client, "b"));

    // The leader is cut off: the other two elect a new one and the client follows it.
    group.isolate(leader);
    List<String> others = group.members().stream().filter(id -> !id.equals(leader)).toList();
    group.await(Duration.ofSeconds(10), "a new leader", () -> others.stream()
        .anyMatch(id -> group.status(id).role() == io.raftactors.core.Role.LEADER));
    for (int i = 0; i < 30; i++) get(client, new KvCommand.Put("k" + i, "v" + i)); // past a snapshot
    assertEquals("3", read(client, "a"));
    group.heal();
    String now = group.awaitLeader();
    assertNotEquals(leader, now);

    // A follower crashes and restarts from its storage (snapshot plus log) with a fresh state machine.
    String follower = group.members().stream().filter(id -> !id.equals(now)).findFirst().orElseThrow();
    group.crash(follower);
    get(client, new KvCommand.Put("while-down", "yes"));
    group.restart(follower);
    long index = group.status(now).commitIndex();
    group.awaitApplied(index, Duration.ofSeconds(10));
    KvStateMachine expected = group.stateMachine(now);
    for (String id : group.members()) {
      KvStateMachine m = group.stateMachine(id);
      assertEquals(expected.snapshot(), m.snapshot(), id);
    }
    assertEquals("yes", ((KvStateMachine) group.stateMachine(follower)).get("while-down"));
    assertEquals("v29", client.query(new KvCommand.Get("k29"), ReadConsistency.STALE).toCompletableFuture().get(5, TimeUnit.SECONDS));
  }
}
