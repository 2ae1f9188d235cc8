package io.raftactors.core;

import static io.raftactors.core.CoreFixture.*;
import static org.junit.jupiter.api.Assertions.*;

import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import io.raftactors.core.RaftMessage.InstallSnapshot;
import io.raftactors.core.RaftMessage.InstallSnapshotResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A follower that stops answering (a paused process, a stalled connection) while the group keeps
 * writing: whatever the leader sends it waits on the way, in the transport's queue or the stopped
 * process's socket, until it runs again. The leader therefore hands such a follower at most its
 * pipelining window of entries (and one snapshot chunk), then only empty probes until it answers,
 * however long it stays silent; the others keep committing, and once it runs again it catches up.
 */
class FrozenFollowerTest {
  private static final ClusterConfig THREE = members(3);
  /** Small batches and chunks, so that a freeze of a few hundred ticks would outgrow the bound many times over. */
  private static final RaftConfig CFG = settings().withBatching(8, 256, 4).withSnapshotChunkBytes(128);
  /** What the leader may hand a silent follower: the window, one probe, one chunk (every entry here is far below a batch). */
  private static final long BOUND = (long) (CFG.maxInflightAppends() + 1) * CFG.maxBytesPerAppend() + CFG.snapshotChunkBytes();
  /** The leader compacts its log once this many entries are applied past its snapshot. */
  private static final int SNAPSHOT_EVERY = 40;

  private int written;

  /** Entry bytes and snapshot bytes carried by {@code messages}. */
  private static long dataBytes(List<RaftMessage> messages) {
    long bytes = 0;
    for (RaftMessage m : messages) {
      if (m instanceof AppendEntries ae) for (LogEntry e : ae.entries()) bytes += e.sizeInBytes();
      if (m instanceof InstallSnapshot is) bytes += is.data().length;
    }
    return bytes;
  }

  /** One tick of full load: four proposals on the leader, the network settled, the leader's log compacted when due. */
  private void loadedTick(CoreCluster c, RaftCore leader, boolean compacting) {
    for (int i = 0; i < 4; i++) leader.propose(cmd("w" + written++), -1);
    c.tick(1);
    if (compacting && leader.lastApplied() - leader.snapshotIndex() >= SNAPSHOT_EVERY) {
      leader.compact(leader.lastApplied(), new byte[600]); // five chunks
      c.settle();
    }
  }

  @ParameterizedTest(name = "leader compacting its log={0}")
  @ValueSource(booleans = {false, true})
  void aFrozenFollowerIsHandedOneWindowOfDataHoweverLongItStaysFrozenAndCatchesUpAfterwards(boolean compacting) {
    CoreCluster c = CoreCluster.founded(THREE, CFG);
    RaftCore leader = c.elect();
    assertEquals("n1", leader.id(), "setup");
    for (int t = 0; t < 20; t++) loadedTick(c, leader, compacting);
    RaftCore n3 = c.node("n3");
    long frozenAt = n3.lastIndex();
    assertTrue(frozenAt > 1, "setup: n3 followed before the freeze");

    c.freeze("n3");
    int intervals = 200;
    for (int t = 0; t < intervals * CFG.heartbeatInterval(); t++) loadedTick(c, leader, compacting);

    List<RaftMessage> held = c.held("n3");
    long data = dataBytes(held);
    System.out.printf("frozen follower (compacting=%b): %d messages wait for it over %d heartbeat intervals, carrying "
        + "%d bytes of entries and snapshot; bound %d%n", compacting, held.size(), intervals, data, BOUND);
    assertTrue(data <= BOUND, "the leader handed the frozen follower " + data + " bytes of data, more than the window "
        + "allows (" + BOUND + ")");
    assertTrue(held.size() >= intervals / 2, "the leader still contacts it every heartbeat interval or so: " + held.size());
    assertEquals(leader.lastIndex(), leader.commitIndex(), "n1 and n2 commit every entry without n3");
    assertTrue(leader.commitIndex() >= frozenAt + 4L * intervals * CFG.heartbeatInterval(), "setup: the group kept writing");
    if (compacting) assertTrue(leader.snapshotIndex() > frozenAt, "setup: entries n3 lacks were compacted away");

    int deliveredBefore = c.delivered.size();
    c.thaw("n3");
    int ticks = 0;
    while (n3.commitIndex() < leader.commitIndex() || n3.lastIndex() < leader.lastIndex()) {
      assertTrue(++ticks <= 20 * CFG.electionTimeoutMax(), "n3 did not catch up: " + n3 + " vs " + leader);
      loadedTick(c, leader, compacting);
    }
    assertEquals(leader.term(), n3.term(), "no election on the way");
    if (compacting) {
      assertTrue(n3.snapshotIndex() > frozenAt, "n3 caught up through the snapshot");
      java.util.Set<Long> installed = new java.util.TreeSet<>();
      for (Outbound o : c.delivered.subList(deliveredBefore, c.delivered.size())) {
        if (o.to().equals("n3") && o.message() instanceof InstallSnapshot is && is.data().length > 0) installed.add(is.lastIncludedIndex());
      }
      // T5.1-14: the transfer had not started when n3 froze, so it takes the newest snapshot, not the one of the freeze.
      assertEquals(1, installed.size(), "n3 is sent one snapshot, the newest: " + installed);
    }
    for (long i = Math.max(n3.snapshotIndex(), leader.snapshotIndex()) + 1; i <= leader.lastIndex(); i++) {
      assertEquals(leader.entry(i), n3.entry(i), "entry " + i);
    }
    assertTrue(c.violations.isEmpty(), c.violations.toString());
  }

  @Test
  void compaction_T5_1_07_aChunkIsNotResentToAFollowerThatHasNotAnsweredAndItsAnswerToTheQuestionSendsTheNextAtOnce() {
    RaftConfig cfg = settings().withSnapshotChunkBytes(100).withCheckQuorum(false); // n2 answers nothing either
    RaftCore l = new RaftCore("n1", cfg, fixed(10), DurableState.bootstrap(THREE));
    elect(l);
    for (int i = 0; i < 20; i++) l.propose(cmd("c" + i), i);
    persist(l, l.ready());
    l.step(AppendEntriesResponse.success(l.term(), "n2", l.lastIndex()));
    l.ready();
    l.compact(l.lastApplied(), new byte[300]); // three chunks
    l.ready();
    // n3 turns out to be empty: the leader switches to InstallSnapshot and sends the first chunk.
    l.step(AppendEntriesResponse.reject(l.term(), "n3", l.lastIndex(), 1, 0));
    List<InstallSnapshot> first = sentTo(l.ready(), "n3", InstallSnapshot.class);
    assertEquals(1, first.size(), "setup");
    assertEquals(100, first.get(0).data().length, "setup");

    // n3 says nothing for ten heartbeat intervals: it is asked where it stands, never sent data again.
    List<InstallSnapshot> later = new ArrayList<>();
    for (Ready r : tick(l, 10 * cfg.heartbeatInterval())) later.addAll(sentTo(r, "n3", InstallSnapshot.class));
    assertEquals(Role.LEADER, l.role(), "setup");
    assertTrue(later.size() >= 5, "the leader keeps contacting it: " + later.size());
    for (InstallSnapshot is : later) {
      assertEquals(0, is.data().length, "no chunk resent to a silent follower: " + is);
      assertFalse(is.done(), "an empty chunk that does not finish the transfer");
      assertEquals(0, is.offset());
    }

    // The first chunk did arrive, late; so does a question. The answer to the question sends the next chunk at once.
    RaftCore f = node("n3", THREE, l.term(), null, fixed(10), settings());
    f.step(first.get(0));
    f.ready();
    InstallSnapshotResponse answer = sent(step(f, later.get(later.size() - 1)), InstallSnapshotResponse.class).get(0);
    assertEquals(100, answer.nextOffset(), "the follower says where it stands");
    List<InstallSnapshot> next = sentTo(step(l, answer), "n3", InstallSnapshot.class);
    assertEquals(1, next.size(), "the next chunk leaves with the answer, not a heartbeat later");
    assertEquals(100, next.get(0).offset());
    assertEquals(100, next.get(0).data().length);
  }

  @Test
  void compaction_T5_1_08_anEmptyChunkAsksWhereTheTransferStandsAndRestartsNothing() {
    RaftCore f = node("n3", THREE, 2, null, fixed(10), settings());
    byte[] data = new byte[300];
    for (int i = 0; i < data.length; i++) data[i] = (byte) i;
    InstallSnapshotResponse r1 = sent(step(f, chunk(data, 0, 100, 50)), InstallSnapshotResponse.class).get(0);
    assertEquals(100, r1.nextOffset(), "setup");

    // A question at offset 0, where a chunk would start the transfer over, is answered and changes nothing.
    InstallSnapshotResponse asked = sent(step(f, chunk(data, 0, 0, 50)), InstallSnapshotResponse.class).get(0);
    assertFalse(asked.installed());
    assertEquals(100, asked.nextOffset(), "the transfer stands at 100");
    // A question about another snapshot: that one has not started here; the transfer under way goes on.
    InstallSnapshotResponse other = sent(step(f, chunk(data, 0, 0, 60)), InstallSnapshotResponse.class).get(0);
    assertEquals(0, other.nextOffset());

    assertEquals(200, sent(step(f, chunk(data, 100, 100, 50)), InstallSnapshotResponse.class).get(0).nextOffset());
    InstallSnapshotResponse last = sent(step(f, chunk(data, 200, 100, 50)), InstallSnapshotResponse.class).get(0);
    assertTrue(last.installed(), "the transfer finished without starting over");
    assertEquals(50, f.snapshotIndex());
    assertArrayEquals(data, f.snapshot().data());
  }

  /** The chunk of {@code data} at {@code offset} of {@code len} bytes of a snapshot at {@code index} (term 1), from n1 in term 2. */
  private static InstallSnapshot chunk(byte[] data, int offset, int len, long index) {
    byte[] part = java.util.Arrays.copyOfRange(data, offset, offset + len);
    return new InstallSnapshot(2, "n1", index, 1, THREE, offset, part, offset + len == data.length, data.length);
  }
}
