package io.raftactors.sim;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.raftactors.core.RaftConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Randomized simulation over many seeds (SIM-05, SIM-08, P5.2-16, P5.3-14, P5.3-17, P5.3-20,
 * P5.3-21, P5.4.3-01..03, P5.1-07, T3.8-10, NET-01..04, NET-08, NET-10, NET-12, P5.6-04, T6.4-05):
 * each seed runs a 3-node and a 5-node group under a random mix of faults (see {@link
 * Chaos.Schedule}) and client writes and reads, with every invariant checked after every event (no
 * read is served without every index committed before it was issued), then heals everything and
 * asserts liveness and convergence. In 40% of the runs the nodes compact their logs every 2, 5 or
 * 20 applied entries, so that followers catch up with InstallSnapshot all the time (LIN-10 h); in
 * 30% one follower at a time is cut off long enough to fall far behind; in 30% an operator changes
 * the members and transfers leadership during the faults (LIN-10 g, NET-11). No run may come near
 * the simulation's message budget.
 *
 * <ul>
 *   <li>{@code -Draft.sim.seeds=N}: seeds 1..N per group size (default 5000).
 *   <li>{@code -Draft.sim.seed=S}: replays seed S only (both sizes, or {@code -Draft.sim.nodes=3})
 *       and prints its trace summary ({@code -Draft.sim.traceFile=prefix} writes the whole trace).
 *   <li>{@code -Draft.sim.random=true}: soak mode, fresh random seeds, each printed before its run.
 * </ul>
 */
class RandomizedSimulationTest {

  static final String REPLAY = "mvn -B verify -pl raft-actors -Dtest=RandomizedSimulationTest -Draft.sim.seed=";

  /** Snapshot thresholds (entries applied since the last snapshot) of the runs with compaction. */
  static final int[] SNAPSHOT_EVERY = {2, 5, 20};
  /** Snapshot chunk sizes (bytes) of the runs with compaction: many small chunks, a few, or one. */
  static final int[] SNAPSHOT_CHUNK = {64, 256, 1024, 256 * 1024};

  /** The settings and faults of one seed, all drawn from the seed itself. */
  record Run(Simulation sim, Chaos.Schedule schedule) {
    /** Faults, then healing and the liveness check. */
    Simulation execute() {
      Chaos chaos = new Chaos(sim, schedule);
      chaos.run();
      int et = sim.raftConfig().electionTimeoutMax();
      chaos.quiesce(30 * et, 30 * et);
      return sim;
    }
  }

  static Run build(long seed, int nodes, boolean recordTrace) {
    return build(seed, nodes, recordTrace, false, false);
  }

  /**
   * The run of a seed. Membership changes and transfers ({@link Chaos.Schedule#membership}, with two
   * spare nodes to add) come in 30% of the seeds, or in every one with {@code forceMembership};
   * log compaction in 40%, or in every one with {@code forceCompaction}.
   */
  static Run build(long seed, int nodes, boolean recordTrace, boolean forceMembership, boolean forceCompaction) {
    return build(seed, nodes, recordTrace, forceMembership, forceCompaction, Simulation.DEFAULT_SESSION_TIMEOUT);
  }

  /** As above, with client sessions that expire after {@code sessionTimeout} of logged time. */
  static Run build(long seed, int nodes, boolean recordTrace, boolean forceMembership, boolean forceCompaction,
      long sessionTimeout) {
    SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + nodes);
    RaftConfig cfg = RaftConfig.defaults()
        .withPreVote(r.nextInt(4) != 0)
        .withCheckQuorum(r.nextInt(4) != 0)
        .withConflictHint(r.nextInt(4) != 0);
    int[] batch = {1, 2, 4, 256};
    int[] window = {1, 2, 8};
    cfg = cfg.withBatching(batch[r.nextInt(batch.length)], 1 << 20, window[r.nextInt(window.length)]);
    Chaos.Schedule schedule = Chaos.Schedule.random(r, cfg);
    int storageMax = 1 + r.nextInt(5);
    // Lease reads (thesis 6.4.1) in half of the runs whose faults keep within the lease's timing
    // assumptions: check-quorum on, no pause (a stalled leader's clock stops while real time goes
    // on), and a lease shortened by the schedule's worst ratio of tick rates (the clock drift bound).
    if (cfg.checkQuorum() && !schedule.pauses && r.nextBoolean()) {
      cfg = withLeaseTicks(cfg, (int) Math.floor(cfg.electionTimeoutMin() * schedule.skewMin / schedule.skewMax));
    }
    // Drawn from a stream of their own, so that the draws above (and a seed without these) stay as they were.
    SplittableRandom more = new SplittableRandom(seed * 0xC2B2AE3D27D4EB4FL + nodes);
    // Log compaction in 40% of the runs (LIN-10 h): a tiny threshold and small chunks keep InstallSnapshot busy.
    int snapshotEvery = 0;
    if (more.nextInt(100) < 40 || forceCompaction) {
      snapshotEvery = SNAPSHOT_EVERY[more.nextInt(SNAPSHOT_EVERY.length)];
      cfg = cfg.withSnapshotChunkBytes(SNAPSHOT_CHUNK[more.nextInt(SNAPSHOT_CHUNK.length)]);
      // Transfers of many chunks run with the schedule's duplication too (InstallSnapshotStormTest).
    }
    // Long isolations of one follower in 30% of the runs: it falls far behind and catches up.
    schedule.laggards = more.nextInt(100) < 30;
    // Membership changes and transfers under the faults (LIN-10 g, NET-11), from a third stream.
    SplittableRandom admin = new SplittableRandom(seed * 0x165667B19E3779F9L + nodes);
    if (admin.nextInt(100) < 30 || forceMembership) {
      schedule.membership = true;
      schedule.adminRate = 0.005 + admin.nextDouble() * 0.02;
    }
    Simulation sim = Simulation.builder()
        .nodes(nodes)
        .spares(schedule.membership ? 2 : 0)
        .seed(seed)
        .raftConfig(cfg)
        .snapshotEvery(snapshotEvery)
        .sessionTimeout(sessionTimeout)
        .storageDelay(1, storageMax)
        .recordTrace(recordTrace)
        .label(schedule.toString())
        .replayCommand(REPLAY + seed + " -Draft.sim.nodes=" + nodes)
        .build();
    return new Run(sim, schedule);
  }

  static RaftConfig withLeaseTicks(RaftConfig c, int leaseTicks) {
    return new RaftConfig(c.electionTimeoutMin(), c.electionTimeoutMax(), c.heartbeatInterval(), c.preVote(),
        c.checkQuorum(), c.conflictHint(), c.maxEntriesPerAppend(), c.maxBytesPerAppend(), c.maxInflightAppends(),
        c.snapshotChunkBytes(), leaseTicks);
  }

  /** Runs one seed; returns the finished simulation. */
  static Simulation runSeed(long seed, int nodes, boolean recordTrace) {
    return build(seed, nodes, recordTrace).execute();
  }

  @Test
  void randomized_SIM_05_SIM_08_invariantsAndLivenessOverSeeds() throws Exception {
    String single = System.getProperty("raft.sim.seed");
    if (single != null && !single.isBlank()) {
      replay(Long.parseLong(single.trim()));
      return;
    }
    int count = Integer.getInteger("raft.sim.seeds", 5000);
    boolean soak = Boolean.getBoolean("raft.sim.random");
    List<Long> seeds = new ArrayList<>();
    SplittableRandom fresh = new SplittableRandom();
    for (int i = 1; i <= count; i++) seeds.add(soak ? fresh.nextLong() & Long.MAX_VALUE : (long) i);

    long started = System.nanoTime();
    int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    List<Future<Object>> results = new ArrayList<>();
    double[] peak = new double[2]; // messages, events per node per tick: the worst run
    for (long seed : seeds) {
      for (int nodes : new int[] {3, 5}) {
        results.add(pool.submit(() -> {
          if (soak) System.out.println("sim seed " + seed + " nodes " + nodes);
          try {
            Simulation sim = runSeed(seed, nodes, false);
            synchronized (peak) {
              peak[0] = Math.max(peak[0], sim.messagesPerNodePerTick());
              peak[1] = Math.max(peak[1], sim.eventsPerNodePerTick());
            }
            return sim.counters();
          } catch (AssertionError | RuntimeException e) {
            String msg = "FAILED seed " + seed + " nodes " + nodes + ": " + e.getMessage()
                + "\n  replay: " + REPLAY + seed + " -Draft.sim.nodes=" + nodes;
            System.out.println(msg);
            return msg;
          }
        }));
      }
    }
    Simulation.Counters total = new Simulation.Counters();
    List<String> failures = new ArrayList<>();
    for (Future<Object> f : results) {
      Object o = f.get();
      if (o instanceof Simulation.Counters c) total.add(c);
      else failures.add((String) o);
    }
    pool.shutdown();
    double secs = (System.nanoTime() - started) / 1e9;
    System.out.printf("randomized simulation: %d seeds x 2 sizes in %.1f s on %d threads%n  %s%n"
            + "  worst run: %.2f messages and %.2f events per node per tick (budget %.0f and %.0f)%n",
        seeds.size(), secs, threads, total, peak[0], peak[1], Simulation.DEFAULT_MESSAGES_PER_NODE_PER_TICK,
        Simulation.DEFAULT_EVENTS_PER_NODE_PER_TICK);
    if (!failures.isEmpty()) {
      fail(failures.size() + " failing runs; first:\n" + failures.get(0));
    }
    assertCountersExercised(total, count >= 200);
    assertWellUnderBudget(peak[0], peak[1]);
  }

  /** The default budget is far above what a healthy run needs: a quarter of it is never reached. */
  static void assertWellUnderBudget(double messagesPerNodePerTick, double eventsPerNodePerTick) {
    assertTrue(messagesPerNodePerTick < Simulation.DEFAULT_MESSAGES_PER_NODE_PER_TICK / 4,
        "a run sent " + messagesPerNodePerTick + " messages per node per tick");
    assertTrue(eventsPerNodePerTick < Simulation.DEFAULT_EVENTS_PER_NODE_PER_TICK / 4,
        "a run processed " + eventsPerNodePerTick + " events per node per tick");
  }

  /** SIM-08: summed over the seeds, every fault and code path the schedule aims at happened. */
  static void assertCountersExercised(Simulation.Counters total, boolean enoughSeeds) {
    Map<String, Long> m = total.asMap();
    String[] must = {"preVoteRounds", "elections", "leadersElected", "leaderStepDowns", "truncations", "proposals",
        "proposalsRejected", "clientOpsCompleted", "messagesDropped", "messagesDuplicated", "writes", "crashes",
        "restarts", "partitions", "entriesApplied", "reads", "leaseReads", "readsServed", "readsFailed", "snapshots",
        "snapshotChunks", "snapshotsInstalled", "membershipChanges", "membershipChangesDone", "transfers", "transfersDone"};
    String[] rarer = {"proposalsUnknown", "crashesWithWritesInFlight", "leaderCrashes", "writesDiscardedByCrash",
        "messagesDiscardedByCrash", "messagesFromEarlierIncarnation", "pauses", "membershipChangesRejected",
        "jointConfigurations"};
    for (String k : must) assertTrue(m.get(k) > 0, "counter " + k + " stayed 0: " + m);
    if (enoughSeeds) for (String k : rarer) assertTrue(m.get(k) > 0, "counter " + k + " stayed 0: " + m);
  }

  private void replay(long seed) {
    String nodesProp = System.getProperty("raft.sim.nodes");
    int[] sizes = nodesProp == null || nodesProp.isBlank() ? new int[] {3, 5} : new int[] {Integer.parseInt(nodesProp)};
    for (int nodes : sizes) {
      Run run = build(seed, nodes, true);
      Simulation sim = run.sim();
      try {
        run.execute();
      } finally {
        Sims.printTrace(sim, "replay seed " + seed + " nodes " + nodes, seed + "-" + nodes, 200);
        System.out.println(sim.summary());
      }
    }
  }
}
