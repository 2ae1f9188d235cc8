package io.raftactors.core;

import java.util.ArrayList;
import java.util.List;

/**
 * The in-memory view of a node's log: the entries after {@code startIndex}, the point before the
 * first entry held. That is the snapshot point, or, after a snapshot that kept some entries it
 * covers ({@link #snapshotAt}), a point before it: those entries are committed and applied, and are
 * kept only so that a follower a little behind catches up from the log instead of receiving the
 * snapshot. Index 0 (or the start point) always "matches", which is what lets an empty follower
 * accept the first AppendEntries.
 */
final class RaftLog {
  private long snapshotIndex;
  private long snapshotTerm;
  private long startIndex;
  private long startTerm;
  private final ArrayList<LogEntry> entries = new ArrayList<>();
  /** Indexes of the configuration entries held, so that finding the one in force never scans the log. */
  private final java.util.TreeSet<Long> configIndexes = new java.util.TreeSet<>();

  RaftLog(SnapshotMeta snapshot, List<LogEntry> initial) {
    this.snapshotIndex = snapshot.lastIncludedIndex();
    this.snapshotTerm = snapshot.lastIncludedTerm();
    this.startIndex = snapshotIndex;
    this.startTerm = snapshotTerm;
    for (LogEntry e : initial) {
      entries.add(e);
      noteConfig(e);
    }
  }

  private void noteConfig(LogEntry e) {
    if (e.data() instanceof EntryData.Configuration) configIndexes.add(e.index());
  }

  long snapshotIndex() {
    return snapshotIndex;
  }

  long snapshotTerm() {
    return snapshotTerm;
  }

  /** The index before the first entry held: the snapshot point, or before it when entries it covers are kept. */
  long startIndex() {
    return startIndex;
  }

  long firstIndex() {
    return startIndex + 1;
  }

  long lastIndex() {
    return startIndex + entries.size();
  }

  long lastTerm() {
    return entries.isEmpty() ? startTerm : entries.get(entries.size() - 1).term();
  }

  /** The term of the entry at {@code index}, or -1 if this log does not hold it (compacted or past the end). */
  long term(long index) {
    if (index == startIndex) return startTerm;
    if (index < startIndex || index > lastIndex()) return -1;
    return entries.get((int) (index - startIndex - 1)).term();
  }

  boolean matches(long index, long term) {
    return term(index) == term;
  }

  LogEntry entry(long index) {
    if (index <= startIndex || index > lastIndex()) {
      throw new IndexOutOfBoundsException("no entry " + index + " in log (" + firstIndex() + ".." + lastIndex() + ")");
    }
    return entries.get((int) (index - startIndex - 1));
  }

  void append(LogEntry e) {
    if (e.index() != lastIndex() + 1) {
      throw new IllegalStateException("append out of order: " + e.index() + " after " + lastIndex());
    }
    entries.add(e);
    noteConfig(e);
  }

  /** Removes the entries from {@code index} on. */
  void truncateFrom(long index) {
    if (index <= snapshotIndex) throw new IllegalStateException("cannot truncate into the snapshot at " + index);
    int from = (int) (index - startIndex - 1);
    if (from < entries.size()) entries.subList(from, entries.size()).clear();
    configIndexes.tailSet(index, true).clear();
  }

  /** Discards the entries up to and including {@code index}, which a snapshot now covers. */
  void compactTo(long index, long term) {
    snapshotAt(index, term, index + 1);
  }

  /**
   * A snapshot now covers the entries up to and including {@code index}: they are discarded up to
   * {@code keepFrom - 1}, and those from {@code keepFrom} on are kept (committed and applied, for
   * followers catching up). {@code keepFrom} is at most {@code index + 1}; entries already gone stay gone.
   */
  void snapshotAt(long index, long term, long keepFrom) {
    if (index <= snapshotIndex) return;
    if (keepFrom > index + 1) throw new IllegalArgumentException("keepFrom " + keepFrom + " past the snapshot at " + index);
    long newStart = Math.max(startIndex, keepFrom - 1);
    if (newStart > startIndex) {
      long newStartTerm = newStart == index ? term : term(newStart);
      int drop = (int) Math.min(entries.size(), newStart - startIndex);
      entries.subList(0, drop).clear();
      startIndex = newStart;
      startTerm = newStartTerm;
    }
    configIndexes.headSet(index, true).clear();
    snapshotIndex = index;
    snapshotTerm = term;
  }

  /** Entries from {@code from} to {@code to} inclusive, at most {@code maxEntries} and (past the first) {@code maxBytes}. */
  List<LogEntry> slice(long from, long to, int maxEntries, int maxBytes) {
    List<LogEntry> out = new ArrayList<>();
    long bytes = 0;
    for (long i = from; i <= to && out.size() < maxEntries; i++) {
      LogEntry e = entry(i);
      bytes += e.sizeInBytes();
      if (!out.isEmpty() && bytes > maxBytes) break;
      out.add(e);
    }
    return out;
  }

  /** The first index of the run of entries with term {@code term} that contains {@code index}. */
  long firstIndexOfTermAt(long index) {
    long t = term(index);
    long i = index;
    while (i - 1 > snapshotIndex && term(i - 1) == t) i--; // a hint stops at the snapshot, kept entries or not
    return i;
  }

  /** The last index at or below {@code upTo} whose term is {@code term}, or 0 if there is none. */
  long lastIndexOfTerm(long term, long upTo) {
    for (long i = Math.min(upTo, lastIndex()); i > startIndex; i--) {
      long t = term(i);
      if (t == term) return i;
      if (t < term) return 0;
    }
    return 0;
  }

  /** The latest configuration entry at or below {@code upTo}, or null if the log holds none. */
  LogEntry latestConfigEntry(long upTo) {
    Long i = configIndexes.floor(Math.min(upTo, lastIndex()));
    return i == null || i <= snapshotIndex ? null : entry(i);
  }

  List<LogEntry> entriesFrom(long from) {
    if (from > lastIndex()) return List.of();
    return List.copyOf(entries.subList((int) (from - startIndex - 1), entries.size()));
  }
}
