package io.raftactors.sim;

import static io.raftactors.sim.Sims.DEFAULTS;
import static io.raftactors.sim.Sims.awaitLeader;
import static io.raftactors.sim.Sims.others;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.core.RaftCore;
import io.raftactors.core.RaftMessage;
import org.junit.jupiter.api.Test;

/**
 * T5.1-07: a leader sends a snapshot one chunk at a time, also when messages are duplicated. The
 * simulation's message budget found a storm once its nodes took snapshots: every
 * InstallSnapshotResponse the leader received (a duplicate or a stale one too) made it send another
 * chunk, and every heartbeat added one more, so chunks in flight multiplied (here 2,145 chunks for a
 * 13-chunk snapshot in 38 ticks). Now only the answer to the chunk in flight sends the next one at
 * once; other answers only move where the next resend starts, and a resend waits for a heartbeat
 * interval without an answer. The randomized runs send snapshots in chunks of 64 B to 256 KiB,
 * with their schedule's duplication.
 */
class InstallSnapshotStormTest {

  @Test
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
