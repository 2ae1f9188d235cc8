package io.raftactors.testkit;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.Props;
import akka.actor.typed.Terminated;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.InMemoryStorage;
import io.raftactors.actor.PeerTransport;
import io.raftactors.actor.RaftClient;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.RaftSettings;
import io.raftactors.actor.RaftStorage;
import io.raftactors.actor.StateMachine;
import io.raftactors.core.Role;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/**
 * A Raft group of N nodes in one ActorSystem, for testing replicated state machines: await a
 * leader, partition and heal members, crash and restart them, and talk to the group through a
 * {@link RaftClient} as an application would.
 *
 * <pre>{@code
 * try (RaftTestKit group = RaftTestKit.builder().members(3).stateMachine(id -> new MyMachine()).start()) {
 *   String leader = group.awaitLeader();
 *   group.client().submit(new MyCommand(...)).toCompletableFuture().get(10, SECONDS);
 *   group.isolate(leader);                 // the others elect a new leader
 *   group.crash("n2"); group.restart("n2"); // recovers from its storage
 * }
 * }</pre>
 *
 * <p>Storage is in memory by default and outlives a crash, like a disk; pass another factory
 * (for example {@code JournalStorage::start} from raft-persistence, with its LevelDB directory in
 * the config) to test on it: storage that is {@link AutoCloseable} is closed at a crash and started
 * again from its durable state at the restart. Partitions cut
 * the links between nodes; the client reaches every live node. Timing is fast by default (election
 * timeout 150-300 ms); override any {@code raft.*} setting with {@link Builder#config}.
 */
public final class RaftTestKit implements AutoCloseable {
  private static final AtomicInteger SYSTEMS = new AtomicInteger();
  private static final Duration ASK = Duration.ofSeconds(3);

  /** Settings for a {@link RaftTestKit}. */
  public static final class Builder {
    private List<String> members = List.of("n1", "n2", "n3");
    private Function<String, ? extends StateMachine> stateMachines;
    private BiFunction<ActorSystem<?>, RaftSettings, RaftStorage> storage;
    private Config config = ConfigFactory.empty();
    private String groupId = "test";

    private Builder() {}

    /** {@code n} members named n1..nN (3 by default). */
    public Builder members(int n) {
      if (n < 1) throw new IllegalArgumentException("a group has at least one member");
      List<String> ids = new ArrayList<>();
      for (int i = 1; i <= n; i++) ids.add("n" + i);
      members = List.copyOf(ids);
      return this;
    }

    public Builder members(String... ids) {
      if (ids.length == 0) throw new IllegalArgumentException("a group has at least one member");
      members = List.of(ids);
      return this;
    }

    public Builder groupId(String id) {
      groupId = id;
      return this;
    }

    /** A new state machine for member {@code id}: called at start and at every restart. Required. */
    public Builder stateMachine(Function<String, ? extends StateMachine> factory) {
      stateMachines = factory;
      return this;
    }

    /** Storage for a member, created once and kept across crashes (default: in memory). */
    public Builder storage(BiFunction<ActorSystem<?>, RaftSettings, RaftStorage> factory) {
      storage = factory;
      return this;
    }

    /** Overrides for the ActorSystem and every node ({@code raft.*}, {@code akka.*}). */
    public Builder config(Config overrides) {
      config = overrides;
      return this;
    }

    public RaftTestKit start() {
      if (stateMachines == null) throw new IllegalArgumentException("stateMachine(factory) is required");
      return new RaftTestKit(this);
    }
  }

  public static Builder builder() {
    return new Builder();
  }

  private final ActorSystem<Void> system;
  private final List<String> ids;
  private final List<String> founders;
  private final Config config;
  private final String groupId;
  private final Function<String, ? extends StateMachine> stateMachines;
  private final BiFunction<ActorSystem<?>, RaftSettings, RaftStorage> storageFactory;
  private final Map<String, RaftSettings> settings = new LinkedHashMap<>();
  private final Map<String, RaftStorage> storages = new ConcurrentHashMap<>();
  private final Map<String, StateMachine> machines = new ConcurrentHashMap<>();
  private final Map<String, ActorRef<RaftNode.Command>> nodes = new ConcurrentHashMap<>();
  private final Set<String> cut = ConcurrentHashMap.newKeySet();
  private RaftClient client;

  private RaftTestKit(Builder b) {
    this.ids = new java.util.concurrent.CopyOnWriteArrayList<>(b.members);
    this.founders = List.copyOf(b.members);
    this.groupId = b.groupId;
    this.stateMachines = b.stateMachines;
    this.storageFactory = b.storage;
    String name = "raft-testkit-" + SYSTEMS.incrementAndGet();
    StringBuilder members = new StringBuilder();
    for (String id : ids) members.append("raft.members.").append(id).append(" = \"akka://").append(name).append("\"\n");
    Config base = ConfigFactory.parseString(String.join("\n",
            "raft.group-id = \"" + groupId + "\"",
            "raft.tick-interval = 5ms",
            "raft.election-timeout-min = 150ms",
            "raft.election-timeout-max = 300ms",
            "raft.heartbeat-interval = 30ms",
            "raft.restart-backoff.min = 50ms",
            "raft.restart-backoff.max = 500ms",
            "raft.client.request-timeout = 500ms",
            "akka.actor.provider = local"))
        .withFallback(ConfigFactory.parseString(members.toString()));
    Config config = b.config.withFallback(base).withFallback(ConfigFactory.load()).resolve();
    this.config = config;
    this.system = ActorSystem.create(Behaviors.empty(), name, config);
    try {
      for (String id : ids) {
        RaftSettings s = RaftSettings.fromConfig(ConfigFactory.parseString("raft.member-id = \"" + id + "\"").withFallback(config));
        settings.put(id, s);
        storages.put(id, b.storage != null ? b.storage.apply(system, s) : new InMemoryStorage(s.bootstrapConfig()));
      }
      for (String id : ids) startNode(id);
    } catch (RuntimeException e) {
      system.terminate();
      throw e;
    }
  }

  private void startNode(String id) {
    StateMachine sm = stateMachines.apply(id);
    machines.put(id, sm);
    PeerTransport base = PeerTransport.resolving(system, settings.get(id));
    PeerTransport net = new PeerTransport() {
      @Override
      public void send(String to, RaftNode.PeerEnvelope env) {
        if (!cut.contains(id + "->" + to)) base.send(to, env);
      }

      @Override
      public void addressesChanged(Map<String, io.raftactors.core.MemberAddress> addresses) {
        base.addressesChanged(addresses);
      }
    };
    Behavior<RaftNode.Command> node = RaftNode.create(settings.get(id), storages.get(id), sm, net);
    // After a crash the name is free once the system guardian has processed the termination,
    // which can trail the Terminated signal a watcher sees.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (true) {
      try {
        nodes.put(id, system.systemActorOf(node, settings.get(id).actorName(), Props.empty()));
        return;
      } catch (akka.actor.InvalidActorNameException e) {
        if (System.nanoTime() > deadline) throw e;
        Thread.onSpinWait();
      }
    }
  }

  /**
   * Starts a new member {@code id} on empty storage, outside the group: it joins (raft.bootstrap =
   * join) and takes part once the leader adds it, e.g. with {@code client().addMember(id,
   * address(id), false)}. It counts as a member of this kit from now on (crash, restart, isolate).
   */
  public void startNewMember(String id) {
    if (settings.containsKey(id)) throw new IllegalArgumentException(id + " is already a member of this kit");
    String initial = String.join("\", \"", founders);
    RaftSettings s = RaftSettings.fromConfig(ConfigFactory.parseString(String.join("\n",
            "raft.member-id = \"" + id + "\"",
            "raft.members." + id + " = \"akka://" + system.name() + "\"",
            "raft.initial-voters = [\"" + initial + "\"]"))
        .withFallback(config));
    settings.put(id, s);
    storages.put(id, storageFactory != null ? storageFactory.apply(system, s) : InMemoryStorage.empty(s.bootstrapConfig()));
    ids.add(id);
    startNode(id);
    await(Duration.ofSeconds(30), id + " reads its storage", () -> status(id).phase() != RaftNode.Phase.RECOVERING);
  }

  /** Where member {@code id} is reached, to record it in the configuration when adding the member. */
  public io.raftactors.core.MemberAddress address(String id) {
    return new io.raftactors.core.MemberAddress("akka://" + system.name(), null);
  }

  /** The ActorSystem all nodes run in. */
  public ActorSystem<Void> system() {
    return system;
  }

  public List<String> members() {
    return ids;
  }

  /** The settings of member {@code id} (group, members, timing). */
  public RaftSettings settings(String id) {
    return settings.get(id);
  }

  /** The current state machine of member {@code id} (a new one after each restart). */
  @SuppressWarnings("unchecked")
  public <T extends StateMachine> T stateMachine(String id) {
    return (T) machines.get(id);
  }

  /** The node actor of member {@code id}, to send it {@link RaftNode.Command}s directly. */
  public ActorRef<RaftNode.Command> node(String id) {
    return nodes.get(id);
  }

  public RaftNode.Status status(String id) {
    ActorRef<RaftNode.Command> ref = nodes.get(id);
    if (ref == null) throw new IllegalStateException(id + " is crashed");
    return AskPattern.<RaftNode.Command, RaftNode.Status>ask(ref, RaftNode.GetStatus::new, ASK, system.scheduler())
        .toCompletableFuture().join();
  }

  /** Members that are not crashed. */
  public List<String> live() {
    List<String> out = new ArrayList<>();
    for (String id : ids) if (nodes.containsKey(id)) out.add(id);
    return out;
  }

  /** Waits (10 s) until one live member leads and every live member of its configuration that it can reach follows it. */
  public String awaitLeader() {
    return awaitLeader(Duration.ofSeconds(10));
  }

  public String awaitLeader(Duration timeout) {
    String[] found = new String[1];
    await(timeout, "a leader among " + live(), () -> {
      found[0] = agreedLeader();
      return found[0] != null;
    });
    return found[0];
  }

  private String agreedLeader() {
    List<String> live = live();
    String leader = null;
    long term = -1;
    Map<String, RaftNode.Status> st = new LinkedHashMap<>();
    for (String id : live) {
      RaftNode.Status s = status(id);
      st.put(id, s);
      if (s.role() == Role.LEADER && s.term() > term) {
        leader = id;
        term = s.term();
      }
    }
    if (leader == null) return null;
    io.raftactors.core.ClusterConfig config = st.get(leader).configuration();
    for (String id : live) {
      if (id.equals(leader) || cut.contains(id + "->" + leader)) continue; // cut off: may not know yet
      if (config != null && !config.isMember(id)) continue; // not in the group (removed, or not added yet)
      RaftNode.Status s = st.get(id);
      if (s.term() != term || !leader.equals(s.leaderId())) return null;
    }
    return leader;
  }

  /** Waits until every live member has applied at least {@code index}. */
  public void awaitApplied(long index, Duration timeout) {
    try {
      await(timeout, "every live member applied " + index, () -> {
        for (String id : live()) if (status(id).lastApplied() < index) return false;
        return true;
      });
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; " + describe(), e);
    }
  }

  /** The status of every live member, for failure messages. */
  public String describe() {
    StringBuilder b = new StringBuilder();
    for (String id : live()) b.append(b.length() == 0 ? "" : ", ").append(status(id));
    if (!cut.isEmpty()) b.append("; cut links ").append(new java.util.TreeSet<>(cut));
    return b.toString();
  }

  /** Polls {@code condition} until it holds or {@code timeout} passes (then fails naming {@code what}). */
  public void await(Duration timeout, String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out after " + timeout + " waiting for " + what);
      try {
        TimeUnit.MILLISECONDS.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting for " + what, e);
      }
    }
  }

  /** Cuts every link between {@code id} and the other members, both ways. */
  public void isolate(String id) {
    for (String o : ids) {
      if (o.equals(id)) continue;
      cut.add(id + "->" + o);
      cut.add(o + "->" + id);
    }
  }

  /** Splits the group: members in {@code side} reach each other only, the rest likewise. */
  public void partition(Collection<String> side) {
    for (String a : ids) {
      for (String b : ids) {
        if (side.contains(a) != side.contains(b)) cut.add(a + "->" + b);
      }
    }
  }

  /** Restores every link. */
  public void heal() {
    cut.clear();
  }

  /** Stops member {@code id} as a crash would; its storage is kept. */
  public void crash(String id) {
    ActorRef<RaftNode.Command> ref = nodes.remove(id);
    if (ref == null) throw new IllegalStateException(id + " is already crashed");
    CompletableFuture<Void> stopped = new CompletableFuture<>();
    system.systemActorOf(Behaviors.setup(ctx -> {
      ctx.watch(ref);
      ref.tell(RaftNode.Stop.INSTANCE);
      return Behaviors.receiveSignal((c, sig) -> {
        if (sig instanceof Terminated) {
          stopped.complete(null);
          return Behaviors.stopped();
        }
        return Behaviors.same();
      });
    }), "raft-testkit-crash-" + id + "-" + System.nanoTime(), Props.empty());
    stopped.orTimeout(10, TimeUnit.SECONDS).join();
    RaftStorage storage = storages.get(id);
    if (storageFactory != null && storage instanceof AutoCloseable closeable) {
      // Storage with a life of its own (a journal actor) goes down with the node and is started
      // again from what it made durable; in-memory storage simply outlives the node.
      try {
        closeable.close();
      } catch (Exception e) {
        throw new IllegalStateException("closing the storage of " + id + " failed", e);
      }
      storages.remove(id);
    }
  }

  /**
   * Starts a crashed member again on its storage, with a new state machine from the factory; returns
   * once it has read its storage.
   */
  public void restart(String id) {
    if (nodes.containsKey(id)) throw new IllegalStateException(id + " is running");
    if (!storages.containsKey(id)) storages.put(id, storageFactory.apply(system, settings.get(id)));
    startNode(id);
    // Returns once the member has read its storage, so that its status describes the recovered node.
    await(Duration.ofSeconds(30), id + " reads its storage", () -> status(id).phase() != RaftNode.Phase.RECOVERING);
  }

  /** A client of the group (created on first use, closed with the kit). */
  public synchronized RaftClient client() {
    if (client == null) client = RaftClient.create(system, settings.get(ids.get(0)));
    return client;
  }

  @Override
  public void close() {
    if (client != null) client.close();
    system.terminate();
    try {
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("the test ActorSystem did not terminate", e);
    }
  }
}
