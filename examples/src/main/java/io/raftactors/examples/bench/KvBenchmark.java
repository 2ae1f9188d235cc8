package io.raftactors.examples.bench;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.InMemoryStorage;
import io.raftactors.actor.NodeMetrics;
import io.raftactors.actor.RaftClient;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.RaftSettings;
import io.raftactors.actor.RaftStorage;
import io.raftactors.actor.ReadConsistency;
import io.raftactors.persistence.JournalStorage;
import io.raftactors.persistence.SegmentStorage;
import io.raftactors.core.Role;
import io.raftactors.examples.kv.KvCommand;
import io.raftactors.examples.kv.KvStateMachine;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Throughput and latency of a 3-node group, one ActorSystem per node in one JVM over Artery on
 * 127.0.0.1. Workload ({@link LoadDriver}): each client puts a {@code --value-bytes} value (default
 * 100) to a random key of 1,000 on the leader and waits until the put is committed and applied, or,
 * for a {@code --read-ratio} fraction of its operations (default 0), reads a random key
 * linearizably; one outstanding request per client, submitted asynchronously, so 256 clients are 256
 * requests in flight, not 256 threads.
 *
 * <p>{@code --storage leveldb} journals each node to LevelDB with fsync, {@code --storage segments}
 * to segment files with fsync (both in a temporary folder, deleted afterwards); the default is
 * in-memory storage. {@code --wire cbor} sends the peer protocol through Jackson CBOR instead of its
 * binary form. {@code --csv FILE} appends one row per client count (header first in a new file),
 * with the leader's stage breakdown. {@code --api} chooses the path: {@code propose} (default: the
 * node actor's Propose, reads as its linearizable Query, inside the leader's ActorSystem), {@code
 * client} (a RaftClient per client in a separate ActorSystem, over Artery, with exactly-once
 * sessions; reads as RaftClient.query) or {@code read} (linearizable RaftClient queries only).
 * Before the runs it measures and prints the floor of a durable write on this machine ({@link Floor}),
 * and over Artery the round trip of Artery itself between two ActorSystems set up as the nodes
 * ({@link ArteryRoundTrip}).
 * {@code --chart DIR} writes charts of the runs there as SVG: throughput and latency percentiles
 * against client count, and latency over time ({@link BenchCharts}).
 *
 * <pre>java -cp examples/target/raft-kv.jar io.raftactors.examples.bench.KvBenchmark [clients...] [--clients 1,32,256] [--warmup S] [--measure S] [--value-bytes N] [--read-ratio R] [--storage mem|leveldb|segments] [--api propose|client|read] [--wire binary|cbor] [--transport artery|local] [--dispatchers one|akka] [--csv FILE] [--chart DIR]</pre>
 */
public final class KvBenchmark {
  public static void main(String[] args) throws Exception {
    Map<String, String> own = new LinkedHashMap<>();
    own.put("storage", "mem");
    own.put("api", "propose");
    own.put("wire", "binary");
    own.put("transport", "artery");
    own.put("dispatchers", "one");
    Bench.Options o = Bench.parse(args, own);
    String storage = o.extra("storage");
    String api = o.extra("api");
    String wire = o.extra("wire");
    String transport = o.extra("transport");
    String dispatchers = o.extra("dispatchers");
    if (!List.of("one", "akka").contains(dispatchers)) throw new IllegalArgumentException("--dispatchers one|akka");
    oneDispatcher = dispatchers.equals("one");
    if (!List.of("propose", "client", "read").contains(api)) throw new IllegalArgumentException("--api propose|client|read");
    if (!List.of("mem", "leveldb", "segments").contains(storage)) throw new IllegalArgumentException("--storage mem|leveldb|segments");
    if (!List.of("binary", "cbor").contains(wire)) throw new IllegalArgumentException("--wire binary|cbor");
    if (!List.of("artery", "local").contains(transport)) throw new IllegalArgumentException("--transport artery|local");
    if (transport.equals("local") && !api.equals("propose")) throw new IllegalArgumentException("--transport local runs --api propose only");
    localTransport = transport.equals("local");
    BenchResult.Setup setup = setup(storage, api, wire, o);
    // Over Artery, the floor comes with Artery's own round trip, timed between two systems set up as the nodes.
    Bench.RoundTrips artery = localTransport ? null
        : () -> ArteryRoundTrip.measure(akkaConfig(wire), 2_000, 20_000, TimeUnit.MILLISECONDS.toNanos(1000));
    Bench.runAll(o, !storage.equals("mem"), "Artery", artery, (load, floor) -> run(load, floor, setup, storage, api, wire));
  }

  /**
   * The Akka part of each node's configuration (logging, dispatchers, Artery on 127.0.0.1), under
   * the system properties given (-Dakka...=), which come first so that a run can try other settings.
   */
  static Config akkaConfig(String wire) {
    return ConfigFactory.systemProperties().withFallback(ConfigFactory.parseString(String.join("\n",
            "akka.loglevel = WARNING",
            oneDispatcher ? ONE_DISPATCHER : "",
            "akka.actor.provider = remote",
            "akka.remote.warn-about-direct-use = off",
            "akka.remote.artery.canonical.hostname = 127.0.0.1",
            // --wire cbor: the peer protocol through Jackson CBOR, as before it had a binary form of its own.
            wire.equals("cbor") ? "akka.actor.serialization-bindings { \"io.raftactors.actor.RaftNode$PeerEnvelope\" = jackson-cbor }" : "")))
        .withFallback(ConfigFactory.load());
  }

  /** What a run is called in its result line and CSV row. */
  static BenchResult.Setup setup(String storage, String api, String wire, Bench.Options o) {
    String label = "raft-actors/" + (storage.equals("mem") ? "mem" : storage + "-fsync") + "/" + api + (localTransport ? "/local" : "");
    return new BenchResult.Setup("raft-actors", label, storage, api, wire, !storage.equals("mem"), o.valueBytes(),
        api.equals("read") ? 1 : o.readRatio());
  }

  /** --transport local: the three nodes in one ActorSystem, exchanging local messages (no serialization, no network). */
  static boolean localTransport;

  /**
   * --dispatchers one (the default): each node's ActorSystem runs its actors, remoting's streams and
   * its TCP connections on one fork-join pool with a thread per core, as the README recommends for
   * a Raft member ("Threads"); --dispatchers akka keeps Akka's defaults (three pools, the actors' one
   * with at least eight threads).
   */
  static boolean oneDispatcher = true;

  /** The configuration --dispatchers one adds to each node's ActorSystem. */
  static final String ONE_DISPATCHER = String.join("\n",
      "akka.actor.default-dispatcher.fork-join-executor { parallelism-min = 2, parallelism-factor = 1.0 }",
      "akka.actor.internal-dispatcher = akka.actor.default-dispatcher",
      "akka.remote.artery.advanced.use-dispatcher = akka.actor.default-dispatcher");

  private static String f(String format, double v) {
    return String.format(java.util.Locale.ROOT, format, v);
  }

  private static NodeMetrics.Snapshot metrics(ActorRef<RaftNode.Command> node, ActorSystem<Void> system, boolean reset)
      throws Exception {
    return AskPattern.<RaftNode.Command, NodeMetrics.Snapshot>ask(node, r -> new RaftNode.GetMetrics(reset, r),
        Duration.ofSeconds(5), system.scheduler()).toCompletableFuture().get();
  }

  /**
   * One node's stage breakdown over the measurement, indented under the result line: the median and
   * p99 of each stage in ms, then the batch sizes (mean) and storage writes per committed entry.
   */
  static String describe(NodeMetrics.Snapshot m, boolean leader) {
    StringBuilder b = new StringBuilder("  ").append(m.memberId()).append(leader ? " (leader)" : " (follower)");
    for (Map.Entry<NodeMetrics.Stage, NodeMetrics.Summary> e : m.stages().entrySet()) {
      NodeMetrics.Summary s = e.getValue();
      if (s.count() == 0) continue;
      b.append(String.format(" | %s p50=%.2f p99=%.2f", e.getKey().name().toLowerCase(java.util.Locale.ROOT), s.p50() / 1000.0,
          s.p99() / 1000.0));
    }
    for (Map.Entry<String, NodeMetrics.Summary> e : m.roundTripByFollower().entrySet()) {
      b.append(String.format(" | rtt %s p50=%.2f", e.getKey(), e.getValue().p50() / 1000.0));
    }
    b.append("\n   ");
    for (Map.Entry<NodeMetrics.Size, NodeMetrics.Summary> e : m.sizes().entrySet()) {
      if (e.getValue().count() == 0) continue;
      b.append(String.format(" %s mean=%.1f max=%d;", e.getKey().name().toLowerCase(java.util.Locale.ROOT), e.getValue().mean(),
          e.getValue().max()));
    }
    b.append(String.format(" writes=%d entries-committed=%d writes/committed-entry=%.3f", m.writes(), m.entriesCommitted(),
        m.fsyncsPerCommittedEntry()));
    return b.toString();
  }

  /** The storage {@code --storage} names, for the node {@code s} describes. */
  private static RaftStorage storage(String kind, ActorSystem<?> system, RaftSettings s) {
    return switch (kind) {
      case "leveldb" -> JournalStorage.start(system, s);
      case "segments" -> SegmentStorage.start(system, s);
      default -> new InMemoryStorage(s.bootstrapConfig());
    };
  }

  static BenchResult run(LoadDriver.Load load, Floor floor, BenchResult.Setup setup, String storageKind, String api, String wire)
      throws Exception {
    java.nio.file.Path data = java.nio.file.Files.createTempDirectory("kv-bench");
    Map<String, ActorSystem<Void>> systems = new LinkedHashMap<>();
    Map<String, ActorRef<RaftNode.Command>> nodes = new LinkedHashMap<>();
    StringBuilder members = new StringBuilder();
    for (String id : List.of("n1", "n2", "n3")) {
      try (ServerSocket s = new ServerSocket(0)) {
        members.append("raft.members.").append(id).append(" = \"akka://bench@127.0.0.1:").append(s.getLocalPort()).append("\"\n");
      }
    }
    // System properties (-Dakka...=) come first, so a run can try other settings.
    Config base = ConfigFactory.systemProperties().withFallback(ConfigFactory.parseString(members + String.join("\n",
            "raft.group-id = bench",
            // The whole group stops at once at the end: a hand-over to a member that stops too cannot finish.
            "raft.membership.transfer-leadership-on-shutdown = off")))
        .withFallback(akkaConfig(wire));
    List<RaftClient> raftClients = new ArrayList<>();
    try {
      if (localTransport) {
        io.raftactors.testkit.RaftTestKit group = io.raftactors.testkit.RaftTestKit.builder().members(3).groupId("bench")
            .stateMachine(id -> new KvStateMachine())
            .storage((sys, s) -> storage(storageKind, sys, s))
            .config(ConfigFactory.parseString(String.join("\n",
                "akka.loglevel = WARNING",
                oneDispatcher ? ONE_DISPATCHER : "",
                "raft.membership.transfer-leadership-on-shutdown = off",
                "raft.persistence.leveldb-journal.dir = \"" + data.resolve("journal") + "\"",
                "raft.persistence.segments.dir = \"" + data.resolve("log") + "\"",
                "raft.persistence.local-snapshots.dir = \"" + data.resolve("snapshots") + "\"")))
            .start();
        for (String id : group.members()) {
          nodes.put(id, group.node(id));
          systems.put(id, group.system());
        }
      }
      for (String id : localTransport ? List.<String>of() : List.of("n1", "n2", "n3")) {
        Config c0 = ConfigFactory.parseString("raft.member-id = " + id).withFallback(base);
        RaftSettings s = RaftSettings.fromConfig(c0);
        Config c = ConfigFactory.parseString(String.join("\n",
                "akka.remote.artery.canonical.port = " + s.members().get(id).port().get(),
                "raft.persistence.leveldb-journal.dir = \"" + data.resolve(id + "/journal") + "\"",
                "raft.persistence.segments.dir = \"" + data.resolve(id + "/log") + "\"",
                "raft.persistence.local-snapshots.dir = \"" + data.resolve(id + "/snapshots") + "\""))
            .withFallback(c0)
            .resolve();
        ActorSystem<Void> sys = ActorSystem.create(Behaviors.empty(), "bench", c);
        io.raftactors.examples.kv.ShutdownLogFilter.register(sys); // no Artery WARNs when a run stops its nodes
        systems.put(id, sys);
        nodes.put(id, RaftNode.start(sys, s, storage(storageKind, sys, s), new KvStateMachine()));
      }
      String leader = null;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (leader == null && System.nanoTime() < deadline) {
        for (String id : nodes.keySet()) {
          RaftNode.Status st = AskPattern.<RaftNode.Command, RaftNode.Status>ask(nodes.get(id), RaftNode.GetStatus::new,
              Duration.ofSeconds(3), systems.get(id).scheduler()).toCompletableFuture().get();
          if (st.role() == Role.LEADER) leader = id;
        }
        if (leader == null) TimeUnit.MILLISECONDS.sleep(50);
      }
      if (leader == null) throw new IllegalStateException("no leader");
      // The member proposals go to: the leader found above, or the one a NotLeader answer names.
      java.util.concurrent.atomic.AtomicReference<String> current = new java.util.concurrent.atomic.AtomicReference<>(leader);
      if (!api.equals("propose")) {
        ActorSystem<Void> clientSystem = ActorSystem.create(Behaviors.empty(), "bench-client",
            ConfigFactory.parseString("akka.remote.artery.canonical.port = 0").withFallback(base).resolve());
        io.raftactors.examples.kv.ShutdownLogFilter.register(clientSystem);
        systems.put("client", clientSystem);
        RaftSettings s = RaftSettings.fromConfig(ConfigFactory.parseString("raft.member-id = n1").withFallback(base));
        for (int t = 0; t < load.clients(); t++) raftClients.add(RaftClient.create(clientSystem, s));
        // Open the sessions (and, for reads, write a key) before measuring.
        for (RaftClient rc : raftClients) rc.submit(new KvCommand.Put("k0", "v")).toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
      LoadDriver.Load effective = api.equals("read")
          ? new LoadDriver.Load(load.clients(), load.warmupSeconds(), load.measureSeconds(), load.valueBytes(), 1)
          : load;
      // Replies come to one actor per client in the first leader's system; the checks of a reply run where
      // it arrives (a plain CompletableFuture's thenApply).
      ReplyActors replies = api.equals("propose") ? new ReplyActors(systems.get(leader), effective.clients()) : null;
      LoadDriver.Operation operation = (client, key, value) -> {
        if (api.equals("propose")) {
          ActorRef<RaftNode.Command> target = nodes.get(current.get());
          if (value == null) {
            return replies.<RaftNode.QueryReply>send(client, target,
                rt -> new RaftNode.Query(new KvCommand.Get(key), ReadConsistency.LINEARIZABLE, rt))
                .thenApply(r -> expect(follow(r, nodes, current), RaftNode.QueryResult.class));
          }
          KvCommand cmd = new KvCommand.Put(key, LoadDriver.text(value));
          return replies.<RaftNode.ProposeReply>send(client, target, rt -> new RaftNode.Propose(cmd, rt))
              .thenApply(r -> expect(follow(r, nodes, current), RaftNode.Applied.class));
        }
        RaftClient rc = raftClients.get(client);
        return value == null ? rc.query(new KvCommand.Get(key)) : rc.submit(new KvCommand.Put(key, LoadDriver.text(value)));
      };
      NodeMetrics.Snapshot[] leaderMetrics = new NodeMetrics.Snapshot[1];
      StringBuilder breakdown = new StringBuilder();
      LoadDriver.Measurement m = LoadDriver.run(effective, operation, new LoadDriver.Phases() {
        @Override
        public void measureStarting() throws Exception {
          for (String id : nodes.keySet()) metrics(nodes.get(id), systems.get(id), true);
        }

        @Override
        public void measureEnded() throws Exception {
          String leaderId = current.get();
          for (String id : nodes.keySet()) {
            NodeMetrics.Snapshot nm = metrics(nodes.get(id), systems.get(id), false);
            if (id.equals(leaderId)) leaderMetrics[0] = nm;
            breakdown.append('\n').append(describe(nm, id.equals(leaderId)));
          }
        }
      });
      NodeMetrics.Snapshot lm = leaderMetrics[0];
      List<String> stages = List.of(f("%.3f", lm.stages().get(NodeMetrics.Stage.WRITE).p50() / 1000.0),
          f("%.3f", lm.stages().get(NodeMetrics.Stage.REPLICATION_ROUND_TRIP).p50() / 1000.0),
          f("%.3f", lm.stages().get(NodeMetrics.Stage.PROPOSED_TO_APPLIED).p50() / 1000.0),
          f("%.2f", lm.sizes().get(NodeMetrics.Size.ENTRIES_PER_APPEND).mean()),
          f("%.2f", lm.sizes().get(NodeMetrics.Size.ENTRIES_PER_WRITE).mean()),
          f("%.3f", lm.fsyncsPerCommittedEntry()));
      return new BenchResult(setup, m, floor, stages, breakdown.toString());
    } finally {
      for (RaftClient c : raftClients) c.close();
      for (ActorSystem<Void> s : systems.values()) s.terminate();
      for (ActorSystem<Void> s : systems.values()) s.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      Bench.deleteTree(data); // the journals of this run
    }
  }

  /** {@code reply}, after pointing {@code current} at the leader a NotLeader reply names. */
  private static Object follow(Object reply, Map<String, ?> nodes, java.util.concurrent.atomic.AtomicReference<String> current) {
    if (reply instanceof RaftNode.NotLeader nl && nl.leaderId() != null && nodes.containsKey(nl.leaderId())) current.set(nl.leaderId());
    return reply;
  }

  /** {@code reply} if it is a {@code type}; otherwise the operation failed, and says how. */
  private static <T> T expect(Object reply, Class<T> type) {
    if (type.isInstance(reply)) return type.cast(reply);
    throw new java.util.concurrent.CompletionException(new IllegalStateException(String.valueOf(reply)));
  }
}
