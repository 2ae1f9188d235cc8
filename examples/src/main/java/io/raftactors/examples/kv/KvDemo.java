package io.raftactors.examples.kv;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.RaftSettings;
import io.raftactors.actor.Stages;
import io.raftactors.core.Role;
import io.raftactors.persistence.RaftPersistence;
import java.io.File;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.LoggerFactory;

/**
 * The replicated key-value demo: starts the three members of application.conf (one ActorSystem
 * each, Artery on 127.0.0.1), waits for a leader, writes keys through it, stops the leader's
 * ActorSystem, writes through the new leader and shows that every surviving replica holds the
 * same data. Exits 0 on success.
 *
 * <p>Each node keeps its log under {@code <data-dir>/<node>} ({@code data/demo} by default, apart
 * from the members that {@code --node} starts under {@code data}), in segment files (the default) or
 * in a LevelDB journal ({@code raft.persistence.storage = journal}), with fsync on; a second run
 * recovers what the first one wrote and continues that group.
 *
 * <pre>java -jar examples/target/raft-kv.jar [--config application.conf] [--writes N] [--data-dir DIR]</pre>
 *
 * <p>With {@code --node ID} the jar runs a single member with its HTTP API instead ({@link KvNode}).
 */
public final class KvDemo {
  private static final Duration ASK = Duration.ofSeconds(5);

  /**
   * Where the demo journals by default: a folder of its own, so that the members started with
   * --node (default data/) found a group of their own instead of continuing the demo's.
   */
  static final String DEFAULT_DATA_DIR = "data/demo";

  /** The command line of the jar, both modes. */
  static final String USAGE = String.join("\n",
      "usage: java -jar raft-kv.jar [--config FILE] [--writes N] [--data-dir DIR]",
      "         the demo: the founding members of FILE (default application.conf), one ActorSystem each in this JVM,",
      "         journaling under DIR/<member> (default data/demo)",
      "       java -jar raft-kv.jar --node ID [--config FILE] [--data-dir DIR] [--join]",
      "         member ID alone, with its HTTP API at kv.http.ID, journaling under DIR/ID (default data);",
      "         --join: a new member that waits to be added (POST /admin/members) instead of founding the group");

  public static void main(String[] args) throws Exception {
    int code = cli(args, System.out, System.err);
    if (code != 0) System.exit(code);
  }

  /**
   * Runs the jar's command line: with {@code --node} one member ({@link KvNode#cli}), else the demo.
   * Returns the exit code; a bad argument or setting is one line on {@code err} and 2.
   */
  static int cli(String[] args, PrintStream out, PrintStream err) throws Exception {
    if (java.util.Arrays.asList(args).contains("--node")) {
      return KvNode.cli(args, out, err); // one member per JVM, with its HTTP API
    }
    LoggerFactory.getILoggerFactory(); // before Akka's threads log: else SLF4J replays their first lines with a notice
    String configFile = "application.conf";
    int writes = 1000;
    String dataDir = DEFAULT_DATA_DIR;
    try {
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--config" -> configFile = value(args, ++i, "--config");
          case "--writes" -> {
            String n = value(args, ++i, "--writes");
            try {
              writes = Integer.parseInt(n);
            } catch (NumberFormatException e) {
              throw new IllegalArgumentException("--writes needs a number, got '" + n + "'");
            }
            if (writes < 1) throw new IllegalArgumentException("--writes must be at least 1, got " + writes);
          }
          case "--data-dir" -> dataDir = value(args, ++i, "--data-dir");
          case "--help", "-h" -> {
            out.println(USAGE);
            return 0;
          }
          default -> throw new IllegalArgumentException("unknown argument " + args[i]);
        }
      }
    } catch (IllegalArgumentException e) {
      err.println(e.getMessage() + "\n" + USAGE);
      return 2;
    }
    try {
      return run(loadConfig(configFile), writes, new File(dataDir), out);
    } catch (IllegalArgumentException | IllegalStateException | ConfigException | KvNode.StartFailed e) {
      // Bad settings, or a data folder whose logs the configured storage must not start over (raft.persistence.storage).
      err.println("cannot run the demo: " + e.getMessage());
      return 2;
    }
  }

  /** The configuration file over the defaults. */
  static Config loadConfig(String configFile) {
    File f = new File(configFile);
    if (!f.isFile()) throw new IllegalArgumentException("configuration file " + f.getAbsolutePath() + " not found (use --config FILE)");
    return ConfigFactory.parseFile(f).withFallback(ConfigFactory.load()).resolve();
  }

  static String value(String[] args, int i, String flag) {
    if (i >= args.length) throw new IllegalArgumentException(flag + " needs a value");
    return args[i];
  }

  /**
   * Runs the demo against {@code config} (which must define raft.members), keeping the logs under
   * {@code dataDir}; returns the exit code.
   */
  public static int run(Config config, int writes, File dataDir, PrintStream out) throws Exception {
    RaftSettings first = RaftSettings.fromConfig(ConfigFactory.parseString("raft.member-id = " + firstMember(config)).withFallback(config));
    // The founding voters (raft.initial-voters); members listed only to be added later are not started.
    Map<String, Address> members = new LinkedHashMap<>();
    for (String id : first.initialVoters()) members.put(id, first.members().get(id));
    Map<String, ActorSystem<Void>> systems = new LinkedHashMap<>();
    Map<String, ActorRef<RaftNode.Command>> nodes = new LinkedHashMap<>();
    Map<String, KvStateMachine> machines = new LinkedHashMap<>();
    boolean earlier = members.keySet().stream().anyMatch(id -> new File(dataDir, id).isDirectory());
    out.println(earlier
        ? "continuing the group journaled in " + dataDir.getPath() + " by an earlier run (delete that folder to start over)"
        : "founding a new group, journaled in " + dataDir.getPath());
    try {
      for (Map.Entry<String, Address> m : members.entrySet()) {
        String id = m.getKey();
        int port = (Integer) m.getValue().port().get();
        File nodeDir = new File(dataDir, id);
        Config nodeConfig = ConfigFactory.parseString(String.join("\n",
                "raft.member-id = " + id,
                "akka.remote.artery.canonical.port = " + port,
                "raft.persistence.leveldb-journal.dir = \"" + new File(nodeDir, "journal").getPath().replace("\\", "/") + "\"",
                "raft.persistence.local-snapshots.dir = \"" + new File(nodeDir, "snapshots").getPath().replace("\\", "/") + "\"",
                "raft.persistence.segments.dir = \"" + new File(nodeDir, "log").getPath().replace("\\", "/") + "\""))
            .withFallback(config)
            .resolve();
        RaftSettings settings = RaftSettings.fromConfig(nodeConfig);
        ActorSystem<Void> system = KvNode.createSystem(id, m.getValue(), nodeConfig);
        KvStateMachine sm = new KvStateMachine();
        systems.put(id, system);
        machines.put(id, sm);
        nodes.put(id, RaftNode.start(system, settings, RaftPersistence.storage(system, settings), sm));
        out.println("started " + id + " at " + m.getValue() + ", log in " + nodeDir.getPath() + " ("
            + nodeConfig.getString("raft.persistence.storage") + ")");
      }
      String leader = awaitLeader(systems, nodes, new ArrayList<>(members.keySet()), out);
      long t0 = System.nanoTime();
      putAll(systems, nodes, new ArrayList<>(members.keySet()), leader, "key-", writes, out);
      double secs = (System.nanoTime() - t0) / 1e9;
      out.printf("wrote %d keys through %s in %.2f s (%.0f writes/s, 32 in flight)%n", writes, leader, secs, writes / secs);

      out.println("stopping the leader " + leader);
      systems.get(leader).terminate();
      systems.get(leader).getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      List<String> rest = new ArrayList<>(members.keySet());
      rest.remove(leader);
      String next = awaitLeader(systems, nodes, rest, out);
      putAll(systems, nodes, rest, next, "after-failover-", 100, out);
      out.println("wrote 100 more keys through the new leader " + next);

      // Nothing is written any more: each follower must reach the leader's applied index and then
      // hold exactly the leader's keys and values.
      KvStateMachine leading = machines.get(next);
      Map<String, String> expected = leading.snapshot();
      out.printf("leader %s: %d keys, applied index %d%n", next, expected.size(), leading.appliedIndex());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      for (String id : rest) {
        if (id.equals(next)) continue;
        KvStateMachine replica = machines.get(id);
        while (replica.appliedIndex() < leading.appliedIndex() && System.nanoTime() < deadline) {
          TimeUnit.MILLISECONDS.sleep(10); // a follower learns the commit index with the next heartbeat
        }
        long index = replica.appliedIndex();
        boolean same = index == leading.appliedIndex() && replica.snapshot().equals(leading.snapshot());
        out.printf("replica %s: %d keys, applied index %d, %s%n", id, replica.snapshot().size(), index,
            same ? "the same keys and values as the leader at that index"
                : "DIFFERENT from the leader (applied index " + leading.appliedIndex() + ")");
        if (!same) return 1;
      }
      if (expected.size() < writes + 100) {
        out.println("expected at least " + (writes + 100) + " keys, found " + expected.size());
        return 1;
      }
      out.println("demo finished: all replicas agree");
      return 0;
    } finally {
      for (ActorSystem<Void> s : systems.values()) s.terminate();
      for (ActorSystem<Void> s : systems.values()) s.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  private static String firstMember(Config config) {
    return config.getConfig("raft.members").root().keySet().stream().sorted().findFirst()
        .orElseThrow(() -> new IllegalArgumentException("raft.members is empty"));
  }

  private static String awaitLeader(Map<String, ActorSystem<Void>> systems, Map<String, ActorRef<RaftNode.Command>> nodes,
      List<String> among, PrintStream out) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      for (String id : among) {
        RaftNode.Status s = Stages.<RaftNode.Command, RaftNode.Status>ask(nodes.get(id), RaftNode.GetStatus::new, ASK,
            systems.get(id).scheduler()).toCompletableFuture().get();
        if (s.role() == Role.LEADER) {
          if (out != null) out.println("leader is " + id + " in term " + s.term());
          return id;
        }
      }
      TimeUnit.MILLISECONDS.sleep(50); // polling a status display, not a test
    }
    throw new IllegalStateException("no leader elected within 30 s among " + among);
  }

  /**
   * Puts {@code n} keys through {@code leader}, 32 in flight, each with an idempotency key: a write
   * that is not answered applied (the leader changed, or it answered late on a busy machine) is sent
   * again with the same key to whichever member leads then, so it is applied exactly once.
   */
  private static void putAll(Map<String, ActorSystem<Void>> systems, Map<String, ActorRef<RaftNode.Command>> nodes,
      List<String> among, String leader, String prefix, int n, PrintStream out) throws Exception {
    java.util.concurrent.Semaphore window = new java.util.concurrent.Semaphore(32);
    List<CompletableFuture<RaftNode.ProposeReply>> all = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      window.acquireUninterruptibly();
      all.add(put(systems.get(leader), nodes.get(leader), prefix, i).whenComplete((r, e) -> window.release()));
    }
    int retried = 0;
    for (int i = 0; i < n; i++) {
      RaftNode.ProposeReply r = all.get(i).exceptionally(e -> new RaftNode.OutcomeUnknown("no answer: " + e)).join();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!(r instanceof RaftNode.Applied)) {
        if (System.nanoTime() > deadline) throw new IllegalStateException("write of " + prefix + i + " failed: " + r);
        retried++;
        TimeUnit.MILLISECONDS.sleep(20); // a pause before asking who leads now
        String now = awaitLeader(systems, nodes, among, null);
        r = put(systems.get(now), nodes.get(now), prefix, i).exceptionally(e -> new RaftNode.OutcomeUnknown("no answer: " + e)).join();
      }
    }
    if (retried > 0) out.println("(" + retried + " writes were sent again with their idempotency keys after a leader change or a late answer)");
  }

  /** Idempotency keys of this run: a later run on the same journals writes its keys anew. */
  private static final String RUN = "demo-" + Long.toHexString(new java.security.SecureRandom().nextLong()) + "-";

  private static CompletableFuture<RaftNode.ProposeReply> put(ActorSystem<Void> system, ActorRef<RaftNode.Command> node,
      String prefix, int i) {
    KvCommand cmd = new KvCommand.Put(prefix + i, "value-" + i);
    return Stages.<RaftNode.Command, RaftNode.ProposeReply>ask(
        node, r -> new RaftNode.Propose(cmd, RUN + prefix + i, r), Duration.ofSeconds(10), system.scheduler()).toCompletableFuture();
  }
}
