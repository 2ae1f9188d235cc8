package io.raftactors.sim;

import static io.raftactors.sim.LinearizabilityChecker.INFINITY;
import static io.raftactors.sim.Sims.ET_MAX;
import static io.raftactors.sim.Sims.awaitLeader;
import static io.raftactors.sim.Sims.cluster;
import static io.raftactors.sim.Sims.others;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.sim.LinearizabilityChecker.History;
import io.raftactors.sim.LinearizabilityChecker.Kind;
import io.raftactors.sim.LinearizabilityChecker.KeyResult;
import io.raftactors.sim.LinearizabilityChecker.Op;
import io.raftactors.sim.LinearizabilityChecker.Outcome;
import io.raftactors.sim.LinearizabilityChecker.Result;
import io.raftactors.sim.LinearizabilityChecker.Verdict;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The linearizability checker and its history recording (LIN-01 .. LIN-07). */
class LinearizabilityCheckerTest {

  private static final long BUDGET_MS = 5_000;

  /** Hand-written histories: operations with explicit times. */
  private static final class H {
    final List<Op> ops = new ArrayList<>();

    private H add(int p, Kind k, String key, Long value, Long expected, long from, long to, Outcome o, Object out) {
      ops.add(new Op(ops.size(), p, k, key, value, expected, from, o == Outcome.UNKNOWN ? INFINITY : to, o, out));
      return this;
    }

    H put(int p, long v, long from, long to) {
      return add(p, Kind.PUT, "x", v, null, from, to, Outcome.OK, null);
    }

    H putUnknown(int p, long v, long from) {
      return add(p, Kind.PUT, "x", v, null, from, INFINITY, Outcome.UNKNOWN, null);
    }

    H get(int p, Long seen, long from, long to) {
      return add(p, Kind.GET, "x", null, null, from, to, Outcome.OK, seen);
    }

    H cas(int p, Long expected, long v, boolean ok, long from, long to) {
      return add(p, Kind.CAS, "x", v, expected, from, to, Outcome.OK, ok);
    }

    H delete(int p, boolean removed, long from, long to) {
      return add(p, Kind.DELETE, "x", null, null, from, to, Outcome.OK, removed);
    }

    H deleteUnknown(int p, long from) {
      return add(p, Kind.DELETE, "x", null, null, from, INFINITY, Outcome.UNKNOWN, null);
    }

    H on(String key, int p, Kind k, Long value, long from, long to, Object out) {
      return add(p, k, key, value, null, from, to, Outcome.OK, out);
    }

    KeyResult check() {
      Result r = LinearizabilityChecker.check(ops, BUDGET_MS);
      assertEquals(1, r.byKey().size());
      return r.byKey().values().iterator().next();
    }
  }

  private static void assertAccepted(H h) {
    KeyResult r = h.check();
    assertEquals(Verdict.LINEARIZABLE, r.verdict(), r::toString);
  }

  private static KeyResult assertRejected(H h) {
    KeyResult r = h.check();
    assertEquals(Verdict.NOT_LINEARIZABLE, r.verdict(), () -> "must be rejected: " + h.ops);
    String text = r.toString();
    // LIN-06: the report names the key, the longest partial linearization and what it could not place.
    assertTrue(text.contains("key x: not linearizable"), text);
    assertTrue(text.contains("longest partial linearization"), text);
    assertFalse(r.unplaced().isEmpty(), text);
    return r;
  }

  // ------------------------------------------------------------------ LIN-07: accepted

  @Test
  void selfTest_LIN_07_sequentialHistoryIsAccepted() {
    assertAccepted(new H()
        .get(0, null, 0, 1)
        .put(0, 1, 2, 3)
        .get(1, 1L, 4, 5)
        .cas(0, 1L, 2, true, 6, 7)
        .cas(1, 1L, 3, false, 8, 9)
        .get(1, 2L, 10, 11));
  }

  @Test
  void selfTest_LIN_07_overlappingPutAndGetIsAcceptedEitherWay() {
    // A get that overlaps a put may see the old value or the new one.
    assertAccepted(new H().put(0, 1, 0, 10).get(1, 1L, 2, 5).get(1, 1L, 6, 8));
    assertAccepted(new H().put(0, 1, 0, 10).get(1, null, 2, 5).get(1, 1L, 6, 8));
    assertAccepted(new H().put(0, 1, 0, 10).get(1, null, 2, 5).get(1, null, 6, 8).get(1, 1L, 11, 12));
  }

  @Test
  void selfTest_LIN_07_LIN_03_unknownWriteObservedLaterIsAccepted() {
    assertAccepted(new H().put(0, 1, 0, 1).putUnknown(1, 2, 2).get(2, 1L, 5, 6).get(2, 2L, 100, 101));
    // ... or never observed at all: it may have taken effect nowhere.
    assertAccepted(new H().put(0, 1, 0, 1).putUnknown(1, 2, 2).get(2, 1L, 5, 6).get(2, 1L, 100, 101));
    // An unknown write is placed after its invoke, never before it.
    assertRejected(new H().get(2, 2L, 0, 1).putUnknown(1, 2, 5));
  }

  /**
   * The search places an unknown write of a value nobody read only where it explains a refused cas;
   * each such write explains at most one stretch of them.
   */
  @Test
  void selfTest_LIN_03_unknownWritesExplainRefusedCasOnlyOnceEach() {
    assertAccepted(new H().put(0, 1, 0, 1).putUnknown(1, 9, 2).cas(2, 1L, 2, false, 3, 4));
    assertRejected(new H().put(0, 1, 0, 1).cas(2, 1L, 2, false, 3, 4));
    H once = new H().put(0, 1, 0, 1).putUnknown(1, 9, 2).cas(2, 1L, 2, false, 3, 4).put(0, 3, 5, 6)
        .cas(2, 3L, 4, false, 7, 8);
    assertRejected(once);
    assertAccepted(once.putUnknown(3, 10, 2));
    // Not before its invoke.
    assertRejected(new H().put(0, 1, 0, 1).cas(2, 1L, 2, false, 3, 4).putUnknown(1, 9, 5));
  }

  // ------------------------------------------------------------------ LIN-07: rejected

  @Test
  void selfTest_LIN_07_staleReadAfterCompletedWriteIsRejected() {
    KeyResult r = assertRejected(new H().put(0, 1, 0, 1).put(0, 2, 2, 3).get(1, 1L, 4, 5));
    assertEquals(2, r.longestLinearization().size(), r::toString);
    assertEquals(Kind.GET, r.unplaced().get(0).kind(), r::toString);
  }

  @Test
  void selfTest_LIN_07_readSeesWriteThenLaterReadDoesNotIsRejected() {
    assertRejected(new H().put(0, 1, 0, 10).get(1, 1L, 1, 2).get(2, null, 3, 4));
  }

  @Test
  void selfTest_LIN_07_lostAcknowledgedWriteIsRejected() {
    // Write 2 was acknowledged after write 1; a later read finds write 1 again: write 2 was lost.
    assertRejected(new H().put(0, 1, 0, 1).get(1, 1L, 2, 3).put(0, 2, 4, 5).get(1, 1L, 6, 7));
  }

  @Test
  void selfTest_LIN_07_twoSuccessfulCasFromTheSameExpectedValueAreRejected() {
    assertRejected(new H().put(0, 1, 0, 1).cas(1, 1L, 2, true, 2, 5).cas(2, 1L, 3, true, 3, 6));
    // The control: one of them failing is fine.
    assertAccepted(new H().put(0, 1, 0, 1).cas(1, 1L, 2, true, 2, 5).cas(2, 1L, 3, false, 3, 6));
  }

  // ------------------------------------------------------------------ delete

  @Test
  void delete_sequentialDeletesAreAcceptedAndSayWhetherTheyRemovedAValue() {
    assertAccepted(new H()
        .delete(0, false, 0, 1) // nothing to remove yet
        .put(0, 1, 2, 3)
        .delete(1, true, 4, 5)
        .get(0, null, 6, 7)
        .delete(0, false, 8, 9)
        .cas(1, null, 2, true, 10, 11) // a cas from absent succeeds after a delete
        .get(0, 2L, 12, 13));
    // A delete that overlaps a put may come before it or after it.
    assertAccepted(new H().put(0, 1, 0, 10).delete(1, false, 2, 5).get(2, 1L, 11, 12));
    assertAccepted(new H().put(0, 1, 0, 10).delete(1, true, 2, 5).get(2, null, 11, 12));
  }

  @Test
  void delete_readOfADeletedValueIsRejected() {
    // The delete completed before the read began: the read must find the key absent.
    assertRejected(new H().put(0, 1, 0, 1).delete(1, true, 2, 3).get(2, 1L, 4, 5));
  }

  @Test
  void delete_thatClaimsToRemoveFromAnAbsentKeyIsRejected() {
    assertRejected(new H().delete(0, true, 0, 1));
    assertRejected(new H().put(0, 1, 0, 1).delete(1, true, 2, 3).delete(2, true, 4, 5));
  }

  @Test
  void delete_thatFindsAWrittenKeyAbsentIsRejected() {
    assertRejected(new H().put(0, 1, 0, 1).delete(1, false, 2, 3));
    // A failed delete had no effect: the value is still there.
    H failed = new H().put(0, 1, 0, 1);
    failed.add(1, Kind.DELETE, "x", null, null, 2, 3, Outcome.FAIL, null);
    assertRejected(failed.get(2, null, 4, 5));
  }

  @Test
  void delete_unknownDeleteMayTakeEffectLaterOrNever() {
    assertAccepted(new H().put(0, 1, 0, 1).deleteUnknown(1, 2).get(2, 1L, 3, 4).get(2, null, 5, 6));
    assertAccepted(new H().put(0, 1, 0, 1).deleteUnknown(1, 2).get(2, 1L, 3, 4).get(2, 1L, 5, 6));
    // ... but at most once: the value is not back after it is gone, and not gone before the delete's invoke.
    assertRejected(new H().put(0, 1, 0, 1).deleteUnknown(1, 2).get(2, null, 3, 4).get(2, 1L, 5, 6));
    assertRejected(new H().put(0, 1, 0, 1).get(2, null, 3, 4).deleteUnknown(1, 5));
  }

  /** An unknown write of a value nobody read explains a delete that removed something, once. */
  @Test
  void delete_LIN_03_unknownWriteExplainsADeleteThatRemovedSomething() {
    assertAccepted(new H().putUnknown(1, 9, 0).delete(2, true, 1, 2));
    assertRejected(new H().putUnknown(1, 9, 3).delete(2, true, 1, 2));
    assertRejected(new H().putUnknown(1, 9, 0).delete(2, true, 1, 2).delete(2, true, 3, 4));
    // The same write cannot also explain a refused cas after the delete emptied the key.
    assertRejected(new H().putUnknown(1, 9, 0).delete(2, true, 1, 2).cas(2, null, 3, false, 3, 4));
    assertAccepted(new H().putUnknown(1, 9, 0).delete(2, true, 1, 2).putUnknown(3, 10, 0)
        .cas(2, null, 3, false, 3, 4));
  }

  @Test
  void delete_LIN_01_isRecordedWithWhetherItRemovedAValue() {
    AtomicLong clock = new AtomicLong();
    History h = new History(clock::get);
    History.Pending d = h.delete(0, "x");
    clock.set(1);
    assertThrows(IllegalArgumentException.class, () -> h.ok(d, null), "a delete's output is a Boolean");
    h.ok(d, false);
    assertEquals(List.of(new Op(0, 0, Kind.DELETE, "x", null, null, 0, 1, Outcome.OK, false)), h.ops());
    assertEquals("#0 p0 delete(x) [0..1] ok false", h.ops().get(0).toString());
  }

  // ------------------------------------------------------------------ LIN-04, LIN-06

  @Test
  void split_LIN_04_eachKeyIsCheckedOnItsOwnWithAResultPerKey() {
    H h = new H()
        .on("a", 0, Kind.PUT, 1L, 0, 1, null)
        .on("b", 1, Kind.GET, null, 2, 3, null) // b was never written: null is right for b
        .on("a", 1, Kind.GET, null, 4, 5, 1L)
        .on("c", 0, Kind.PUT, 7L, 6, 7, null)
        .on("c", 1, Kind.GET, null, 8, 9, null); // c lost its write
    Result r = LinearizabilityChecker.check(h.ops, BUDGET_MS);
    assertEquals(List.of("a", "b", "c"), new ArrayList<>(r.byKey().keySet()));
    assertEquals(Verdict.LINEARIZABLE, r.byKey().get("a").verdict());
    assertEquals(Verdict.LINEARIZABLE, r.byKey().get("b").verdict());
    assertEquals(Verdict.NOT_LINEARIZABLE, r.byKey().get("c").verdict());
    assertEquals(Verdict.NOT_LINEARIZABLE, r.verdict());
    assertFalse(r.linearizable());
  }

  @Test
  void verdicts_LIN_06_budgetExhaustedIsInconclusiveAndCountsAsAFailure() {
    // 40 concurrent writes and a read of a value none of them wrote: the search must try every
    // subset of the writes before it can reject, far more than a zero budget allows.
    H h = new H();
    for (int i = 0; i < 40; i++) h.put(i, i + 1, 0, 1000);
    h.get(99, 999L, 500, 2000);
    Result r = LinearizabilityChecker.check(h.ops, 0);
    assertEquals(Verdict.INCONCLUSIVE, r.byKey().get("x").verdict(), r::toString);
    assertEquals(Verdict.INCONCLUSIVE, r.verdict());
    assertFalse(r.linearizable(), "inconclusive is never a pass");
  }

  // ------------------------------------------------------------------ LIN-01, LIN-03: recording

  @Test
  void history_LIN_01_LIN_03_scriptedOperationsGiveExactlyTheExpectedRecords() {
    AtomicLong clock = new AtomicLong();
    History h = new History(clock::get);
    clock.set(10);
    History.Pending put = h.put(0, "x", 1);
    clock.set(11);
    History.Pending get = h.get(1, "x");
    clock.set(12);
    h.ok(put, null);
    clock.set(13);
    h.ok(get, 1L);
    clock.set(14);
    History.Pending cas = h.cas(0, "x", 1L, 2);
    clock.set(15);
    History.Pending failed = h.put(1, "x", 3);
    clock.set(16);
    h.fail(failed);
    clock.set(17);
    h.unknown(cas);
    clock.set(18);
    History.Pending lastGet = h.get(2, "x");
    clock.set(19);

    // LIN-03: one operation at a time per process; a process with an unknown operation is retired.
    assertTrue(h.isRetired(0));
    assertThrows(IllegalStateException.class, () -> h.get(0, "x"));
    assertThrows(IllegalStateException.class, () -> h.get(2, "x"), "process 2 is still running a get");
    h.close(); // the run ends with the last get unanswered
    assertTrue(lastGet.done());

    List<Op> expected = List.of(
        new Op(0, 0, Kind.PUT, "x", 1L, null, 10, 12, Outcome.OK, null),
        new Op(1, 1, Kind.GET, "x", null, null, 11, 13, Outcome.OK, 1L),
        new Op(2, 0, Kind.CAS, "x", 2L, 1L, 14, INFINITY, Outcome.UNKNOWN, null),
        new Op(3, 1, Kind.PUT, "x", 3L, null, 15, 16, Outcome.FAIL, null),
        new Op(4, 2, Kind.GET, "x", null, null, 18, INFINITY, Outcome.UNKNOWN, null));
    assertEquals(expected, h.ops());
    // LIN-03: the unknown get is dropped, the failed put left out, the unknown cas may take effect.
    assertEquals(Verdict.LINEARIZABLE, LinearizabilityChecker.check(h.ops(), BUDGET_MS).verdict());
  }

  /**
   * LIN-01 in the simulation: the invoke time is stamped before the request's event, the completion
   * time at the event that produced the answer, and the record holds what was asked and answered.
   */
  @Test
  void history_LIN_01_simulationOperationsAreStampedAroundTheirEvents() {
    Simulation sim = cluster(3, 4);
    KvWorkload.Settings s = new KvWorkload.Settings();
    s.keys = 1;
    s.clients = 2;
    KvWorkload w = new KvWorkload(sim, s, 4);
    String leader = awaitLeader(sim).id();

    long before = sim.step();
    History.Pending put = w.put(0, leader, 0);
    assertTrue(sim.runUntil(put::done, 10 * ET_MAX) >= 0, put::toString);
    Op p = w.history().ops().get(0);
    assertEquals(2 * before + 1, p.invoke(), "invoked between the previous event and the proposal's");
    assertTrue(p.complete() > p.invoke() && p.complete() <= 2 * sim.step(), p::toString);
    assertEquals(Outcome.OK, p.outcome());
    assertEquals(Kind.PUT, p.kind());
    assertEquals("k0", p.key());

    History.Pending get = w.get(1, leader, 0);
    assertTrue(sim.runUntil(get::done, 10 * ET_MAX) >= 0, get::toString);
    History.Pending cas = w.cas(1, leader, 0); // expects what client 1 just read
    assertTrue(sim.runUntil(cas::done, 10 * ET_MAX) >= 0, cas::toString);
    List<Op> ops = w.finish().ops();
    assertEquals(p.value(), ops.get(1).output(), "the get reads the put's value from the leader's state machine");
    assertEquals(new Op(2, w.process(1), Kind.CAS, "k0", ops.get(2).value(), p.value(), ops.get(2).invoke(),
        ops.get(2).complete(), Outcome.OK, true), ops.get(2));
    assertTrue(ops.get(1).complete() < ops.get(2).invoke(), "real-time order is kept");
    assertEquals(ops.get(2).value(), w.machine(leader).get("k0"));
  }

  // ------------------------------------------------------------------ LIN-02: outcomes

  @Test
  void outcomes_LIN_02_onlyNotLeaderMapsToFail() {
    assertEquals(Outcome.OK, KvWorkload.outcomeOf(Simulation.Proposal.Status.APPLIED));
    assertEquals(Outcome.FAIL, KvWorkload.outcomeOf(Simulation.Proposal.Status.NOT_LEADER));
    assertEquals(Outcome.UNKNOWN, KvWorkload.outcomeOf(Simulation.Proposal.Status.UNKNOWN));
    assertEquals(Outcome.UNKNOWN, KvWorkload.outcomeOf(Simulation.Proposal.Status.PENDING), "a timeout");
    assertEquals(Outcome.OK, KvWorkload.outcomeOf(Simulation.Read.Status.SERVED));
    assertEquals(Outcome.FAIL, KvWorkload.outcomeOf(Simulation.Read.Status.NOT_LEADER));
    assertEquals(Outcome.UNKNOWN, KvWorkload.outcomeOf(Simulation.Read.Status.PENDING));
    for (Simulation.Proposal.Status st : Simulation.Proposal.Status.values()) {
      if (st != Simulation.Proposal.Status.NOT_LEADER) assertNotEquals(Outcome.FAIL, KvWorkload.outcomeOf(st), st.name());
    }
  }

  /**
   * LIN-02 end to end: a write at a follower fails (nothing was appended anywhere, and it never
   * takes effect); a write at a leader cut off after the append is unknown, its process retires,
   * and the write may still take effect (here it does not: the majority moves on without it).
   */
  @Test
  void outcomes_LIN_02_followerWriteFailsAndCutOffLeaderWriteIsUnknown() {
    Simulation sim = cluster(3, 8);
    KvWorkload.Settings s = new KvWorkload.Settings();
    s.keys = 1;
    s.clients = 2;
    s.timeoutTicks = 5 * ET_MAX;
    KvWorkload w = new KvWorkload(sim, s, 8);
    String leader = awaitLeader(sim).id();
    String follower = others(sim, leader).get(0);

    History.Pending atFollower = w.put(0, follower, 0);
    assertTrue(atFollower.done());
    Op f = w.history().ops().get(0);
    assertEquals(Outcome.FAIL, f.outcome());
    assertTrue(sim.proposals().get(sim.proposals().size() - 1).index < 0, "nothing was appended");

    int before = w.process(1);
    sim.isolate(leader);
    History.Pending cut = w.put(1, leader, 0);
    sim.runUntil(cut::done, 10 * ET_MAX);
    Op u = w.history().ops().get(1);
    assertEquals(Outcome.UNKNOWN, u.outcome(), u::toString);
    assertEquals(INFINITY, u.complete());
    assertNotEquals(before, w.process(1), "LIN-03: the client goes on under a new process id");
    assertTrue(w.history().isRetired(before));
  }
}
