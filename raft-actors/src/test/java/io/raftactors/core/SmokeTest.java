package io.raftactors.core;

import static io.raftactors.core.CoreFixture.*;
import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class SmokeTest {
  @Test
  void singleNodeElectsItselfAndCommitsAfterItsOwnWrite() {
    RaftCore n = node("n1", ClusterConfig.of("n1"), 0);
    Ready r = elect(n);
    assertEquals(Role.LEADER, n.role());
    long idx = n.propose(cmd("x"), 7);
    Ready w = n.ready();
    assertEquals(0, n.commitIndex() >= idx ? 1 : 0);
    persist(n, w);
    Ready applied = n.ready();
    assertEquals(idx, n.commitIndex());
    assertEquals(7, applied.committed().get(applied.committed().size() - 1).correlationId());
    assertNotNull(r);
  }
}
