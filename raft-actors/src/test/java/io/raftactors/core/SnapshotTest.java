package io.raftactors.core;

import static io.raftactors.core.CoreFixture.*;
import static org.junit.jupiter.api.Assertions.*;

import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import io.raftactors.core.RaftMessage.InstallSnapshot;
import io.raftactors.core.RaftMessage.InstallSnapshotResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Log compaction and InstallSnapshot (paper 7, thesis 5, Figure 13). */
class SnapshotTest {
  private static final ClusterConfig THREE = members(3);

  private static byte[] bytes(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) b[i] = (byte) (i * 31 + 7);
    return b;
  }

  /** A 3-node leader n1 whose log holds {@code commands} committed and applied entries after its no-op. */
  private static RaftCore leaderWithCommitted(int commands, RaftConfig cfg) {
    RaftCore l = new RaftCore("n1", cfg, fixed(10), DurableState.bootstrap(THREE));
    elect(l);
    for (int i = 0; i < commands; i++) l.propose(cmd("c" + i), i);
    Ready r = l.ready();
    persist(l, r);
    l.step(AppendEntriesResponse.success(l.term(), "n2", l.lastIndex()));
    l.ready();
    assertEquals(l.lastIndex(), l.commitIndex());
    assertEquals(l.lastIndex(), l.lastApplied());
    return l;
  }

  /** A follower n3 at {@code term} with the given log (config in its snapshot meta). */
  private static RaftCore follower(long term, long... logTerms) {
    return node("n3", THREE, term, null, fixed(10), settings(), logTerms);
  }

  private static RaftCore followerAfterSnapshot(long term, long snapIndex, long snapTerm) {
    DurableState st = new DurableState(new HardState(term, null), new SnapshotMeta(snapIndex, snapTerm, THREE), List.of(),
        bytes(10));
    return new RaftCore("n3", settings(), fixed(10), st);
  }

  private static InstallSnapshot whole(long term, long idx, long idxTerm, byte[] data) {
    return new InstallSnapshot(term, "n1", idx, idxTerm, THREE, 0, data, true, data.length);
  }

  @Test
  void compaction_T5_1_01_aSnapshotCoversAppliedEntriesOnlyAndRecordsTermAndConfiguration() {
    RaftCore l = leaderWithCommitted(10, settings());
    long applied = l.lastApplied();
    assertThrows(IllegalArgumentException.class, () -> l.compact(applied + 1, bytes(4)));
    // A new entry committed but not yet applied (its own write pending) cannot be covered either.
    l.propose(cmd("late"), 99);
    l.ready();
    assertThrows(IllegalArgumentException.class, () -> l.compact(l.lastIndex(), bytes(4)));

    l.compact(applied - 2, bytes(4));
    Ready r = l.ready();
    assertNotNull(r.snapshot(), "the snapshot is handed out for writing");
    assertEquals(applied - 2, r.snapshot().index());
    assertEquals(l.termAt(applied - 2), r.snapshot().term());
    assertEquals(THREE, r.snapshot().meta().config(), "the configuration at or before the snapshot point");
    assertEquals(applied - 1, l.status().firstIndex(), "entries up to the snapshot point are discarded");
    assertEquals(applied - 2, l.snapshotIndex());
    assertEquals(l.lastIndex(), l.entriesFrom(0).get(l.entriesFrom(0).size() - 1).index());
  }

  @Test
  void compaction_T5_1_04_theConsistencyCheckAtTheSnapshotBoundary() {
    RaftCore f = followerAfterSnapshot(7, 100, 7);
    AppendEntriesResponse ok = sent(step(f, new AppendEntries(7, "n1", 100, 7, List.of(), 0)), AppendEntriesResponse.class).get(0);
    assertTrue(ok.success());
    RaftCore g = followerAfterSnapshot(7, 100, 7);
    AppendEntriesResponse no = sent(step(g, new AppendEntries(7, "n1", 100, 6, List.of(), 0)), AppendEntriesResponse.class).get(0);
    assertFalse(no.success());
  }

  @Test
  void compaction_T5_1_05_appendsThatOverlapTheSnapshotAreNeverRejected() {
    RaftCore f = followerAfterSnapshot(7, 100, 7);
    List<LogEntry> entries = entriesFrom(91, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7);
    Ready r = step(f, new AppendEntries(7, "n1", 90, 7, entries, 0));
    AppendEntriesResponse resp = sent(r, AppendEntriesResponse.class).get(0);
    assertTrue(resp.success(), "a rejection would send the leader back into a loop");
    assertEquals(110, resp.matchIndex());
    assertEquals(110, f.lastIndex());
    assertEquals(101, r.entries().get(0).index(), "only entries after the snapshot are written");
  }

  /** Delivers every message between leader l and follower f until quiet; f's writes complete at once. */
  private static List<InstallSnapshot> pump(RaftCore l, RaftCore f, Ready first) {
    List<InstallSnapshot> chunks = new ArrayList<>();
    List<Outbound> toF = new ArrayList<>(allMessages(first));
    for (int round = 0; round < 1000 && !toF.isEmpty(); round++) {
      List<Outbound> next = new ArrayList<>();
      for (Outbound o : toF) {
        if (!o.to().equals(f.id())) continue;
        if (o.message() instanceof InstallSnapshot is) chunks.add(is);
        f.step(o.message());
        Ready fr = f.ready();
        persist(f, fr);
        if (fr.snapshot() != null) f.persisted(fr.snapshot().index(), fr.snapshot().term());
        for (Outbound back : allMessages(fr)) l.step(back.message());
        next.addAll(allMessages(l.ready()));
      }
      toF = next;
    }
    return chunks;
  }

  @Test
  void compaction_T5_1_06_T5_1_07_theLeaderSendsTheSnapshotInOrderedChunksThenAppendsTheRest() {
    RaftConfig cfg = settings().withSnapshotChunkBytes(100);
    RaftCore l = leaderWithCommitted(20, cfg);
    byte[] data = bytes(1000); // 10 chunks
    l.compact(l.lastApplied() - 5, data);
    l.ready();
    long snapIndex = l.snapshotIndex();
    l.propose(cmd("after"), 100);
    Ready lr = l.ready();
    persist(l, lr);
    RaftCore f = follower(l.term()); // empty: its next entry is compacted on the leader
    f.step(new AppendEntries(l.term(), "n1", 0, 0, List.of(), 0)); // knows the leader
    f.ready();
    // The leader learns n3 is empty from a rejected probe, then must switch to InstallSnapshot.
    l.step(AppendEntriesResponse.reject(l.term(), "n3", l.lastIndex(), 1, 0));
    Ready start = l.ready();
    List<AppendEntries> appends = sentTo(start, "n3", AppendEntries.class);
    assertTrue(appends.isEmpty(), "never an AppendEntries that needs a compacted entry: " + appends);
    List<InstallSnapshot> chunks = pump(l, f, start);
    assertEquals(10, chunks.size());
    for (int i = 0; i < chunks.size(); i++) {
      assertEquals(100L * i, chunks.get(i).offset(), "chunks in offset order");
      assertEquals(i == 9, chunks.get(i).done());
      assertEquals(snapIndex, chunks.get(i).lastIncludedIndex());
    }
    assertArrayEquals(data, f.snapshot().data(), "the installed bytes are the leader's");
    assertEquals(l.lastIndex(), f.lastIndex(), "then it catches up from the log");
    assertEquals(l.lastIndex(), l.status().matchIndex("n3"));
  }

  /**
   * Leader l after a snapshot at its last applied index that kept the last {@code keep} entries it
   * covers, and a follower n3 whose log matches l's up to {@code followerLast}; l knows where n3
   * stands (a rejection with n3's last index as hint). Returns the InstallSnapshot chunks sent to n3
   * while the two exchange messages until quiet.
   */
  private static List<InstallSnapshot> catchUpAfterSnapshotKeeping(int keep, long behind, RaftCore[] out) {
    RaftCore l = leaderWithCommitted(30, settings().withSnapshotChunkBytes(100));
    List<LogEntry> all = l.entriesFrom(0);
    long applied = l.lastApplied();
    l.compact(applied, bytes(1000), keep, Long.MAX_VALUE);
    assertNotNull(l.ready().snapshot(), "the snapshot is handed out for writing all the same");
    assertEquals(applied, l.snapshotIndex());
    assertEquals(applied - keep + 1, l.status().firstIndex(), "the last " + keep + " entries it covers are kept");
    l.propose(cmd("after"), 100);
    persist(l, l.ready());
    long followerLast = applied - behind;
    RaftCore f = new RaftCore("n3", settings(), fixed(10),
        new DurableState(new HardState(l.term(), null), SnapshotMeta.initial(THREE), all.subList(0, (int) followerLast)));
    f.step(new AppendEntries(l.term(), "n1", 0, 0, List.of(), 0)); // knows the leader
    persist(f, f.ready());
    l.step(AppendEntriesResponse.reject(l.term(), "n3", l.lastIndex(), followerLast + 1, 0));
    List<InstallSnapshot> chunks = pump(l, f, l.ready());
    assertEquals(l.lastIndex(), f.lastIndex(), "n3 caught up");
    assertEquals(l.lastIndex(), l.status().matchIndex("n3"));
    out[0] = l;
    out[1] = f;
    return chunks;
  }

  @Test
  void compaction_T5_1_06_aFollowerBehindOnlyByEntriesTheLeaderKeptCatchesUpFromTheLog_notTheSnapshot() {
    RaftCore[] nodes = new RaftCore[2];
    List<InstallSnapshot> chunks = catchUpAfterSnapshotKeeping(10, 6, nodes);
    assertEquals(List.of(), chunks, "no snapshot for a follower the kept entries can serve");
    assertNull(nodes[1].snapshot(), "n3 holds no snapshot: it appended the entries");
  }

  @Test
  void compaction_T5_1_06_aFollowerBehindTheKeptEntriesStillGetsTheSnapshot() {
    RaftCore[] nodes = new RaftCore[2];
    List<InstallSnapshot> chunks = catchUpAfterSnapshotKeeping(10, 15, nodes);
    assertEquals(10, chunks.size(), "its next entry is gone: the whole snapshot, in chunks");
    assertEquals(nodes[0].snapshotIndex(), nodes[1].snapshot().index());
  }

  /** Delivers the messages for {@code to} in order, persisting its writes at once; returns its answers. */
  private static List<RaftMessage> deliverAll(RaftCore to, List<Outbound> msgs) {
    List<RaftMessage> back = new ArrayList<>();
    for (Outbound o : msgs) {
      if (!o.to().equals(to.id())) continue;
      to.step(o.message());
      Ready r = to.ready();
      persist(to, r);
      for (Outbound b : allMessages(r)) back.add(b.message());
    }
    return back;
  }

  /**
   * A follower catching up from kept entries, its window full, is sent a heartbeat: it must ask
   * about an index the follower holds once the batches ahead of it arrived (its match index, or the
   * log's start), not the snapshot point it has not reached, or the follower rejects it and the
   * leader drops the pipeline and sends the batch in flight again.
   */
  @Test
  void compaction_aHeartbeatToAFollowerCatchingUpFromKeptEntriesLeavesItsPipelineAlone() {
    RaftConfig cfg = settings().withBatching(5, 1 << 20, 1);
    RaftCore l = new RaftCore("n1", cfg, fixed(10), DurableState.bootstrap(THREE));
    RaftCore f = new RaftCore("n3", cfg, fixed(20), DurableState.bootstrap(THREE));
    Ready r = elect(l);
    for (RaftMessage m : deliverAll(f, allMessages(r))) l.step(m); // n3 takes the no-op: it replicates
    l.step(AppendEntriesResponse.success(l.term(), "n2", l.lastIndex()));
    l.ready();
    assertEquals("REPLICATE", l.status().progress().get("n3").mode());
    for (int i = 0; i < 30; i++) l.propose(cmd("c" + i), i);
    Ready batch = l.ready(); // one batch of 5 to n3: its window is full
    persist(l, batch);
    l.step(AppendEntriesResponse.success(l.term(), "n2", l.lastIndex()));
    l.ready();
    l.compact(l.lastApplied(), bytes(100), 1000, Long.MAX_VALUE); // keeps every entry it covers
    l.ready();
    long match = l.status().matchIndex("n3");
    assertTrue(l.status().firstIndex() <= match + 1 && match < l.snapshotIndex(), "n3 is behind the snapshot, within the kept entries");
    List<Outbound> toF = new ArrayList<>(allMessages(batch));
    AppendEntries hb = null;
    for (int t = 0; t < 2 && hb == null; t++) {
      l.tick();
      for (AppendEntries ae : sentTo(l.ready(), "n3", AppendEntries.class)) if (ae.entries().isEmpty()) hb = ae;
    }
    assertNotNull(hb, "no heartbeat");
    toF.add(new Outbound("n3", hb)); // after the batch in flight
    List<RaftMessage> answers = deliverAll(f, toF);
    AppendEntriesResponse hbAnswer = (AppendEntriesResponse) answers.get(answers.size() - 1);
    for (RaftMessage m : answers) l.step(m);
    l.ready();
    assertTrue(hbAnswer.success(), "n3 rejected the heartbeat (prevLogIndex " + hb.prevLogIndex() + ", its match index was "
        + match + ", its last index " + f.lastIndex() + ")");
    assertEquals("REPLICATE", l.status().progress().get("n3").mode(), "the heartbeat broke n3's pipeline");
  }

  @Test
  void compaction_theEntriesKeptBehindASnapshotAreBoundedByCountAndBytes_andGoWithTheNextOne() {
    RaftCore l = leaderWithCommitted(30, settings());
    long applied = l.lastApplied();
    long lastThree = 0;
    for (long i = applied - 2; i <= applied; i++) lastThree += l.entry(i).sizeInBytes();
    l.compact(applied - 10, bytes(4), 1000, Long.MAX_VALUE);
    assertEquals(1, l.status().firstIndex(), "no more than the log holds: it still starts at its first entry");
    l.compact(applied, bytes(4), 1000, lastThree);
    assertEquals(applied - 2, l.status().firstIndex(), "as many as fit in the bytes");
    assertEquals(applied, l.snapshotIndex());
    assertEquals(l.term(), l.termAt(applied - 2), "a kept entry still has its term");
    assertThrows(IndexOutOfBoundsException.class, () -> l.entry(applied - 3), "the one before it is gone");
    for (int i = 0; i < 5; i++) l.propose(cmd("more" + i), 200 + i);
    Ready r = l.ready();
    persist(l, r);
    l.step(AppendEntriesResponse.success(l.term(), "n2", l.lastIndex()));
    l.ready();
    l.compact(l.lastApplied(), bytes(4));
    assertEquals(l.lastApplied() + 1, l.status().firstIndex(), "a snapshot that keeps none drops the kept ones too");
    assertThrows(IndexOutOfBoundsException.class, () -> l.entry(applied));
  }

  @Test
  void compaction_T5_1_08_lostDuplicatedAndReorderedChunksAreResumedFromTheExpectedOffset() {
    RaftCore f = follower(3);
    byte[] data = bytes(300);
    InstallSnapshot c0 = new InstallSnapshot(3, "n1", 50, 3, THREE, 0, Arrays.copyOfRange(data, 0, 100), false, 300);
    InstallSnapshot c1 = new InstallSnapshot(3, "n1", 50, 3, THREE, 100, Arrays.copyOfRange(data, 100, 200), false, 300);
    InstallSnapshot c2 = new InstallSnapshot(3, "n1", 50, 3, THREE, 200, Arrays.copyOfRange(data, 200, 300), true, 300);
    assertEquals(100, sent(step(f, c0), InstallSnapshotResponse.class).get(0).nextOffset());
    // c1 is lost; c2 arrives: a gap. The follower says where to resume.
    InstallSnapshotResponse gap = sent(step(f, c2), InstallSnapshotResponse.class).get(0);
    assertFalse(gap.installed());
    assertEquals(100, gap.nextOffset());
    // The leader resumes from 100; then c1 is delivered twice: the duplicate does no harm.
    assertEquals(200, sent(step(f, c1), InstallSnapshotResponse.class).get(0).nextOffset());
    InstallSnapshotResponse dup = sent(step(f, c1), InstallSnapshotResponse.class).get(0);
    assertFalse(dup.installed());
    assertEquals(200, dup.nextOffset(), "the duplicate of c1 is answered with the expected offset");
    Ready done = step(f, c2);
    InstallSnapshotResponse installed = sent(done, InstallSnapshotResponse.class).get(0);
    assertTrue(installed.installed());
    assertArrayEquals(data, done.snapshot().data(), "byte-identical to the leader's");
    assertArrayEquals(data, done.restore().data());
  }

  @Test
  void compaction_T5_1_09_installKeepsAMatchingSuffix() {
    long[] terms = new long[150];
    Arrays.fill(terms, 2);
    RaftCore f = follower(2, terms);
    Ready r = step(f, whole(2, 120, 2, bytes(50)));
    assertEquals(121, f.status().firstIndex());
    assertEquals(150, f.lastIndex(), "entries 121-150 are kept");
    assertEquals(120, f.commitIndex());
    assertNotNull(r.restore(), "not applied past 120: the state machine is loaded from the snapshot");
    assertEquals(120, f.lastApplied());
    assertEquals(0, r.truncateFrom(), "the suffix is not truncated");

    // A follower that already applied past the snapshot point keeps its state machine and its log.
    RaftCore g = follower(2, terms);
    g.step(new AppendEntries(2, "n1", 150, 2, List.of(), 130));
    persistAll(g);
    g.ready();
    assertEquals(130, g.lastApplied());
    Ready r2 = step(g, whole(2, 120, 2, bytes(50)));
    assertNull(r2.restore(), "the state machine is untouched");
    assertEquals(130, g.lastApplied());
    assertEquals(150, g.lastIndex());
  }

  @Test
  void compaction_T5_1_10_installReplacesALogThatDoesNotMatch() {
    RaftCore f = follower(3, 1, 1, 2, 2, 2); // entry 4 has term 2; the snapshot says (4, term 3)
    Ready r = step(f, whole(3, 4, 3, bytes(20)));
    assertEquals(4, f.snapshotIndex());
    assertEquals(4, f.lastIndex(), "the whole log is discarded");
    assertEquals(5, r.truncateFrom(), "storage drops entry 5 too");
    assertEquals(4, f.lastApplied());
    assertEquals(4, f.commitIndex());
    assertNotNull(r.restore());
    RaftCore shortLog = follower(3, 1);
    step(shortLog, whole(3, 9, 3, bytes(20)));
    assertEquals(9, shortLog.lastIndex());
    assertEquals(3, shortLog.status().lastTerm());
  }

  @Test
  void compaction_T5_1_11_anOlderSnapshotNeverRollsStateBack() {
    long[] terms = new long[200];
    Arrays.fill(terms, 2);
    RaftCore f = follower(2, terms);
    f.step(new AppendEntries(2, "n1", 200, 2, List.of(), 200));
    persistAll(f);
    f.ready();
    f.compact(180, bytes(5));
    f.ready();
    Ready r = step(f, whole(2, 150, 2, bytes(9)));
    assertNull(r.restore());
    assertNull(r.snapshot());
    assertEquals(200, f.commitIndex());
    assertEquals(181, f.status().firstIndex());
    InstallSnapshotResponse resp = sent(r, InstallSnapshotResponse.class).get(0);
    assertTrue(resp.installed(), "the leader may move on: no resend loop");
  }

  @Test
  void compaction_T5_1_12_aNewTransferSupersedesAPartialOne() {
    RaftCore f = follower(3);
    step(f, new InstallSnapshot(3, "n1", 50, 3, THREE, 0, bytes(100), false, 300));
    // A new leader (term 4) sends a different snapshot from offset 0.
    byte[] other = bytes(60);
    Ready r = step(f, new InstallSnapshot(4, "n2", 70, 4, THREE, 0, other, true, 60));
    assertArrayEquals(other, r.snapshot().data());
    assertEquals(70, f.snapshotIndex());
    // A late chunk of the old transfer is answered with "start over", never spliced in.
    InstallSnapshotResponse late = sent(step(f, new InstallSnapshot(4, "n2", 50, 3, THREE, 100, bytes(100), false, 300)),
        InstallSnapshotResponse.class).get(0);
    assertTrue(late.installed(), "70 already covers 50");
  }

  @Test
  void compaction_T5_1_13_everyChunkIsLeaderContact() {
    RaftCore f = follower(3);
    int chunks = 0;
    for (int off = 0; off < 50 * 100; off += 100) {
      List<Ready> ticks = tick(f, 9); // one tick short of the election timeout (10)
      assertTrue(sent(ticks, RaftMessage.PreVote.class).isEmpty() && sent(ticks, RaftMessage.RequestVote.class).isEmpty(),
          "campaigned during a transfer");
      assertEquals(Role.FOLLOWER, f.role());
      step(f, new InstallSnapshot(3, "n1", 500, 3, THREE, off, bytes(100), false, 100_000));
      chunks++;
    }
    assertEquals(50, chunks);
    assertEquals("n1", f.leaderId());
  }

  @Test
  void compaction_T5_1_14_aSnapshotBeingSentIsKeptWhenANewerOneIsTaken() {
    RaftConfig cfg = settings().withSnapshotChunkBytes(100);
    RaftCore l = leaderWithCommitted(20, cfg);
    byte[] first = bytes(300);
    l.compact(l.lastApplied() - 10, first);
    l.ready();
    long firstIndex = l.snapshotIndex();
    l.step(AppendEntriesResponse.reject(l.term(), "n3", l.lastIndex(), 1, 0));
    InstallSnapshot c0 = sentTo(l.ready(), "n3", InstallSnapshot.class).get(0);
    assertEquals(firstIndex, c0.lastIncludedIndex());
    l.compact(l.lastApplied(), bytes(500)); // a newer snapshot, mid-transfer
    l.ready();
    l.step(new InstallSnapshotResponse(l.term(), "n3", firstIndex, 100, false));
    InstallSnapshot c1 = sentTo(l.ready(), "n3", InstallSnapshot.class).get(0);
    assertEquals(firstIndex, c1.lastIncludedIndex(), "the transfer finishes from the snapshot it started");
    assertEquals(100, c1.offset());
    assertArrayEquals(Arrays.copyOfRange(first, 100, 200), c1.data());
  }

  @Test
  void basics_P5_1_03_aStaleInstallSnapshotIsAnsweredWithTheCurrentTermAndTouchesNothing() {
    RaftCore f = follower(5, 1, 1, 2);
    Ready r = step(f, whole(4, 3, 2, bytes(10)));
    InstallSnapshotResponse resp = sent(r, InstallSnapshotResponse.class).get(0);
    assertEquals(5, resp.term());
    assertFalse(resp.installed());
    assertNull(r.snapshot());
    assertNull(r.restore());
    assertEquals(0, f.snapshotIndex());
    assertEquals(3, f.lastIndex());
  }
}
