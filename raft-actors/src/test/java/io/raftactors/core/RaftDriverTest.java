package io.raftactors.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
 * does not cancel the truncation of stale entries after it), and when to snapshot (T5.1-02).
 * The randomized simulation runs the same driver under faults.
 */
class RaftDriverTest {

  private static final ClusterConfig THREE = ClusterConfig.of("n1", "n2", "n3");

  /** Records what the driver asks for; writes complete only when the test says so. */
  static final class Host implements RaftDriver.Host {
    final List<RaftDriver.Write> writes = new ArrayList<>();
    final List<Outbound> sent = new ArrayList<>();
    final List<Committed> applied = new ArrayList<>();
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
    public void restore(Snapshot s) {}

    @Override
    public void apply(Committed c) {
      applied.add(c);
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
    return new RaftDriver(new RaftCore("n2", CoreFixture.settings(), CoreFixture.fixed(15), state), host, 0, 0);
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
    byte[] data = "snapshot-at-3".getBytes(StandardCharsets.UTF_8);
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
    RaftCore core = new RaftCore("n1", CoreFixture.settings(), CoreFixture.fixed(10),
        DurableState.bootstrap(ClusterConfig.of("n1")));
    RaftDriver d = new RaftDriver(core, host, 5, 0);
    while (core.role() != Role.LEADER) {
      core.tick();
      d.flush();
      completeAll(d, host);
    }
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

  private static void completeAll(RaftDriver d, Host host) {
    while (d.writeInFlight() != null) {
      d.writeDone(d.writeInFlight().seq());
      d.flush();
    }
  }
}
