package io.raftactors.sim;

import io.raftactors.core.EntryData;
import io.raftactors.core.LogEntry;
import io.raftactors.core.RaftCore;
import io.raftactors.sim.LinearizabilityChecker.History;
import io.raftactors.sim.LinearizabilityChecker.Kind;
import io.raftactors.sim.LinearizabilityChecker.Outcome;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A key-value workload on a {@link Simulation} (LIN-09), recorded as a {@link History} for the
 * {@link LinearizabilityChecker}.
 *
 * <p>Each node runs a KV state machine of registers: puts and compare-and-sets are log commands
 * ({@link #encode}), applied in log order as the node applies its entries; a restarted node starts
 * from an empty state machine and applies its log again. Clients issue put, get and cas on 1-5 keys
 * with a unique value per write, one operation at a time, mostly at the current leader and
 * sometimes at any node. A write is ok once the node it was proposed at applies it (a cas
 * succeeds or not depending on the state it is applied to); a get is ok when the node hands out
 * its read's ReadState, answered from that node's state machine at that moment. Outcomes map as
 * LIN-02 says ({@link #outcomeOf}); an operation that times out, or whose node crashes, is unknown
 * and its client continues under a new process id (LIN-03).
 *
 * <p>Times are stamped from the simulation's event counter ({@link Simulation#step}), its finest
 * monotonic clock: an operation is invoked at {@code 2 * step + 1}, between the event before and its
 * request's event, and completes at {@code 2 * step} of the event that produced its result.
 *
 * <p>{@link Settings#unsafeLocalReads} makes a deliberately broken store for LIN-08: a get is
 * answered at once from the applied state of a random node, without ReadIndex.
 */
final class KvWorkload {

  /** How the clients behave. */
  static final class Settings {
    int keys = 2;
    int clients = 6;
    /** Chance per global tick that an idle client starts an operation. */
    double opRate = 0.3;
    /** Ticks after which a client gives up on an operation (its outcome is then unknown). */
    int timeoutTicks = 100;
    /** LIN-08: answer gets from a random node's applied state without ReadIndex (not linearizable). */
    boolean unsafeLocalReads;

    @Override
    public String toString() {
      return "keys=" + keys + " clients=" + clients + " opRate=" + opRate + " timeout=" + timeoutTicks
          + (unsafeLocalReads ? " UNSAFE-local-reads" : "");
    }
  }

  // ------------------------------------------------------------------ commands and the state machine

  private static final String MANIFEST = "kv";

  /** A put ({@code expected} unused) or cas command as a log entry. */
  static EntryData.Command encode(Kind kind, String key, Long expected, long value) {
    String text = kind == Kind.PUT ? "put " + key + " " + value : "cas " + key + " " + expected + " " + value;
    return new EntryData.Command(0, MANIFEST, text.getBytes(StandardCharsets.UTF_8));
  }

  /** One node's KV register state machine. */
  static final class KvStateMachine {
    final Map<String, Long> registers = new HashMap<>();
    /** Whether the cas applied at an index succeeded. */
    final Map<Long, Boolean> casResults = new HashMap<>();
    long appliedIndex;

    /** Applies one log entry; entries that are not KV commands (no-ops, configurations, others' commands) change nothing. */
    void apply(LogEntry e) {
      if (e.index() != appliedIndex + 1) throw new IllegalStateException("applied " + e.index() + " after " + appliedIndex);
      appliedIndex = e.index();
      if (!(e.data() instanceof EntryData.Command c) || !c.manifest().equals(MANIFEST)) return;
      String[] w = new String(c.bytes(), StandardCharsets.UTF_8).split(" ");
      if (w[0].equals("put")) {
        registers.put(w[1], Long.parseLong(w[2]));
      } else {
        Long expected = w[2].equals("null") ? null : Long.parseLong(w[2]);
        boolean ok = java.util.Objects.equals(registers.get(w[1]), expected);
        if (ok) registers.put(w[1], Long.parseLong(w[3]));
        casResults.put(e.index(), ok);
      }
    }

    Long get(String key) {
      return registers.get(key);
    }
  }

  // ------------------------------------------------------------------ LIN-02 outcome mapping

  /**
   * LIN-02 for writes: applied is ok; not-leader (nothing was appended) is fail; everything else
   * (the library's Unknown outcome, or no answer before the client gave up) is unknown.
   */
  static Outcome outcomeOf(Simulation.Proposal.Status s) {
    switch (s) {
      case APPLIED:
        return Outcome.OK;
      case NOT_LEADER:
        return Outcome.FAIL;
      default: // UNKNOWN, or PENDING when the client times out or its node crashes
        return Outcome.UNKNOWN;
    }
  }

  /** LIN-02 for reads: served is ok; not-leader is fail; no answer is unknown. */
  static Outcome outcomeOf(Simulation.Read.Status s) {
    switch (s) {
      case SERVED:
        return Outcome.OK;
      case NOT_LEADER:
        return Outcome.FAIL;
      default:
        return Outcome.UNKNOWN;
    }
  }

  // ------------------------------------------------------------------ the workload

  /** An operation in flight: the history record and the simulation request behind it. */
  private static final class InFlight {
    final int client;
    final History.Pending op;
    final String node;
    final int incarnation;
    final long issuedAt;
    Simulation.Proposal proposal;
    Simulation.Read read;

    InFlight(int client, History.Pending op, String node, int incarnation, long issuedAt) {
      this.client = client;
      this.op = op;
      this.node = node;
      this.incarnation = incarnation;
      this.issuedAt = issuedAt;
    }
  }

  private final Simulation sim;
  private final Settings settings;
  private final SplittableRandom rnd;
  private final History history;
  private final Map<String, KvStateMachine> machines = new HashMap<>();
  private final Map<String, Integer> machineIncarnation = new HashMap<>();
  private final List<InFlight> inFlight = new ArrayList<>();
  private final int[] process; // each client's current process id
  private final Long[][] lastSeen; // [client][key]: the value the client last saw, its next cas's expectation
  private final InFlight[] busy;
  private int nextProcess;
  private long nextValue = 1;
  private boolean inEvent;
  private boolean running;

  KvWorkload(Simulation sim, Settings settings, long seed) {
    this.sim = sim;
    this.settings = settings;
    this.rnd = new SplittableRandom(seed ^ 0x4B56574F524B4CL);
    this.history = new History(() -> inEvent ? 2 * sim.step() : 2 * sim.step() + 1);
    this.process = new int[settings.clients];
    this.busy = new InFlight[settings.clients];
    this.lastSeen = new Long[settings.clients][settings.keys];
    for (int c = 0; c < settings.clients; c++) process[c] = nextProcess++;
    for (String id : sim.ids()) {
      machines.put(id, new KvStateMachine());
      machineIncarnation.put(id, sim.incarnation(id));
    }
    sim.afterEvent(this::afterEvent);
    sim.beforeTick(this::beforeTick);
  }

  /** Clients start issuing operations on every tick. */
  void start() {
    running = true;
  }

  /** Clients issue no new operations; those in flight may still complete. */
  void stop() {
    running = false;
  }

  /** Ends the run: operations still in flight are unknown. Returns the whole history. */
  History finish() {
    running = false;
    history.close();
    inFlight.clear();
    return history;
  }

  History history() {
    return history;
  }

  /** The KV state machine of {@code node} as it is now (its applied entries). */
  KvStateMachine machine(String node) {
    catchUp(node);
    return machines.get(node);
  }

  static String key(int k) {
    return "k" + k;
  }

  // ------------------------------------------------------------------ scripted operations (tests)

  /** Client {@code client} issues a put at {@code node}; returns its history record. */
  History.Pending put(int client, String node, int key) {
    return issue(client, node, Kind.PUT, key);
  }

  History.Pending get(int client, String node, int key) {
    return issue(client, node, Kind.GET, key);
  }

  History.Pending cas(int client, String node, int key) {
    return issue(client, node, Kind.CAS, key);
  }

  /** The current process id of {@code client}. */
  int process(int client) {
    return process[client];
  }

  // ------------------------------------------------------------------ driving

  private void beforeTick() {
    long now = sim.now();
    // Clients give up on operations that take too long: the outcome is unknown.
    for (Iterator<InFlight> it = inFlight.iterator(); it.hasNext(); ) {
      InFlight f = it.next();
      if (now - f.issuedAt >= settings.timeoutTicks) {
        it.remove();
        complete(f, Outcome.UNKNOWN, null);
      }
    }
    if (!running) return;
    List<String> ids = sim.ids();
    for (int c = 0; c < settings.clients; c++) {
      if (busy[c] != null || rnd.nextDouble() >= settings.opRate) continue;
      RaftCore leader = sim.leader();
      String node = leader != null && rnd.nextInt(10) < 8 ? leader.id() : ids.get(rnd.nextInt(ids.size()));
      if (!sim.isUp(node) || sim.isPaused(node)) continue; // the client cannot connect; it tries again later
      int roll = rnd.nextInt(10);
      Kind kind = roll < 4 ? Kind.PUT : roll < 8 ? Kind.GET : Kind.CAS;
      issue(c, node, kind, rnd.nextInt(settings.keys));
    }
  }

  private History.Pending issue(int client, String node, Kind kind, int k) {
    if (busy[client] != null) throw new IllegalStateException("client " + client + " is busy");
    String key = key(k);
    History.Pending op;
    if (kind == Kind.GET) {
      op = history.get(process[client], key);
    } else {
      long value = nextValue++;
      Long expected = lastSeen[client][k];
      op = kind == Kind.PUT ? history.put(process[client], key, value) : history.cas(process[client], key, expected, value);
    }
    InFlight f = new InFlight(client, op, node, sim.incarnation(node), sim.now());
    busy[client] = f;
    if (kind == Kind.GET && settings.unsafeLocalReads) {
      // LIN-08's broken store: any node's applied state, no ReadIndex, no leader check.
      List<String> up = new ArrayList<>();
      for (String id : sim.ids()) if (sim.isUp(id)) up.add(id);
      String any = up.get(rnd.nextInt(up.size()));
      complete(f, Outcome.OK, machine(any).get(key));
      return op;
    }
    if (kind == Kind.GET) {
      boolean lease = sim.raftConfig().leaseTicks() > 0 && rnd.nextBoolean();
      f.read = lease ? sim.leaseRead(node) : sim.read(node);
    } else {
      f.proposal = sim.propose(node, encode(kind, key, op.expected, op.value));
    }
    inFlight.add(f);
    inEvent = true;
    try {
      poll(); // the answer may have come at once (not-leader, a lease read)
    } finally {
      inEvent = false;
    }
    return op;
  }

  private void afterEvent() {
    inEvent = true;
    try {
      poll();
    } finally {
      inEvent = false;
    }
  }

  /** Brings every state machine up to its node's applied index, then completes what has an answer. */
  private void poll() {
    for (String id : machines.keySet()) catchUp(id);
    for (Iterator<InFlight> it = inFlight.iterator(); it.hasNext(); ) {
      InFlight f = it.next();
      if (f.incarnation != sim.incarnation(f.node)) {
        it.remove(); // the node crashed: the client's connection is lost, the result unknown
        complete(f, Outcome.UNKNOWN, null);
        continue;
      }
      if (f.proposal != null) {
        Outcome o = outcomeOf(f.proposal.status());
        if (f.proposal.status() == Simulation.Proposal.Status.PENDING) continue;
        it.remove();
        Object output = null;
        if (o == Outcome.OK && f.op.kind() == Kind.CAS) {
          output = machines.get(f.node).casResults.get(f.proposal.appliedIndex());
          if (output == null) throw new IllegalStateException("no cas result at " + f.proposal.appliedIndex());
        }
        complete(f, o, output);
      } else {
        if (f.read.status() == Simulation.Read.Status.PENDING) continue;
        it.remove();
        Outcome o = outcomeOf(f.read.status());
        complete(f, o, o == Outcome.OK ? machines.get(f.node).get(f.op.key()) : null);
      }
    }
  }

  private void complete(InFlight f, Outcome o, Object output) {
    busy[f.client] = null;
    int k = Integer.parseInt(f.op.key().substring(1));
    if (o == Outcome.OK) {
      history.ok(f.op, output);
      if (f.op.kind() == Kind.GET) lastSeen[f.client][k] = (Long) output;
      else if (f.op.kind() == Kind.PUT || Boolean.TRUE.equals(output)) lastSeen[f.client][k] = f.op.value;
    } else if (o == Outcome.FAIL) {
      history.fail(f.op);
    } else {
      history.unknown(f.op);
      process[f.client] = nextProcess++; // LIN-03: a process with an unknown operation retires
    }
  }

  private void catchUp(String id) {
    if (!sim.isUp(id)) return;
    int inc = sim.incarnation(id);
    KvStateMachine m = machines.get(id);
    if (machineIncarnation.get(id) != inc) {
      m = new KvStateMachine(); // a restarted node starts from an empty state machine
      machines.put(id, m);
      machineIncarnation.put(id, inc);
    }
    long applied = sim.core(id).lastApplied();
    if (applied <= m.appliedIndex) return;
    List<LogEntry> entries = sim.applied(id);
    long base = applied - entries.size();
    for (int i = (int) (m.appliedIndex - base); i < entries.size(); i++) m.apply(entries.get(i));
  }
}
