package io.raftactors.sim;

import io.raftactors.core.EntryData;
import io.raftactors.core.SessionTable;
import io.raftactors.core.LogEntry;
import io.raftactors.core.RaftCore;
import io.raftactors.core.Role;
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
import java.util.TreeMap;

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
 * <p><b>Session clients</b> ({@link Settings#sessionShare}, thesis 6.3, LIN-03): such a client
 * first opens a session through the log, then sends every write as a session command with the
 * next sequence number and its lowest unanswered one. An attempt that times out, whose node
 * crashes, or that is answered not-leader or unknown is <em>retried</em> with the same (session,
 * seq) at the leader the client learned from the node or at a random node, until an answer comes
 * or the operation's bound ({@link Settings#retryTicks}) runs out; gets are retried the same way.
 * The recorded operation spans from its first invoke to its final answer. After a refused cas a
 * session client reads the key and then tries a cas from what it read (a cas loop), which makes a
 * cas that ran twice visible: its second run refuses, and the read that follows finds the value its
 * first run wrote. Session requests are logged as session entries and each node's driver applies
 * them through its session table, exactly as a node does ({@link Simulation#sessionDecision}): a
 * duplicate is answered from the table and not applied again, a command of an expired session is
 * refused. The leader stamps each
 * session entry with its own clock, which is skewed per node ({@link Settings#clockSkew}); a
 * client that naps ({@link Settings#napRate}) past the session timeout finds its session expired
 * and opens a new one. A refused write is fail when no earlier attempt of it was appended anywhere
 * and unknown otherwise (an earlier attempt may have taken effect before the session expired).
 *
 * <p>Every state machine counts how often it executes each (unique) written value, so a command
 * that takes effect twice is reported ({@link #doubleApplies}), and every replica's decision about
 * an entry (with its output) must equal the first one made there ({@link #replicaDisagreements}).
 * With {@link Settings#snapshotRate} a state machine is now and then replaced by a copy restored
 * from its registers (the session table goes through the nodes' real snapshots with log compaction).
 *
 * <p>Times are stamped from the simulation's event counter ({@link Simulation#step}), its finest
 * monotonic clock: an operation is invoked at {@code 2 * step + 1}, between the event before and its
 * request's event, and completes at {@code 2 * step} of the event that produced its result.
 *
 * <p>Deliberately broken stores: {@link Settings#unsafeLocalReads} (LIN-08) answers a get at once
 * from the applied state of a random node, without ReadIndex; {@link Settings#ignoreSessions}
 * executes every session command it applies, duplicates of retried commands too.
 */
final class KvWorkload {

  /** How the clients behave. */
  static final class Settings {
    int keys = 2;
    int clients = 6;
    /** Chance per global tick that an idle client starts an operation. */
    double opRate = 0.3;
    /** Ticks after which a client without a session gives up on an operation (its outcome is then unknown). */
    int timeoutTicks = 100;
    /** LIN-08: answer gets from a random node's applied state without ReadIndex (not linearizable). */
    boolean unsafeLocalReads;
    /** Share of the clients (the first ones) that use sessions and retry; 0 means none. */
    double sessionShare;
    /** A session client retries an attempt that has no answer after this many ticks. */
    int attemptTicks = 40;
    /** A session client gives up on an operation this many ticks after its first invoke (unknown). */
    int retryTicks = 1500;
    /** Idle time after which a session expires, in logged ticks. */
    long sessionTimeout = 600;
    /** Chance after an operation that a session client naps for longer than the session timeout. */
    double napRate;
    /** Each node's clock, which it stamps on the session entries it proposes, is off by up to this many ticks. */
    int clockSkew;
    /** Chance per applied entry that a state machine is replaced by its own round trip through a node snapshot. */
    double snapshotRate;
    /** Broken store: state machines execute every session command, ignoring the session table's decision. */
    boolean ignoreSessions;

    @Override
    public String toString() {
      return "keys=" + keys + " clients=" + clients + " opRate=" + opRate + " timeout=" + timeoutTicks
          + (sessionShare > 0 ? " sessions=" + sessionShare + " attempt=" + attemptTicks + " retry<=" + retryTicks
              + " sessionTimeout=" + sessionTimeout + " nap=" + napRate + " clockSkew=" + clockSkew
              + " snapshots=" + snapshotRate : "")
          + (unsafeLocalReads ? " UNSAFE-local-reads" : "") + (ignoreSessions ? " BROKEN-ignores-sessions" : "");
    }
  }

  /** What the session clients went through, summed over a run. */
  static final class Stats {
    long sessionOps;
    long sessionWrites;
    long sessionUnknown;
    long sessionFail;
    long plainOps;
    long plainUnknown;
    /** Attempts after the first one of an operation. */
    long retries;
    /** Operations that needed more than one attempt, and those of them that got a definite answer. */
    long retriedOps;
    long retriedOpsDefinite;
    /** Retried writes answered from a session: a duplicate in the log, or the cache at the leader. */
    long answeredFromLog;
    long answeredFromCache;
    /** Log entries the session table found to be duplicates, or too old to run (below lowest unanswered). */
    long duplicatesInLog;
    long staleInLog;
    long sessionsOpened;
    long sessionsExpired;
    long giveUps;
    long naps;
    long snapshotRoundTrips;

    void add(Stats o) {
      sessionOps += o.sessionOps;
      sessionWrites += o.sessionWrites;
      sessionUnknown += o.sessionUnknown;
      sessionFail += o.sessionFail;
      plainOps += o.plainOps;
      plainUnknown += o.plainUnknown;
      retries += o.retries;
      retriedOps += o.retriedOps;
      retriedOpsDefinite += o.retriedOpsDefinite;
      answeredFromLog += o.answeredFromLog;
      answeredFromCache += o.answeredFromCache;
      duplicatesInLog += o.duplicatesInLog;
      staleInLog += o.staleInLog;
      sessionsOpened += o.sessionsOpened;
      sessionsExpired += o.sessionsExpired;
      giveUps += o.giveUps;
      naps += o.naps;
      snapshotRoundTrips += o.snapshotRoundTrips;
    }

    @Override
    public String toString() {
      return "session ops=" + sessionOps + " (writes " + sessionWrites + ", unknown " + sessionUnknown + ", fail "
          + sessionFail + "), plain ops=" + plainOps + " (unknown " + plainUnknown + "), retries=" + retries
          + ", retried ops=" + retriedOps + " (definite " + retriedOpsDefinite + "), answered from a duplicate="
          + answeredFromLog + " from the leader's cache=" + answeredFromCache + ", duplicates in log=" + duplicatesInLog
          + ", stale in log=" + staleInLog + ", sessions opened=" + sessionsOpened + " expired=" + sessionsExpired
          + ", give-ups=" + giveUps + ", naps=" + naps + ", snapshot round trips=" + snapshotRoundTrips;
    }
  }

  // ------------------------------------------------------------------ commands and the state machine

  private static final String MANIFEST = "kv";

  /** A put ({@code expected} unused) or cas command as a log entry. */
  static EntryData.Command encode(Kind kind, String key, Long expected, long value) {
    return new EntryData.Command(0, MANIFEST, kvText(kind, key, expected, value).getBytes(StandardCharsets.UTF_8));
  }

  private static String kvText(Kind kind, String key, Long expected, long value) {
    return kind == Kind.PUT ? "put " + key + " " + value : "cas " + key + " " + expected + " " + value;
  }

  /** Command {@code seq} of {@code session}, stamped with the proposing node's clock. */
  static EntryData.SessionCommand encodeSession(long session, long seq, long lowestUnacked, long time, String kvText) {
    return new EntryData.SessionCommand(session, seq, lowestUnacked, time,
        new EntryData.Command(0, MANIFEST, kvText.getBytes(StandardCharsets.UTF_8)));
  }

  /**
   * What a node answers the client whose command it applied at an index: a session it opened, a
   * refusal (expired), or the command's output (null for a put, a Boolean for a cas), with whether
   * it came from the session table. {@code decision} is the same text on every replica.
   */
  record Answer(String decision, long session, boolean expired, boolean duplicate, Object output) {}

  /**
   * One node's KV register state machine. Session entries reach it with the decision of the node's
   * session table (the driver's, recorded by the simulation); it executes only what the table lets run.
   */
  static final class KvStateMachine {
    final Map<String, Long> registers = new HashMap<>();
    /** The answer to the entry applied at each index (for the clients waiting on this node; not replicated state). */
    final Map<Long, Answer> answers;
    /** How often this state machine executed a command writing each value (diagnostics, not replicated state). */
    final Map<Long, Integer> executions;
    /** The output of the command applied at each index, shared by all replicas (they must agree on it). */
    final Map<Long, String> outputs;
    final Simulation sim;
    final boolean ignoreSessions;
    final List<String> doubles;
    final String node;
    long appliedIndex;

    KvStateMachine(String node, Simulation sim, boolean ignoreSessions, List<String> doubles, Map<Long, String> outputs) {
      this(node, sim, ignoreSessions, doubles, outputs, new HashMap<>(), new HashMap<>());
    }

    private KvStateMachine(String node, Simulation sim, boolean ignoreSessions, List<String> doubles,
        Map<Long, String> outputs, Map<Long, Answer> answers, Map<Long, Integer> executions) {
      this.node = node;
      this.sim = sim;
      this.ignoreSessions = ignoreSessions;
      this.doubles = doubles;
      this.outputs = outputs;
      this.answers = answers;
      this.executions = executions;
    }

    /** Applies one log entry; entries that are not KV commands (no-ops, configurations, others' commands) change nothing. */
    void apply(LogEntry e) {
      if (e.index() != appliedIndex + 1) throw new IllegalStateException("applied " + e.index() + " after " + appliedIndex);
      appliedIndex = e.index();
      if (e.data() instanceof EntryData.Command c && c.manifest().equals(MANIFEST)) {
        Object out = execute(new String(c.bytes(), StandardCharsets.UTF_8), e.index());
        answers.put(e.index(), new Answer("plain " + out, 0, false, false, out));
      } else if (e.data() instanceof EntryData.OpenSession) {
        decision(e.index()); // the table opened it
        answers.put(e.index(), new Answer("open " + e.index(), e.index(), false, false, null));
      } else if (e.data() instanceof EntryData.SessionCommand sc) {
        answers.put(e.index(), applySession(sc, e.index()));
      }
    }

    private SessionTable.Decision decision(long index) {
      SessionTable.Decision d = sim.sessionDecision(index);
      if (d == null) throw new IllegalStateException(node + " applied the session entry at " + index + " without a decision");
      return d;
    }

    /** Thesis 6.3 as the node does it: the session table decides; only a new command is executed. */
    private Answer applySession(EntryData.SessionCommand sc, long index) {
      SessionTable.Decision d = decision(index);
      String kv = new String(sc.command().bytes(), StandardCharsets.UTF_8);
      if (ignoreSessions || d instanceof SessionTable.Apply) {
        Object out = execute(kv, index);
        if (d instanceof SessionTable.Apply) outputs.putIfAbsent(index, String.valueOf(out));
        return new Answer("apply " + out, sc.session(), false, false, out);
      }
      if (d instanceof SessionTable.Duplicate dup) {
        Object out = outputOf(dup.response().index());
        return new Answer("duplicate of " + dup.response().index() + " " + out, sc.session(), false, true, out);
      }
      return new Answer("expired: " + ((SessionTable.Expired) d).reason(), sc.session(), true, false, null);
    }

    /** The output of the command applied at {@code index}, as the session table's answer to a repeat stands for it. */
    private Object outputOf(long index) {
      String o = outputs.get(index);
      if (o == null) throw new IllegalStateException("no output recorded for the command applied at " + index);
      return parseOutput(o);
    }

    /** Executes a put or cas; returns null for a put, whether it succeeded for a cas. */
    private Object execute(String text, long index) {
      String[] w = text.split(" ");
      long value = Long.parseLong(w[w.length - 1]);
      int n = executions.merge(value, 1, Integer::sum);
      if (n == 2) doubles.add("value " + value + " executed again by " + node + " at index " + index + ": " + text);
      if (w[0].equals("put")) {
        registers.put(w[1], value);
        return null;
      }
      Long expected = w[2].equals("null") ? null : Long.parseLong(w[2]);
      boolean ok = java.util.Objects.equals(registers.get(w[1]), expected);
      if (ok) registers.put(w[1], value);
      return ok;
    }

    /** The answer the cached result bytes stand for: "null" (a put) or "true"/"false" (a cas). */
    private static Object parseOutput(String s) {
      return s.equals("null") ? null : Boolean.valueOf(s);
    }

    Long get(String key) {
      return registers.get(key);
    }

    /** The answer to {@code (session, seq)} cached in the node's session table, or null if there is none. */
    Answer cached(long session, long seq) {
      SessionTable.Response r = sim.sessions(node).cached(session, seq);
      if (r == null) return null;
      Object out = outputOf(r.index());
      return new Answer("cached " + out, session, false, true, out);
    }

    /**
     * A copy restored from a snapshot of its registers (with the applied index). The answers and
     * execution counts are the node's bookkeeping, not replicated state, and carry over as they are.
     */
    KvStateMachine roundTrip() {
      StringBuilder b = new StringBuilder().append(appliedIndex);
      for (Map.Entry<String, Long> r : new TreeMap<>(registers).entrySet()) {
        b.append(' ').append(r.getKey()).append('=').append(r.getValue());
      }
      KvStateMachine copy = new KvStateMachine(node, sim, ignoreSessions, doubles, outputs, answers, executions);
      String[] w = b.toString().split(" ");
      copy.appliedIndex = Long.parseLong(w[0]);
      for (int i = 1; i < w.length; i++) {
        int eq = w[i].indexOf('=');
        copy.registers.put(w[i].substring(0, eq), Long.parseLong(w[i].substring(eq + 1)));
      }
      return copy;
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

  /**
   * LIN-02 for a session write the state machine refused (the session expired): fail only if no
   * attempt of it was ever appended, since an appended one may have run before the session expired.
   */
  static Outcome outcomeOfRefusal(boolean anAttemptWasAppended) {
    return anAttemptWasAppended ? Outcome.UNKNOWN : Outcome.FAIL;
  }

  // ------------------------------------------------------------------ the workload

  /**
   * An operation in flight: the history record and the simulation request behind it. A session
   * client's operation (or its request to open a session, which has no record) goes through
   * attempts: {@code proposal}/{@code read} belong to the current one, and between attempts it
   * waits for {@code retryAt}.
   */
  private static final class InFlight {
    final int client;
    final History.Pending op;
    final long issuedAt;
    /** Retried until a definite answer: a session client's operation or session opening. */
    final boolean retried;
    /** A request to open a session (no history record). */
    final boolean open;
    /** Session and sequence number of a session write. */
    final long session;
    final long seq;
    final String kvText;
    String node;
    int incarnation;
    long attemptAt;
    int attempts;
    boolean appended;
    boolean waiting;
    long retryAt;
    String hint;
    Simulation.Proposal proposal;
    Simulation.Read read;

    InFlight(int client, History.Pending op, long issuedAt, boolean retried, boolean open, long session, long seq,
        String kvText) {
      this.client = client;
      this.op = op;
      this.issuedAt = issuedAt;
      this.retried = retried;
      this.open = open;
      this.session = session;
      this.seq = seq;
      this.kvText = kvText;
    }
  }

  private final Simulation sim;
  private final Settings settings;
  private final SplittableRandom rnd;
  private final SplittableRandom snapshotRnd;
  private final History history;
  private final Map<String, KvStateMachine> machines = new HashMap<>();
  private final Map<String, Integer> machineEpoch = new HashMap<>();
  private final Map<String, Long> clockOffset = new HashMap<>();
  private final List<InFlight> inFlight = new ArrayList<>();
  private final int[] process; // each client's current process id
  private final Long[][] lastSeen; // [client][key]: the value the client last saw, its next cas's expectation
  private final InFlight[] busy;
  private final boolean[] sessionClient;
  private final long[] session; // 0: none
  private final long[] nextSeq;
  private final long[] napUntil;
  private final CasStep[] casLoop;
  private final List<String> doubles = new ArrayList<>();
  private final Map<Long, String> outputs = new HashMap<>();
  private final Map<Long, String> decisionAt = new HashMap<>(); // index -> the first replica's session decision
  private final List<String> disagreements = new ArrayList<>();
  private final Stats stats = new Stats();
  private int nextProcess;
  private long nextValue = 1;
  private boolean inEvent;
  private boolean running;

  KvWorkload(Simulation sim, Settings settings, long seed) {
    if (settings.sessionShare > 0 && sim.sessionTimeout() != settings.sessionTimeout) {
      throw new IllegalArgumentException("the simulation's session timeout is " + sim.sessionTimeout()
          + ", the workload's " + settings.sessionTimeout + ": build it with sessionTimeout(" + settings.sessionTimeout + ")");
    }
    this.sim = sim;
    this.settings = settings;
    this.rnd = new SplittableRandom(seed ^ 0x4B56574F524B4CL);
    SplittableRandom sessionRnd = new SplittableRandom(seed ^ 0x53455353494F4EL);
    this.snapshotRnd = sessionRnd.split();
    this.history = new History(() -> inEvent ? 2 * sim.step() : 2 * sim.step() + 1);
    this.process = new int[settings.clients];
    this.busy = new InFlight[settings.clients];
    this.lastSeen = new Long[settings.clients][settings.keys];
    this.sessionClient = new boolean[settings.clients];
    this.session = new long[settings.clients];
    this.nextSeq = new long[settings.clients];
    this.napUntil = new long[settings.clients];
    this.casLoop = new CasStep[settings.clients];
    int withSessions = (int) Math.round(settings.sessionShare * settings.clients);
    for (int c = 0; c < settings.clients; c++) {
      process[c] = nextProcess++;
      sessionClient[c] = c < withSessions;
    }
    for (String id : sim.ids()) {
      machines.put(id, newMachine(id));
      machineEpoch.put(id, sim.stateMachineEpoch(id));
      clockOffset.put(id, settings.clockSkew == 0 ? 0L : (long) sessionRnd.nextInt(-settings.clockSkew, settings.clockSkew + 1));
    }
    sim.afterEvent(this::afterEvent);
    sim.beforeTick(this::beforeTick);
  }

  private KvStateMachine newMachine(String id) {
    return new KvStateMachine(id, sim, settings.ignoreSessions, doubles, outputs);
  }

  /** Clients start issuing operations on every tick. */
  void start() {
    running = true;
  }

  /** Clients issue no new operations; those in flight may still complete (session clients keep retrying theirs). */
  void stop() {
    running = false;
  }

  /** Whether no operation is in flight. */
  boolean quiet() {
    return inFlight.isEmpty();
  }

  /** Ends the run: operations still in flight are unknown. Returns the whole history. */
  History finish() {
    running = false;
    for (InFlight f : inFlight) {
      if (f.op != null) countOutcome(f, Outcome.UNKNOWN);
    }
    history.close();
    inFlight.clear();
    return history;
  }

  History history() {
    return history;
  }

  Stats stats() {
    return stats;
  }

  /** Every time a state machine executed a written value a second time: empty when every command took effect once. */
  List<String> doubleApplies() {
    return doubles;
  }

  /** Indexes where a replica's decision (and output) differed from the first one made there. */
  List<String> replicaDisagreements() {
    return disagreements;
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

  /** Session client {@code client} asks {@code node} to open a session (retried like an operation). */
  void openSession(int client, String node) {
    if (!sessionClient[client] || busy[client] != null) throw new IllegalStateException("client " + client);
    InFlight f = new InFlight(client, null, sim.now(), true, true, 0, 0, null);
    busy[client] = f;
    inFlight.add(f);
    attempt(f, node);
  }

  /** The session of {@code client}, or 0. */
  long session(int client) {
    return session[client];
  }

  /** The current process id of {@code client}. */
  int process(int client) {
    return process[client];
  }

  // ------------------------------------------------------------------ driving

  private void beforeTick() {
    long now = sim.now();
    for (InFlight f : new ArrayList<>(inFlight)) {
      if (!inFlight.contains(f)) continue; // answered while an earlier one was retried
      if (!f.retried) {
        // Clients give up on operations that take too long: the outcome is unknown.
        if (now - f.issuedAt >= settings.timeoutTicks) {
          inFlight.remove(f);
          complete(f, Outcome.UNKNOWN, null);
        }
        continue;
      }
      if (!f.waiting && now - f.attemptAt >= settings.attemptTicks) abandonAttempt(f, null); // no answer: try elsewhere
      if (!f.waiting || now < f.retryAt) continue;
      if (now - f.issuedAt >= settings.retryTicks) {
        inFlight.remove(f); // LIN-03: a bound on retries; the outcome stays unknown
        stats.giveUps++;
        if (f.open) busy[f.client] = null;
        else complete(f, Outcome.UNKNOWN, null);
        continue;
      }
      attempt(f, pickRetryNode(f));
    }
    if (!running) return;
    List<String> ids = sim.ids();
    for (int c = 0; c < settings.clients; c++) {
      if (busy[c] != null || (sessionClient[c] && now < napUntil[c]) || rnd.nextDouble() >= settings.opRate) continue;
      RaftCore leader = sim.leader();
      String node = leader != null && rnd.nextInt(10) < 8 ? leader.id() : ids.get(rnd.nextInt(ids.size()));
      if (!sim.isUp(node) || sim.isPaused(node)) continue; // the client cannot connect; it tries again later
      if (sessionClient[c] && session[c] == 0) {
        openSession(c, node);
        continue;
      }
      if (casLoop[c] != null) {
        // A session client in a cas loop: after a refused cas it reads the key, then tries again from what it read.
        CasStep step = casLoop[c];
        casLoop[c] = step.kind() == Kind.GET ? new CasStep(Kind.CAS, step.key()) : null;
        issue(c, node, step.kind(), step.key());
        continue;
      }
      int roll = rnd.nextInt(10);
      Kind kind = roll < 4 ? Kind.PUT : roll < 8 ? Kind.GET : Kind.CAS;
      issue(c, node, kind, rnd.nextInt(settings.keys));
    }
  }

  /** The next step of a client's cas loop. */
  private record CasStep(Kind kind, int key) {}

  private History.Pending issue(int client, String node, Kind kind, int k) {
    if (busy[client] != null) throw new IllegalStateException("client " + client + " is busy");
    String key = key(k);
    History.Pending op;
    String kv = null;
    if (kind == Kind.GET) {
      op = history.get(process[client], key);
    } else {
      long value = nextValue++;
      Long expected = lastSeen[client][k];
      op = kind == Kind.PUT ? history.put(process[client], key, value) : history.cas(process[client], key, expected, value);
      kv = kvText(kind, key, expected, value);
    }
    boolean retried = sessionClient[client] && session[client] != 0;
    long seq = retried && kind != Kind.GET ? nextSeq[client]++ : 0;
    InFlight f = new InFlight(client, op, sim.now(), retried, false, session[client], seq, kv);
    busy[client] = f;
    if (kind == Kind.GET && settings.unsafeLocalReads) {
      // LIN-08's broken store: any node's applied state, no ReadIndex, no leader check.
      List<String> up = new ArrayList<>();
      for (String id : sim.ids()) if (sim.isUp(id)) up.add(id);
      String any = up.get(rnd.nextInt(up.size()));
      complete(f, Outcome.OK, machine(any).get(key));
      return op;
    }
    if (retried) {
      inFlight.add(f);
      attempt(f, node);
      return op;
    }
    f.node = node;
    f.incarnation = sim.incarnation(node);
    if (kind == Kind.GET) {
      boolean lease = sim.raftConfig().leaseTicks() > 0 && rnd.nextBoolean();
      f.read = lease ? sim.leaseRead(node) : sim.read(node);
    } else {
      f.proposal = sim.propose(node, encode(kind, key, op.expected, op.value));
    }
    inFlight.add(f);
    pollNow();
    return op;
  }

  /**
   * One attempt of a retried operation at {@code node}, or none if the client cannot reach it now
   * (it tries again on the next tick). A write is stamped with the node's clock; a leader that has
   * the answer in its session table gives it at once, as the node does.
   */
  private void attempt(InFlight f, String node) {
    f.waiting = true;
    if (node == null || !sim.isUp(node) || sim.isPaused(node)) {
      f.retryAt = sim.now() + 1;
      return;
    }
    if (f.attempts++ > 0) stats.retries++;
    f.node = node;
    f.incarnation = sim.incarnation(node);
    f.attemptAt = sim.now();
    if (f.op != null && f.op.kind() != Kind.GET && sim.core(node).role() == Role.LEADER) {
      Answer cached = machine(node).cached(f.session, f.seq);
      if (cached != null) {
        inFlight.remove(f);
        stats.answeredFromCache++;
        // Stamped at the last event: later than this operation's first attempt, before anything invoked now.
        inEvent = true;
        try {
          complete(f, Outcome.OK, cached.output());
        } finally {
          inEvent = false;
        }
        return;
      }
    }
    long time = sim.now() + clockOffset.get(node);
    // The request's own event polls too; the attempt is still marked waiting then, so it is skipped.
    if (f.open) {
      f.proposal = sim.propose(node, new EntryData.OpenSession(time));
    } else if (f.op.kind() == Kind.GET) {
      boolean lease = sim.raftConfig().leaseTicks() > 0 && rnd.nextBoolean();
      f.read = lease ? sim.leaseRead(node) : sim.read(node);
    } else {
      f.proposal = sim.propose(node, encodeSession(f.session, f.seq, f.seq, time, f.kvText));
    }
    f.waiting = false;
    pollNow();
  }

  /** The current attempt is over without an answer; the next one goes to {@code hint} or a random node. */
  private void abandonAttempt(InFlight f, String hint) {
    if (f.proposal != null && f.proposal.index > 0) f.appended = true;
    f.proposal = null;
    f.read = null;
    f.waiting = true;
    f.hint = hint;
    f.retryAt = sim.now() + (hint != null ? 1 : 1 + rnd.nextInt(4)); // asked no one: back off a little
  }

  /** The leader the client learned from the node it last asked, most of the time; otherwise a random node. */
  private String pickRetryNode(InFlight f) {
    List<String> ids = sim.ids();
    String hint = f.hint;
    f.hint = null;
    if (hint != null && rnd.nextInt(4) != 0) return hint;
    return ids.get(rnd.nextInt(ids.size()));
  }

  private void pollNow() {
    inEvent = true;
    try {
      poll(); // the answer may have come at once (not-leader, a lease read)
    } finally {
      inEvent = false;
    }
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
      if (f.waiting) continue;
      if (f.incarnation != sim.incarnation(f.node)) {
        if (f.retried) { // the node crashed: the connection is lost; try elsewhere
          abandonAttempt(f, null);
          continue;
        }
        it.remove(); // the node crashed: the client's connection is lost, the result unknown
        complete(f, Outcome.UNKNOWN, null);
        continue;
      }
      if (f.proposal != null) {
        Simulation.Proposal.Status st = f.proposal.status();
        if (st == Simulation.Proposal.Status.PENDING) continue;
        if (f.retried && st != Simulation.Proposal.Status.APPLIED) {
          abandonAttempt(f, st == Simulation.Proposal.Status.NOT_LEADER ? leaderKnownBy(f.node) : null);
          continue;
        }
        it.remove();
        if (f.retried) {
          answered(f, machines.get(f.node).answers.get(f.proposal.appliedIndex()));
          continue;
        }
        Outcome o = outcomeOf(st);
        Object output = null;
        if (o == Outcome.OK && f.op.kind() == Kind.CAS) {
          Answer a = machines.get(f.node).answers.get(f.proposal.appliedIndex());
          if (a == null) throw new IllegalStateException("no cas result at " + f.proposal.appliedIndex());
          output = a.output();
        }
        complete(f, o, output);
      } else {
        Simulation.Read.Status st = f.read.status();
        if (st == Simulation.Read.Status.PENDING) continue;
        if (f.retried && st == Simulation.Read.Status.NOT_LEADER) {
          abandonAttempt(f, leaderKnownBy(f.node));
          continue;
        }
        it.remove();
        Outcome o = outcomeOf(st);
        complete(f, o, o == Outcome.OK ? machines.get(f.node).get(f.op.key()) : null);
      }
    }
  }

  /** A retried request was applied at its node: opens the session, or completes the operation with the node's answer. */
  private void answered(InFlight f, Answer a) {
    if (a == null) throw new IllegalStateException("no answer at " + f.proposal.appliedIndex() + " on " + f.node);
    int c = f.client;
    if (f.open) {
      busy[c] = null;
      session[c] = a.session();
      nextSeq[c] = 1;
      stats.sessionsOpened++;
      return;
    }
    if (a.expired()) {
      stats.sessionsExpired++;
      session[c] = 0; // the client opens a new session for its next write
      complete(f, outcomeOfRefusal(f.appended), null);
      return;
    }
    if (a.duplicate()) stats.answeredFromLog++;
    complete(f, Outcome.OK, a.output());
  }

  private String leaderKnownBy(String node) {
    RaftCore c = sim.core(node);
    return c == null ? null : c.leaderId();
  }

  private void complete(InFlight f, Outcome o, Object output) {
    busy[f.client] = null;
    countOutcome(f, o);
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
    if (f.retried && f.op.kind() == Kind.CAS && Boolean.FALSE.equals(output)) casLoop[f.client] = new CasStep(Kind.GET, k);
    if (f.retried && settings.napRate > 0 && rnd.nextDouble() < settings.napRate) {
      // Idle for longer than the session timeout: the session expires meanwhile.
      stats.naps++;
      napUntil[f.client] = sim.now() + settings.sessionTimeout + 1 + rnd.nextInt((int) settings.sessionTimeout);
    }
  }

  private void countOutcome(InFlight f, Outcome o) {
    if (f.retried) {
      stats.sessionOps++;
      if (f.op.kind() != Kind.GET) stats.sessionWrites++;
      if (o == Outcome.UNKNOWN) stats.sessionUnknown++;
      if (o == Outcome.FAIL) stats.sessionFail++;
      if (f.attempts > 1) {
        stats.retriedOps++;
        if (o != Outcome.UNKNOWN) stats.retriedOpsDefinite++;
      }
    } else {
      stats.plainOps++;
      if (o == Outcome.UNKNOWN) stats.plainUnknown++;
    }
  }

  private void catchUp(String id) {
    if (!sim.isUp(id)) return;
    int epoch = sim.stateMachineEpoch(id);
    KvStateMachine m = machines.get(id);
    if (machineEpoch.get(id) != epoch) {
      // A restarted node, or one that installed a snapshot, has a new state machine: rebuild it from
      // what the simulation's state machine holds (after a restart without snapshots, nothing).
      m = newMachine(id);
      machines.put(id, m);
      machineEpoch.put(id, epoch);
    }
    long applied = sim.core(id).lastApplied();
    if (applied <= m.appliedIndex) return;
    List<LogEntry> entries = sim.applied(id);
    long base = applied - entries.size();
    for (int i = (int) (m.appliedIndex - base); i < entries.size(); i++) {
      m.apply(entries.get(i));
      recordDecision(id, m, entries.get(i).index());
      if (settings.snapshotRate > 0 && snapshotRnd.nextDouble() < settings.snapshotRate) {
        m = m.roundTrip();
        machines.put(id, m);
        stats.snapshotRoundTrips++;
      }
    }
  }

  /**
   * T6.3-05, T6.3-06: every replica decides the same about each entry: a session opened, a command
   * applied (with the same output), answered as a duplicate, or refused as expired.
   */
  private void recordDecision(String node, KvStateMachine m, long index) {
    Answer a = m.answers.get(index);
    if (a == null) return;
    String first = decisionAt.putIfAbsent(index, a.decision());
    if (first == null) {
      if (a.duplicate()) stats.duplicatesInLog++;
      if (a.expired() && a.decision().contains("older than")) stats.staleInLog++;
    } else if (!first.equals(a.decision())) {
      disagreements.add("index " + index + ": " + node + " decided '" + a.decision() + "', another replica '" + first + "'");
    }
  }
}
