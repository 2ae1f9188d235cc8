package io.raftactors.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The decision a node with empty storage takes (T3.8-11, T4.4-01), without I/O: run, join, found,
 * wait for the founders, or refuse for good because the group already exists.
 */
class BootstrapTest {

  private static final ClusterConfig THREE = ClusterConfig.of("n1", "n2", "n3");
  private static final DurableState EMPTY = new DurableState(HardState.INITIAL, SnapshotMeta.initial(THREE), List.of());

  @Test
  void storageThatIsNotEmptyRunsAsItIs() {
    DurableState st = DurableState.bootstrap(THREE);
    Bootstrap b = new Bootstrap("n1", THREE, Bootstrap.Mode.CHECKED);
    assertEquals(new Bootstrap.Run(st), b.recovered(st));
    DurableState voted = new DurableState(new HardState(3, "n2"), SnapshotMeta.initial(THREE), List.of());
    assertEquals(new Bootstrap.Run(voted), b.recovered(voted), "a term or a vote alone is state");
  }

  @Test
  void uncheckedFoundsAtOnce_andSoDoesTheOnlyFounder() {
    assertEquals(new Bootstrap.Found(DurableState.bootstrap(THREE)),
        new Bootstrap("n1", THREE, Bootstrap.Mode.UNCHECKED).recovered(EMPTY));
    ClusterConfig one = ClusterConfig.of("n1");
    assertEquals(new Bootstrap.Found(DurableState.bootstrap(one)), new Bootstrap("n1", one, Bootstrap.Mode.CHECKED).recovered(EMPTY));
  }

  @Test
  void joinRunsOnEmptyStateThatDoesNotMakeItAVoter_T4_4_01() {
    Bootstrap.Decision d = new Bootstrap("n4", THREE, Bootstrap.Mode.JOIN).recovered(EMPTY);
    DurableState st = assertInstanceOf(Bootstrap.Run.class, d).state();
    assertTrue(st.entries().isEmpty());
    assertTrue(!st.snapshot().config().isVoter("n4"), "it never campaigns on its own");
  }

  @Test
  void checkedFoundsOnceEveryOtherFounderAnsweredTermZero() {
    Bootstrap b = new Bootstrap("n1", THREE, Bootstrap.Mode.CHECKED);
    assertEquals(new Bootstrap.Wait(Set.of("n2", "n3")), b.recovered(EMPTY));
    assertEquals(new RaftMessage.PreVote(1, "n1", 0, 0), b.probe(), "a probe from an empty log");
    assertNull(b.received(new RaftMessage.PreVoteResponse(0, "n2", false)));
    assertEquals(new Bootstrap.Wait(Set.of("n3")), b.decision());
    // n3 is waiting too: its probe counts as an answer in term 0, and gets one.
    RaftMessage reply = b.received(new RaftMessage.PreVote(1, "n3", 0, 0));
    assertEquals(new RaftMessage.PreVoteResponse(0, "n1", false), reply);
    assertEquals(new Bootstrap.Found(DurableState.bootstrap(THREE)), b.decision());
  }

  /**
   * T3.8-11: one founder is in term 5: the group existed before this storage did. The node refuses
   * for good and from then on answers pre-votes with the group's term, so that others that lost
   * their storage learn it too; it answers nothing else (no vote, no acknowledgement).
   */
  @Test
  void checkedRefusesForGoodOnceAFounderShowsALaterTerm_T3_8_11() {
    Bootstrap b = new Bootstrap("n1", THREE, Bootstrap.Mode.CHECKED);
    b.recovered(EMPTY);
    b.received(new RaftMessage.PreVoteResponse(5, "n2", false));
    assertEquals(new Bootstrap.Refuse("n2", 5), b.decision());
    assertEquals(new RaftMessage.PreVoteResponse(5, "n1", false), b.received(new RaftMessage.PreVote(1, "n3", 0, 0)));
    assertNull(b.received(new RaftMessage.RequestVote(6, "n3", 10, 5)), "no vote");
    assertNull(b.received(new RaftMessage.AppendEntries(6, "n3", 0, 0, List.of(), 0)), "no acknowledgement");
    assertEquals(new Bootstrap.Refuse("n2", 5), b.decision(), "for good");
  }

  @Test
  void aRealPreVoteOrAnyLeaderMessageShowsTheGroupsTerm() {
    Bootstrap b = new Bootstrap("n1", THREE, Bootstrap.Mode.CHECKED);
    b.recovered(EMPTY);
    b.received(new RaftMessage.PreVote(4, "n2", 7, 3)); // a pre-vote from a real log proposes term 3 + 1
    assertEquals(new Bootstrap.Refuse("n2", 3), b.decision());
    Bootstrap c = new Bootstrap("n1", THREE, Bootstrap.Mode.CHECKED);
    c.recovered(EMPTY);
    c.received(new RaftMessage.AppendEntries(2, "n3", 0, 0, List.of(), 0));
    assertEquals(new Bootstrap.Refuse("n3", 2), c.decision());
  }
}
