package io.raftactors.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import io.raftactors.core.RaftMessage.InstallSnapshot;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The decisions {@link RaftDriver} makes for every host: one write in flight and the rest batched
 * into the next, messages that depend on a write leaving after it, what a truncation does to a
 * batch (T3.8-01: an acknowledgement never claims entries that were never written; a snapshot
 * does not cancel the truncation of stale entries after it), when to snapshot (T5.1-02), and
 * client sessions: session entries go through the session table, which is part of every snapshot
 * (thesis 6.3, T5.1-15).
 * The randomized simulation runs the same driver under faults.
 */
class RaftDriverTest {

  private static final ClusterConfig THREE = ClusterConfig.of("n1", "n2", "n3");

  /** Records what the driver asks for; writes complete only when the test says so. */
  static final class Host implements RaftDriver.Host {
    final List<RaftDriver.Write> writes = new ArrayList<>();
    final List<Outbound> sent = new ArrayList<>();
    final List<Committed> applied = new ArrayList<>();
    final List<SessionTable.Decision> decisions = new ArrayList<>();
    final List<Snapshot> restored = new ArrayList<>();
    final List<ProposalOutcome> outcomes = new ArrayList<>();
    byte[] snapshotData = "state".getBytes(StandardCharsets.UTF_8);
    int snapshotsAsked;

    @Override
    public void send(Outbound o) {
      sent.add(o);
    }

    @Override
    public void write(RaftDriver.Write w) {
      writes.add(w);
    }

    @Override
    public void restore(Snapshot s) {
      restored.add(s);
    }

    /** Applies a command under a session with the result "r" + its index. */
    @Override
    public EntryData.Command apply(Committed c, SessionTable.Decision session) {
      applied.add(c);
      decisions.add(session);
      return session instanceof SessionTable.Apply ? result(c.entry().index()) : null;
    }

    @Override
    public void read(ReadState r) {}

    @Override
    public void outcome(ProposalOutcome o) {
      outcomes.add(o);
    }

    @Override
    public void violation(String v) {
      throw new AssertionError(v);
    }

    @Override
    public byte[] snapshot() {
      snapshotsAsked++;
      return snapshotData;
    }

    List<AppendEntriesResponse> acks() {
      List<AppendEntriesResponse> out = new ArrayList<>();
      for (Outbound o : sent) if (o.message() instanceof AppendEntriesResponse a && a.success()) out.add(a);
      return out;
    }
  }

  private static LogEntry cmd(long index, long term) {
    return new LogEntry(index, term, new EntryData.Command(0, "", ("c" + index).getBytes(StandardCharsets.UTF_8)));
  }

  private static RaftDriver follower(Host host, DurableState state) {
    return new RaftDriver(new RaftCore("n2", CoreFixture.settings(), CoreFixture.fixed(15), state), host, 0, 0, TIMEOUT);
  }

  private static final long TIMEOUT = 1_000;

  static EntryData.Command result(long index) {
    return new EntryData.Command(0, "", ("r" + index).getBytes(StandardCharsets.UTF_8));
  }

  private static EntryData.Command text(String s) {
    return new EntryData.Command(0, "", s.getBytes(StandardCharsets.UTF_8));
  }

  /** A one-voter group's leader, its driver snapshotting every {@code snapshotEvery} entries (0: never). */
  private static RaftDriver soleLeader(Host host, int snapshotEvery) {
    RaftCore core = new RaftCore("n1", CoreFixture.settings(), CoreFixture.fixed(10),
        DurableState.bootstrap(ClusterConfig.of("n1")));
    RaftDriver d = new RaftDriver(core, host, snapshotEvery, 0, TIMEOUT);
    while (core.role() != Role.LEADER) {
      core.tick();
      d.flush();
      completeAll(d, host);
    }
    return d;
  }

  /** Proposes {@code data}, commits and applies it; returns the decision the host got about it. */
  private static SessionTable.Decision commit(RaftDriver d, Host host, EntryData data) {
    long index = d.core().propose(data, 7);
    d.flush();
    completeAll(d, host);
    Committed last = host.applied.get(host.applied.size() - 1);
    assertEquals(index, last.entry().index(), "applied");
    return host.decisions.get(host.decisions.size() - 1);
  }

  @Test
  void sessions_T6_3_02_sessionEntriesGoThroughTheTable_aRepeatIsAnsweredWithTheFirstResult() {
    Host host = new Host();
    RaftDriver d = soleLeader(host, 0);
    SessionTable.Decision open = commit(d, host, new EntryData.OpenSession(100));
    long session = ((SessionTable.Opened) open).session();
    EntryData.SessionCommand c = new EntryData.SessionCommand(session, 1, 1, 110, text("put a"));
    SessionTable.Decision first = commit(d, host, c);
    assertEquals(new SessionTable.Apply(c.command()), first);
    long firstIndex = d.core().lastApplied();
    SessionTable.Decision again = commit(d, host, new EntryData.SessionCommand(session, 1, 1, 120, text("put a")));
    SessionTable.Duplicate dup = assertInstanceOf(SessionTable.Duplicate.class, again, "applied once");
    assertEquals(firstIndex, dup.response().index());
    assertEquals(result(firstIndex), dup.response().result(), "the result the host returned the first time");
    assertEquals(dup.response(), d.sessions().cached(session, 1), "the leader can answer a repeat from the table");
    assertEquals(new SessionTable.KeptAlive(session), commit(d, host, new EntryData.KeepAlive(session, 130)));
    assertInstanceOf(SessionTable.Expired.class, commit(d, host, new EntryData.KeepAlive(session + 1000, 140)));
    assertInstanceOf(SessionTable.Expired.class,
        commit(d, host, new EntryData.SessionCommand(session, 2, 2, 130 + TIMEOUT + 1, text("put b"))),
        "idle for longer than the timeout in logged time");
    assertNull(commit(d, host, text("plain")), "a user command is applied as it is");
  }

  @Test
  void idempotencyKeys_aKeyedCommandIsAppliedOnce_anotherPayloadUnderItsKeyIsRefused() {
    Host host = new Host();
    RaftDriver d = soleLeader(host, 0);
    EntryData.KeyedCommand k = new EntryData.KeyedCommand("key-1", 10, text("put a"));
    assertEquals(new SessionTable.Apply(k.command()), commit(d, host, k));
    long index = d.core().lastApplied();
    SessionTable.Duplicate dup = assertInstanceOf(SessionTable.Duplicate.class,
        commit(d, host, new EntryData.KeyedCommand("key-1", 20, text("put a"))));
    assertEquals(index, dup.response().index());
    assertInstanceOf(SessionTable.KeyReused.class, commit(d, host, new EntryData.KeyedCommand("key-1", 30, text("put b"))));
  }

  @Test
  void sessions_T5_1_15_theTableIsPartOfEverySnapshot_andComesBackAtStartAndWithAnInstalledSnapshot() {
    Host host = new Host();
    RaftDriver d = soleLeader(host, 4);
    long session = ((SessionTable.Opened) commit(d, host, new EntryData.OpenSession(100))).session();
    commit(d, host, new EntryData.SessionCommand(session, 1, 1, 110, text("put a")));
    long applied = d.core().lastApplied();
    while (d.core().snapshotIndex() < applied) commit(d, host, text("filler"));
    Snapshot snap = d.core().snapshot();
    NodeSnapshot.Parts parts = NodeSnapshot.unwrap(snap.data());
    assertArrayEquals(host.snapshotData, parts.stateMachine(), "the state machine's bytes, as the host gave them");
    assertArrayEquals(d.sessions().toBytes(), parts.sessions(), "the session table beside them");

    // Restarted from the snapshot: the table is back without replaying the log.
    RaftCore restarted = new RaftCore("n1", CoreFixture.settings(), CoreFixture.fixed(10),
        new DurableState(new HardState(d.core().term(), "n1"), snap.meta(), List.of(), snap.data()));
    RaftDriver again = new RaftDriver(restarted, new Host(), 0, 0, TIMEOUT);
    assertEquals(d.sessions().cached(session, 1), again.sessions().cached(session, 1));

    // Installed from a leader: the follower's table is replaced, and its host gets the state machine's part only.
    Host fh = new Host();
    RaftDriver f = follower(fh, DurableState.bootstrap(ClusterConfig.of("n1", "n2")));
    f.core().step(new InstallSnapshot(d.core().term(), "n1", snap.index(), snap.term(), ClusterConfig.of("n1", "n2"), 0,
        snap.data(), true, snap.data().length));
    f.flush();
    completeAll(f, fh);
    assertEquals(1, fh.restored.size(), "restored once");
    assertArrayEquals(host.snapshotData, fh.restored.get(0).data());
    assertEquals(d.sessions().cached(session, 1), f.sessions().cached(session, 1));
  }

  @Test
  void oneWriteInFlight_theRestBatchedIntoTheNext_acknowledgementsAfterTheirWrite() {
    Host host = new Host();
    RaftDriver d = follower(host, DurableState.bootstrap(THREE));
    d.core().step(new AppendEntries(1, "n1", 1, 0, List.of(cmd(2, 1)), 1));
    d.flush();
    assertEquals(1, host.writes.size(), "the first write starts at once");
    assertTrue(host.acks().isEmpty(), "no acknowledgement before the entry is durable");
    d.core().step(new AppendEntries(1, "n1", 2, 1, List.of(cmd(3, 1)), 1));
    d.flush();
    d.core().step(new AppendEntries(1, "n1", 3, 1, List.of(cmd(4, 1)), 1));
    d.flush();
    assertEquals(1, host.writes.size(), "no second write while one is in flight");
    assertEquals(2, d.pendingWrites());
    d.writeDone(1);
    d.flush();
    assertEquals(List.of(2L), host.acks().stream().map(AppendEntriesResponse::matchIndex).toList());
    assertEquals(2, host.writes.size());
    RaftDriver.Write second = host.writes.get(1);
    assertEquals(List.of(3L, 4L), second.entries().stream().map(LogEntry::index).toList(), "batched into one write");
    d.writeDone(2);
    d.flush();
    assertEquals(4, host.acks().get(host.acks().size() - 1).matchIndex());
    assertEquals(0, d.pendingWrites());
  }

  /**
   * With the host sending them ({@link RaftDriver#sendAfterDurable}), the acknowledgements a write
   * waits for go with the write, and the driver does not send them again when the write is done.
   * One that joins the write while it is in flight (nothing new to write, but it depends on entries
   * still in flight) is not in the write: the driver sends it at {@code writeDone}.
   */
  @Test
  void whenTheHostSendsThemTheAcknowledgementsGoWithTheirWrite_andLeaveOnce() {
    Host host = new Host();
    RaftDriver d = follower(host, DurableState.bootstrap(THREE));
    d.sendAfterDurable(true);
    d.core().step(new AppendEntries(1, "n1", 1, 0, List.of(cmd(2, 1)), 1));
    d.flush();
    RaftDriver.Write first = host.writes.get(0);
    assertEquals(List.of(2L), first.afterDurable().stream()
        .map(o -> ((AppendEntriesResponse) o.message()).matchIndex()).toList(), "the acknowledgement goes with its write");
    assertTrue(host.acks().isEmpty(), "and not before it is durable");
    d.core().step(new AppendEntries(1, "n1", 1, 0, List.of(cmd(2, 1)), 1)); // the same entry again
    d.flush();
    assertTrue(host.acks().isEmpty(), "the repeat depends on the write in flight too");
    d.writeDone(1);
    d.flush();
    assertEquals(List.of(2L), host.acks().stream().map(AppendEntriesResponse::matchIndex).toList(),
        "only the one that joined the write in flight leaves at writeDone; the write's own is the host's");

    Host plain = new Host();
    RaftDriver p = follower(plain, DurableState.bootstrap(THREE));
    p.core().step(new AppendEntries(1, "n1", 1, 0, List.of(cmd(2, 1)), 1));
    p.flush();
    assertTrue(plain.writes.get(0).afterDurable().isEmpty(), "off: the driver sends them");
    p.writeDone(1);
    p.flush();
    assertEquals(List.of(2L), plain.acks().stream().map(AppendEntriesResponse::matchIndex).toList());
  }

  /**
   * Entries 3 and 4 wait in the batch behind a write in flight; a new leader replaces entry 4 before
   * they are written. The acknowledgement of entry 4 (of the old leader) must never leave: storage
   * never held it, and the old leader could count it towards a commit.
   */
  @Test
  void anAcknowledgementOfEntriesTruncatedBeforeTheyWereWrittenIsDropped() {
    Host host = new Host();
    RaftDriver d = follower(host, DurableState.bootstrap(THREE));
    d.core().step(new AppendEntries(1, "n1", 1, 0, List.of(cmd(2, 1)), 1));
    d.flush();
    d.core().step(new AppendEntries(1, "n1", 2, 1, List.of(cmd(3, 1), cmd(4, 1)), 1));
    d.flush();
    d.core().step(new AppendEntries(2, "n3", 3, 1, List.of(cmd(4, 2)), 1));
    d.flush();
    d.writeDone(1);
    d.flush();
    d.writeDone(2);
    d.flush();
    for (AppendEntriesResponse a : host.acks()) {
      assertTrue(a.term() == 2 || a.matchIndex() <= 3, "acknowledged to the old leader: " + a);
    }
    assertTrue(host.acks().stream().anyMatch(a -> a.term() == 2 && a.matchIndex() == 4), host.acks().toString());
  }

  /**
   * Storage holds entries 2..6 of term 1. A new leader replaces them from index 2 (batched behind a
   * write in flight), then sends a snapshot at index 3 in the same batch. The write must still remove
   * the stale entries 4..6 after the snapshot: a snapshot replaces entries up to its index only.
   */
  @Test
  void aSnapshotBatchedAfterATruncationStillRemovesTheStaleEntriesAfterIt() {
    List<LogEntry> log = new ArrayList<>();
    log.add(new LogEntry(1, 0, new EntryData.Configuration(THREE)));
    for (long i = 2; i <= 6; i++) log.add(cmd(i, 1));
    Host host = new Host();
    RaftDriver d = follower(host, new DurableState(new HardState(1, null), SnapshotMeta.initial(THREE), log));
    d.core().step(new AppendEntries(2, "n1", 1, 0, List.of(), 0)); // term 2: a write in flight
    d.flush();
    assertEquals(1, host.writes.size());
    d.core().step(new AppendEntries(2, "n1", 1, 0, List.of(cmd(2, 2)), 0)); // replaces 2..6 with 2'
    d.flush();
    byte[] data = NodeSnapshot.wrap(new SessionTable(TIMEOUT).toBytes(), "snapshot-at-3".getBytes(StandardCharsets.UTF_8));
    d.core().step(new InstallSnapshot(2, "n1", 3, 2, THREE, 0, data, true, data.length));
    d.flush();
    d.writeDone(1);
    d.flush();
    RaftDriver.Write w = host.writes.get(1);
    assertEquals(3, w.snapshot().index());
    assertEquals(4, w.truncateFrom(), "entries after the snapshot are removed: " + w);
    assertTrue(w.entries().isEmpty());
  }

  @Test
  void aSnapshotIsTakenOnceTheConfiguredNumberOfEntriesIsApplied_T5_1_02() {
    Host host = new Host();
    RaftDriver d = soleLeader(host, 5);
    RaftCore core = d.core();
    long base = core.lastApplied();
    for (int i = 0; i < 4 - (int) base; i++) {
      core.propose(new EntryData.Command(0, "", new byte[] {1}), i + 1);
      d.flush();
      completeAll(d, host);
    }
    assertEquals(0, host.snapshotsAsked, "not before 5 entries are applied (" + core.lastApplied() + ")");
    for (int i = 0; i < 2; i++) {
      core.propose(new EntryData.Command(0, "", new byte[] {1}), 100 + i);
      d.flush();
      completeAll(d, host);
    }
    assertEquals(1, host.snapshotsAsked);
    assertEquals(5, core.snapshotIndex(), "the log is compacted at the entry applied when it was due");
    host.snapshotData = null; // a state machine that takes no snapshot: nothing compacted, not asked per entry
    for (int i = 0; i < 6; i++) {
      core.propose(new EntryData.Command(0, "", new byte[] {1}), 200 + i);
      d.flush();
      completeAll(d, host);
    }
    assertEquals(2, host.snapshotsAsked);
    assertEquals(5, core.snapshotIndex());
    assertNull(d.writeInFlight());
  }

  /** A leader of three whose followers both answered its first batch, so both are replicating. */
  private static RaftDriver replicatingLeader(Host host) {
    RaftCore core = new RaftCore("n1", CoreFixture.settings(), CoreFixture.fixed(10), DurableState.bootstrap(THREE));
    CoreFixture.ackAll(core, CoreFixture.elect(core));
    RaftDriver d = new RaftDriver(core, host, 0, 0, TIMEOUT);
    d.flush();
    completeAll(d, host);
    host.sent.clear();
    host.writes.clear();
    return d;
  }

  private static List<Long> appendedTo(Host host, String follower) {
    List<Long> out = new ArrayList<>();
    for (Outbound o : host.sent) {
      if (o.to().equals(follower) && o.message() instanceof AppendEntries ae) {
        for (LogEntry e : ae.entries()) out.add(e.index());
      }
    }
    return out;
  }

  private static List<Long> written(RaftDriver.Write w) {
    return w.entries().stream().map(LogEntry::index).toList();
  }

  @Test
  void aLeaderWritesNewEntriesWhenTheyLeaveForItsFollowers() {
    Host host = new Host();
    RaftDriver d = replicatingLeader(host);
    RaftCore core = d.core();
    long a = core.propose(text("a"), 1);
    d.flush();
    assertEquals(List.of(a), appendedTo(host, "n2"), "nothing in flight: sent at once");
    assertEquals(1, host.writes.size(), "and written at once");
    completeAll(d, host);
    // While the partial batch with a is unanswered, b and c gather for the next one: neither sent nor written.
    long b = core.propose(text("b"), 2);
    d.flush();
    long c = core.propose(text("c"), 3);
    d.flush();
    assertEquals(List.of(a), appendedTo(host, "n2"));
    assertEquals(1, host.writes.size(), "the leader waits to write b and c until they leave");
    // n2 answers: b and c leave for it together, and the leader writes them together.
    core.step(AppendEntriesResponse.success(core.term(), "n2", a));
    d.flush();
    assertEquals(List.of(a, b, c), appendedTo(host, "n2"));
    assertEquals(2, host.writes.size());
    assertEquals(List.of(b, c), written(host.writes.get(1)));
    completeAll(d, host);
    core.step(AppendEntriesResponse.success(core.term(), "n2", c));
    d.flush();
    assertEquals(c, core.commitIndex(), "committed with the leader's write and n2's");
  }

  @Test
  void aHeldLeaderWriteStartsOnceItsFollowersStall_andNeverInAGroupOfOne() {
    Host host = new Host();
    RaftDriver d = replicatingLeader(host);
    RaftCore core = d.core();
    core.propose(text("a"), 1);
    d.flush();
    completeAll(d, host);
    long b = core.propose(text("b"), 2);
    d.flush();
    assertEquals(1, host.writes.size(), "b waits for the answer to a");
    // No follower answers: after two heartbeat intervals they are probed again, and nothing holds b back.
    int ticks = 0;
    while (host.writes.size() == 1 && ticks++ < 4 * CoreFixture.settings().heartbeatInterval()) {
      core.tick();
      d.flush();
    }
    assertEquals(2, host.writes.size(), "written after " + ticks + " ticks");
    assertEquals(List.of(b), written(host.writes.get(1)));

    Host alone = new Host();
    RaftDriver sole = soleLeader(alone, 0);
    int before = alone.writes.size();
    sole.core().propose(text("x"), 1);
    sole.flush();
    assertEquals(before + 1, alone.writes.size(), "a group of one writes at once");
  }

  private static void completeAll(RaftDriver d, Host host) {
    while (d.writeInFlight() != null) {
      d.writeDone(d.writeInFlight().seq());
      d.flush();
    }
  }
}
