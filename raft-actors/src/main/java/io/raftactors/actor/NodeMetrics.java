package io.raftactors.actor;

import java.util.ArrayDeque;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.HdrHistogram.Histogram;

/**
 * Where a node's time goes on the write path: latency histograms of each stage a proposal passes
 * through, and the sizes of the batches it travels in. A node keeps one of these; only its actor
 * touches it (no locks), and a {@link Snapshot} is what leaves it. Recording costs a few {@code
 * System.nanoTime()} calls per message or batch, so it stays on in production.
 *
 * <p>Stages, in microseconds:
 *
 * <ul>
 *   <li>{@link Stage#PROPOSED_TO_WRITE}: leader, a proposal arrived until the storage write that holds
 *       its entry started (time spent waiting in the batch and behind the write in flight);
 *   <li>{@link Stage#WRITE}: a storage write started until it was reported durable (the storage's
 *       queue, the write, the fsync and the way back to the node);
 *   <li>{@link Stage#REPLICATION_ROUND_TRIP}: leader, an AppendEntries with entries sent until its
 *       acknowledgement arrived (the network both ways and the follower's write), per follower too;
 *   <li>{@link Stage#PROPOSED_TO_APPLIED}: leader, a proposal arrived until it was applied and
 *       answered (the whole path inside the group);
 *   <li>{@link Stage#APPLY}: the state machine's apply of one entry.
 * </ul>
 *
 * <p>Sizes: {@link Size#ENTRIES_PER_APPEND} (AppendEntries with entries), {@link
 * Size#ENTRIES_PER_WRITE} and {@link Size#BYTES_PER_WRITE} (storage writes).
 */
public final class NodeMetrics {

  /** A stage of the write path, timed in microseconds. */
  public enum Stage {
    PROPOSED_TO_WRITE,
    WRITE,
    REPLICATION_ROUND_TRIP,
    PROPOSED_TO_APPLIED,
    APPLY
  }

  /** A batch size. */
  public enum Size {
    ENTRIES_PER_APPEND,
    ENTRIES_PER_WRITE,
    BYTES_PER_WRITE
  }

  /** Percentiles of a histogram; all zero when it is empty. */
  public record Summary(long count, double mean, long p50, long p90, long p99, long p999, long max)
      implements RaftSerializable {
    static Summary of(Histogram h) {
      if (h.getTotalCount() == 0) return new Summary(0, 0, 0, 0, 0, 0, 0);
      return new Summary(h.getTotalCount(), h.getMean(), h.getValueAtPercentile(50), h.getValueAtPercentile(90),
          h.getValueAtPercentile(99), h.getValueAtPercentile(99.9), h.getMaxValue());
    }
  }

  /**
   * What a node measured since {@code sinceMillis} (epoch ms; the node's start or the last reset):
   * the stages and sizes, the round trip to each follower, and counts of storage writes, entries
   * written and entries committed. {@link #fsyncsPerCommittedEntry} is writes per committed entry:
   * each write of a durable storage ends with one fsync of its own, or (on a log that several groups
   * share) is made durable by a sync it shares with the other groups' writes of the same batch, so
   * it is an upper bound there.
   */
  public record Snapshot(String memberId, long sinceMillis, Map<Stage, Summary> stages, Map<Size, Summary> sizes,
      Map<String, Summary> roundTripByFollower, long writes, long entriesWritten, long entriesCommitted)
      implements RaftSerializable {

    public double fsyncsPerCommittedEntry() {
      return entriesCommitted == 0 ? 0 : (double) writes / entriesCommitted;
    }
  }

  /** AppendEntries in flight to one follower that are timed: at most this many, the oldest dropped. */
  private static final int TIMED_APPENDS = 256;

  private final String memberId;
  private final EnumMap<Stage, Histogram> stages = new EnumMap<>(Stage.class);
  private final EnumMap<Size, Histogram> sizes = new EnumMap<>(Size.class);
  private final Map<String, Histogram> roundTrips = new HashMap<>();
  /** Per follower: {last index, send time} of AppendEntries with entries not acknowledged yet, oldest first. */
  private final Map<String, ArrayDeque<long[]>> appendsInFlight = new HashMap<>();
  /** {index, arrival time} of this leader's proposals whose entries are not in a write yet, in index order. */
  private final ArrayDeque<long[]> unwritten = new ArrayDeque<>();
  private long writeStartedNanos;
  private long writes;
  private long entriesWritten;
  private long entriesCommitted;
  private long commitSeen = -1;
  private long sinceMillis = System.currentTimeMillis();

  public NodeMetrics(String memberId) {
    this.memberId = memberId;
    for (Stage s : Stage.values()) stages.put(s, newHistogram());
    for (Size s : Size.values()) sizes.put(s, newHistogram());
  }

  private static Histogram newHistogram() {
    return new Histogram(2); // auto-resizing, 2 significant digits: small until it sees large values
  }

  private static long micros(long nanos) {
    return Math.max(0, nanos / 1_000);
  }

  /** The leader appended a proposal that arrived at {@code arrivedNanos} at {@code index}. */
  void proposed(long index, long arrivedNanos) {
    unwritten.addLast(new long[] {index, arrivedNanos});
  }

  /** A storage write of {@code entries} entries ({@code bytes} bytes; up to {@code lastIndex}, or 0) started. */
  void writeStarted(int entries, long bytes, long lastIndex, long nowNanos) {
    writeStartedNanos = nowNanos;
    if (entries > 0) {
      sizes.get(Size.ENTRIES_PER_WRITE).recordValue(entries);
      sizes.get(Size.BYTES_PER_WRITE).recordValue(bytes);
      entriesWritten += entries;
    }
    Histogram h = stages.get(Stage.PROPOSED_TO_WRITE);
    while (!unwritten.isEmpty() && unwritten.peekFirst()[0] <= lastIndex) {
      h.recordValue(micros(nowNanos - unwritten.pollFirst()[1]));
    }
  }

  /** The write in flight is durable. */
  void writeDone(long nowNanos) {
    writes++;
    stages.get(Stage.WRITE).recordValue(micros(nowNanos - writeStartedNanos));
  }

  /** The node stopped leading: its proposals' timings no longer apply. */
  void notLeading() {
    unwritten.clear();
    appendsInFlight.clear();
  }

  /** An AppendEntries with {@code entries} entries up to {@code lastIndex} left for {@code follower}. */
  void appendSent(String follower, int entries, long lastIndex, long nowNanos) {
    sizes.get(Size.ENTRIES_PER_APPEND).recordValue(entries);
    ArrayDeque<long[]> q = appendsInFlight.computeIfAbsent(follower, f -> new ArrayDeque<>());
    if (q.size() >= TIMED_APPENDS) q.pollFirst();
    q.addLast(new long[] {lastIndex, nowNanos});
  }

  /** {@code follower} acknowledged entries up to {@code matchIndex} (or rejected, with {@code success} false). */
  void appendAnswered(String follower, boolean success, long matchIndex, long nowNanos) {
    ArrayDeque<long[]> q = appendsInFlight.get(follower);
    if (q == null) return;
    if (!success) {
      q.clear(); // the leader probes again; what was in flight is resent
      return;
    }
    while (!q.isEmpty() && q.peekFirst()[0] <= matchIndex) {
      long[] a = q.pollFirst();
      if (a[0] == matchIndex) {
        long us = micros(nowNanos - a[1]);
        stages.get(Stage.REPLICATION_ROUND_TRIP).recordValue(us);
        roundTrips.computeIfAbsent(follower, f -> newHistogram()).recordValue(us);
      }
    }
  }

  /** A proposal that arrived at {@code arrivedNanos} was applied and answered. */
  void applied(long arrivedNanos, long nowNanos) {
    stages.get(Stage.PROPOSED_TO_APPLIED).recordValue(micros(nowNanos - arrivedNanos));
  }

  /** The state machine applied one entry in {@code nanos}. */
  void applyTook(long nanos) {
    stages.get(Stage.APPLY).recordValue(micros(nanos));
  }

  /** The commit index is now {@code commitIndex}. */
  void committed(long commitIndex) {
    if (commitSeen >= 0 && commitIndex > commitSeen) entriesCommitted += commitIndex - commitSeen;
    commitSeen = Math.max(commitSeen, commitIndex);
  }

  /** What was measured since the start or the last reset; with {@code reset}, starts over. */
  Snapshot snapshot(boolean reset) {
    Map<Stage, Summary> st = new EnumMap<>(Stage.class);
    stages.forEach((k, h) -> st.put(k, Summary.of(h)));
    Map<Size, Summary> sz = new EnumMap<>(Size.class);
    sizes.forEach((k, h) -> sz.put(k, Summary.of(h)));
    Map<String, Summary> rt = new TreeMap<>();
    roundTrips.forEach((k, h) -> rt.put(k, Summary.of(h)));
    Snapshot s = new Snapshot(memberId, sinceMillis, Collections.unmodifiableMap(new LinkedHashMap<>(st)),
        Collections.unmodifiableMap(new LinkedHashMap<>(sz)), Collections.unmodifiableMap(rt), writes, entriesWritten,
        entriesCommitted);
    if (reset) {
      stages.values().forEach(Histogram::reset);
      sizes.values().forEach(Histogram::reset);
      roundTrips.clear();
      writes = 0;
      entriesWritten = 0;
      entriesCommitted = 0;
      sinceMillis = System.currentTimeMillis();
    }
    return s;
  }
}
