package io.raftactors.core;

import static io.raftactors.core.CoreFixture.*;
import static org.junit.jupiter.api.Assertions.*;

import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import io.raftactors.core.RaftMessage.RequestVote;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Persistent state across restarts (thesis 3.8), at the level of the core's outputs. */
class DurabilityTest {
  private static final ClusterConfig THREE = members(3);

  @Test
  void durability_T3_8_02_termAndVoteAreWrittenAsOneRecordSoACrashCannotSplitThem() {
    RaftCore f = node("n3", THREE, 3, null, fixed(10), settings().withCheckQuorum(false), 1, 2);
    Ready r = step(f, new RequestVote(4, "n2", 2, 2));
    // One record carries both: any crash point leaves either (3, none) or (4, n2) durable,
    // never term 4 with a vote of term 3 or a vote without its term.
    assertEquals(new HardState(4, "n2"), r.hardState());
    // Restart from either side of the write: the vote always belongs to the current term.
    for (HardState durable : List.of(new HardState(3, null), r.hardState())) {
      RaftCore again = new RaftCore("n3", settings(), fixed(10),
          new DurableState(durable, SnapshotMeta.initial(THREE), logOfTerms(1, 2)));
      assertEquals(durable.term(), again.term());
      assertEquals(durable.votedFor(), again.status().votedFor());
    }
  }

  /** The node of T3.8-05: a snapshot at 100 (term 7), entries 101-130 in the log, commit was 120. */
  private static RaftCore restartedAfterSnapshot(String id) {
    DurableState st = new DurableState(new HardState(7, null), new SnapshotMeta(100, 7, THREE),
        entriesFrom(101, new long[] {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}),
        new byte[] {1});
    return new RaftCore(id, settings(), fixed(10), st);
  }

  @Test
  void durability_T3_8_06_commitIndexIsRecoveredLazilyAsFollower() {
    RaftCore f = restartedAfterSnapshot("n3");
    assertEquals(100, f.commitIndex());
    assertEquals(100, f.lastApplied());
    assertTrue(f.ready().committed().isEmpty(), "nothing past the snapshot is applied at start");
    Ready r = step(f, new AppendEntries(7, "n1", 130, 7, List.of(), 125));
    assertEquals(125, f.commitIndex(), "min(leaderCommit, last new entry)");
    assertEquals(25, r.committed().size());
    assertEquals(101, r.committed().get(0).entry().index());
    assertEquals(125, r.committed().get(24).entry().index());
  }

  @Test
  void durability_T3_8_06_asLeaderItAppliesNothingPastTheSnapshotUntilItsNoopCommits() {
    RaftCore l = restartedAfterSnapshot("n1");
    Ready elected = elect(l);
    assertEquals(Role.LEADER, l.role());
    assertTrue(elected.committed().isEmpty());
    assertEquals(100, l.commitIndex(), "entries of term 7 are not committed by counting");
    long noop = l.lastIndex();
    assertEquals(131, noop);
    l.step(AppendEntriesResponse.success(l.term(), "n2", 130)); // a follower holds the old entries only
    assertEquals(100, l.commitIndex());
    assertTrue(l.ready().committed().isEmpty());
    l.step(AppendEntriesResponse.success(l.term(), "n2", noop));
    Ready r = l.ready();
    assertEquals(noop, l.commitIndex());
    assertEquals(31, r.committed().size(), "101-130 and the no-op, once the no-op commits");
  }
}
