package io.raftactors.actor;

/**
 * Test-side access to the package-private {@link SessionTable} and {@link NodeSnapshot} for state
 * machines outside this package, such as the simulation's key-value workload. It only forwards to
 * the real table, so those tests exercise the same exactly-once logic the node runs. Commands and
 * results are plain bytes here; they travel inside the table as {@link Payload}s.
 */
public final class SessionTableBridge {

  /** What the table decided about a committed session command. */
  public enum Verdict { APPLY, DUPLICATE, EXPIRED }

  /**
   * A decision: for {@link Verdict#DUPLICATE} the cached result (null for a null result) and the
   * index it was first applied at; for {@link Verdict#EXPIRED} the table's reason.
   */
  public record Decision(Verdict verdict, byte[] cachedResult, long cachedIndex, String reason) {}

  private static final int SERIALIZER_ID = 4; // any fixed id: the table stores, never interprets it
  private static final String MANIFEST = "bytes";

  private final SessionTable table;

  /** @param timeout a session idle for longer than this, in logged time, expires */
  public SessionTableBridge(long timeout) {
    this.table = new SessionTable(timeout);
  }

  /** Applies a committed open-session entry at {@code index}; returns the session id. */
  public long open(long index, long loggedTime) {
    return table.open(index, loggedTime);
  }

  /** Decides about a committed session command; after {@link Verdict#APPLY} call {@link #complete}. */
  public Decision begin(long session, long seq, long lowestUnacked, long loggedTime, byte[] command) {
    SessionTable.Decision d = table.begin(command(session, seq, lowestUnacked, loggedTime, command));
    if (d instanceof SessionTable.Duplicate dup) {
      Payload p = dup.response().result();
      return new Decision(Verdict.DUPLICATE, p == null ? null : p.bytes(), dup.response().index(), null);
    }
    if (d instanceof SessionTable.Expired ex) return new Decision(Verdict.EXPIRED, null, -1, ex.reason());
    return new Decision(Verdict.APPLY, null, -1, null);
  }

  /** Records the result of the command {@code (session, seq)} applied at {@code index}. */
  public void complete(long session, long seq, long index, byte[] result) {
    table.complete(command(session, seq, 0, 0, new byte[0]),
        new SessionTable.Response(index, result == null ? null : payload(result)));
  }

  /** The result cached for {@code (session, seq)}, or null if there is none (or it is a null result). */
  public byte[] cached(long session, long seq) {
    SessionTable.Response r = table.cached(session, seq);
    return r == null || r.result() == null ? null : r.result().bytes();
  }

  public boolean isOpen(long session) {
    return table.isOpen(session);
  }

  public int size() {
    return table.size();
  }

  /** The largest logged time applied so far. */
  public long time() {
    return table.time();
  }

  /** A node snapshot as the node writes it: this table next to the state machine's own bytes. */
  public byte[] snapshot(byte[] stateMachine) {
    return NodeSnapshot.wrap(table.toBytes(), stateMachine);
  }

  /** Loads a node snapshot into this table; returns the state machine's part of it. */
  public byte[] restore(byte[] nodeSnapshot) {
    NodeSnapshot.Parts parts = NodeSnapshot.unwrap(nodeSnapshot);
    table.restore(parts.sessions());
    return parts.stateMachine();
  }

  private static SessionTable.SessionCommand command(long session, long seq, long lowestUnacked, long time, byte[] c) {
    return new SessionTable.SessionCommand(session, seq, lowestUnacked, time, payload(c));
  }

  private static Payload payload(byte[] b) {
    return new Payload(SERIALIZER_ID, MANIFEST, b);
  }
}
