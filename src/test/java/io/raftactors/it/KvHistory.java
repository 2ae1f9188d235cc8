package io.raftactors.it;

import io.raftactors.sim.LinearizabilityChecker.History;
import io.raftactors.sim.LinearizabilityChecker.Kind;
import io.raftactors.sim.LinearizabilityChecker.Op;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The history of a run against real processes: a thread-safe {@link History} (times from
 * System.nanoTime) for the linearizability checker, with what each operation did on the wire
 * ({@link Wire}), and the stale reads, which are not linearizable and are kept apart.
 */
final class KvHistory {
  /**
   * One HTTP request of an operation: the member it went to, when it was sent and when its answer
   * (or failure) came (System.nanoTime), the status (0 if none) and how it failed ("refused",
   * "timeout", "reset", or null).
   */
  record Exchange(String node, long sent, long answered, int status, String failure) {}

  /** What one operation did on the wire: the members it was sent to (redirects and retries included) and the last answer. */
  static final class Wire {
    final String client;
    final boolean idempotencyKey;
    final List<String> nodes = new ArrayList<>();
    /** HTTP status of the last answer; 0 if there was none. */
    int lastStatus;
    /** How the last attempt ended without an answer: "refused", "timeout", "reset", or null. */
    String lastFailure;
    /** Requests sent for the operation with the same Idempotency-Key (1 without retries). */
    int attempts;
    /** Every request of the operation, redirects and retries included, in order. */
    final List<Exchange> exchanges = new ArrayList<>();

    Wire(String client, boolean idempotencyKey) {
      this.client = client;
      this.idempotencyKey = idempotencyKey;
    }

    synchronized List<String> nodes() {
      return List.copyOf(nodes);
    }

    synchronized List<Exchange> exchanges() {
      return List.copyOf(exchanges);
    }

    @Override
    public synchronized String toString() {
      return client + " via " + nodes + " last=" + (lastFailure != null ? lastFailure : lastStatus)
          + (idempotencyKey ? " key, " + attempts + " attempt(s)" : "");
    }
  }

  /** A read with consistency=stale: {@code value} null if the key was absent. */
  record StaleRead(String key, String node, long invoke, long complete, Long value) {}

  private final History history = new History(System::nanoTime);
  private final List<Wire> wires = new ArrayList<>();
  private final List<StaleRead> staleReads = new ArrayList<>();
  private final AtomicInteger processes = new AtomicInteger();

  /** A fresh process id (a client takes a new one after an operation with an unknown outcome). */
  int newProcess() {
    return processes.getAndIncrement();
  }

  synchronized History.Pending invoke(int process, Kind kind, String key, Long value, Long expected, Wire wire) {
    History.Pending p = switch (kind) {
      case PUT -> history.put(process, key, value);
      case GET -> history.get(process, key);
      case CAS -> history.cas(process, key, expected, value);
      case DELETE -> history.delete(process, key);
    };
    if (p.id() != wires.size()) throw new IllegalStateException("ids out of step");
    wires.add(wire);
    return p;
  }

  synchronized void ok(History.Pending p, Object output) {
    history.ok(p, output);
  }

  synchronized void fail(History.Pending p) {
    history.fail(p);
  }

  synchronized void unknown(History.Pending p) {
    history.unknown(p);
  }

  synchronized void staleRead(StaleRead r) {
    staleReads.add(r);
  }

  /** Ends the history: operations still running are unknown. */
  synchronized void close() {
    history.close();
  }

  synchronized List<Op> ops() {
    return history.ops();
  }

  /** The wire record of operation {@code id}. */
  synchronized Wire wire(int id) {
    return wires.get(id);
  }

  synchronized List<StaleRead> staleReads() {
    return List.copyOf(staleReads);
  }
}
