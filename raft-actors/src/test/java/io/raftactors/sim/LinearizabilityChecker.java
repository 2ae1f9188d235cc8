package io.raftactors.sim;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.LongSupplier;

/**
 * A linearizability checker for histories of a key-value store of registers (LIN-01 .. LIN-06).
 *
 * <p>A {@link History} records every client operation as it happens: process, operation, key and
 * arguments, invoke time, completion time and outcome (ok, fail or unknown) with its output. The
 * checker splits the history by key (linearizability is local to each object, LIN-04) and searches
 * each key's history for a linearization in the style of Wing and Gong, with the memoisation of
 * Lowe and Porcupine (LIN-05): it walks the call and return events in time order, tries each pending
 * call that comes before the earliest pending return against a sequential register (put, get, cas,
 * delete; initial value null, which a delete restores), backtracks when the register's output differs from the recorded one, and
 * skips any (set of operations linearized, register value) pair it has seen before.
 *
 * <p>Outcomes (LIN-02, LIN-03): failed operations had no effect and are left out. An unknown write
 * completes at +infinity: the search may place it anywhere after its invoke, or nowhere. An unknown
 * read is dropped. A history is linearizable once every operation with a finite completion time is
 * placed. Two exact reductions keep histories with many unknown writes tractable: values no
 * operation refers to (no get returned them, no cas expected them) are one model state, and an
 * unknown put of such a value is only ever placed right before a refused cas or a delete that
 * removed something, which it could explain. The verdict is linearizable, not linearizable (with the key, the longest partial
 * linearization and the operations that could not be placed) or inconclusive when the time budget
 * runs out (LIN-06), which callers must treat as a failure.
 */
public final class LinearizabilityChecker {

  /** Completion time of an operation whose result is unknown. */
  public static final long INFINITY = Long.MAX_VALUE;

  public enum Kind { PUT, GET, CAS, DELETE }

  public enum Outcome { OK, FAIL, UNKNOWN }

  public enum Verdict { LINEARIZABLE, NOT_LINEARIZABLE, INCONCLUSIVE }

  /**
   * One recorded operation. {@code value} is the value a put or cas writes; {@code expected} the
   * value a cas compares with. {@code output} is the value a get returned (a Long or null),
   * whether a cas succeeded or whether a delete removed a value (a Boolean); null for puts and for
   * operations without a result.
   */
  public record Op(int id, int process, Kind kind, String key, Long value, Long expected, long invoke, long complete,
      Outcome outcome, Object output) {

    boolean isWrite() {
      return kind != Kind.GET;
    }

    @Override
    public String toString() {
      String call = switch (kind) {
        case PUT -> "put(" + key + ", " + value + ")";
        case GET -> "get(" + key + ")";
        case CAS -> "cas(" + key + ", " + expected + " -> " + value + ")";
        case DELETE -> "delete(" + key + ")";
      };
      String result = outcome == null ? "running"
          : outcome == Outcome.OK ? (kind == Kind.PUT ? "ok" : "ok " + output) : outcome.name().toLowerCase();
      String end = outcome == null ? "" : complete == INFINITY ? "inf" : String.valueOf(complete);
      return "#" + id + " p" + process + " " + call + " [" + invoke + ".." + end + "] " + result;
    }
  }

  /**
   * Records operations as they happen (LIN-01). Times come from one monotonic clock: the invoke
   * time is read before the request leaves, the completion time after the reply arrives. Each
   * process runs one operation at a time; a process whose operation ends unknown is retired, and
   * its client goes on under a new process id (LIN-03).
   */
  public static final class History {
    private final LongSupplier clock;
    private final List<Pending> all = new ArrayList<>();
    private final Map<Integer, Pending> running = new HashMap<>();
    private final Set<Integer> retired = new HashSet<>();

    public History(LongSupplier clock) {
      this.clock = clock;
    }

    /** An operation that has been invoked; complete it with {@link #ok}, {@link #fail} or {@link #unknown}. */
    public final class Pending {
      final int id;
      final int process;
      final Kind kind;
      final String key;
      final Long value;
      final Long expected;
      final long invoke;
      long complete = -1;
      Outcome outcome;
      Object output;

      Pending(int id, int process, Kind kind, String key, Long value, Long expected, long invoke) {
        this.id = id;
        this.process = process;
        this.kind = kind;
        this.key = key;
        this.value = value;
        this.expected = expected;
        this.invoke = invoke;
      }

      public boolean done() {
        return outcome != null;
      }

      /** The operation's id: its position in {@link #ops()}. */
      public int id() {
        return id;
      }

      public Kind kind() {
        return kind;
      }

      public String key() {
        return key;
      }

      public int process() {
        return process;
      }

      Op op() {
        return new Op(id, process, kind, key, value, expected, invoke, complete, outcome, output);
      }

      @Override
      public String toString() {
        return op().toString();
      }
    }

    public Pending put(int process, String key, long value) {
      return invoke(process, Kind.PUT, key, value, null);
    }

    public Pending get(int process, String key) {
      return invoke(process, Kind.GET, key, null, null);
    }

    public Pending cas(int process, String key, Long expected, long value) {
      return invoke(process, Kind.CAS, key, value, expected);
    }

    /** A delete; its output says whether it removed a value (true) or found the key absent (false). */
    public Pending delete(int process, String key) {
      return invoke(process, Kind.DELETE, key, null, null);
    }

    private Pending invoke(int process, Kind kind, String key, Long value, Long expected) {
      if (retired.contains(process)) throw new IllegalStateException("process " + process + " was retired");
      if (running.containsKey(process)) {
        throw new IllegalStateException("process " + process + " already runs " + running.get(process));
      }
      Pending p = new Pending(all.size(), process, kind, key, value, expected, clock.getAsLong());
      all.add(p);
      running.put(process, p);
      return p;
    }

    /**
     * The operation took effect; {@code output} is a get's value, a cas's success or whether a
     * delete removed a value (null for a put).
     */
    public void ok(Pending p, Object output) {
      if (p.kind == Kind.GET && output != null && !(output instanceof Long)) throw new IllegalArgumentException();
      if (p.kind == Kind.CAS && !(output instanceof Boolean)) throw new IllegalArgumentException("cas needs a Boolean");
      if (p.kind == Kind.DELETE && !(output instanceof Boolean)) throw new IllegalArgumentException("delete needs a Boolean");
      finish(p, Outcome.OK, output, clock.getAsLong());
    }

    /** The operation certainly had no effect. */
    public void fail(Pending p) {
      finish(p, Outcome.FAIL, null, clock.getAsLong());
    }

    /** The operation may or may not take effect, now or later: it completes at +infinity and its process retires. */
    public void unknown(Pending p) {
      finish(p, Outcome.UNKNOWN, null, INFINITY);
      retired.add(p.process);
    }

    private void finish(Pending p, Outcome o, Object output, long at) {
      if (p.outcome != null) throw new IllegalStateException(p + " already completed");
      p.outcome = o;
      p.output = output;
      p.complete = at;
      running.remove(p.process);
    }

    /** Marks every operation still running unknown (the end of a run). */
    public void close() {
      for (Pending p : new ArrayList<>(running.values())) unknown(p);
    }

    public boolean isRetired(int process) {
      return retired.contains(process);
    }

    /** Every operation in invoke order; those still running have completion -1 and no outcome. */
    public List<Op> ops() {
      List<Op> out = new ArrayList<>(all.size());
      for (Pending p : all) out.add(p.op());
      return out;
    }
  }

  /** The verdict for one key. */
  public record KeyResult(String key, Verdict verdict, int operations, List<Op> longestLinearization,
      List<Op> unplaced) {

    @Override
    public String toString() {
      if (verdict == Verdict.LINEARIZABLE) return "key " + key + ": linearizable (" + operations + " operations)";
      StringBuilder sb = new StringBuilder("key " + key + ": " + verdict.name().toLowerCase().replace('_', ' ') + " ("
          + operations + " operations)\n");
      sb.append("  longest partial linearization (").append(longestLinearization.size()).append(" operations):\n");
      int from = Math.max(0, longestLinearization.size() - 20);
      if (from > 0) sb.append("    ... ").append(from).append(" earlier\n");
      for (Op o : longestLinearization.subList(from, longestLinearization.size())) {
        sb.append("    ").append(o).append('\n');
      }
      sb.append("  operations it could not place (").append(unplaced.size()).append("):\n");
      for (Op o : unplaced.subList(0, Math.min(20, unplaced.size()))) sb.append("    ").append(o).append('\n');
      return sb.toString();
    }
  }

  /** The verdicts of every key. */
  public record Result(Map<String, KeyResult> byKey) {
    /** Linearizable iff every key is; inconclusive counts as a failure (LIN-06). */
    public boolean linearizable() {
      return byKey.values().stream().allMatch(k -> k.verdict() == Verdict.LINEARIZABLE);
    }

    public Verdict verdict() {
      if (byKey.values().stream().anyMatch(k -> k.verdict() == Verdict.NOT_LINEARIZABLE)) return Verdict.NOT_LINEARIZABLE;
      if (byKey.values().stream().anyMatch(k -> k.verdict() == Verdict.INCONCLUSIVE)) return Verdict.INCONCLUSIVE;
      return Verdict.LINEARIZABLE;
    }

    @Override
    public String toString() {
      StringBuilder sb = new StringBuilder();
      for (KeyResult k : byKey.values()) sb.append(k).append(k.verdict() == Verdict.LINEARIZABLE ? "\n" : "");
      return sb.toString();
    }
  }

  private LinearizabilityChecker() {}

  /** Checks every key of {@code ops} (completed history), each with {@code budgetMillis} of search time. */
  public static Result check(List<Op> ops, long budgetMillis) {
    TreeMap<String, List<Op>> byKey = new TreeMap<>();
    for (Op o : ops) {
      if (o.outcome() == null) throw new IllegalArgumentException("operation still running: " + o);
      byKey.computeIfAbsent(o.key(), k -> new ArrayList<>()).add(o);
    }
    Map<String, KeyResult> out = new LinkedHashMap<>();
    for (Map.Entry<String, List<Op>> e : byKey.entrySet()) {
      out.put(e.getKey(), checkKey(e.getKey(), e.getValue(), budgetMillis));
    }
    return new Result(out);
  }

  // ------------------------------------------------------------------ the register model

  /** Marks a model step whose output differs from the recorded one. */
  private static final Object REJECT = new Object();

  /**
   * The register's value when it holds a value no operation of the key ever refers to (no get
   * returned it, no cas expected it). No later operation can tell such values apart, so the search
   * treats them as one state.
   */
  private static final Object UNREFERENCED = new Object() {
    @Override
    public String toString() {
      return "<unreferenced>";
    }
  };

  /**
   * The register's value after {@code o} runs on {@code state}, or REJECT if its recorded output is
   * impossible. An unknown operation accepts any output.
   */
  private static Object step(Object state, Op o, Set<Long> referenced) {
    boolean unknown = o.outcome() == Outcome.UNKNOWN;
    switch (o.kind()) {
      case PUT:
        return canonical(o.value(), referenced);
      case GET:
        return Objects.equals(state, o.output()) ? state : REJECT;
      case DELETE:
        if (!unknown && (state != null) != (Boolean) o.output()) return REJECT;
        return null;
      default: // CAS
        boolean matches = Objects.equals(state, o.expected());
        if (!unknown && matches != (Boolean) o.output()) return REJECT;
        return matches ? canonical(o.value(), referenced) : state;
    }
  }

  private static Object canonical(Long v, Set<Long> referenced) {
    return v == null || referenced.contains(v) ? v : UNREFERENCED;
  }

  // ------------------------------------------------------------------ the search

  /** A call or return event in the doubly linked list the search lifts entries out of. */
  private static final class Entry {
    final Op op;
    final int slot; // the op's bit in the linearized set
    final boolean call;
    final long time;
    Entry match; // a call's return
    Entry prev;
    Entry next;

    Entry(Op op, int slot, boolean call, long time) {
      this.op = op;
      this.slot = slot;
      this.call = call;
      this.time = time;
    }
  }

  /** A linearized call (with the unknown write linearized right before it, if any) and the state before. */
  private record Frame(Entry call, Entry before, Object state) {}

  private record Memo(BitSet linearized, Object state) {}

  static KeyResult checkKey(String key, List<Op> keyOps, long budgetMillis) {
    // LIN-02/03: failed operations had no effect; unknown reads have none either.
    List<Op> ops = new ArrayList<>();
    Set<Long> referenced = new HashSet<>();
    for (Op o : keyOps) {
      if (o.outcome() == Outcome.FAIL) continue;
      if (o.outcome() == Outcome.UNKNOWN && !o.isWrite()) continue;
      ops.add(o);
      if (o.kind() == Kind.GET && o.output() != null) referenced.add((Long) o.output());
      if (o.kind() == Kind.CAS && o.expected() != null) referenced.add(o.expected());
    }
    List<Entry> events = new ArrayList<>(2 * ops.size());
    for (int i = 0; i < ops.size(); i++) {
      Op o = ops.get(i);
      long end = o.outcome() == Outcome.UNKNOWN ? INFINITY : o.complete();
      if (end < o.invoke()) throw new IllegalArgumentException("completes before it is invoked: " + o);
      Entry c = new Entry(o, i, true, o.invoke());
      Entry r = new Entry(o, i, false, end);
      c.match = r;
      events.add(c);
      events.add(r);
    }
    // Time order; at equal times calls come first, so operations that touch are taken as concurrent.
    events.sort(Comparator.comparingLong((Entry e) -> e.time).thenComparing(e -> e.call ? 0 : 1));
    Entry head = new Entry(null, -1, true, Long.MIN_VALUE);
    Entry last = head;
    for (Entry e : events) {
      last.next = e;
      e.prev = last;
      last = e;
    }

    long deadline = System.nanoTime() + budgetMillis * 1_000_000L;
    ArrayDeque<Frame> stack = new ArrayDeque<>();
    Set<Memo> seen = new HashSet<>();
    BitSet linearized = new BitSet(ops.size());
    Object state = null; // the register's initial value
    List<Op> longest = new ArrayList<>();
    int placed = 0;
    Entry entry = head.next;
    long iterations = 0;
    while (head.next != null) {
      if ((++iterations & 0xFFF) == 0 && System.nanoTime() > deadline) {
        return new KeyResult(key, Verdict.INCONCLUSIVE, ops.size(), longest, unplaced(ops, longest));
      }
      if (entry.call) {
        Op op = entry.op;
        // An unknown put of a value nobody refers to can only matter by making a later cas fail;
        // it is placed right before such a cas (below), never on its own.
        if (isUnreferencedUnknownPut(op, referenced)) {
          entry = entry.next;
          continue;
        }
        Object next = step(state, op, referenced);
        Entry before = null;
        if (next == REJECT && explainableByUnreferencedWrite(op)) {
          // A refused cas the state would let succeed, or a delete that removed a value from an
          // absent key: some unknown write of an unreferenced value that is already invoked may
          // have taken effect just before. They are interchangeable (all invoked, none ever
          // completes), so the first one stands for them all.
          before = firstUnreferencedUnknownPut(head, referenced);
          if (before != null) next = step(UNREFERENCED, op, referenced);
        }
        if (next != REJECT) {
          BitSet after = (BitSet) linearized.clone();
          after.set(entry.slot);
          if (before != null) after.set(before.slot);
          if (seen.add(new Memo(after, next))) {
            stack.push(new Frame(entry, before, state));
            state = next;
            linearized = after;
            if (before != null) lift(before);
            lift(entry);
            placed += before == null ? 1 : 2;
            if (placed > longest.size()) longest = linearization(stack);
            entry = head.next;
            continue;
          }
        }
        entry = entry.next;
      } else {
        // The earliest pending return. If it is an unknown operation's (+infinity), every
        // operation with a finite completion time is placed: the rest may take effect later or never.
        if (entry.op.outcome() == Outcome.UNKNOWN) break;
        if (stack.isEmpty()) {
          return new KeyResult(key, Verdict.NOT_LINEARIZABLE, ops.size(), longest, unplaced(ops, longest));
        }
        Frame f = stack.pop();
        placed -= f.before == null ? 1 : 2;
        state = f.state;
        linearized = (BitSet) linearized.clone();
        linearized.clear(f.call.slot);
        unlift(f.call);
        if (f.before != null) {
          linearized.clear(f.before.slot);
          unlift(f.before);
        }
        entry = f.call.next;
      }
    }
    return new KeyResult(key, Verdict.LINEARIZABLE, ops.size(), linearization(stack), List.of());
  }

  /**
   * Whether {@code op}'s recorded output could be right if the register held a value nobody refers
   * to: a refused cas (its expected value is referenced or null) or a delete that removed a value.
   */
  private static boolean explainableByUnreferencedWrite(Op op) {
    if (op.outcome() != Outcome.OK) return false;
    if (op.kind() == Kind.CAS) return Boolean.FALSE.equals(op.output());
    return op.kind() == Kind.DELETE && Boolean.TRUE.equals(op.output());
  }

  private static boolean isUnreferencedUnknownPut(Op op, Set<Long> referenced) {
    return op.outcome() == Outcome.UNKNOWN && op.kind() == Kind.PUT && !referenced.contains(op.value());
  }

  /** The first such put whose call comes before the earliest pending return, or null. */
  private static Entry firstUnreferencedUnknownPut(Entry head, Set<Long> referenced) {
    for (Entry e = head.next; e != null && e.call; e = e.next) {
      if (isUnreferencedUnknownPut(e.op, referenced)) return e;
    }
    return null;
  }

  private static void lift(Entry call) {
    call.prev.next = call.next;
    call.next.prev = call.prev;
    Entry ret = call.match;
    ret.prev.next = ret.next;
    if (ret.next != null) ret.next.prev = ret.prev;
  }

  private static void unlift(Entry call) {
    Entry ret = call.match;
    ret.prev.next = ret;
    if (ret.next != null) ret.next.prev = ret;
    call.prev.next = call;
    call.next.prev = call;
  }

  private static List<Op> linearization(ArrayDeque<Frame> stack) {
    List<Op> out = new ArrayList<>(stack.size());
    for (java.util.Iterator<Frame> it = stack.descendingIterator(); it.hasNext(); ) {
      Frame f = it.next();
      if (f.before != null) out.add(f.before.op);
      out.add(f.call.op);
    }
    return out;
  }

  /** Operations with a finite completion time that the longest linearization does not hold. */
  private static List<Op> unplaced(List<Op> ops, List<Op> longest) {
    Set<Integer> placed = new HashSet<>();
    for (Op o : longest) placed.add(o.id());
    List<Op> out = new ArrayList<>();
    for (Op o : ops) if (o.outcome() == Outcome.OK && !placed.contains(o.id())) out.add(o);
    return out;
  }
}
