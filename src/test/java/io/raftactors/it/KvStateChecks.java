package io.raftactors.it;

import io.raftactors.sim.LinearizabilityChecker.Kind;
import io.raftactors.sim.LinearizabilityChecker.Op;
import io.raftactors.sim.LinearizabilityChecker.Outcome;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The fault suite's checks besides linearizability, on a recorded history (values are unique per
 * write): stale reads return written values, the members agree at the end, and the final values
 * lose no acknowledged write. Each returns its violations, described; none means the check passed.
 */
final class KvStateChecks {
  private KvStateChecks() {}

  /** Writes that may have put a value: puts and cas that did not fail (a cas refused wrote nothing), by key and value. */
  private static Map<String, Map<Long, Op>> writers(List<Op> ops) {
    Map<String, Map<Long, Op>> writers = new HashMap<>();
    for (Op o : ops) {
      if ((o.kind() == Kind.PUT || o.kind() == Kind.CAS) && o.outcome() != Outcome.FAIL
          && !(o.kind() == Kind.CAS && Boolean.FALSE.equals(o.output()))) {
        writers.computeIfAbsent(o.key(), k -> new HashMap<>()).put(o.value(), o);
      }
    }
    return writers;
  }

  /**
   * A stale read may return any state the replica had, but only values that were written: by a
   * write that did not fail, invoked before the read ended (or absent).
   */
  static List<String> staleReads(List<Op> ops, List<KvHistory.StaleRead> reads) {
    Map<String, Map<Long, Op>> writers = writers(ops);
    List<String> out = new ArrayList<>();
    for (KvHistory.StaleRead r : reads) {
      if (r.value() == null) continue;
      Op w = writers.getOrDefault(r.key(), Map.of()).get(r.value());
      if (w == null || w.invoke() > r.complete()) {
        out.add("stale read at " + r.node() + " returned " + r.key() + "=" + r.value()
            + ", which no write that did not fail had written");
      }
    }
    return out;
  }

  /** After healing, every member must hold the same value of {@code key} ({@code byMember}: member -> value, null = absent). */
  static List<String> agreement(String key, Map<String, Long> byMember) {
    if (byMember.values().stream().distinct().count() <= 1) return List.of();
    return List.of("members hold different final values of " + key + ": " + byMember);
  }

  /**
   * Acknowledged writes the final values lost. A key's final value was written by one write W; an
   * acknowledged write that changes the value (a put, a cas that swapped, a delete that removed
   * something) and was invoked after W completed certainly took effect after W, so the key cannot
   * still hold W's value. For an absent key, W is the latest delete that did not fail. A final value
   * that no write that did not fail wrote is a violation too.
   */
  static List<String> lostWrites(List<Op> ops, Map<String, Long> finalValues) {
    Map<String, Map<Long, Op>> writers = writers(ops);
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, Long> e : finalValues.entrySet()) {
      String key = e.getKey();
      Long value = e.getValue();
      long after; // acknowledged writes invoked after this certainly came after the final value's write
      if (value != null) {
        Op w = writers.getOrDefault(key, Map.of()).get(value);
        if (w == null) {
          out.add("final value " + key + "=" + value + " was written by no write that did not fail");
          continue;
        }
        after = w.complete();
      } else {
        after = Long.MIN_VALUE;
        for (Op o : ops) {
          if (o.key().equals(key) && o.kind() == Kind.DELETE && o.outcome() != Outcome.FAIL) {
            after = Math.max(after, o.complete());
          }
        }
      }
      for (Op o : ops) {
        if (!o.key().equals(key) || o.outcome() != Outcome.OK || o.invoke() <= after) continue;
        boolean changes = o.kind() == Kind.PUT || (o.kind() == Kind.CAS && Boolean.TRUE.equals(o.output()))
            || (o.kind() == Kind.DELETE && value != null && Boolean.TRUE.equals(o.output()));
        if (changes) out.add("acknowledged write lost: " + o + " (final " + key + "=" + value + ")");
      }
    }
    return out;
  }
}
