package io.raftactors.core;

import java.util.ArrayList;
import java.util.List;

/**
 * The in-memory view of a node's log: the entries after the last snapshot, indexed from
 * {@code snapshotIndex + 1}. Index 0 (or the snapshot point) always "matches", which is what lets
 * an empty follower accept the first AppendEntries.
 */
final class RaftLog {
  private long snapshotIndex;
  private long snapshotTerm;
  private final ArrayList<LogEntry> entries = new ArrayList<>();
  /** Indexes of the configuration entries held, so that finding the one in force never scans the log. */
  private final java.util.TreeSet<Long> configIndexes = new java.util.TreeSet<>();

  RaftLog(SnapshotMeta snapshot, List<LogEntry> initial) {
    this.snapshotIndex = snapshot.lastIncludedIndex();
    this.snapshotTerm = snapshot.lastIncludedTerm();
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

  long firstIndex() {
    return snapshotIndex + 1;
  }

  long lastIndex() {
    return snapshotIndex + entries.size();
  }

  long lastTerm() {
    return entries.isEmpty() ? snapshotTerm : entries.get(entries.size() - 1).term();
  }

  /** The term of the entry at {@code index}, or -1 if this log does not hold it (compacted or past the end). */
  long term(long index) {
    if (index == snapshotIndex) return snapshotTerm;
    if (index < snapshotIndex || index > lastIndex()) return -1;
    return entries.get((int) (index - snapshotIndex - 1)).term();
  }

  boolean matches(long index, long term) {
    return term(index) == term;
  }

  LogEntry entry(long index) {
    if (index <= snapshotIndex || index > lastIndex()) {
      throw new IndexOutOfBoundsException("no entry " + index + " in log (" + firstIndex() + ".." + lastIndex() + ")");
    }
    return entries.get((int) (index - snapshotIndex - 1));
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
    int from = (int) (index - snapshotIndex - 1);
    if (from < entries.size()) entries.subList(from, entries.size()).clear();
    configIndexes.tailSet(index, true).clear();
  }

  /** Discards the entries up to and including {@code index}, which a snapshot now covers. */
  void compactTo(long index, long term) {
    if (index <= snapshotIndex) return;
    int drop = (int) Math.min(entries.size(), index - snapshotIndex);
    entries.subList(0, drop).clear();
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
    while (i - 1 > snapshotIndex && term(i - 1) == t) i--;
    return i;
  }

  /** The last index at or below {@code upTo} whose term is {@code term}, or 0 if there is none. */
  long lastIndexOfTerm(long term, long upTo) {
    for (long i = Math.min(upTo, lastIndex()); i > snapshotIndex; i--) {
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
    return List.copyOf(entries.subList((int) (from - snapshotIndex - 1), entries.size()));
  }
}
