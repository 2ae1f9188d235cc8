package io.raftactors.core;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BiPredicate;

/**
 * A few {@link RaftCore}s wired together for unit tests of multi-node rules (membership, transfer):
 * writes are durable at once, messages are delivered in rounds until none is left, and members can
 * be taken down (their messages are lost both ways) or have single links blocked. Every Ready's
 * outcomes and committed entries are recorded per node.
 */
final class CoreCluster {
  final RaftConfig settings;
  private final Map<String, RaftCore> nodes = new TreeMap<>();
  private final Set<String> down = new HashSet<>();
  /** Frozen members and what was sent to them meanwhile, oldest first (see {@link #freeze}). */
  private final Map<String, List<RaftMessage>> frozen = new TreeMap<>();
  /** Drops a message from the first id to the second when true. */
  private BiPredicate<String, RaftMessage> dropIf = (to, m) -> false;
  final Map<String, List<ProposalOutcome>> outcomes = new TreeMap<>();
  final Map<String, List<Committed>> committed = new TreeMap<>();
  /** Invariant violations any core reported. */
  final List<String> violations = new ArrayList<>();
  /** Every message delivered, in order, as (to, message). */
  final List<Outbound> delivered = new ArrayList<>();
  private final List<Outbound> inFlight = new ArrayList<>();

  CoreCluster(RaftConfig settings) {
    this.settings = settings;
  }

  /** A cluster whose members are the voters of {@code config}, each with the founding log. */
  static CoreCluster founded(ClusterConfig config, RaftConfig settings) {
    CoreCluster c = new CoreCluster(settings);
    int i = 0;
    for (String id : config.voters()) c.add(id, DurableState.bootstrap(config), 10 + 3 * i++);
    return c;
  }

  /** Adds a member built from {@code state}; its election timeout is always {@code timeout} ticks (clamped). */
  RaftCore add(String id, DurableState state, int timeout) {
    RaftCore core = new RaftCore(id, settings, CoreFixture.fixed(timeout), state);
    nodes.put(id, core);
    outcomes.put(id, new ArrayList<>());
    committed.put(id, new ArrayList<>());
    return core;
  }

  /** A new member with empty storage that knows only {@code known} (it is not a voter of it). */
  RaftCore addEmpty(String id, ClusterConfig known) {
    return add(id, DurableState.empty(known), 10);
  }

  RaftCore node(String id) {
    return nodes.get(id);
  }

  void down(String id) {
    down.add(id);
  }

  void up(String id) {
    down.remove(id);
  }

  /**
   * Pauses {@code id} as a stopped process: it neither ticks nor handles messages, and what is sent
   * to it waits, in order, as a connection to a stopped process holds it, until {@link #thaw}.
   */
  void freeze(String id) {
    frozen.putIfAbsent(id, new ArrayList<>());
  }

  /** What was sent to frozen {@code id} so far, oldest first. */
  List<RaftMessage> held(String id) {
    return frozen.getOrDefault(id, List.of());
  }

  /** Resumes {@code id}: it handles what was held for it, in order (its answers leave with the next hop), then runs again. */
  void thaw(String id) {
    List<RaftMessage> held = frozen.remove(id);
    if (held == null) return;
    RaftCore n = nodes.get(id);
    for (RaftMessage m : held) {
      delivered.add(new Outbound(id, m));
      n.step(m);
      collect(id, n);
    }
  }

  /** Whether {@code id} runs: neither down nor frozen. */
  private boolean runs(String id) {
    return !down.contains(id) && !frozen.containsKey(id);
  }

  void dropIf(BiPredicate<String, RaftMessage> drop) {
    dropIf = drop;
  }

  /** The one leader of the highest term among live members, or null. */
  RaftCore leader() {
    RaftCore best = null;
    for (Map.Entry<String, RaftCore> e : nodes.entrySet()) {
      RaftCore n = e.getValue();
      if (down.contains(e.getKey()) || n.role() != Role.LEADER) continue;
      if (best == null || n.term() > best.term()) best = n;
    }
    return best;
  }

  /** Runs {@code id}'s output, then delivers messages until the network is quiet. */
  void settle() {
    for (int rounds = 0; rounds < 10_000; rounds++) {
      for (Map.Entry<String, RaftCore> e : nodes.entrySet()) {
        if (runs(e.getKey())) collect(e.getKey(), e.getValue());
      }
      if (inFlight.isEmpty()) return;
      deliverInFlight();
    }
    throw new AssertionError("the network did not settle");
  }

  private void collect(String id, RaftCore n) {
    Ready r = n.ready();
    if (r.snapshot() != null) n.persisted(r.snapshot().index(), r.snapshot().term());
    LogEntry last = r.lastEntry();
    if (last != null) n.persisted(last.index(), last.term());
    inFlight.addAll(r.messages());
    inFlight.addAll(r.messagesAfterPersist());
    committed.get(id).addAll(r.committed());
    outcomes.get(id).addAll(r.outcomes());
    violations.addAll(r.violations());
    // Persisting may have moved the commit index: hand that out too.
    Ready more = n.ready();
    inFlight.addAll(more.messages());
    inFlight.addAll(more.messagesAfterPersist());
    committed.get(id).addAll(more.committed());
    outcomes.get(id).addAll(more.outcomes());
    violations.addAll(more.violations());
  }

  /**
   * One hop: every live member's output is collected, and what was in flight before is delivered
   * once (answers wait for the next hop). With {@link #tickHops} time passes while a member catches up.
   */
  void hop() {
    deliverInFlight();
    for (Map.Entry<String, RaftCore> e : nodes.entrySet()) {
      if (runs(e.getKey())) collect(e.getKey(), e.getValue());
    }
  }

  /** Delivers every message in flight once (lost if either end is down or {@link #dropIf} says so). */
  private void deliverInFlight() {
    List<Outbound> now = new ArrayList<>(inFlight);
    inFlight.clear();
    for (Outbound o : now) {
      RaftCore to = nodes.get(o.to());
      if (to == null || down.contains(o.to()) || down.contains(o.message().from())) continue;
      if (frozen.containsKey(o.to())) {
        frozen.get(o.to()).add(o.message());
        continue;
      }
      if (dropIf.test(o.to(), o.message())) continue;
      delivered.add(o);
      to.step(o.message());
    }
  }

  /** Ticks every live member, then makes one hop; {@code n} times. */
  void tickHops(int n) {
    for (int i = 0; i < n; i++) {
      for (Map.Entry<String, RaftCore> e : nodes.entrySet()) if (runs(e.getKey())) e.getValue().tick();
      hop();
    }
  }

  /**
   * Restarts {@code id} from what it holds (every write is durable at once here): same term, vote,
   * snapshot and log; everything volatile is lost and messages in flight to or from it are dropped.
   */
  RaftCore restart(String id, ClusterConfig founding) {
    RaftCore old = nodes.get(id);
    CoreStatus was = old.status();
    SnapshotMeta meta = old.snapshot() != null ? old.snapshot().meta()
        : old.snapshotIndex() == 0 ? SnapshotMeta.initial(founding)
        : new SnapshotMeta(old.snapshotIndex(), old.termAt(old.snapshotIndex()), founding);
    DurableState st = new DurableState(new HardState(old.term(), was.votedFor()), meta,
        old.entriesFrom(old.snapshotIndex() + 1), old.snapshot() != null ? old.snapshot().data() : null);
    inFlight.removeIf(o -> o.to().equals(id) || o.message().from().equals(id));
    RaftCore fresh = new RaftCore(id, settings, CoreFixture.fixed(was.randomizedElectionTimeout()), st);
    nodes.put(id, fresh);
    return fresh;
  }

  /** Ticks every live member once per step, settling the network after each, {@code n} times. */
  void tick(int n) {
    for (int i = 0; i < n; i++) {
      for (Map.Entry<String, RaftCore> e : nodes.entrySet()) if (runs(e.getKey())) e.getValue().tick();
      settle();
    }
  }

  /** Ticks until {@code until} holds, at most {@code max} ticks; returns the ticks taken. */
  int tickUntil(int max, java.util.function.BooleanSupplier until) {
    for (int i = 1; i <= max; i++) {
      tick(1);
      if (until.getAsBoolean()) return i;
    }
    throw new AssertionError("not reached within " + max + " ticks: " + nodes.values());
  }

  /** Ticks until some live member leads and everyone has its no-op; returns the leader. */
  RaftCore elect() {
    tickUntil(500, () -> leader() != null && leader().commitIndex() >= leader().lastIndex());
    return leader();
  }

  /** Proposes {@code n} commands on the leader and settles. */
  void write(int n) {
    RaftCore l = leader();
    for (int i = 0; i < n; i++) l.propose(CoreFixture.cmd("w" + i), -1);
    settle();
  }

  /** The outcomes {@code id} reported for {@code correlationId}. */
  List<ProposalOutcome> outcomesOf(String id, long correlationId) {
    List<ProposalOutcome> out = new ArrayList<>();
    for (ProposalOutcome o : outcomes.get(id)) if (o.correlationId() == correlationId) out.add(o);
    return out;
  }

  /** True if {@code id} handed out the entry proposed with {@code correlationId} as committed. */
  boolean committedWith(String id, long correlationId) {
    for (Committed c : committed.get(id)) if (c.correlationId() == correlationId) return true;
    return false;
  }

  /** Every message of {@code type} delivered to {@code to}. */
  <T extends RaftMessage> List<T> deliveredTo(String to, Class<T> type) {
    List<T> out = new ArrayList<>();
    for (Outbound o : delivered) if (o.to().equals(to) && type.isInstance(o.message())) out.add(type.cast(o.message()));
    return out;
  }
}
