package io.raftactors.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Carries out what a {@link RaftCore} hands out, making the decisions every host of a core makes
 * the same way, in one place: the actor shell runs it, and so does the simulation, so that these
 * decisions are tested under seeded faults too. The host keeps timers, mailbox, transport and
 * storage; it feeds inputs to the core, then calls {@link #flush}.
 *
 * <ul>
 *   <li><b>Writes.</b> At most one storage write is in flight. Whatever the core hands out while it
 *       is (new entries, truncations, a snapshot, the hard state) is merged into the next write,
 *       so a busy node writes in batches of whatever arrived meanwhile (thesis 10.2.1) instead of
 *       one write per message. A leader's new entries that no follower has been sent yet, while a
 *       follower waits for the answer to a partial batch before it gets them, are written when
 *       they leave ({@link RaftCore#writeMayWaitForSend}): the leader then writes the batches its
 *       followers write, and its write still overlaps their round trip.
 *   <li><b>Persist before send.</b> Messages that depend on a write (a granted vote, an
 *       acknowledgement of entries, thesis 3.8) leave once that write, and every earlier one, is
 *       durable; the others leave at once. A host may send the ones a write carries itself, the moment
 *       it is durable ({@link #sendAfterDurable}). Nothing that waits for a write is sent if the write is
 *       lost (the host then drops the driver and recovers from storage). An acknowledgement whose
 *       entries a later truncation removes before they were written is dropped. A granted vote
 *       may leave after a write that holds a later term instead of the vote: the node can then
 *       never vote again in the vote's term, which is what makes a vote durable.
 *   <li><b>Snapshots.</b> Once the state machine has applied {@code snapshotAfterEntries} entries,
 *       or {@code snapshotAfterBytes} bytes of entries, since the last snapshot, the driver takes
 *       one ({@link Host#snapshot}) and the core compacts its log (paper section 7). A snapshot
 *       installed from the leader counts as the last one.
 *   <li><b>Client sessions.</b> The driver keeps the {@link SessionTable} (thesis 6.3) and
 *       applies every {@link EntryData.SessionEntry} through it, so a retried command is applied
 *       once and answered from the table afterwards. The table is part of every snapshot: the
 *       driver stores it next to the state machine's bytes ({@link NodeSnapshot}), loads it from
 *       the core's snapshot when it starts and from every snapshot installed from the leader, and
 *       hands the host only the state machine's part.
 *   <li><b>Ready order.</b> A snapshot installed from the leader is restored before the entries the
 *       same Ready commits; committed entries are applied before the reads of that Ready are
 *       served (a read is handed out once its index is applied); then outcomes are reported.
 * </ul>
 */
public final class RaftDriver {

  /** What the driver asks of its host. Each call happens on the host's thread, in order. */
  public interface Host {
    /**
     * Sees every Ready before the driver carries it out, and may return a changed one (tests use
     * this to check a core's output or to break it on purpose). The default returns it unchanged.
     */
    default Ready inspect(Ready ready) {
      return ready;
    }

    /** Sends {@code message} now (unreliably: the protocol copes with loss). */
    void send(Outbound message);

    /**
     * Starts {@code write}; the host calls {@link #writeDone} with its sequence number once it is
     * durable. A write that fails must not be reported done: the host stops the node instead.
     * If the host {@linkplain #sendAfterDurable sends the messages that wait for a write itself},
     * it sends {@link Write#afterDurable} as soon as the write is durable (from whatever thread
     * learns it first), and never if the write fails.
     */
    void write(Write write);

    /**
     * The state machine becomes the content of {@code snapshot}, installed from the leader; its
     * data is the state machine's part only. (At start, the host loads its state machine from
     * {@code NodeSnapshot.unwrap(data).stateMachine()} of the snapshot it recovered.)
     */
    void restore(Snapshot snapshot);

    /**
     * Applies a committed entry, in index order. For a {@link EntryData.SessionEntry} {@code
     * session} is what the session table decided, and null for every other entry:
     *
     * <ul>
     *   <li>{@link SessionTable.Apply}, or null for a plain {@link EntryData.Command}: apply the
     *       command. For an Apply, return its result serialized (null for a null result): the table
     *       keeps it to answer repeats. Otherwise the return value is ignored.
     *   <li>{@link SessionTable.Duplicate}: applied before, at the index it names; do not apply
     *       again, answer with the cached result.
     *   <li>{@link SessionTable.Expired}, {@link SessionTable.KeyReused}: not applied; the caller
     *       learns why.
     *   <li>{@link SessionTable.Opened}, {@link SessionTable.KeptAlive}: nothing to apply; the
     *       caller learns the outcome.
     * </ul>
     */
    EntryData.Command apply(Committed committed, SessionTable.Decision session);

    /** Serves a read whose index is applied (thesis 6.4). */
    void read(ReadState read);

    /** A proposal, read, membership change or transfer that ended without being applied. */
    void outcome(ProposalOutcome outcome);

    /** The core found one of its own invariants broken: the host logs it loudly. */
    void violation(String description);

    /**
     * The state machine's snapshot as of the last entry applied, or null if it takes none (then
     * the log is not compacted, and the driver does not ask again until the next threshold).
     */
    byte[] snapshot();
  }

  /**
   * One atomic storage write: in this order, the hard state (if not null), a snapshot (if not
   * null; it replaces every entry up to its index), a truncation from {@code truncateFrom} (if
   * &gt; 0), then {@code entries}. {@code afterDurable}: the messages the host sends once it is
   * durable, if it {@linkplain #sendAfterDurable sends them}; empty otherwise.
   */
  public record Write(long seq, HardState hardState, Snapshot snapshot, long truncateFrom, List<LogEntry> entries,
      List<Outbound> afterDurable) {
    public Write {
      entries = List.copyOf(entries);
      afterDurable = List.copyOf(afterDurable);
    }

    /** The last entry written, or null. */
    public LogEntry lastEntry() {
      return entries.isEmpty() ? null : entries.get(entries.size() - 1);
    }
  }

  private final RaftCore core;
  private final Host host;
  private final SessionTable sessions;
  private final long snapshotAfterEntries;
  private final long snapshotAfterBytes;
  private int catchUpEntries;
  private long catchUpBytes;
  private boolean hostSendsAfterDurable;
  private Batch inFlight;
  private Batch next;
  private long writeSeq;
  private long lastSnapshotIndex;
  private long bytesSinceSnapshot;

  /**
   * @param snapshotAfterEntries entries applied since the last snapshot that make the next one
   *     due; 0 or less: never snapshot
   * @param snapshotAfterBytes bytes of entries applied since the last snapshot that make the next
   *     one due (with snapshots on)
   * @param sessionTimeoutMillis a client session idle for longer than this, in logged time, expires
   */
  public RaftDriver(RaftCore core, Host host, long snapshotAfterEntries, long snapshotAfterBytes,
      long sessionTimeoutMillis) {
    this.core = Objects.requireNonNull(core, "core");
    this.host = Objects.requireNonNull(host, "host");
    this.sessions = new SessionTable(sessionTimeoutMillis);
    Snapshot recovered = core.snapshot();
    if (recovered != null && recovered.data().length > 0) {
      sessions.restore(NodeSnapshot.unwrap(recovered.data()).sessions()); // T5.1-15: with the state machine
    }
    this.snapshotAfterEntries = snapshotAfterEntries;
    this.snapshotAfterBytes = snapshotAfterBytes > 0 ? snapshotAfterBytes : Long.MAX_VALUE;
    this.lastSnapshotIndex = core.snapshotIndex();
  }

  /**
   * Each snapshot keeps the last entries it covers in memory, at most {@code entries} and
   * {@code bytes} of them (see {@link RaftCore#compact(long, byte[], int, long)}); 0: none, the default.
   */
  public void keepAfterSnapshot(int entries, long bytes) {
    if (entries < 0 || bytes < 0) throw new IllegalArgumentException("negative: " + entries + " entries, " + bytes + " bytes");
    this.catchUpEntries = entries;
    this.catchUpBytes = bytes;
  }

  /**
   * The messages that wait for a write (acknowledgements of entries, granted votes) go with it,
   * as {@link Write#afterDurable}, and the host sends them the moment the write is durable,
   * before it reports {@link #writeDone} on its own thread: an acknowledgement then leaves from
   * the thread that finished the write, without waiting for the host's thread to run. The
   * messages that join a write after it started still leave at {@link #writeDone}. Off (the
   * default): all of them leave at {@link #writeDone}.
   */
  public void sendAfterDurable(boolean hostSends) {
    this.hostSendsAfterDurable = hostSends;
  }

  public RaftCore core() {
    return core;
  }

  /**
   * The session table as of the last entry applied (read it, never change it: only committed
   * entries may). The leader uses it to answer a repeat it already knows without logging it again.
   */
  public SessionTable sessions() {
    return sessions;
  }

  /** Carries out everything the core has to hand out; call after every input to the core. */
  public void flush() {
    process(core.ready());
  }

  /**
   * Storage reports write {@code seq} durable: the core learns it, the messages that waited for it
   * leave, and the next write (everything batched meanwhile) starts. Like any input to the core,
   * it is followed by {@link #flush} (the core may commit, or answer, now that its entries are durable).
   */
  public void writeDone(long seq) {
    if (inFlight == null || inFlight.seq != seq) {
      throw new IllegalStateException("write " + seq + " completed, but the write in flight is "
          + (inFlight == null ? "none" : String.valueOf(inFlight.seq)));
    }
    Batch done = inFlight;
    inFlight = null;
    if (done.snapshot != null) core.persisted(done.snapshot.index(), done.snapshot.term());
    LogEntry last = done.lastEntry();
    if (last != null) core.persisted(last.index(), last.term());
    List<Outbound> waiting = done.afterPersist;
    // The write's own messages (none unless the host sends them) are the host's; those that joined it after it started leave now.
    for (int i = done.write.afterDurable().size(); i < waiting.size(); i++) host.send(waiting.get(i));
    startWrite();
  }

  /** The write in flight, or null. */
  public Write writeInFlight() {
    return inFlight == null ? null : inFlight.write;
  }

  /** Writes not yet durable: the one in flight and the batch waiting behind it (0, 1 or 2). */
  public int pendingWrites() {
    return (inFlight != null ? 1 : 0) + (next != null ? 1 : 0);
  }

  /** Messages waiting for a write to be durable. */
  public int messagesWaitingForWrites() {
    return (inFlight != null ? inFlight.afterPersist.size() : 0) + (next != null ? next.afterPersist.size() : 0);
  }

  private void process(Ready given) {
    Ready r = host.inspect(given);
    for (String v : r.violations()) host.violation(v);
    for (Outbound o : r.messages()) host.send(o);
    if (r.hasWrite()) {
      if (next == null) next = new Batch();
      if (r.truncateFrom() > 0) next.dropAcknowledgementsFrom(r.truncateFrom());
      next.add(r);
      next.afterPersist.addAll(r.messagesAfterPersist());
    } else if (!r.messagesAfterPersist().isEmpty()) {
      // Nothing new to write, but these may depend on a write still pending: they wait for the last one.
      Batch last = next != null ? next : inFlight;
      if (last != null) last.afterPersist.addAll(r.messagesAfterPersist());
      else for (Outbound o : r.messagesAfterPersist()) host.send(o);
    }
    startWrite();
    if (r.restore() != null) {
      // Installed from the leader, before this Ready's entries: the session table and the state machine.
      NodeSnapshot.Parts parts = NodeSnapshot.unwrap(r.restore().data());
      sessions.restore(parts.sessions());
      host.restore(new Snapshot(r.restore().meta(), parts.stateMachine()));
      lastSnapshotIndex = r.restore().index();
      bytesSinceSnapshot = 0;
    }
    for (Committed c : r.committed()) {
      apply(c);
      bytesSinceSnapshot += c.entry().sizeInBytes();
    }
    for (ReadState rs : r.reads()) host.read(rs); // after this Ready's entries are applied
    maybeSnapshot();
    for (ProposalOutcome o : r.outcomes()) host.outcome(o);
  }

  /** Thesis 6.3: a session entry is applied through the session table, every other entry as it is. */
  private void apply(Committed c) {
    if (!(c.entry().data() instanceof EntryData.SessionEntry e)) {
      host.apply(c, null);
      return;
    }
    SessionTable.Decision d = sessions.decide(c.entry().index(), e);
    EntryData.Command result = host.apply(c, d);
    if (d instanceof SessionTable.Apply) sessions.complete(c.entry().index(), e, result);
  }

  /** T5.1-02: a snapshot once enough entries, or bytes, were applied since the last one. */
  private void maybeSnapshot() {
    if (snapshotAfterEntries <= 0) return;
    long applied = core.lastApplied();
    boolean due = applied - lastSnapshotIndex >= snapshotAfterEntries || bytesSinceSnapshot >= snapshotAfterBytes;
    if (!due || applied <= core.snapshotIndex()) return;
    byte[] data = host.snapshot();
    lastSnapshotIndex = applied; // also when the state machine takes none: do not ask again for every entry
    bytesSinceSnapshot = 0;
    if (data == null) return;
    // T5.1-15: the session table too
    core.compact(applied, NodeSnapshot.wrap(sessions.toBytes(), data), catchUpEntries, catchUpBytes);
    process(core.ready());
  }

  private void startWrite() {
    if (inFlight != null || next == null) return;
    if (next.onlyEntries() && core.writeMayWaitForSend(next.entries.get(0).index())) return; // leaves with them
    inFlight = next;
    next = null;
    inFlight.seq = ++writeSeq;
    inFlight.write = new Write(inFlight.seq, inFlight.hardState, inFlight.snapshot, inFlight.truncateFrom, inFlight.entries,
        hostSendsAfterDurable ? inFlight.afterPersist : List.of());
    host.write(inFlight.write);
  }

  /** The output of several Readys, merged into one write. */
  private static final class Batch {
    long seq;
    Write write;
    HardState hardState;
    Snapshot snapshot;
    long truncateFrom;
    final ArrayList<LogEntry> entries = new ArrayList<>();
    final List<Outbound> afterPersist = new ArrayList<>();

    void add(Ready r) {
      if (r.hardState() != null) hardState = r.hardState();
      if (r.snapshot() != null) {
        // A later snapshot replaces an earlier one of this batch and covers its entries up to it.
        // A truncation below it still removes what storage holds after it (stale entries that the
        // snapshot does not cover must not outlive the write).
        long at = r.snapshot().index();
        snapshot = r.snapshot();
        entries.removeIf(e -> e.index() <= at);
        if (truncateFrom > 0 && truncateFrom <= at) truncateFrom = at + 1;
      }
      long t = r.truncateFrom();
      if (t > 0) {
        if (!entries.isEmpty() && t >= entries.get(0).index()) {
          // The truncation only undoes entries of this batch that never reached storage.
          entries.subList((int) (t - entries.get(0).index()), entries.size()).clear();
        } else {
          entries.clear();
          truncateFrom = truncateFrom == 0 ? t : Math.min(truncateFrom, t);
        }
      }
      entries.addAll(r.entries());
    }

    LogEntry lastEntry() {
      return entries.isEmpty() ? null : entries.get(entries.size() - 1);
    }

    /** New entries and nothing else: no hard state, snapshot, truncation, or message waiting for it. */
    boolean onlyEntries() {
      return !entries.isEmpty() && hardState == null && snapshot == null && truncateFrom == 0 && afterPersist.isEmpty();
    }

    /**
     * A truncation from {@code index} undoes entries this batch was to write: an acknowledgement
     * waiting for them would claim entries that never reach storage, and a leader could count it
     * towards a commit. It is dropped, as the network could have dropped it; the leader asks again.
     */
    void dropAcknowledgementsFrom(long index) {
      afterPersist.removeIf(o -> o.message() instanceof RaftMessage.AppendEntriesResponse a && a.success()
          && a.matchIndex() >= index);
    }
  }
}
