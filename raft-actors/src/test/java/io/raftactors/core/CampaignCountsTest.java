package io.raftactors.core;

import static io.raftactors.core.CoreFixture.members;
import static io.raftactors.core.RaftBasicsTest.cfg;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The counts of campaigns a core keeps for metrics: pre-vote rounds, elections started as a
 * candidate, elections won. A pre-candidate that cannot reach a majority starts round after round
 * without ever starting an election, which no observer of its role and term could tell.
 */
class CampaignCountsTest {

  @Test
  void theFirstLeaderCountsOnePreVoteRoundOneElectionAndOneWin_theOthersNothing() {
    CoreCluster c = CoreCluster.founded(members(3), cfg(true, true));
    RaftCore leader = c.elect();
    assertEquals(1, leader.preVoteRounds());
    assertEquals(1, leader.electionsStarted());
    assertEquals(1, leader.electionsWon());
    for (String id : members(3).voters()) {
      if (id.equals(leader.id())) continue;
      RaftCore f = c.node(id);
      assertEquals(0, f.preVoteRounds() + f.electionsStarted() + f.electionsWon(), id + " never campaigned");
    }
  }

  @Test
  void aPreCandidateWithoutAMajorityStartsRoundsButNoElection_andCountsTheElectionOnceItCanWin() {
    CoreCluster c = CoreCluster.founded(members(3), cfg(true, true));
    RaftCore first = c.elect();
    String alone = first.id().equals("n2") ? "n3" : "n2";
    for (String id : members(3).voters()) if (!id.equals(alone)) c.down(id);
    RaftCore n = c.node(alone);
    long term = n.term();
    c.tickUntil(500, () -> n.preVoteRounds() >= 3);
    assertEquals(0, n.electionsStarted(), "no pre-vote round won: no election");
    assertEquals(term, n.term(), "pre-vote rounds leave the term alone");

    String other = members(3).voters().stream().filter(id -> !id.equals(alone) && !id.equals(first.id())).findFirst()
        .orElseThrow();
    c.up(other);
    c.tickUntil(500, () -> c.leader() != null);
    RaftCore winner = c.leader();
    assertTrue(winner.electionsStarted() >= 1 && winner.electionsWon() == 1, winner.id() + " won one election");
    assertTrue(winner.preVoteRounds() >= winner.electionsStarted(), "with pre-vote on every election follows a round");
  }

  @Test
  void withoutPreVoteElectionsAreCountedAndNoRounds() {
    CoreCluster c = CoreCluster.founded(members(3), cfg(false, false));
    RaftCore leader = c.elect();
    assertEquals(0, leader.preVoteRounds());
    assertEquals(1, leader.electionsStarted());
    assertEquals(1, leader.electionsWon());
  }
}
