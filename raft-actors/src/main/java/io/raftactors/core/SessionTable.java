package io.raftactors.core;

import io.raftactors.core.EntryData.Command;
import io.raftactors.core.EntryData.KeepAlive;
import io.raftactors.core.EntryData.KeyedCommand;
import io.raftactors.core.EntryData.OpenSession;
import io.raftactors.core.EntryData.SessionCommand;
import io.raftactors.core.EntryData.SessionEntry;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;

/**
 * Client sessions (thesis 6.3): the replicated part of exactly-once command execution. Every
 * replica feeds it the same committed entries in the same order and so holds the same table.
 *
 * <p>A session is opened by a log entry; its id is that entry's index. Each command of a session
 * carries a sequence number, the lowest sequence number the client has not yet seen answered, and
 * the leader's clock when it was proposed. The table remembers the answer to every sequence number
 * the client may still retry, so a retried command is answered from the cache and not applied
 * again; answers below the client's lowest unanswered number are dropped. Time is the largest
 * logged time seen so far (it never runs backwards, whatever the leaders' clocks do), and a
 * session idle for longer than the timeout in that time expires at the same log index everywhere.
 * No replica reads its own clock.
 *
 * <p>A session may also be named by the client instead of by a log index: an idempotency key (the
 * {@code Idempotency-Key} of an HTTP request, or a local proposal's idempotency key). Such a
 * session is opened by its first command and holds exactly one command: a later command with the
 * same key is answered with the first answer and not applied again, however it reaches the log and
 * whichever leader logs it. It expires like any other session, and a command with the same key but a
 * different payload is refused, so a key reused by mistake cannot return another request's answer.
 *
 * <p>The {@link RaftDriver} keeps the table and feeds it the {@link SessionEntry session entries} it
 * applies ({@link #decide}); the table is part of every snapshot the driver takes. Results are kept
 * serialized, in the form of a {@link Command} (serializer id, manifest, bytes).
 */
public final class SessionTable {

  /** What to do with a committed session entry. */
  public sealed interface Decision {}

  /** Apply {@code command} (it is new), then {@link #complete} it with its result. */
  public record Apply(Command command) implements Decision {}

  /** A session was opened by this entry; its id is the entry's index. */
  public record Opened(long session) implements Decision {}

  /** A keep-alive found its session alive. */
  public record KeptAlive(long session) implements Decision {}

  /** Do not apply: answer with the cached response. */
  public record Duplicate(Response response) implements Decision {}

  /** Do not apply: the session is unknown or expired, or the answer was already dropped. */
  public record Expired(String reason) implements Decision {}

  /** Do not apply: the idempotency key was used for a command with a different payload. */
  public record KeyReused(String reason) implements Decision {}

  /** A cached answer: the serialized result (null for a null result) and the index it was applied at. */
  public record Response(long index, Command result) {}

  private static final class Session {
    long lastActive;
    long lowestUnacked;
    /** Keyed sessions: a digest of the payload of their one command (0 for numbered sessions). */
    long fingerprint;
    final TreeMap<Long, Response> responses = new TreeMap<>();
  }

  /** The sequence number of the one command of a keyed session. */
  private static final long KEYED_SEQ = 1;

  private final long timeoutMillis;
  private final TreeMap<Long, Session> sessions = new TreeMap<>();
  /** Sessions named by an idempotency key. */
  private final TreeMap<String, Session> keyed = new TreeMap<>();
  /** Bytes held by keyed sessions (keys and cached answers), for the leader's admission limit. */
  private long keyedBytes;
  private long time;
  private long nextSweep;

  /** @param timeoutMillis a session idle for longer than this (in logged time) expires */
  public SessionTable(long timeoutMillis) {
    if (timeoutMillis <= 0) throw new IllegalArgumentException("session timeout must be positive");
    this.timeoutMillis = timeoutMillis;
  }

  /**
   * Decides about the session entry committed at {@code index}. After an {@link Apply}, the caller
   * applies the command and calls {@link #complete} with the result.
   */
  public Decision decide(long index, SessionEntry e) {
    if (e instanceof OpenSession o) return new Opened(open(index, o.time()));
    if (e instanceof KeepAlive k) {
      return keepAlive(k) ? new KeptAlive(k.session()) : new Expired("session " + k.session() + " is unknown or expired");
    }
    if (e instanceof SessionCommand c) return begin(c);
    return begin((KeyedCommand) e);
  }

  /** Records the result of a command applied after an {@link Apply} of {@code e}, at {@code index}. */
  public void complete(long index, SessionEntry e, Command result) {
    Response r = new Response(index, result);
    if (e instanceof SessionCommand c) complete(c, r);
    else if (e instanceof KeyedCommand k) complete(k, r);
    else throw new IllegalArgumentException("nothing to complete for " + e);
  }

  /** Opens a session whose id is {@code index}, the index of its OpenSession entry. */
  public long open(long index, long loggedTime) {
    advance(loggedTime);
    Session s = new Session();
    s.lastActive = time;
    sessions.put(index, s);
    return index;
  }

  /**
   * Applies a committed keep-alive: the session counts as active at its logged time. Returns false
   * (and changes nothing else) if the session is unknown or has already expired.
   */
  public boolean keepAlive(KeepAlive k) {
    return touch(k.session(), k.time()) != null;
  }

  /** Decides about a committed session command; call {@link #complete} after applying an {@link Apply}. */
  public Decision begin(SessionCommand c) {
    Session s = touch(c.session(), c.time());
    if (s == null) return new Expired("session " + c.session() + " is unknown or expired");
    if (c.lowestUnacked() > s.lowestUnacked) {
      s.lowestUnacked = c.lowestUnacked();
      s.responses.headMap(s.lowestUnacked, false).clear(); // T6.3-04: the client has seen these answers
    }
    Response cached = s.responses.get(c.seq());
    if (cached != null) return new Duplicate(cached);
    if (c.seq() < s.lowestUnacked) {
      return new Expired("request " + c.seq() + " of session " + c.session() + " is older than its lowest unanswered "
          + s.lowestUnacked + "; its answer is gone");
    }
    return new Apply(c.command());
  }

  /**
   * Decides about a committed keyed command: {@link Apply} the first time its key is seen (call
   * {@link #complete(KeyedCommand, Response)} after applying it), {@link Duplicate} with the first
   * answer afterwards, {@link KeyReused} if the key's command had another payload.
   */
  public Decision begin(KeyedCommand c) {
    advance(c.time());
    Session s = keyed.get(c.key());
    if (s != null && expired(s)) {
      dropKeyed(c.key(), s);
      s = null;
    }
    if (s == null) return new Apply(c.command());
    s.lastActive = time;
    if (s.fingerprint != fingerprint(c.command())) {
      return new KeyReused("idempotency key '" + c.key() + "' was already used for a different request");
    }
    Response first = s.responses.get(KEYED_SEQ);
    // A keyed session is created with its answer, in one step, so it always has one.
    return new Duplicate(first);
  }

  /** Records the answer to an applied keyed command; its key now names a session of its own. */
  public void complete(KeyedCommand c, Response r) {
    putKeyed(c.key(), time, fingerprint(c.command()), r);
  }

  private void putKeyed(String key, long lastActive, long fingerprint, Response r) {
    Session s = new Session();
    s.lastActive = lastActive;
    s.fingerprint = fingerprint;
    s.responses.put(KEYED_SEQ, r);
    Session old = keyed.put(key, s);
    if (old != null) keyedBytes -= keyedSize(key, old);
    keyedBytes += keyedSize(key, s);
  }

  /**
   * The answer cached for {@code key} if a command with this payload was applied under it, or null.
   * Only a hint for the leader (a replica that has not applied everything may not know the key yet).
   */
  public Response cached(String key, Command command) {
    Session s = keyed.get(key);
    if (s == null || expired(s) || s.fingerprint != fingerprint(command)) return null;
    return s.responses.get(KEYED_SEQ);
  }

  /** Live idempotency keys. */
  public int keyCount() {
    return keyed.size();
  }

  /** Bytes held by live idempotency keys and their answers. */
  public long keyBytes() {
    return keyedBytes;
  }

  private void dropKeyed(String key, Session s) {
    keyed.remove(key);
    keyedBytes -= keyedSize(key, s);
  }

  private static long keyedSize(String key, Session s) {
    Response r = s.responses.get(KEYED_SEQ);
    return 64L + 2L * key.length() + (r == null || r.result() == null ? 0 : r.result().bytes().length + r.result().manifest().length());
  }

  /**
   * A 64-bit digest of a serialized command (FNV-1a over serializer id, manifest and bytes); the same
   * on every replica, since it is computed from the logged bytes.
   */
  static long fingerprint(Command p) {
    long h = 0xcbf29ce484222325L;
    h = (h ^ p.serializerId()) * 0x100000001b3L;
    for (int i = 0; i < p.manifest().length(); i++) h = (h ^ p.manifest().charAt(i)) * 0x100000001b3L;
    for (byte b : p.bytes()) h = (h ^ (b & 0xff)) * 0x100000001b3L;
    return h == 0 ? 1 : h;
  }

  /**
   * Moves logged time to {@code loggedTime} and marks {@code session} active then; returns it, or
   * null (dropping it) if it is unknown or has expired.
   */
  private Session touch(long session, long loggedTime) {
    advance(loggedTime);
    Session s = sessions.get(session);
    if (s == null || expired(s)) {
      sessions.remove(session);
      return null;
    }
    s.lastActive = time;
    return s;
  }

  /** Records the answer to an applied command. */
  public void complete(SessionCommand c, Response r) {
    Session s = sessions.get(c.session());
    if (s != null) s.responses.put(c.seq(), r);
  }

  /** The answer cached for {@code seq} of {@code session}, or null. */
  public Response cached(long session, long seq) {
    Session s = sessions.get(session);
    return s == null ? null : s.responses.get(seq);
  }

  public boolean isOpen(long session) {
    return sessions.containsKey(session);
  }

  /** The logged time: the largest time of any entry applied so far. */
  public long time() {
    return time;
  }

  /** Open numbered sessions (keyed sessions are counted by {@link #keyCount}). */
  public int size() {
    return sessions.size();
  }

  /**
   * Time only moves forward (T6.3-07); sessions idle past the timeout expire (T6.3-05). A session
   * is checked whenever it is used, and the whole table is swept every tenth of the timeout of
   * logged time to free memory; both depend only on logged times, so every replica agrees.
   */
  private void advance(long loggedTime) {
    if (loggedTime > time) time = loggedTime;
    if (time < nextSweep) return;
    nextSweep = time + Math.max(1, timeoutMillis / 10);
    for (Iterator<Map.Entry<Long, Session>> it = sessions.entrySet().iterator(); it.hasNext(); ) {
      if (expired(it.next().getValue())) it.remove();
    }
    for (Iterator<Map.Entry<String, Session>> it = keyed.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<String, Session> e = it.next();
      if (expired(e.getValue())) {
        keyedBytes -= keyedSize(e.getKey(), e.getValue());
        it.remove();
      }
    }
  }

  private boolean expired(Session s) {
    return time - s.lastActive > timeoutMillis;
  }

  // ------------------------------------------------------------------ snapshots

  /** The whole table, for a state machine snapshot. */
  public byte[] toBytes() {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      DataOutputStream out = new DataOutputStream(bytes);
      out.writeLong(time);
      out.writeLong(nextSweep);
      out.writeInt(sessions.size());
      for (Map.Entry<Long, Session> e : sessions.entrySet()) {
        Session s = e.getValue();
        out.writeLong(e.getKey());
        out.writeLong(s.lastActive);
        out.writeLong(s.lowestUnacked);
        out.writeInt(s.responses.size());
        for (Map.Entry<Long, Response> r : s.responses.entrySet()) {
          out.writeLong(r.getKey());
          out.writeLong(r.getValue().index());
          writeResult(out, r.getValue().result());
        }
      }
      // Keyed sessions follow; a table written before they existed simply ends here.
      out.writeInt(keyed.size());
      for (Map.Entry<String, Session> e : keyed.entrySet()) {
        Session s = e.getValue();
        Response r = s.responses.get(KEYED_SEQ);
        out.writeUTF(e.getKey());
        out.writeLong(s.lastActive);
        out.writeLong(s.fingerprint);
        out.writeLong(r.index());
        writeResult(out, r.result());
      }
      out.flush();
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Replaces the table with one from {@link #toBytes}. */
  public void restore(byte[] data) {
    try {
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(data));
      sessions.clear();
      keyed.clear();
      keyedBytes = 0;
      time = in.readLong();
      nextSweep = in.readLong();
      int n = in.readInt();
      for (int i = 0; i < n; i++) {
        long id = in.readLong();
        Session s = new Session();
        s.lastActive = in.readLong();
        s.lowestUnacked = in.readLong();
        int m = in.readInt();
        for (int j = 0; j < m; j++) {
          long seq = in.readLong();
          long index = in.readLong();
          s.responses.put(seq, new Response(index, readResult(in)));
        }
        sessions.put(id, s);
      }
      if (in.available() > 0) {
        int k = in.readInt();
        for (int i = 0; i < k; i++) {
          String key = in.readUTF();
          long lastActive = in.readLong();
          long fingerprint = in.readLong();
          long index = in.readLong();
          putKeyed(key, lastActive, fingerprint, new Response(index, readResult(in)));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("corrupt session table in snapshot", e);
    }
  }

  static void writeResult(DataOutputStream out, Command p) throws IOException {
    out.writeBoolean(p != null);
    if (p == null) return;
    out.writeInt(p.serializerId());
    out.writeUTF(p.manifest());
    out.writeInt(p.bytes().length);
    out.write(p.bytes());
  }

  static Command readResult(DataInputStream in) throws IOException {
    if (!in.readBoolean()) return null;
    int id = in.readInt();
    String manifest = in.readUTF();
    byte[] b = new byte[in.readInt()];
    in.readFully(b);
    return new Command(id, manifest, b);
  }
}
