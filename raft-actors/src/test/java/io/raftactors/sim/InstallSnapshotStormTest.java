package io.raftactors.sim;

import static io.raftactors.sim.Sims.DEFAULTS;
import static io.raftactors.sim.Sims.awaitLeader;
import static io.raftactors.sim.Sims.others;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.core.RaftCore;
import io.raftactors.core.RaftMessage;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

/**
 * T5.1-07: a leader sends a snapshot one chunk at a time. A known defect of the core breaks it,
 * found by the simulation's message budget once its nodes took snapshots: while a follower is in
 * snapshot mode, every InstallSnapshotResponse the leader receives (a duplicate or a stale one too)
 * makes it send another chunk, and every heartbeat adds one more, so the chunks and replies in
 * flight only grow in number until the transfer ends. With duplicated messages they grow
 * exponentially: here a 13-chunk snapshot takes 2145 chunks in 38 ticks, and randomized runs with
 * 64-byte chunks and 5-20% duplication sent hundreds of thousands of messages. Without
 * duplication they grow with every heartbeat: a randomized run with 256-byte chunks and no loss
 * sent 57,550 chunks. So the randomized runs use chunks of 1 KiB (a few per snapshot) or one
 * chunk, and no duplication when a snapshot takes several chunks. Enable this test, and lift those
 * limits in RandomizedSimulationTest, once the leader acts only on the reply to the chunk it has
 * outstanding.
 */
class InstallSnapshotStormTest {

  @Test
  @Disabled("known RaftCore defect: every InstallSnapshotResponse, duplicates and stale ones too, triggers another "
      + "chunk (13 chunks needed, 2145 sent in 38 ticks); the core is being restructured on another branch")
  void sim_T5_1_07_oneChunkAtATimeEvenWhenMessagesAreDuplicated() {
    Simulation sim = Simulation.builder().nodes(3).seed(5).snapshotEvery(5)
        .raftConfig(DEFAULTS.withSnapshotChunkBytes(64)).network(n -> n.reliable(2).duplicateRate(0.2)).build();
    RaftCore l = awaitLeader(sim);
    String f = others(sim, l.id()).get(0);
    sim.isolate(f);
    for (int i = 0; i < 100; i++) {
      sim.propose(l.id());
      sim.runTicks(1);
    }
    assertTrue(l.snapshotIndex() > sim.core(f).lastIndex(), "setup: the follower needs the snapshot");
    int chunks = (l.snapshot().data().length + 63) / 64;
    long[] sent = {0};
    sim.onSend(e -> {
      if (e.to().equals(f) && e.message() instanceof RaftMessage.InstallSnapshot) sent[0]++;
    });
    sim.heal();
    long start = sim.now();
    int t = sim.runUntil(() -> sim.core(f).snapshotIndex() >= l.snapshotIndex() - 5, 2000);
    System.out.printf("T5.1-07: %d chunks of 64 bytes needed, %d sent in %d ticks (%d messages in all)%n", chunks,
        sent[0], sim.now() - start, sim.counters().messagesSent);
    assertTrue(t >= 0, "the follower installed the snapshot");
    // One chunk at a time: each chunk once, plus a retry per heartbeat interval at most.
    long bound = chunks + (sim.now() - start) / DEFAULTS.heartbeatInterval() + 1;
    assertTrue(sent[0] <= bound, sent[0] + " chunks sent, at most " + bound + " expected");
  }
}
