package io.raftactors.examples.kv;

import akka.actor.Address;
import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import akka.http.javadsl.ServerBinding;
import akka.http.javadsl.server.Route;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.raftactors.actor.RaftMetrics;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.RaftSettings;
import io.raftactors.examples.metrics.RaftMeterBinder;
import io.raftactors.http.ClusterView;
import io.raftactors.persistence.RaftPersistence;
import java.io.File;
import java.io.PrintStream;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One member of the replicated KV store in this JVM: a Raft node keeping its log under
 * {@code <data-dir>/<node>} (segment files, or a LevelDB journal with {@code raft.persistence.storage
 * = journal}) and its HTTP API ({@link KvHttpApi}) at {@code kv.http.<node>}, with the live
 * cluster view ({@link ClusterView}) at {@code /ui}. Runs until the JVM is stopped (Ctrl-C runs
 * Akka's coordinated shutdown).
 *
 * <pre>java -jar examples/target/raft-kv.jar --node n1 [--config application.conf] [--data-dir data] [--join]</pre>
 *
 * <p>{@code --join} starts a member that is not one of {@code raft.initial-voters} (or any member
 * on empty storage) without founding anything: it waits until the leader adds it
 * ({@code POST /admin/members}) and then learns the group's log from it.
 */
public final class KvNode {
  private KvNode() {}

  /** Where members started with --node journal by default, each under its id (the demo uses a folder of its own). */
  static final String DEFAULT_DATA_DIR = "data";

  /** How often a member hands its Raft metrics to the registry of GET /metrics (kv.metrics-interval). */
  static final Duration DEFAULT_METRICS_INTERVAL = Duration.ofSeconds(1);

  /** A running node: its ActorSystem and the bound HTTP address. */
  public record Running(ActorSystem<Void> system, ActorRef<RaftNode.Command> node, String httpAddress) {}

  public static void main(String[] args) throws Exception {
    int code = cli(args, System.out, System.err);
    if (code != 0) System.exit(code);
  }

  /**
   * Runs the command line {@code --node ID [--config FILE] [--data-dir DIR] [--join]}: starts the
   * member and returns 0 once its ActorSystem has terminated (Ctrl-C). Returns 2 at once, after one
   * line on {@code err}, for a bad argument, a bad setting or an address that cannot be bound.
   */
  static int cli(String[] args, PrintStream out, PrintStream err) throws Exception {
    long mainAt = System.currentTimeMillis();
    LoggerFactory.getILoggerFactory(); // before Akka's threads log: else SLF4J replays their first lines with a notice
    String node = null;
    String configFile = "application.conf";
    String dataDir = DEFAULT_DATA_DIR;
    boolean join = false;
    try {
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--node" -> node = KvDemo.value(args, ++i, "--node");
          case "--config" -> configFile = KvDemo.value(args, ++i, "--config");
          case "--data-dir" -> dataDir = KvDemo.value(args, ++i, "--data-dir");
          case "--join" -> join = true;
          case "--help", "-h" -> {
            out.println(KvDemo.USAGE);
            return 0;
          }
          default -> throw new IllegalArgumentException("unknown argument " + args[i]);
        }
      }
    } catch (IllegalArgumentException e) {
      err.println(e.getMessage() + "\n" + KvDemo.USAGE);
      return 2;
    }
    Running r;
    try {
      Config config = KvDemo.loadConfig(configFile);
      if (join) config = ConfigFactory.parseString("raft.bootstrap = join").withFallback(config);
      r = start(config, node, new File(dataDir));
    } catch (IllegalArgumentException | IllegalStateException | ConfigException | StartFailed e) {
      // Bad settings, a port in use, or storage it must not start on (the log is in the other storage).
      err.println("cannot start node " + node + ": " + e.getMessage());
      return 2;
    }
    long jvmStart = java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime();
    LoggerFactory.getLogger(KvNode.class).info("node {} started: JVM start to main {} ms, main to HTTP bound {} ms ({} ms since JVM start)",
        node, mainAt - jvmStart, System.currentTimeMillis() - mainAt, System.currentTimeMillis() - jvmStart);
    out.println("node " + node + " running: HTTP at http://" + r.httpAddress() + ", data in "
        + new File(dataDir, node).getPath() + "; Ctrl-C stops it");
    r.system().getWhenTerminated().toCompletableFuture().get();
    return 0;
  }

  /** A start that failed for a reason named in one line: an address already in use. */
  public static final class StartFailed extends RuntimeException {
    StartFailed(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * Starts member {@code node} of the group in {@code config}; throws IllegalArgumentException on
   * bad settings and {@link StartFailed} if its Akka or HTTP address cannot be bound. The HTTP port
   * is bound before the Raft node starts: a start that fails writes nothing under {@code dataDir}.
   */
  public static Running start(Config config, String node, File dataDir) throws Exception {
    if (node == null) throw new IllegalArgumentException("--node is required");
    Config withId = ConfigFactory.parseString("raft.member-id = \"" + node + "\"").withFallback(config);
    Map<String, Address> members = RaftSettings.fromConfig(withId).members();
    Map<String, String> http = httpAddresses(config, members.keySet());
    File nodeDir = new File(dataDir, node);
    Config nodeConfig = ConfigFactory.parseString(String.join("\n",
            "akka.remote.artery.canonical.port = " + members.get(node).port().get(),
            "raft.persistence.leveldb-journal.dir = \"" + slashes(new File(nodeDir, "journal")) + "\"",
            "raft.persistence.local-snapshots.dir = \"" + slashes(new File(nodeDir, "snapshots")) + "\"",
            "raft.persistence.segments.dir = \"" + slashes(new File(nodeDir, "log")) + "\""))
        .withFallback(withId)
        .resolve();
    RaftSettings settings = RaftSettings.fromConfig(nodeConfig);
    int maxValue = (int) Math.min(Integer.MAX_VALUE, nodeConfig.getBytes("kv.max-value-bytes"));
    Duration waitForLeader = nodeConfig.hasPath("kv.wait-for-leader")
        ? nodeConfig.getDuration("kv.wait-for-leader") : KvHttpApi.DEFAULT_WAIT_FOR_LEADER;
    if (waitForLeader.isNegative()) throw new IllegalArgumentException("kv.wait-for-leader must not be negative, was " + waitForLeader);
    Duration metricsInterval = nodeConfig.hasPath("kv.metrics-interval")
        ? nodeConfig.getDuration("kv.metrics-interval") : DEFAULT_METRICS_INTERVAL;
    if (metricsInterval.toMillis() < 1) {
      throw new IllegalArgumentException("kv.metrics-interval must be at least 1 ms, was " + metricsInterval);
    }
    long t0 = System.nanoTime();
    ActorSystem<Void> system = createSystem(node, members.get(node), nodeConfig);
    Logger log = LoggerFactory.getLogger(KvNode.class);
    log.info("node {}: ActorSystem created in {} ms", node, (System.nanoTime() - t0) / 1_000_000);
    try {
      long t1 = System.nanoTime();
      String[] hostPort = http.get(node).split(":");
      CompletableFuture<Route> api = new CompletableFuture<>();
      ServerBinding binding;
      try {
        binding = KvHttpApi.bind(system, hostPort[0], Integer.parseInt(hostPort[1]), api).toCompletableFuture().get(30, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        throw new StartFailed("cannot listen on its HTTP address " + http.get(node) + " (kv.http." + node + "): "
            + rootCause(e).getMessage(), e);
      }
      ActorRef<RaftNode.Command> ref = RaftNode.start(system, settings, RaftPersistence.storage(system, settings), new KvStateMachine());
      PrometheusMeterRegistry metrics = metrics(system, ref, settings, metricsInterval);
      // The live cluster view at /ui (raft-http) before the KV API, which answers every other path.
      api.complete(new KvHttpApi(system, node, ref, http, maxValue, KvHttpApi.DEFAULT_ASK_TIMEOUT, waitForLeader, metrics)
          .routeAfter(ClusterView.route(system, ref, settings)));
      log.info("node {}: HTTP bound at {}, storage and node started in {} ms", node, http.get(node),
          (System.nanoTime() - t1) / 1_000_000);
      binding.addToCoordinatedShutdown(Duration.ofSeconds(3), system);
      return new Running(system, ref, http.get(node));
    } catch (Exception e) {
      // A start that failed (a port in use, storage it must not start on) releases its ports before it returns.
      CoordinatedShutdown.get(system).run(CoordinatedShutdown.unknownReason());
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      throw e;
    }
  }

  /**
   * The registry GET /metrics serves: the node's {@link RaftMetrics} (through a {@link RaftMeterBinder}
   * subscribed every {@code interval}) and the JVM's memory, threads and processor, every meter
   * tagged with the group and the member.
   */
  static PrometheusMeterRegistry metrics(ActorSystem<?> system, ActorRef<RaftNode.Command> node, RaftSettings settings,
      Duration interval) {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    registry.config().commonTags("group", settings.groupId(), "member", settings.memberId());
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    RaftMeterBinder raft = new RaftMeterBinder(settings.groupId(), settings.memberId());
    raft.bindTo(registry);
    RaftNode.subscribeMetrics(system, node, interval, raft); // ends with the ActorSystem
    return registry;
  }

  /** The ActorSystem of member {@code node}; a remoting port in use is a {@link StartFailed} naming the setting. */
  static ActorSystem<Void> createSystem(String node, Address address, Config config) {
    try {
      ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), address.system(), config);
      ShutdownLogFilter.register(system);
      return system;
    } catch (akka.remote.RemoteTransportException e) {
      throw new StartFailed("cannot listen on its Akka address " + address + " (raft.members." + node + "): "
          + rootCause(e).getMessage(), e);
    }
  }

  private static Throwable rootCause(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) t = t.getCause();
    return t;
  }

  /** kv.http: member id -> "host:port"; every member needs one. */
  static Map<String, String> httpAddresses(Config config, java.util.Set<String> members) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String id : members) {
      String key = "kv.http." + id;
      if (!config.hasPath(key)) throw new IllegalArgumentException(key + " (the HTTP address of member " + id + ") is not set");
      String v = config.getString(key);
      if (!v.matches("[^:\\s]+:\\d{1,5}")) throw new IllegalArgumentException(key + " must be host:port, was '" + v + "'");
      out.put(id, v);
    }
    return out;
  }

  private static String slashes(File f) {
    return f.getPath().replace("\\", "/");
  }
}
