package io.raftactors.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import akka.serialization.SerializationExtension;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.Payload;
import io.raftactors.actor.RaftClient;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.ReadConsistency;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Client sessions (thesis 6.3), RaftClient and linearizable reads (6.4) on three ActorSystems over
 * Artery. The state machine records every application, so "applied once" is checked directly.
 */
class ClientSessionTest {
  private static final Duration WAIT = Duration.ofSeconds(15);

  private static Payload payload(ActorSystem<?> sys, Object o) {
    return Payload.of(SerializationExtension.get(sys.classicSystem()), o);
  }

  private static long appliedCount(LocalCluster c, String node, TestCommand cmd) {
    return c.machines.get(node).applied().stream().filter(a -> a.command().equals(cmd)).count();
  }

  @Test
  void sessions_T6_3_02_T6_3_03_aCommandRetriedAtANewLeaderIsAppliedOnceAndGetsTheFirstAnswer() throws Exception {
    try (LocalCluster c = LocalCluster.start(3)) {
      String leader = ThreeNodeClusterTest.awaitLeader(c, c.ids);
      List<String> others = c.ids.stream().filter(id -> !id.equals(leader)).toList();
      // The client lives in a surviving member's system; its replies come back over Artery.
      ActorSystem<Void> clientSys = c.system(others.get(0));
      TestProbe<RaftNode.ClientReply> client = TestProbe.create(clientSys);
      c.nodes.get(leader).tell(new RaftNode.OpenClientSession(1, client.ref()));
      long session = assertInstanceOf(RaftNode.ClientSessionOpened.class, client.receiveMessage(WAIT)).session();

      TestCommand a = new TestCommand("s", 1);
      RaftNode.ClientCommand first = new RaftNode.ClientCommand(session, 1, 1, payload(clientSys, a), client.ref());
      c.nodes.get(leader).tell(first);
      RaftNode.ClientResult original = assertInstanceOf(RaftNode.ClientResult.class, client.receiveMessage(WAIT));

      // The answer was "lost": the client retries the same seq at a new leader.
      c.terminate(leader);
      String fresh = ThreeNodeClusterTest.awaitLeader(c, others);
      assertNotEquals(leader, fresh);
      c.nodes.get(fresh).tell(first);
      RaftNode.ClientResult retried = assertInstanceOf(RaftNode.ClientResult.class, client.receiveMessage(WAIT));
      assertEquals(original, retried, "the retry gets the first answer, with the first index");

      // Seq 2 committed twice: sent twice before any answer. Both copies get one answer; one effect.
      TestCommand b = new TestCommand("s", 2);
      RaftNode.ClientCommand second = new RaftNode.ClientCommand(session, 2, 2, payload(clientSys, b), client.ref());
      c.nodes.get(fresh).tell(second);
      c.nodes.get(fresh).tell(second);
      RaftNode.ClientResult r1 = assertInstanceOf(RaftNode.ClientResult.class, client.receiveMessage(WAIT));
      RaftNode.ClientResult r2 = assertInstanceOf(RaftNode.ClientResult.class, client.receiveMessage(WAIT));
      assertEquals(r1, r2);

      // Every survivor applied each command exactly once.
      client.awaitAssert(WAIT, () -> {
        for (String id : others) {
          assertEquals(1, appliedCount(c, id, a), id);
          assertEquals(1, appliedCount(c, id, b), id);
        }
        return null;
      });
    }
  }

  @Test
  void client_T6_3_02_raftClientSubmitsExactlyOnceThroughALeaderChangeAndReadsItsWrites() throws Exception {
    try (LocalCluster c = LocalCluster.start(3)) {
      String leader = ThreeNodeClusterTest.awaitLeader(c, c.ids);
      // A client in its own ActorSystem, as an application would run it.
      ActorSystem<Void> clientSys = ActorSystem.create(Behaviors.empty(), "client",
          ConfigFactory.parseString("raft.client.deadline = 30s").withFallback(LocalCluster.systemConfig()));
      try (RaftClient client = RaftClient.create(clientSys, c.settings.get(leader))) {
        Set<Long> acknowledged = ConcurrentHashMap.newKeySet();
        List<CompletableFuture<Object>> all = new ArrayList<>();
        Semaphore window = new Semaphore(8);
        int n = 300;
        for (long i = 0; i < n; i++) {
          if (i == 100) {
            // Kill the leader while commands are in flight; the client must carry on without duplicates.
            c.terminate(leader);
          }
          window.acquire();
          long seq = i;
          CompletableFuture<Object> f = client.submit(new TestCommand("rc", seq)).toCompletableFuture();
          f.whenComplete((r, e) -> {
            window.release();
            if (e == null) acknowledged.add(seq);
          });
          all.add(f);
          if (i % 50 == 49) {
            // Read-your-writes through ReadIndex: a linearizable query sees every acknowledged command.
            f.get(30, TimeUnit.SECONDS);
            Object seen = client.query(new TestCommand("rc", seq)).toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertEquals(1L, seen, "command " + seq + " after its acknowledgement");
          }
        }
        for (CompletableFuture<Object> f : all) {
          Object r = f.get(40, TimeUnit.SECONDS);
          assertTrue(r instanceof String s && s.startsWith("ok:"), "result " + r);
        }
        assertEquals(n, acknowledged.size());
        List<String> survivors = c.live();
        TestProbe<Object> probe = TestProbe.create(c.system(survivors.get(0)));
        probe.awaitAssert(WAIT, () -> {
          for (String id : survivors) {
            List<Long> seqs = c.machines.get(id).applied().stream()
                .map(a -> ((TestCommand) a.command()).seq()).collect(Collectors.toList());
            assertEquals(n, seqs.size(), id + " applied " + seqs.size() + " commands");
            assertEquals(n, Set.copyOf(seqs).size(), id + " applied a command twice");
          }
          return null;
        });
        // Stale reads need no leader and answer from local state.
        assertEquals((long) n, client.query("count", ReadConsistency.STALE).toCompletableFuture().get(10, TimeUnit.SECONDS));
      } finally {
        clientSys.terminate();
      }
    }
  }

  @Test
  void client_T6_3_03_aCommandWhoseAnswerIsLostIsRetriedAtTheNextLeaderAndAnsweredFromItsSession() throws Exception {
    try (LocalCluster c = LocalCluster.start(3)) {
      String leader = ThreeNodeClusterTest.awaitLeader(c, c.ids);
      List<String> others = c.ids.stream().filter(id -> !id.equals(leader)).toList();
      ActorSystem<Void> clientSys = ActorSystem.create(Behaviors.empty(), "client", ConfigFactory.parseString(
          "raft.client { request-timeout = 300ms, deadline = 40s }").withFallback(LocalCluster.systemConfig()));
      try (RaftClient client = RaftClient.create(clientSys, c.settings.get(leader))) {
        client.submit(new TestCommand("lost", 0)).toCompletableFuture().get(20, TimeUnit.SECONDS); // opens the session
        // The leader stalls while applying X, after X committed: its answer never leaves, it stops
        // sending heartbeats, and the others elect a new leader that has applied X too.
        TestCommand x = new TestCommand("lost", 1);
        c.machines.get(leader).stallOn(x::equals);
        CompletableFuture<Object> f = client.submit(x).toCompletableFuture();
        // The client times out, tries the others, is sent to the new leader, and retries X there:
        // the session answers with the first result instead of applying X again.
        Object result = f.get(30, TimeUnit.SECONDS);
        // The answer came from the new leader; the other survivor may apply X a moment later.
        TestProbe<Object> applied = TestProbe.create(c.system(others.get(0)));
        long index = applied.awaitAssert(WAIT, () -> c.machines.get(others.get(0)).applied().stream()
            .filter(a -> a.command().equals(x)).findFirst().orElseThrow().index());
        assertEquals("ok:" + index, result);
        c.machines.get(leader).release();
        TestCommand y = new TestCommand("lost", 2);
        client.submit(y).toCompletableFuture().get(20, TimeUnit.SECONDS);
        TestProbe<Object> probe = TestProbe.create(c.system(others.get(0)));
        probe.awaitAssert(WAIT, () -> {
          for (String id : c.ids) {
            assertEquals(1, appliedCount(c, id, x), id + " applied the retried command again (or not at all)");
            assertEquals(1, appliedCount(c, id, y), id);
          }
          return null;
        });
      } finally {
        c.machines.get(leader).release(); // never leave the stalled node blocking its ActorSystem's shutdown
        clientSys.terminate();
      }
    }
  }

  @Test
  void reads_T6_4_09_aFollowerAnswersALinearizableQueryOnlyAfterApplyingTheLeadersReadIndex() throws Exception {
    try (LocalCluster c = LocalCluster.start(3)) {
      String leader = ThreeNodeClusterTest.awaitLeader(c, c.ids);
      String follower = c.ids.stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
      for (int i = 0; i < 20; i++) {
        TestCommand w = new TestCommand("fr", i);
        assertInstanceOf(RaftNode.Applied.class, c.propose(leader, w).toCompletableFuture().get(10, TimeUnit.SECONDS));
        // The write is acknowledged by the leader; the follower may not have applied it yet, but a
        // linearizable query there must see it.
        TestProbe<RaftNode.QueryReply> q = TestProbe.create(c.system(follower));
        c.nodes.get(follower).tell(new RaftNode.Query(w, ReadConsistency.LINEARIZABLE, q.ref()));
        assertEquals(new RaftNode.QueryResult(1L), q.receiveMessage(WAIT), "read " + i + " at the follower");
      }
      // Cut the follower off: its linearizable reads fail rather than answer from local state.
      for (String other : c.ids) if (!other.equals(follower)) c.blackhole(follower, other);
      TestProbe<RaftNode.QueryReply> q = TestProbe.create(c.system(follower));
      c.nodes.get(follower).tell(new RaftNode.Query("count", ReadConsistency.LINEARIZABLE, q.ref()));
      assertInstanceOf(RaftNode.NotLeader.class, q.receiveMessage(WAIT));
    }
  }

  @Test
  void reads_T6_4_1_leaseReadsAreServedByTheLeaderAndSeeEveryAcknowledgedWrite() throws Exception {
    try (LocalCluster c = LocalCluster.start(3, ConfigFactory.parseString("raft.lease-reads = on"))) {
      String leader = ThreeNodeClusterTest.awaitLeader(c, c.ids);
      for (int i = 0; i < 20; i++) {
        TestCommand w = new TestCommand("lease", i);
        assertInstanceOf(RaftNode.Applied.class, c.propose(leader, w).toCompletableFuture().get(10, TimeUnit.SECONDS));
        TestProbe<RaftNode.QueryReply> q = TestProbe.create(c.system(leader));
        c.nodes.get(leader).tell(new RaftNode.Query(w, ReadConsistency.LEASE, q.ref()));
        assertEquals(new RaftNode.QueryResult(1L), q.receiveMessage(WAIT));
      }
    }
  }
}
