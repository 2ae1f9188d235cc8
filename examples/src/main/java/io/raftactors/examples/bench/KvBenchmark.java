package io.raftactors.examples.bench;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.InMemoryStorage;
import io.raftactors.actor.NodeMetrics;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.RaftSettings;
import io.raftactors.actor.RaftStorage;
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
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Throughput and latency of a 3-node group, one ActorSystem per node in one JVM over Artery on
 * 127.0.0.1. Workload: put of a 100-byte value to a random key of 1,000; each client thread
 * proposes on the leader and waits until the put is committed and applied (one outstanding
 * request per client).
 *
 * <p>{@code --storage leveldb} journals each node to LevelDB with fsync, {@code --storage segments}
 * to segment files with fsync (both in a temporary folder, deleted afterwards); the default is
 * in-memory storage. {@code --wire cbor} sends the peer protocol through Jackson CBOR instead of its
 * binary form. {@code --csv FILE} appends one row per client count (header first in a new file),
 * with the leader's stage breakdown. {@code --api} chooses the path: {@code propose} (default: the
 * node actor's Propose, inside the leader's ActorSystem), {@code client} (a RaftClient per client
 * thread in a separate ActorSystem, over Artery, with exactly-once sessions) or {@code read}
 * (linearizable RaftClient queries of the same keys).
 *
 * <pre>java -cp examples/target/raft-kv.jar io.raftactors.examples.bench.KvBenchmark [clients...] [--clients 1,32,256] [--warmup S] [--measure S] [--storage mem|leveldb|segments] [--api propose|client|read] [--wire binary|cbor] [--transport artery|local] [--csv FILE]</pre>
 */
public final class KvBenchmark {
  public static void main(String[] args) throws Exception {
    List<Integer> clients = new ArrayList<>();
    int warmup = 5;
    int measure = 10;
    String storage = "mem";
    String wire = "binary";
    String transport = "artery";
    String api = "propose";
    java.nio.file.Path csv = null;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--storage")) storage = args[++i];
      else if (args[i].equals("--csv")) csv = java.nio.file.Path.of(args[++i]);
      else if (args[i].equals("--clients")) for (String c : args[++i].split(",")) clients.add(Integer.parseInt(c.trim()));
      else if (args[i].equals("--wire")) wire = args[++i];
      else if (args[i].equals("--transport")) transport = args[++i];
      else if (args[i].equals("--api")) api = args[++i];
      else if (args[i].equals("--warmup")) warmup = Integer.parseInt(args[++i]);
      else if (args[i].equals("--measure")) measure = Integer.parseInt(args[++i]);
      else clients.add(Integer.parseInt(args[i]));
    }
    if (clients.isEmpty()) clients = List.of(1, 32);
    if (!List.of("propose", "client", "read").contains(api)) throw new IllegalArgumentException("--api propose|client|read");
    if (!List.of("mem", "leveldb", "segments").contains(storage)) throw new IllegalArgumentException("--storage mem|leveldb|segments");
    if (!List.of("binary", "cbor").contains(wire)) throw new IllegalArgumentException("--wire binary|cbor");
    if (!List.of("artery", "local").contains(transport)) throw new IllegalArgumentException("--transport artery|local");
    if (transport.equals("local") && !api.equals("propose")) throw new IllegalArgumentException("--transport local runs --api propose only");
    localTransport = transport.equals("local");
    for (int c : clients) {
      Result r = run(c, warmup, measure, storage, api, wire);
      System.out.println(r.text());
      if (csv != null) appendCsv(csv, r.csv());
    }
  }

  /** --transport local: the three nodes in one ActorSystem, exchanging local messages (no serialization, no network). */
  static boolean localTransport;

  /** One client count's result: the lines printed, and its CSV row. */
  record Result(String text, String csv) {}

  static final String CSV_HEADER = "storage,api,wire,clients,ops_per_s,p50_ms,p90_ms,p99_ms,p999_ms,errors,cpu_us_per_op,"
      + "leader_write_p50_ms,leader_round_trip_p50_ms,leader_proposed_to_applied_p50_ms,leader_entries_per_append,"
      + "leader_entries_per_write,leader_writes_per_committed_entry";

  /** Appends {@code row} to {@code file}, with the header first if the file is new or empty. */
  static void appendCsv(java.nio.file.Path file, String row) throws java.io.IOException {
    boolean fresh = !java.nio.file.Files.exists(file) || java.nio.file.Files.size(file) == 0;
    java.nio.file.Files.writeString(file, (fresh ? CSV_HEADER + "\n" : "") + row + "\n", java.nio.charset.StandardCharsets.UTF_8,
        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
  }

  private static String ms(double micros) {
    return String.format(java.util.Locale.ROOT, "%.3f", micros / 1000.0);
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

  static Result run(int clients, int warmupSeconds, int measureSeconds, String storageKind, String api, String wire)
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
    Config base = ConfigFactory.parseString(members + String.join("\n",
            "raft.group-id = bench",
            // The whole group stops at once at the end: a hand-over to a member that stops too cannot finish.
            "raft.membership.transfer-leadership-on-shutdown = off",
            "akka.loglevel = WARNING",
            "akka.actor.provider = remote",
            "akka.remote.warn-about-direct-use = off",
            "akka.remote.artery.canonical.hostname = 127.0.0.1",
            // --wire cbor: the peer protocol through Jackson CBOR, as before it had a binary form of its own.
            wire.equals("cbor") ? "akka.actor.serialization-bindings { \"io.raftactors.actor.RaftNode$PeerEnvelope\" = jackson-cbor }" : ""))
        .withFallback(ConfigFactory.load());
    try {
      if (localTransport) {
        io.raftactors.testkit.RaftTestKit group = io.raftactors.testkit.RaftTestKit.builder().members(3).groupId("bench")
            .stateMachine(id -> new KvStateMachine())
            .storage((sys, s) -> storage(storageKind, sys, s))
            .config(ConfigFactory.parseString(String.join("\n",
                "akka.loglevel = WARNING",
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
      ActorRef<RaftNode.Command> target = nodes.get(leader);
      ActorSystem<Void> sys = systems.get(leader);
      ActorSystem<Void> clientSystem = null;
      List<io.raftactors.actor.RaftClient> raftClients = new ArrayList<>();
      if (!api.equals("propose")) {
        clientSystem = ActorSystem.create(Behaviors.empty(), "bench-client",
            ConfigFactory.parseString("akka.remote.artery.canonical.port = 0").withFallback(base).resolve());
        systems.put("client", clientSystem);
        RaftSettings s = RaftSettings.fromConfig(ConfigFactory.parseString("raft.member-id = n1").withFallback(base));
        for (int t = 0; t < clients; t++) raftClients.add(io.raftactors.actor.RaftClient.create(clientSystem, s));
        // Open the sessions (and, for reads, write the keys) before measuring.
        for (io.raftactors.actor.RaftClient rc : raftClients) rc.submit(new KvCommand.Put("k0", "v")).toCompletableFuture().get(30, TimeUnit.SECONDS);
      }

      Recorder recorder = new Recorder(3);
      AtomicBoolean stop = new AtomicBoolean();
      AtomicBoolean measuring = new AtomicBoolean();
      AtomicLong ops = new AtomicLong();
      AtomicLong errors = new AtomicLong();
      CountDownLatch done = new CountDownLatch(clients);
      for (int t = 0; t < clients; t++) {
        final int seed = t;
        final io.raftactors.actor.RaftClient rc = raftClients.isEmpty() ? null : raftClients.get(t);
        Thread th = new Thread(() -> {
          SplittableRandom rnd = new SplittableRandom(seed);
          byte[] value = new byte[100];
          try {
            while (!stop.get()) {
              // 100 bytes once encoded: printable ASCII, one UTF-8 byte per character.
              for (int i = 0; i < value.length; i++) value[i] = (byte) (' ' + rnd.nextInt(95));
              KvCommand cmd = new KvCommand.Put("k" + rnd.nextInt(1000), new String(value, java.nio.charset.StandardCharsets.US_ASCII));
              long start = System.nanoTime();
              if (rc == null) {
                RaftNode.ProposeReply r = AskPattern.<RaftNode.Command, RaftNode.ProposeReply>ask(target,
                    rt -> new RaftNode.Propose(cmd, rt), Duration.ofSeconds(10), sys.scheduler()).toCompletableFuture().get();
                if (!(r instanceof RaftNode.Applied)) errors.incrementAndGet();
              } else if (api.equals("client")) {
                rc.submit(cmd).toCompletableFuture().get(30, TimeUnit.SECONDS);
              } else {
                rc.query(new KvCommand.Get(cmd.key())).toCompletableFuture().get(30, TimeUnit.SECONDS);
              }
              long micros = (System.nanoTime() - start) / 1000;
              if (measuring.get()) {
                recorder.recordValue(Math.max(1, micros));
                ops.incrementAndGet();
              }
            }
          } catch (Exception e) {
            errors.incrementAndGet();
          } finally {
            done.countDown();
          }
        }, "client-" + t);
        th.setDaemon(true);
        th.start();
      }
      TimeUnit.SECONDS.sleep(warmupSeconds);
      recorder.reset();
      for (String id : nodes.keySet()) metrics(nodes.get(id), systems.get(id), true);
      com.sun.management.OperatingSystemMXBean os =
          (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
      long cpu0 = os.getProcessCpuTime();
      measuring.set(true);
      long t0 = System.nanoTime();
      TimeUnit.SECONDS.sleep(measureSeconds);
      measuring.set(false);
      double secs = (System.nanoTime() - t0) / 1e9;
      // CPU of the whole JVM (three nodes and the clients) per operation: steadier than ops/s on a shared machine.
      double cpuMicrosPerOp = ops.get() == 0 ? 0 : (os.getProcessCpuTime() - cpu0) / 1000.0 / ops.get();
      StringBuilder breakdown = new StringBuilder();
      NodeMetrics.Snapshot leaderMetrics = null;
      for (String id : nodes.keySet()) {
        NodeMetrics.Snapshot m = metrics(nodes.get(id), systems.get(id), false);
        if (id.equals(leader)) leaderMetrics = m;
        breakdown.append('\n').append(describe(m, id.equals(leader)));
      }
      Histogram h = recorder.getIntervalHistogram();
      stop.set(true);
      done.await(15, TimeUnit.SECONDS);
      for (io.raftactors.actor.RaftClient c : raftClients) c.close();
      String text = String.format("raft-actors/" + (storageKind.equals("mem") ? "mem" : storageKind + "-fsync") + "/" + api
          + (localTransport ? "/local" : "") + " clients=%d ops/s=%.0f p50=%.2fms p99=%.2fms p99.9=%.2fms errors=%d cpu=%.0fus/op",
          clients, ops.get() / secs, h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0,
          h.getValueAtPercentile(99.9) / 1000.0, errors.get(), cpuMicrosPerOp) + breakdown;
      NodeMetrics.Snapshot lm = leaderMetrics;
      String csv = String.join(",", storageKind, api, wire, String.valueOf(clients), String.format(java.util.Locale.ROOT, "%.0f", ops.get() / secs),
          ms(h.getValueAtPercentile(50)), ms(h.getValueAtPercentile(90)), ms(h.getValueAtPercentile(99)),
          ms(h.getValueAtPercentile(99.9)), String.valueOf(errors.get()), String.format(java.util.Locale.ROOT, "%.0f", cpuMicrosPerOp),
          ms(lm.stages().get(NodeMetrics.Stage.WRITE).p50()), ms(lm.stages().get(NodeMetrics.Stage.REPLICATION_ROUND_TRIP).p50()),
          ms(lm.stages().get(NodeMetrics.Stage.PROPOSED_TO_APPLIED).p50()),
          String.format(java.util.Locale.ROOT, "%.2f", lm.sizes().get(NodeMetrics.Size.ENTRIES_PER_APPEND).mean()),
          String.format(java.util.Locale.ROOT, "%.2f", lm.sizes().get(NodeMetrics.Size.ENTRIES_PER_WRITE).mean()),
          String.format(java.util.Locale.ROOT, "%.3f", lm.fsyncsPerCommittedEntry()));
      return new Result(text, csv);
    } finally {
      for (ActorSystem<Void> s : systems.values()) s.terminate();
      for (ActorSystem<Void> s : systems.values()) s.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.walk(data)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete()); // the journals of this run
      }
    }
  }
}
