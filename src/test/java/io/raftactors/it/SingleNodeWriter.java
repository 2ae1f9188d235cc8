package io.raftactors.it;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.RaftSettings;
import io.raftactors.core.Role;
import io.raftactors.persistence.RaftPersistence;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * A single-node group on LevelDB, run in its own JVM by {@link SigkillRecoveryTest}.
 *
 * <ul>
 *   <li>{@code write DIR}: proposes commands 0, 1, 2, ... (16 in flight) and prints {@code ACK n}
 *       once command n is applied, until killed;
 *   <li>{@code verify DIR}: recovers, waits until it leads and has applied its whole log, prints
 *       {@code APPLIED n} for every recovered command and then {@code DONE}.
 * </ul>
 */
public final class SingleNodeWriter {
  public static void main(String[] args) throws Exception {
    String mode = args[0];
    String dir = args[1];
    String storage = args.length > 2 ? args[2] : "journal";
    Config config = ConfigFactory.parseString(String.join("\n",
            "raft.group-id = crash",
            "raft.member-id = n1",
            "raft.members.n1 = \"akka://crash\"",
            "raft.election-timeout-min = 100ms",
            "raft.election-timeout-max = 150ms",
            "raft.heartbeat-interval = 20ms",
            "raft.persistence.leveldb-journal.dir = \"" + dir + "/journal\"",
            "raft.persistence.local-snapshots.dir = \"" + dir + "/snapshots\"",
            "raft.persistence.segments.dir = \"" + dir + "/log\"",
            "raft.persistence.storage = " + storage,
            "akka.loglevel = WARNING",
            "akka.coordinated-shutdown.run-by-jvm-shutdown-hook = off"))
        .withFallback(ConfigFactory.load())
        .resolve();
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "crash", config);
    RaftSettings settings = RaftSettings.fromConfig(config);
    List<Long> applied = new ArrayList<>();
    ActorRef<RaftNode.Command> node = RaftNode.start(system, settings, RaftPersistence.storage(system, settings), (i, c) -> {
      synchronized (applied) {
        applied.add((Long) c);
      }
      return c;
    });
    awaitLeader(system, node);
    if (mode.equals("verify")) {
      // Leading means the new term's no-op is appended; once it is applied, so is the whole log.
      RaftNode.Status s = status(system, node);
      while (s.lastApplied() < s.commitIndex() || s.commitIndex() < s.lastIndex()) {
        TimeUnit.MILLISECONDS.sleep(10); // polling the node's status, not a test assertion
        s = status(system, node);
      }
      synchronized (applied) {
        for (long n : applied) System.out.println("APPLIED " + n);
      }
      System.out.println("DONE");
      System.out.flush();
      system.terminate();
      return;
    }
    Semaphore window = new Semaphore(16);
    for (long n = 0; ; n++) {
      window.acquire();
      final long cmd = n;
      CompletableFuture<RaftNode.ProposeReply> f = AskPattern.<RaftNode.Command, RaftNode.ProposeReply>ask(
          node, r -> new RaftNode.Propose(cmd, r), Duration.ofSeconds(10), system.scheduler()).toCompletableFuture();
      f.whenComplete((r, e) -> {
        if (r instanceof RaftNode.Applied) {
          synchronized (System.out) {
            System.out.println("ACK " + cmd);
            System.out.flush();
          }
        }
        window.release();
      });
    }
  }

  private static RaftNode.Status status(ActorSystem<Void> system, ActorRef<RaftNode.Command> node) throws Exception {
    return AskPattern.<RaftNode.Command, RaftNode.Status>ask(node, RaftNode.GetStatus::new, Duration.ofSeconds(5),
        system.scheduler()).toCompletableFuture().get();
  }

  private static void awaitLeader(ActorSystem<Void> system, ActorRef<RaftNode.Command> node) throws Exception {
    while (status(system, node).role() != Role.LEADER) TimeUnit.MILLISECONDS.sleep(10);
  }
}
