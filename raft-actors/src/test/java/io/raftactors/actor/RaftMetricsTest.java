package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.TestProbe;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.SessionSnapshotTest.Counting;
import io.raftactors.core.Role;
import io.raftactors.testkit.RaftTestKit;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link RaftMetrics} of a group of three in memory: the counters move when their events happen
 * (an election, proposals and reads by outcome, snapshots taken and installed), and the leader
 * reports each follower's lag, which grows while a follower is cut off and closes once it is back.
 */
class RaftMetricsTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private RaftTestKit group;

  @AfterEach
  void stop() {
    if (group != null) group.close();
  }

  private RaftTestKit start(String config) {
    group = RaftTestKit.builder().members(3).stateMachine(id -> new Queried())
        .config(ConfigFactory.parseString(config)).start();
    return group;
  }

  /** {@link Counting} (snapshots included) that answers every query with how many commands it applied. */
  static final class Queried implements StateMachine {
    private final Counting applied = new Counting();

    @Override
    public Object apply(long index, Object command) {
      return applied.apply(index, command);
    }

    @Override
    public Object query(Object query) {
      synchronized (applied) {
        return applied.applied.size();
      }
    }

    @Override
    public byte[] takeSnapshot() {
      return applied.takeSnapshot();
    }

    @Override
    public void restoreSnapshot(byte[] snapshot) {
      applied.restoreSnapshot(snapshot);
    }
  }

  private RaftMetrics metrics(String id) {
    TestProbe<RaftMetrics> p = TestProbe.create(group.system());
    group.node(id).tell(new RaftNode.GetRaftMetrics(p.ref()));
    return p.receiveMessage(WAIT);
  }

  private List<String> followersOf(String leader) {
    return group.members().stream().filter(id -> !id.equals(leader)).toList();
  }

  private RaftNode.ProposeReply propose(String id, String command, String key) {
    TestProbe<RaftNode.ProposeReply> p = TestProbe.create(group.system());
    group.node(id).tell(new RaftNode.Propose(command, key, p.ref()));
    return p.receiveMessage(WAIT);
  }

  private RaftNode.QueryReply query(String id, ReadConsistency consistency) {
    TestProbe<RaftNode.QueryReply> p = TestProbe.create(group.system());
    group.node(id).tell(new RaftNode.Query("q", consistency, p.ref()));
    return p.receiveMessage(WAIT);
  }

  private void awaitAssert(Runnable assertion) {
    TestProbe.create(group.system()).awaitAssert(WAIT, () -> {
      assertion.run();
      return null;
    });
  }

  @Test
  void anElectionIsCountedOnItsWinner_andEveryMemberCountsTheLeaderChange() {
    start("");
    String leader = group.awaitLeader();
    RaftMetrics m = metrics(leader);
    assertEquals("test", m.groupId());
    assertEquals(leader, m.memberId());
    assertEquals(RaftNode.Phase.RUNNING, m.phase());
    assertTrue(m.isLeader());
    RaftMetrics.Counters c = m.counters();
    assertTrue(c.electionsWon() >= 1 && c.electionsStarted() >= c.electionsWon(), c.toString());
    assertTrue(c.preVoteRounds() >= c.electionsStarted(), "pre-vote is on: every election follows a round won; " + c);
    for (String id : group.members()) {
      assertTrue(metrics(id).counters().leaderChanges() >= 1, id + " learned of a leader");
    }

    Map<String, RaftMetrics.Counters> before = new HashMap<>();
    for (String id : followersOf(leader)) before.put(id, metrics(id).counters());
    group.crash(leader);
    String next = group.awaitLeader();
    RaftMetrics.Counters won = metrics(next).counters();
    assertEquals(before.get(next).electionsWon() + 1, won.electionsWon(), "the new leader counts its win");
    assertTrue(won.electionsStarted() > before.get(next).electionsStarted(), won.toString());
    for (String id : followersOf(leader)) {
      assertTrue(metrics(id).counters().leaderChanges() > before.get(id).leaderChanges(), id + " saw the new leader");
    }
  }

  @Test
  void proposalsAndReadsAreCountedByOutcomeAndConsistency() {
    start("");
    String leader = group.awaitLeader();
    String follower = followersOf(leader).get(0);
    RaftMetrics.Counters l0 = metrics(leader).counters();
    RaftMetrics.Counters f0 = metrics(follower).counters();

    for (int i = 0; i < 5; i++) assertInstanceOf(RaftNode.Applied.class, propose(leader, "c" + i, null));
    assertInstanceOf(RaftNode.NotLeader.class, propose(follower, "x", null));
    String tooLong = "k".repeat(RaftNode.MAX_IDEMPOTENCY_KEY_LENGTH + 1);
    assertInstanceOf(RaftNode.Rejected.class, propose(leader, "y", tooLong));
    assertInstanceOf(RaftNode.QueryResult.class, query(leader, ReadConsistency.LINEARIZABLE));
    assertInstanceOf(RaftNode.QueryResult.class, query(leader, ReadConsistency.LINEARIZABLE));
    assertInstanceOf(RaftNode.QueryResult.class, query(follower, ReadConsistency.STALE));
    assertInstanceOf(RaftNode.QueryResult.class, query(follower, ReadConsistency.LINEARIZABLE));

    RaftMetrics.Counters l1 = metrics(leader).counters();
    RaftMetrics.Counters f1 = metrics(follower).counters();
    assertEquals(5, l1.proposalsAccepted() - l0.proposalsAccepted());
    assertEquals(1, l1.proposalsInvalid() - l0.proposalsInvalid());
    assertEquals(1, f1.proposalsNotLeader() - f0.proposalsNotLeader());
    assertEquals(0, f1.proposalsAccepted() - f0.proposalsAccepted());
    assertEquals(1, f1.proposalsRejected() - f0.proposalsRejected());
    assertEquals(2, l1.readsLinearizable() - l0.readsLinearizable());
    assertEquals(1, f1.readsStale() - f0.readsStale());
    assertEquals(1, f1.readsLinearizable() - f0.readsLinearizable(), "served with the leader's read index");
    assertEquals(2, f1.readsServed() - f0.readsServed());
  }

  @Test
  void proposalsPastTheFlowControlBoundAreCountedOverloaded() {
    start("raft.check-quorum = off\nraft.flow-control.max-pending-proposals = 3");
    String leader = group.awaitLeader();
    for (String id : followersOf(leader)) group.crash(id); // nothing commits: proposals wait
    TestProbe<RaftNode.ProposeReply> p = TestProbe.create(group.system());
    for (int i = 0; i < 10; i++) group.node(leader).tell(new RaftNode.Propose("c" + i, p.ref()));
    for (RaftNode.ProposeReply r : p.receiveSeveralMessages(7, WAIT)) assertInstanceOf(RaftNode.Overloaded.class, r);
    RaftMetrics.Counters c = metrics(leader).counters();
    assertEquals(7, c.proposalsOverloaded());
    assertEquals(3, c.proposalsAccepted());
  }

  @Test
  void theLeaderReportsEachFollowersLag_whichGrowsWhileItIsCutOffAndClosesOnceItIsBack() {
    start("");
    String leader = group.awaitLeader();
    String cut = followersOf(leader).get(0);
    String other = followersOf(leader).get(1);
    assertTrue(metrics(cut).followers().isEmpty(), "only a leader reports followers");
    group.isolate(cut);
    for (int i = 0; i < 10; i++) assertInstanceOf(RaftNode.Applied.class, propose(leader, "a" + i, null));
    RaftMetrics m = metrics(leader);
    assertEquals(m.lastIndex(), m.commitIndex());
    assertEquals(0, m.followers().get(other).lag(), "a commit needs the other follower: it holds everything");
    assertEquals(m.lastIndex(), m.followers().get(other).matchIndex());
    long lag = m.followers().get(cut).lag();
    assertTrue(lag >= 10, "the cut-off follower lacks at least the ten new entries: " + m.followers());

    for (int i = 0; i < 5; i++) assertInstanceOf(RaftNode.Applied.class, propose(leader, "b" + i, null));
    assertEquals(lag + 5, metrics(leader).followers().get(cut).lag(), "its lag grows with every entry");

    group.heal();
    awaitAssert(() -> assertEquals(0, metrics(leader).followers().get(cut).lag()));
    RaftMetrics back = metrics(cut);
    assertEquals(m.lastIndex() + 5, back.lastIndex());
    assertEquals(back.lastIndex() - back.firstIndex() + 1, back.logEntries());
  }

  @Test
  void snapshotsTakenAndInstalledAreCounted() {
    start("raft.snapshot.after-entries = 5\nraft.snapshot.catch-up-entries = 0");
    String leader = group.awaitLeader();
    String cut = followersOf(leader).get(0);
    group.isolate(cut);
    for (int i = 0; i < 12; i++) assertInstanceOf(RaftNode.Applied.class, propose(leader, "s" + i, null));
    RaftMetrics m = metrics(leader);
    assertTrue(m.counters().snapshotsTaken() >= 1, m.counters().toString());
    assertTrue(m.snapshotIndex() > 0, "the log is compacted to the snapshot");
    assertEquals(m.snapshotIndex() + 1, m.firstIndex());
    assertEquals(0, metrics(cut).counters().snapshotsInstalled());

    group.heal();
    awaitAssert(() -> assertEquals(1, metrics(cut).counters().snapshotsInstalled(), "the follower got the snapshot"));
    assertEquals(Role.FOLLOWER, metrics(cut).role());
  }

  @Test
  void aFollowerJustBehindASnapshotCatchesUpFromTheEntriesKeptBehindIt_notFromTheSnapshot() {
    start("raft.snapshot.after-entries = 5\nraft.snapshot.catch-up-entries = 100");
    String leader = group.awaitLeader();
    String cut = followersOf(leader).get(0);
    long cutLast = metrics(cut).lastIndex();
    group.isolate(cut);
    for (int i = 0; i < 12; i++) assertInstanceOf(RaftNode.Applied.class, propose(leader, "s" + i, null));
    RaftMetrics m = metrics(leader);
    assertTrue(m.snapshotIndex() > cutLast, "the leader's snapshot covers entries the follower lacks: " + m.snapshotIndex());
    assertTrue(m.firstIndex() <= cutLast + 1, "and it kept them: first index " + m.firstIndex());

    group.heal();
    awaitAssert(() -> assertEquals(0, metrics(leader).followers().get(cut).lag()));
    assertEquals(0, metrics(cut).counters().snapshotsInstalled(), "no snapshot was sent for a few entries");
    assertEquals(m.lastIndex(), metrics(cut).lastIndex());
  }
}
