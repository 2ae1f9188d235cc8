package io.raftactors.it;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import akka.remote.RARP;
import akka.remote.transport.ThrottlerTransportAdapter;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.InMemoryStorage;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.RaftSettings;
import io.raftactors.actor.RaftStorage;
import io.raftactors.core.DurableState;
import io.raftactors.core.HardState;
import io.raftactors.core.Role;
import io.raftactors.persistence.JournalStorage;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import scala.concurrent.Await;

/**
 * N Raft nodes, each in its own ActorSystem in this JVM, talking over Artery on 127.0.0.1 with
 * random free ports. Partitions use Artery's test-mode blackhole, which drops (not delays) messages.
 */
final class LocalCluster implements AutoCloseable {
  static final Duration ASK = Duration.ofSeconds(3);

  final List<String> ids = new ArrayList<>();
  final Map<String, ActorSystem<Void>> systems = new LinkedHashMap<>();
  final Map<String, Address> addresses = new LinkedHashMap<>();
  final Map<String, ActorRef<RaftNode.Command>> nodes = new LinkedHashMap<>();
  final Map<String, InMemoryStorage> storages = new LinkedHashMap<>();
  final Map<String, RecordingStateMachine> machines = new LinkedHashMap<>();
  final Map<String, RaftSettings> settings = new LinkedHashMap<>();
  final Map<String, Config> configs = new LinkedHashMap<>();
  /** Every term and vote each node wrote, across restarts. */
  final Map<String, List<HardState>> hardStates = new LinkedHashMap<>();
  /** Journal folder per node, or null for in-memory storage. */
  private Path dataDir;

  static Config systemConfig() {
    return ConfigFactory.parseString(String.join("\n",
            "akka.loglevel = INFO",
            "akka.loggers = [\"akka.event.slf4j.Slf4jLogger\"]",
            "akka.logging-filter = \"akka.event.slf4j.Slf4jLoggingFilter\"",
            "akka.actor.provider = remote",
            "akka.remote.warn-about-direct-use = off",
            "akka.remote.warn-unsafe-watch-outside-cluster = off",
            "akka.remote.artery.canonical.hostname = 127.0.0.1",
            "akka.remote.artery.canonical.port = 0",
            "akka.remote.artery.advanced.test-mode = on",
            "akka.coordinated-shutdown.run-by-jvm-shutdown-hook = off",
            "akka.cluster.jmx.multi-mbeans-in-same-jvm = on",
            // Fast timeouts so that elections happen within a second even on a busy machine.
            "raft.tick-interval = 10ms",
            "raft.election-timeout-min = 300ms",
            "raft.election-timeout-max = 600ms",
            "raft.heartbeat-interval = 50ms"))
        .withFallback(ConfigFactory.load());
  }

  static LocalCluster start(int n) {
    return start(n, ConfigFactory.empty());
  }

  static LocalCluster start(int n, Config overrides) {
    return start(n, overrides, null);
  }

  /** A cluster whose nodes journal to LevelDB under {@code dataDir}/&lt;node&gt; (in memory if null). */
  static LocalCluster start(int n, Config overrides, Path dataDir) {
    LocalCluster c = new LocalCluster();
    c.dataDir = dataDir;
    Config base = overrides.withFallback(systemConfig());
    for (int i = 1; i <= n; i++) {
      String id = "n" + i;
      ActorSystem<Void> sys = ActorSystem.create(Behaviors.empty(), "raft", dataDir == null ? base : c.journalDirs(base, id));
      c.ids.add(id);
      c.systems.put(id, sys);
      c.addresses.put(id, sys.address());
    }
    StringBuilder members = new StringBuilder();
    c.addresses.forEach((id, a) -> members.append("raft.members.").append(id).append(" = \"").append(a).append("\"\n"));
    for (String id : c.ids) {
      Config cfg = ConfigFactory.parseString(members + "raft.group-id = test\nraft.member-id = " + id)
          .withFallback(base);
      RaftSettings s = RaftSettings.fromConfig(cfg);
      c.settings.put(id, s);
      c.configs.put(id, cfg);
      c.hardStates.put(id, new ArrayList<>());
      if (dataDir == null) c.storages.put(id, new InMemoryStorage(s.bootstrapConfig()));
      c.startNode(id);
    }
    return c;
  }

  private void startNode(String id) {
    RecordingStateMachine sm = new RecordingStateMachine();
    machines.put(id, sm);
    ActorSystem<Void> sys = systems.get(id);
    RaftStorage storage = dataDir == null ? storages.get(id) : JournalStorage.start(sys, settings.get(id));
    List<HardState> written = hardStates.get(id);
    RaftStorage recording = new RaftStorage() {
      @Override
      public CompletionStage<DurableState> recover() {
        return storage.recover();
      }

      @Override
      public CompletionStage<Void> write(Write w) {
        return storage.write(w).thenApply(done -> {
          if (w.hardState() != null) {
            synchronized (written) {
              written.add(w.hardState());
            }
          }
          return done;
        });
      }
    };
    nodes.put(id, RaftNode.start(sys, settings.get(id), recording, sm));
  }

  /**
   * Starts a terminated node again: a new ActorSystem on the same address, on the same storage
   * (the same LevelDB folder, or the same in-memory storage), with a fresh state machine.
   */
  void restart(String id) {
    Address a = addresses.get(id);
    Config cfg = ConfigFactory.parseString("akka.remote.artery.canonical.port = " + a.port().get())
        .withFallback(configs.get(id));
    if (dataDir != null) cfg = journalDirs(cfg, id);
    systems.put(id, ActorSystem.create(Behaviors.empty(), "raft", cfg));
    startNode(id);
  }

  private Config journalDirs(Config cfg, String id) {
    Path dir = dataDir.resolve(id);
    return ConfigFactory.parseString(String.join("\n",
            "raft.persistence.leveldb-journal.dir = \"" + dir.resolve("journal") + "\"",
            "raft.persistence.local-snapshots.dir = \"" + dir.resolve("snapshots") + "\""))
        .withFallback(cfg)
        .resolve();
  }

  /** Asserts that no node ever wrote two different votes for the same term (across restarts). */
  void assertAtMostOneVotePerTerm() {
    for (Map.Entry<String, List<HardState>> e : hardStates.entrySet()) {
      Map<Long, String> votes = new java.util.HashMap<>();
      synchronized (e.getValue()) {
        for (HardState hs : e.getValue()) {
          if (hs.votedFor() == null) continue;
          String before = votes.putIfAbsent(hs.term(), hs.votedFor());
          if (before != null && !before.equals(hs.votedFor())) {
            throw new AssertionError(e.getKey() + " voted for " + before + " and " + hs.votedFor() + " in term " + hs.term());
          }
        }
      }
    }
  }

  ActorSystem<Void> system(String id) {
    return systems.get(id);
  }

  RaftNode.Status status(String id) {
    ActorSystem<Void> sys = systems.get(id);
    CompletionStage<RaftNode.Status> s =
        AskPattern.ask(nodes.get(id), RaftNode.GetStatus::new, ASK, sys.scheduler());
    return s.toCompletableFuture().join();
  }

  /** Ids of the nodes whose ActorSystem is still running. */
  List<String> live() {
    List<String> out = new ArrayList<>();
    for (String id : ids) if (!systems.get(id).whenTerminated().isCompleted()) out.add(id);
    return out;
  }

  /**
   * The leader, if among {@code among} exactly one node leads, all of them are in its term and
   * all report it as leader; otherwise null.
   */
  String agreedLeader(List<String> among) {
    String leader = null;
    long term = -1;
    for (String id : among) {
      RaftNode.Status s = status(id);
      if (s.role() == Role.LEADER) {
        if (leader != null) return null;
        leader = id;
        term = s.term();
      }
    }
    if (leader == null) return null;
    for (String id : among) {
      RaftNode.Status s = status(id);
      if (s.term() != term || !leader.equals(s.leaderId())) return null;
    }
    return leader;
  }

  CompletionStage<RaftNode.ProposeReply> propose(String id, Object command) {
    ActorSystem<Void> sys = systems.get(id);
    return AskPattern.ask(nodes.get(id), r -> new RaftNode.Propose(command, r), Duration.ofSeconds(10), sys.scheduler());
  }

  /** Drops every message between {@code a} and {@code b}, in both directions. */
  void blackhole(String a, String b) {
    throttle(a, b, ThrottlerTransportAdapter.blackholeThrottleMode());
  }

  void heal(String a, String b) {
    throttle(a, b, ThrottlerTransportAdapter.unthrottledThrottleMode());
  }

  private void throttle(String a, String b, ThrottlerTransportAdapter.ThrottleMode mode) {
    try {
      for (String[] pair : new String[][] {{a, b}, {b, a}}) {
        akka.actor.ActorSystem classic = systems.get(pair[0]).classicSystem();
        var cmd = new ThrottlerTransportAdapter.SetThrottle(addresses.get(pair[1]), ThrottlerTransportAdapter.bothDirection(), mode);
        Await.result(((RARP) RARP.get(classic)).provider().transport().managementCommand(cmd),
            scala.concurrent.duration.Duration.create(5, TimeUnit.SECONDS));
      }
    } catch (Exception e) {
      throw new IllegalStateException("could not change the link " + a + "<->" + b, e);
    }
  }

  void terminate(String id) {
    ActorSystem<Void> sys = systems.get(id);
    sys.terminate();
    try {
      Await.result(sys.whenTerminated(), scala.concurrent.duration.Duration.create(30, TimeUnit.SECONDS));
    } catch (Exception e) {
      throw new IllegalStateException("ActorSystem of " + id + " did not terminate", e);
    }
  }

  @Override
  public void close() {
    List<String> order = new ArrayList<>(ids);
    Collections.reverse(order);
    for (String a : ids) for (String b : ids) if (a.compareTo(b) < 0 && live().contains(a) && live().contains(b)) heal(a, b);
    for (String id : order) if (!systems.get(id).whenTerminated().isCompleted()) terminate(id);
  }
}
