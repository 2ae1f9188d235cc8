package io.raftactors.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class MembershipSmokeTest {
  @Test
  void growTransferShrink() {
    CoreCluster c = CoreCluster.founded(ClusterConfig.of("n1", "n2", "n3"), RaftConfig.defaults());
    RaftCore l = c.elect();
    assertEquals("n1", l.id());
    c.write(5);
    c.addEmpty("n4", ClusterConfig.of("n1", "n2", "n3"));
    l.changeMembership(List.of(new MembershipChange.AddVoter("n4", "addr4")), 7);
    c.settle();
    c.tick(3);
    assertTrue(c.committedWith("n1", 7), c.outcomes.toString());
    assertEquals(List.of("n1", "n2", "n3", "n4"), c.node("n4").config().voters());
    assertEquals("addr4", l.config().address("n4"));
    l.transferLeadership("n4", 8);
    c.settle();
    assertEquals("n4", c.leader().id());
    assertEquals(List.of(new ProposalOutcome.Transferred(8, "n4")), c.outcomesOf("n1", 8));
    RaftCore l4 = c.leader();
    c.tick(3);
    l4.changeMembership(List.of(new MembershipChange.Remove("n4")), 9);
    c.tick(5);
    assertTrue(c.committedWith("n4", 9), c.outcomes.toString());
    RaftCore next = c.elect();
    assertTrue(!next.id().equals("n4"));
    assertEquals(List.of("n1", "n2", "n3"), next.config().voters());
  }
}
