package io.raftactors.sim;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.core.RaftConfig;
import io.raftactors.core.RaftCore;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/** Small helpers shared by the simulation tests. */
final class Sims {
  private Sims() {}

  static final RaftConfig DEFAULTS = RaftConfig.defaults();
  static final int ET_MAX = DEFAULTS.electionTimeoutMax();
  static final int ET_MIN = DEFAULTS.electionTimeoutMin();
  static final int HB = DEFAULTS.heartbeatInterval();

  /** {@code n} bootstrapped nodes, reliable network with delays of 1-2 ticks, 1-tick storage. */
  static Simulation cluster(int n, long seed, RaftConfig cfg) {
    return Simulation.builder().nodes(n).seed(seed).raftConfig(cfg).network(net -> net.reliable(2)).build();
  }

  static Simulation cluster(int n, long seed) {
    return cluster(n, seed, DEFAULTS);
  }

  /** Runs until a leader exists (at most 20 election timeouts) and returns it. */
  static RaftCore awaitLeader(Simulation sim) {
    int t = sim.runUntil(() -> sim.leader() != null, 20 * ET_MAX);
    assertTrue(t >= 0, () -> "no leader within " + 20 * ET_MAX + " ticks\n" + sim.summary());
    return sim.leader();
  }

  /** Runs until the proposal is acknowledged (at most {@code max} ticks). */
  static void awaitAck(Simulation sim, Simulation.Proposal p, int max) {
    int t = sim.runUntil(p::acknowledged, max);
    assertTrue(t >= 0, () -> p + " not acknowledged within " + max + " ticks\n" + sim.summary());
  }

  /** A chaos schedule with no faults at all; tests switch on the ones they need. */
  static Chaos.Schedule quiet(int ticks, Consumer<Chaos.Schedule> setup) {
    Chaos.Schedule s = new Chaos.Schedule();
    s.chaosTicks = ticks;
    s.maxDelay = 2;
    s.proposeRate = 0.2;
    setup.accept(s);
    return s;
  }

  /** Runs {@code schedule} then heals and checks liveness and convergence; returns the simulation. */
  static Simulation chaosRun(int nodes, long seed, RaftConfig cfg, Chaos.Schedule schedule, boolean quiesce) {
    Simulation sim = Simulation.builder().nodes(nodes).seed(seed).raftConfig(cfg).storageDelay(1, 3)
        .label(schedule.toString()).build();
    Chaos chaos = new Chaos(sim, schedule);
    chaos.run();
    if (quiesce) chaos.quiesce(30 * ET_MAX, 30 * ET_MAX);
    return sim;
  }

  /** The other ids of the simulation. */
  static List<String> others(Simulation sim, String... not) {
    List<String> out = new ArrayList<>(sim.ids());
    for (String x : not) out.remove(x);
    return out;
  }

  static RaftCore core(Simulation sim, String id) {
    RaftCore c = sim.core(id);
    assertNotNull(c, id + " is down");
    return c;
  }

  /**
   * Runs {@code task} for every item on all cores; each result is what the task returned, or the
   * AssertionError or RuntimeException it threw (a failed run), in the order of {@code items}.
   */
  static <T> List<Object> inParallel(List<T> items, java.util.function.Function<T, Object> task) throws Exception {
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newFixedThreadPool(Math.max(1, Runtime.getRuntime().availableProcessors()));
    try {
      List<java.util.concurrent.Future<Object>> futures = new ArrayList<>();
      for (T item : items) {
        futures.add(pool.submit(() -> {
          try {
            return task.apply(item);
          } catch (AssertionError | RuntimeException e) {
            return e;
          }
        }));
      }
      List<Object> out = new ArrayList<>();
      for (java.util.concurrent.Future<Object> f : futures) out.add(f.get());
      return out;
    } finally {
      pool.shutdown();
    }
  }

  /**
   * Prints the last {@code lines} lines of a recorded trace under {@code title}, and writes all of
   * it to {@code <prefix>-<name>.txt} if {@code -Draft.sim.traceFile=prefix} is set.
   */
  static void printTrace(Simulation sim, String title, String name, int lines) {
    List<String> trace = sim.trace();
    String file = System.getProperty("raft.sim.traceFile");
    if (file != null && !file.isBlank()) {
      try {
        java.nio.file.Files.write(java.nio.file.Path.of(file + "-" + name + ".txt"), trace);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
    System.out.println("=== " + title + ": " + trace.size() + " trace lines; last " + lines + ":");
    for (String line : trace.subList(Math.max(0, trace.size() - lines), trace.size())) System.out.println(line);
  }
}
