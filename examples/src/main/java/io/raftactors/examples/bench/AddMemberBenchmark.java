package io.raftactors.examples.bench;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.InMemoryStorage;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.RaftSettings;
import io.raftactors.actor.RaftStorage;
import io.raftactors.core.MemberAddress;
import io.raftactors.core.MembershipChange;
import io.raftactors.core.Role;
import io.raftactors.examples.kv.KvCommand;
import io.raftactors.examples.kv.KvStateMachine;
import io.raftactors.persistence.JournalStorage;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * How long adding a member takes to a group whose log holds many entries: three members (one
 * ActorSystem each over Artery on 127.0.0.1, LevelDB with fsync or in memory) receive
 * {@code entries} puts of 100 bytes; then a fourth member starts on empty storage in join mode and
 * the leader is asked to add it as a voter. Reported: the time from the request to the committed
 * configuration (the new member caught up first, through a snapshot if the log was compacted), and
 * the time of one leadership transfer to the new member.
 *
 * <pre>java -cp examples/target/raft-kv.jar io.raftactors.examples.bench.AddMemberBenchmark [entries] [--storage mem|leveldb] [--snapshot-after N]</pre>
 */
public final class AddMemberBenchmark {
  public static void main(String[] args) throws Exception {
    int entries = 100_000;
    boolean durable = true;
    long snapshotAfter = 10_000;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--storage")) durable = args[++i].equals("leveldb");
      else if (args[i].equals("--snapshot-after")) snapshotAfter = Long.parseLong(args[++i]);
      else entries = Integer.parseInt(args[i]);
    }
    java.nio.file.Path data = java.nio.file.Files.createTempDirectory("add-member-bench");
    StringBuilder members = new StringBuilder();
    for (String id : List.of("n1", "n2", "n3", "n4")) {
      try (ServerSocket s = new ServerSocket(0)) {
        members.append("raft.members.").append(id).append(" = \"akka://bench@127.0.0.1:").append(s.getLocalPort()).append("\"\n");
      }
    }
    Config base = ConfigFactory.parseString(members + String.join("\n",
            "raft.group-id = bench",
            "raft.initial-voters = [n1, n2, n3]",
            "raft.snapshot.after-entries = " + snapshotAfter,
            "akka.loglevel = WARNING",
            "akka.actor.provider = remote",
            "akka.remote.warn-about-direct-use = off",
            "akka.remote.artery.canonical.hostname = 127.0.0.1"))
        .withFallback(ConfigFactory.load());
    Map<String, ActorSystem<Void>> systems = new LinkedHashMap<>();
    Map<String, ActorRef<RaftNode.Command>> nodes = new LinkedHashMap<>();
    Map<String, RaftSettings> settings = new LinkedHashMap<>();
    try {
      for (String id : List.of("n1", "n2", "n3")) start(id, base, data, durable, systems, nodes, settings);
      String leader = awaitLeader(systems, nodes);
      ActorSystem<Void> sys = systems.get(leader);
      long t0 = System.nanoTime();
      Semaphore window = new Semaphore(64);
      List<CompletableFuture<RaftNode.ProposeReply>> last = new ArrayList<>();
      byte[] value = new byte[100];
      java.util.Arrays.fill(value, (byte) 'v');
      String v = new String(value, java.nio.charset.StandardCharsets.ISO_8859_1);
      for (int i = 0; i < entries; i++) {
        window.acquire();
        KvCommand cmd = new KvCommand.Put("k" + (i % 1000), v);
        CompletableFuture<RaftNode.ProposeReply> f = AskPattern.<RaftNode.Command, RaftNode.ProposeReply>ask(nodes.get(leader),
            r -> new RaftNode.Propose(cmd, r), Duration.ofSeconds(30), sys.scheduler()).toCompletableFuture();
        f.whenComplete((r, e) -> window.release());
        if (i >= entries - 64) last.add(f);
      }
      for (CompletableFuture<RaftNode.ProposeReply> f : last) f.get(60, TimeUnit.SECONDS);
      double writeSecs = (System.nanoTime() - t0) / 1e9;
      RaftNode.Status st = status(nodes.get(leader), sys);
      System.out.printf("wrote %d entries in %.1f s; leader %s at index %d%n", entries, writeSecs, leader, st.lastIndex());

      start("n4", base, data, durable, systems, nodes, settings);
      String addr = settings.get("n4").members().get("n4").toString();
      long t1 = System.nanoTime();
      RaftNode.AdminReply reply = AskPattern.<RaftNode.Command, RaftNode.AdminReply>ask(nodes.get(leader),
          r -> new RaftNode.ChangeMembers(List.of(new MembershipChange.AddVoter("n4", new MemberAddress(addr, null))), r),
          Duration.ofMinutes(5), sys.scheduler()).toCompletableFuture().get();
      double addMs = (System.nanoTime() - t1) / 1e6;
      System.out.printf("add n4 as a voter to a log of %d entries (%s, snapshot every %d): %.0f ms -> %s%n", st.lastIndex(),
          durable ? "LevelDB" : "in memory", snapshotAfter, addMs, reply);
      long t2 = System.nanoTime();
      RaftNode.AdminReply moved = AskPattern.<RaftNode.Command, RaftNode.AdminReply>ask(nodes.get(leader),
          r -> new RaftNode.TransferLeadership("n4", r), Duration.ofSeconds(30), sys.scheduler()).toCompletableFuture().get();
      System.out.printf("transfer to n4: %.0f ms -> %s%n", (System.nanoTime() - t2) / 1e6, moved);
    } finally {
      for (ActorSystem<Void> s : systems.values()) s.terminate();
      for (ActorSystem<Void> s : systems.values()) s.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  private static void start(String id, Config base, java.nio.file.Path data, boolean durable, Map<String, ActorSystem<Void>> systems,
      Map<String, ActorRef<RaftNode.Command>> nodes, Map<String, RaftSettings> settings) {
    Config c0 = ConfigFactory.parseString("raft.member-id = " + id).withFallback(base);
    RaftSettings s0 = RaftSettings.fromConfig(c0);
    Config c = ConfigFactory.parseString(String.join("\n",
            "akka.remote.artery.canonical.port = " + s0.members().get(id).port().get(),
            "raft.persistence.leveldb-journal.dir = \"" + data.resolve(id + "/journal").toString().replace("\\", "/") + "\"",
            "raft.persistence.local-snapshots.dir = \"" + data.resolve(id + "/snapshots").toString().replace("\\", "/") + "\""))
        .withFallback(c0)
        .resolve();
    RaftSettings s = RaftSettings.fromConfig(c);
    ActorSystem<Void> sys = ActorSystem.create(Behaviors.empty(), "bench", c);
    systems.put(id, sys);
    settings.put(id, s);
    RaftStorage storage = durable ? JournalStorage.start(sys, s)
        : s.initialVoters().contains(id) ? new InMemoryStorage(s.bootstrapConfig()) : InMemoryStorage.empty(s.bootstrapConfig());
    nodes.put(id, RaftNode.start(sys, s, storage, new KvStateMachine()));
  }

  private static RaftNode.Status status(ActorRef<RaftNode.Command> node, ActorSystem<Void> sys) throws Exception {
    return AskPattern.<RaftNode.Command, RaftNode.Status>ask(node, RaftNode.GetStatus::new, Duration.ofSeconds(3), sys.scheduler())
        .toCompletableFuture().get();
  }

  private static String awaitLeader(Map<String, ActorSystem<Void>> systems, Map<String, ActorRef<RaftNode.Command>> nodes)
      throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      for (String id : nodes.keySet()) {
        if (status(nodes.get(id), systems.get(id)).role() == Role.LEADER) return id;
      }
      TimeUnit.MILLISECONDS.sleep(50);
    }
    throw new IllegalStateException("no leader within 60 s");
  }
}
