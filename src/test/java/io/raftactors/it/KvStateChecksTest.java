package io.raftactors.it;

import static io.raftactors.sim.LinearizabilityChecker.INFINITY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.sim.LinearizabilityChecker.Kind;
import io.raftactors.sim.LinearizabilityChecker.Op;
import io.raftactors.sim.LinearizabilityChecker.Outcome;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The fault suite's checks besides linearizability, on hand-written histories: each passes and fails where it should. */
class KvStateChecksTest {

  private final List<Op> ops = new ArrayList<>();

  private KvStateChecksTest op(Kind kind, Long value, Long expected, long from, long to, Outcome outcome, Object output) {
    ops.add(new Op(ops.size(), ops.size(), kind, "x", value, expected, from, outcome == Outcome.UNKNOWN ? INFINITY : to,
        outcome, output));
    return this;
  }

  private KvStateChecksTest put(long v, long from, long to, Outcome outcome) {
    return op(Kind.PUT, v, null, from, to, outcome, null);
  }

  private KvStateChecksTest cas(Long expected, long v, long from, long to, boolean swapped) {
    return op(Kind.CAS, v, expected, from, to, Outcome.OK, swapped);
  }

  private KvStateChecksTest delete(long from, long to, boolean removed) {
    return op(Kind.DELETE, null, null, from, to, Outcome.OK, removed);
  }

  private static KvHistory.StaleRead stale(Long value, long from, long to) {
    return new KvHistory.StaleRead("x", "n1", from, to, value);
  }

  private static Map<String, Long> finalValue(Long v) {
    Map<String, Long> m = new HashMap<>();
    m.put("x", v);
    return m;
  }

  @Test
  void staleReadsMayBeOldButOnlyOfWrittenValues() {
    put(1, 0, 1, Outcome.OK).put(2, 2, 3, Outcome.OK).put(3, 4, INFINITY, Outcome.UNKNOWN).put(4, 5, 6, Outcome.FAIL)
        .cas(2L, 5, 7, 8, false);
    // Old, current, absent, and the value of an unknown write: all fine.
    assertEquals(List.of(), KvStateChecks.staleReads(ops, List.of(stale(1L, 10, 11), stale(2L, 10, 11),
        stale(null, 10, 11), stale(3L, 10, 11))));
    // A value whose write failed, a refused cas's value, a value never written, a value read before its write began.
    List<String> v = KvStateChecks.staleReads(ops, List.of(stale(4L, 10, 11), stale(5L, 10, 11), stale(99L, 10, 11),
        stale(2L, 0, 1)));
    assertEquals(4, v.size(), v::toString);
    assertTrue(v.get(0).contains("x=4"), v::toString);
  }

  @Test
  void membersMustAgreeOnEveryKey() {
    Map<String, Long> same = new TreeMap<>(Map.of("n1", 7L, "n2", 7L, "n3", 7L));
    assertEquals(List.of(), KvStateChecks.agreement("x", same));
    Map<String, Long> absent = new TreeMap<>();
    for (String n : List.of("n1", "n2", "n3")) absent.put(n, null);
    assertEquals(List.of(), KvStateChecks.agreement("x", absent));
    Map<String, Long> differ = new TreeMap<>(absent);
    differ.put("n2", 7L);
    assertEquals(1, KvStateChecks.agreement("x", differ).size());
  }

  @Test
  void finalValueKeepsEveryAcknowledgedWrite() {
    put(1, 0, 1, Outcome.OK).put(2, 2, 3, Outcome.OK).put(3, 2, 5, Outcome.OK); // 2 and 3 overlap: either may win
    assertEquals(List.of(), KvStateChecks.lostWrites(ops, finalValue(3L)));
    assertEquals(List.of(), KvStateChecks.lostWrites(ops, finalValue(2L)));
    // Write 1 completed before write 2 began: a final 1 lost write 2 (and write 3).
    List<String> lost = KvStateChecks.lostWrites(ops, finalValue(1L));
    assertEquals(2, lost.size(), lost::toString);
    assertTrue(lost.get(0).startsWith("acknowledged write lost"), lost::toString);
  }

  @Test
  void finalValueAfterDeletesAndCas() {
    put(1, 0, 1, Outcome.OK).delete(2, 3, true).cas(null, 2, 4, 5, true).put(9, 4, 6, Outcome.UNKNOWN);
    assertEquals(List.of(), KvStateChecks.lostWrites(ops, finalValue(2L)));
    assertEquals(List.of(), KvStateChecks.lostWrites(ops, finalValue(9L)), "an unknown write may land last");
    // Absent at the end: the cas that swapped after the last delete was lost.
    assertEquals(1, KvStateChecks.lostWrites(ops, finalValue(null)).size());
    // A delete that removed something after the final value's write completed was lost.
    ops.clear();
    put(1, 0, 1, Outcome.OK).delete(2, 3, true);
    assertEquals(1, KvStateChecks.lostWrites(ops, finalValue(1L)).size());
    assertEquals(List.of(), KvStateChecks.lostWrites(ops, finalValue(null)));
  }

  @Test
  void finalValueOfAFailedWriteIsAViolation() {
    put(1, 0, 1, Outcome.OK).put(2, 2, 3, Outcome.FAIL);
    List<String> v = KvStateChecks.lostWrites(ops, finalValue(2L));
    assertEquals(1, v.size(), v::toString);
    assertTrue(v.get(0).contains("written by no write that did not fail"), v::toString);
  }
}
