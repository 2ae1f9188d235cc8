package io.raftactors.sim;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.raftactors.core.Bootstrap;
import io.raftactors.core.RaftCore;
import io.raftactors.core.RaftMessage;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * T3.8-11 under seeded faults: in the middle of a randomized run, once the group is past term 0,
 * one founder loses its storage (a replaced disk) and is started again on empty storage. The
 * simulation runs the same {@link Bootstrap} decision as the actor shell.
 *
 * <ul>
 *   <li>{@code -Draft.sim.seed=S}: replays seed S of each test here.
 * </ul>
 */
class LostStorageSimulationTest {

  private static final String REPLAY = "mvn -B verify -pl raft-actors -Dtest=LostStorageSimulationTest -Draft.sim.seed=";
  private static final int SEEDS = 150;
  private static final Set<Simulation.Invariant> SAFETY = EnumSet.of(Simulation.Invariant.ELECTION_SAFETY,
      Simulation.Invariant.LEADER_COMPLETENESS, Simulation.Invariant.STATE_MACHINE_SAFETY,
      Simulation.Invariant.COMMIT_AGREEMENT, Simulation.Invariant.COMMITTED_KEPT, Simulation.Invariant.LOG_MATCHING,
      Simulation.Invariant.ACKNOWLEDGED_WRITES, Simulation.Invariant.CONVERGENCE);

  /** What one run did. */
  record Outcome(Simulation sim, String wiped, List<String> spoke) {}

  /**
   * raft.bootstrap = checked: the node asks the other founders, learns that the group is in a later
   * term, and refuses for good: it never grants a vote nor acknowledges an entry, every invariant
   * holds, and the other two members go on and converge.
   */
  @Test
  void sim_T3_8_11_aFounderThatLostItsStorageRefusesToTakePartAndTheOthersGoOn() throws Exception {
    List<Object> results = runAll(Bootstrap.Mode.CHECKED);
    Simulation.Counters total = new Simulation.Counters();
    for (int i = 0; i < results.size(); i++) {
      long seed = seeds().get(i);
      if (results.get(i) instanceof Throwable t) fail("FAILED seed " + seed + ": " + t.getMessage() + "\n  replay: " + REPLAY + seed, t);
      Outcome out = (Outcome) results.get(i);
      assertTrue(out.spoke().isEmpty(), () -> out.wiped() + " took part after losing its storage: " + out.spoke());
      assertTrue(out.sim().refusing(out.wiped()), () -> out.wiped() + " does not refuse\n" + out.sim().summary());
      total.add(out.sim().counters());
    }
    assertTrue(total.storageLosses == seeds().size(), total::toString);
  }

  /**
   * The same runs with raft.bootstrap = unchecked: the node founds the group again from term 0, and
   * votes and acknowledges what it forgot. The simulation catches it breaking Raft's safety in some
   * seeds: this is what the check prevents, and it shows the scenario can fail.
   */
  @Test
  void sim_T3_8_11_withoutTheCheckAFounderThatLostItsStorageBreaksSafety() throws Exception {
    if (!seeds().equals(defaultSeeds())) return; // a single replayed seed need not break anything
    List<Object> results = runAll(Bootstrap.Mode.UNCHECKED);
    int broken = 0;
    List<String> seen = new ArrayList<>();
    for (Object o : results) {
      if (o instanceof Simulation.SimulationFailure f && SAFETY.contains(f.invariant)) {
        broken++;
        if (seen.size() < 3) seen.add(f.invariant.label());
      }
    }
    System.out.println("T3.8-11 without the check: " + broken + " of " + results.size() + " runs broke safety, e.g. " + seen);
    assertTrue(broken > 0, "no run broke safety with raft.bootstrap = unchecked");
  }

  private static List<Long> defaultSeeds() {
    List<Long> out = new ArrayList<>();
    for (long s = 1; s <= SEEDS; s++) out.add(s);
    return out;
  }

  private static List<Long> seeds() {
    String single = System.getProperty("raft.sim.seed");
    return single != null && !single.isBlank() ? List.of(Long.parseLong(single.trim())) : defaultSeeds();
  }

  /** Each seed's run, in seed order: an {@link Outcome}, or the failure it ended with. */
  private static List<Object> runAll(Bootstrap.Mode mode) throws Exception {
    return Sims.inParallel(seeds(), seed -> run(seed, mode));
  }

  static Outcome run(long seed, Bootstrap.Mode mode) {
    RandomizedSimulationTest.Run base = RandomizedSimulationTest.build(seed, 3, false);
    Chaos.Schedule schedule = base.schedule();
    schedule.membership = false;
    Simulation sim = Simulation.builder().nodes(3).seed(seed).raftConfig(base.sim().raftConfig()).storageDelay(1, 3)
        .bootstrapMode(mode).label(schedule + " lost-storage").replayCommand(REPLAY + seed).build();
    SplittableRandom r = new SplittableRandom(seed * 7 + 3);
    String wiped = "n" + (1 + r.nextInt(3));
    long wipeFrom = 100 + r.nextInt(Math.max(1, schedule.chaosTicks / 2));
    boolean[] done = new boolean[1];
    List<String> spoke = new ArrayList<>();
    sim.onSend(e -> {
      if (!done[0] || !e.from().equals(wiped)) return;
      RaftMessage m = e.message();
      if ((m instanceof RaftMessage.RequestVoteResponse v && v.granted())
          || (m instanceof RaftMessage.AppendEntriesResponse a && a.success())) {
        spoke.add(e.toString());
      }
    });
    sim.beforeTick(() -> {
      if (done[0] || sim.now() < wipeFrom) return;
      boolean pastTermZero = false;
      for (String id : sim.ids()) {
        RaftCore c = sim.core(id);
        if (c != null && c.term() > 0) pastTermZero = true;
      }
      if (!pastTermZero) return;
      sim.wipe(wiped);
      sim.restart(wiped); // on empty storage
      done[0] = true;
    });
    Chaos chaos = new Chaos(sim, schedule);
    chaos.run();
    int et = sim.raftConfig().electionTimeoutMax();
    chaos.quiesce(30 * et, 30 * et);
    return new Outcome(sim, wiped, spoke);
  }
}
