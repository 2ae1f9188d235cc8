package io.raftactors.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.RaftNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Three nodes journaling to LevelDB (fsync on). A node's ActorSystem is terminated in the middle
 * of a write load and started again on the same directory: nothing acknowledged is lost, no node
 * votes twice in a term, and the group converges.
 */
class DurableClusterTest {
  @TempDir Path data;

  /** Client threads that write through whichever node leads, following redirects. */
  static final class Load implements AutoCloseable {
    final Set<Long> acked = ConcurrentHashMap.newKeySet();
    private final AtomicLong seq = new AtomicLong();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final List<Thread> threads = new ArrayList<>();

    Load(LocalCluster c, int clients) {
      for (int t = 0; t < clients; t++) {
        Thread th = new Thread(() -> {
          String target = c.ids.get(0);
          while (!stop.get()) {
            List<String> live = c.live();
            if (!live.contains(target)) target = live.get(0);
            ActorSystem<Void> via = c.system(live.get(0));
            long n = seq.getAndIncrement();
            String to = target;
            RaftNode.ProposeReply r;
            try {
              r = AskPattern.<RaftNode.Command, RaftNode.ProposeReply>ask(c.nodes.get(to),
                  rt -> new RaftNode.Propose(new TestCommand("load", n), rt), Duration.ofSeconds(2), via.scheduler())
                  .toCompletableFuture()
                  // The ask's own timeout dies with its ActorSystem if that one is terminated meanwhile.
                  .orTimeout(3, TimeUnit.SECONDS)
                  .join();
            } catch (RuntimeException timeoutOrStopped) {
              r = new RaftNode.OutcomeUnknown(timeoutOrStopped.toString());
            }
            if (r instanceof RaftNode.Applied) {
              acked.add(n);
            } else if (r instanceof RaftNode.NotLeader nl && nl.leaderId() != null) {
              target = nl.leaderId();
            } else {
              target = live.get((live.indexOf(to) + 1) % live.size());
            }
          }
        }, "load-" + t);
        th.setDaemon(true);
        threads.add(th);
        th.start();
      }
    }

    void awaitAcked(LocalCluster c, int atLeast) {
      TestProbe<Object> probe = TestProbe.create(c.system(c.live().get(0)));
      probe.awaitAssert(Duration.ofSeconds(60), Duration.ofMillis(100), () -> {
        if (acked.size() < atLeast) {
          StringBuilder st = new StringBuilder();
          for (String id : c.live()) st.append("\n  ").append(c.status(id));
          throw new AssertionError("only " + acked.size() + " writes acknowledged; nodes:" + st);
        }
        return null;
      });
    }

    @Override
    public void close() {
      stop.set(true);
      for (Thread t : threads) {
        try {
          t.join(10_000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  /**
   * {@code leader} or {@code follower} is terminated; {@code snapshots} runs the follower case with
   * state machine snapshots every 50 entries, so the node restarts from a snapshot plus the journal
   * after it (and may be sent the leader's snapshot to catch up).
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"leader", "follower", "snapshots"})
  void aNodeTerminatedDuringAWriteLoadRestartsOnItsJournalAndNothingAcknowledgedIsLost(String which) throws Exception {
    boolean snapshots = which.equals("snapshots");
    com.typesafe.config.Config overrides = snapshots
        ? ConfigFactory.parseString("raft.snapshot.after-entries = 50\nraft.persistence.journal-snapshot-every = 20")
        : ConfigFactory.empty();
    try (LocalCluster c = LocalCluster.start(3, overrides, data)) {
      String leader = ThreeNodeClusterTest.awaitLeader(c, c.ids);
      String victim = which.equals("leader") ? leader : c.ids.stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
      Set<Long> acked;
      try (Load load = new Load(c, 4)) {
        load.awaitAcked(c, 100);
        c.terminate(victim); // writes are in flight
        int before = load.acked.size();
        load.awaitAcked(c, before + 100); // the other two carry on
        c.restart(victim);
        load.awaitAcked(c, load.acked.size() + 100);
        load.close();
        acked = Set.copyOf(load.acked);
      }
      List<RecordingStateMachine.AppliedCommand> applied = ThreeNodeClusterTest.awaitConverged(c, c.ids, acked.size());
      List<Long> seqs = applied.stream().map(a -> ((TestCommand) a.command()).seq()).collect(Collectors.toList());
      assertTrue(seqs.containsAll(acked), "acknowledged writes lost on restart of the " + which);
      assertEquals(seqs.size(), Set.copyOf(seqs).size(), "a command was applied twice");
      c.assertAtMostOneVotePerTerm();
      if (snapshots) {
        assertTrue(c.machines.get(victim).restores() >= 1, "the restarted node did not start from a snapshot");
      }
    }
  }

  /**
   * T3.8-11 with real LevelDB journals: a follower's data directory is wiped while it is down. On
   * restart its journal is empty, the leader's heartbeats show that the group is past term 0, so it
   * refuses to take part (its status says why) and writes nothing, while the other two carry on.
   */
  @org.junit.jupiter.api.Test
  void durability_T3_8_11_aNodeWhoseDataDirectoryWasWipedRefusesToRejoin() throws Exception {
    try (LocalCluster c = LocalCluster.start(3, ConfigFactory.empty(), data)) {
      String leader = ThreeNodeClusterTest.awaitLeader(c, c.ids);
      String victim = c.ids.stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
      assertEquals(20, ThreeNodeClusterTest.proposeMany(c, leader, "before", 20, 4).stream()
          .filter(r -> r instanceof RaftNode.Applied).count());
      c.terminate(victim);
      deleteRecursively(data.resolve(victim));
      c.restart(victim);
      TestProbe<Object> probe = TestProbe.create(c.system(leader));
      RaftNode.Status refused = probe.awaitAssert(Duration.ofSeconds(20), Duration.ofMillis(50), () -> {
        RaftNode.Status s = c.status(victim);
        assertTrue(s.problem() != null && s.problem().contains("storage lost or replaced"), "status: " + s);
        return s;
      });
      assertEquals(0, refused.term());
      // The others still make a majority and commit; the wiped node writes nothing at all.
      assertEquals(20, ThreeNodeClusterTest.proposeMany(c, leader, "after", 20, 4).stream()
          .filter(r -> r instanceof RaftNode.Applied).count());
      RaftNode.Status after = c.status(victim);
      assertEquals(0, after.lastIndex());
      assertEquals(0, after.term());
      assertEquals(List.of(), c.machines.get(victim).applied());
    }
  }

  private static void deleteRecursively(Path p) throws java.io.IOException {
    if (!java.nio.file.Files.exists(p)) return;
    try (var walk = java.nio.file.Files.walk(p)) {
      for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) java.nio.file.Files.delete(q);
    }
  }
}
