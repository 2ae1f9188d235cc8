package io.raftactors.actor;

import akka.serialization.Serialization;
import io.raftactors.core.EntryData;
import io.raftactors.core.LogEntry;
import io.raftactors.core.RaftMessage;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads session entries of the old form ({@link SessionTable}'s records inside user commands) as
 * the {@link EntryData.SessionEntry session entries} they stand for: entries recovered from the
 * journal and entries received from peers pass through here before the core sees them. Other
 * entries cost one manifest comparison.
 */
final class LegacySessionEntries {

  private LegacySessionEntries() {}

  /** Every manifest of the old form starts with this (the records' binary class names). */
  private static final String MANIFEST_PREFIX = SessionTable.class.getName() + "$";

  /** {@code entries}, each old-form session entry replaced by the entry it stands for; the same list if there is none. */
  static List<LogEntry> upgrade(List<LogEntry> entries, Serialization serialization) {
    List<LogEntry> out = null;
    for (int i = 0; i < entries.size(); i++) {
      LogEntry e = entries.get(i);
      EntryData d = upgrade(e.index(), e.data(), serialization);
      if (d != e.data() && out == null) out = new ArrayList<>(entries.subList(0, i));
      if (out != null) out.add(d == e.data() ? e : new LogEntry(e.index(), e.term(), d));
    }
    return out == null ? entries : out;
  }

  /** {@code m}, or the same AppendEntries with its old-form session entries upgraded. */
  static RaftMessage upgrade(RaftMessage m, Serialization serialization) {
    if (!(m instanceof RaftMessage.AppendEntries a) || a.entries().isEmpty()) return m;
    List<LogEntry> entries = upgrade(a.entries(), serialization);
    return entries == a.entries() ? m
        : new RaftMessage.AppendEntries(a.term(), a.from(), a.prevLogIndex(), a.prevLogTerm(), entries, a.leaderCommit(),
            a.round());
  }

  private static EntryData upgrade(long index, EntryData d, Serialization serialization) {
    if (!(d instanceof EntryData.Command c) || !c.manifest().startsWith(MANIFEST_PREFIX)) return d;
    Object old;
    try {
      old = serialization.deserialize(c.bytes(), c.serializerId(), c.manifest()).get();
    } catch (Exception ex) {
      // Every replica would fail the same way; halting is better than applying it as a user command.
      throw new IllegalStateException("cannot read the old-form session entry at index " + index + " (manifest '"
          + c.manifest() + "')", ex);
    }
    if (old instanceof SessionTable.OpenSession o) return new EntryData.OpenSession(o.time());
    if (old instanceof SessionTable.KeepAlive k) return new EntryData.KeepAlive(k.session(), k.time());
    if (old instanceof SessionTable.SessionCommand s) {
      return new EntryData.SessionCommand(s.session(), s.seq(), s.lowestUnacked(), s.time(), command(s.command()));
    }
    if (old instanceof SessionTable.KeyedCommand k) return new EntryData.KeyedCommand(k.key(), k.time(), command(k.command()));
    throw new IllegalStateException("unknown old-form session entry at index " + index + ": " + old);
  }

  private static EntryData.Command command(Payload p) {
    return new EntryData.Command(p.serializerId(), p.manifest(), p.bytes());
  }
}
