package io.raftactors.sim;

import io.raftactors.core.ClusterConfig;
import io.raftactors.core.MembershipChange;
import io.raftactors.core.RaftConfig;
import io.raftactors.core.RaftCore;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * A fault schedule driven through a {@link Simulation}: message loss, duplication, reordering and
 * delays, random and flapping partitions (including one-way links and bridges), long isolations of
 * one follower that leave it far behind ({@link Schedule#laggards}), crash-restart of
 * random nodes (leaders and nodes with writes in flight included), GC-like pauses, tick-rate skew,
 * client proposals and client reads (ReadIndex, and lease reads where the settings enable them),
 * and, with {@link Schedule#membership}, membership changes and leadership transfers asked by an
 * operator in the middle of it all. {@link #run} applies the faults for {@link Schedule#chaosTicks}; {@link
 * #quiesce} then removes every fault and checks liveness: a leader appears, every node converges
 * to the same committed log and applied state, and reads are served. All decisions come from the simulation's seeded
 * random source, so a seed replays exactly.
 */
public final class Chaos {

  /** Which faults a run uses, and how hard. */
  public static final class Schedule {
    public int chaosTicks = 500;
    public double dropRate;
    public double duplicateRate;
    public int maxDelay = 2;
    public double longDelayRate;
    public int longDelayMax = 1;
    /** Random partitions (bipartitions, isolation of the leader, bridges). */
    public boolean partitions;
    /** Partitions may be one-way cuts of single directed links. */
    public boolean oneWay;
    /** Partitions change every 1-5 election timeouts (else every 5-15). */
    public boolean flapping;
    /**
     * Now and then one follower is cut off for 10-30 election timeouts while the others go on, so
     * that it falls far behind (a long catch-up, or InstallSnapshot once the leader compacted), then
     * the group is whole again for a while.
     */
    public boolean laggards;
    public boolean crashes;
    public boolean pauses;
    /** Per-node tick rates drawn from [skewMin, skewMax] (1.0 = no skew). */
    public double skewMin = 1.0;
    public double skewMax = 1.0;
    /** Chance per global tick that a client proposes a command. */
    public double proposeRate = 0.1;
    /**
     * Chance per global tick that a client reads (thesis 6.4); half of the reads are lease reads
     * when the settings enable them. The simulation checks every served read.
     */
    public double readRate;
    /**
     * An operator changes the members now and then (LIN-10 g, NET-11): adds spare nodes as voters
     * or learners, promotes and removes members (the leader too), replaces two voters at once
     * (a joint change, thesis 4.3), and transfers leadership (thesis 3.10). Needs spare nodes
     * ({@link Simulation.Builder#spares}) to add.
     */
    public boolean membership;
    /** Chance per global tick that the operator asks for a membership change or a transfer. */
    public double adminRate;

    /** A random mix of every fault kind, drawn from {@code r}. */
    public static Schedule random(SplittableRandom r, RaftConfig cfg) {
      Schedule s = new Schedule();
      s.chaosTicks = 500 + r.nextInt(1500);
      if (r.nextInt(100) < 50) s.dropRate = r.nextDouble() * 0.2;
      if (r.nextInt(100) < 40) s.duplicateRate = r.nextDouble() * 0.2;
      s.maxDelay = 1 + r.nextInt(Math.max(1, cfg.electionTimeoutMin() / 2));
      if (r.nextInt(100) < 30) {
        s.longDelayRate = 0.02 + r.nextDouble() * 0.05;
        s.longDelayMax = 3 * cfg.electionTimeoutMax();
      }
      s.partitions = r.nextInt(100) < 70;
      s.oneWay = s.partitions && r.nextInt(100) < 40;
      s.flapping = s.partitions && r.nextInt(100) < 50;
      s.crashes = r.nextInt(100) < 60;
      s.pauses = r.nextInt(100) < 30;
      if (r.nextInt(100) < 40) {
        s.skewMin = 0.5;
        s.skewMax = 2.0;
      }
      s.proposeRate = 0.05 + r.nextDouble() * 0.25;
      s.readRate = 0.05 + r.nextDouble() * 0.2;
      return s;
    }

    @Override
    public String toString() {
      return "ticks=" + chaosTicks + " drop=" + fmt(dropRate) + " dup=" + fmt(duplicateRate) + " delay<=" + maxDelay
          + (longDelayRate > 0 ? " long=" + fmt(longDelayRate) + "@" + longDelayMax : "")
          + (partitions ? " partitions" + (oneWay ? "+oneway" : "") + (flapping ? "+flapping" : "") : "")
          + (laggards ? " laggards" : "")
          + (crashes ? " crashes" : "") + (pauses ? " pauses" : "")
          + (skewMax != 1.0 || skewMin != 1.0 ? " skew=" + skewMin + ".." + skewMax : "")
          + " propose=" + fmt(proposeRate) + (readRate > 0 ? " read=" + fmt(readRate) : "")
          + (membership ? " membership=" + fmt(adminRate) : "");
    }

    private static String fmt(double d) {
      return String.format(java.util.Locale.ROOT, "%.3f", d);
    }
  }

  private final Simulation sim;
  private final Schedule schedule;
  private final SplittableRandom rnd;
  private final RaftConfig cfg;
  private final long[] restartAt;
  private long nextPartitionChange;
  private long pausedUntil;
  private String laggard;
  /** Nodes the operator stopped for good after their removal; restarted only if added again. */
  private final Set<String> decommissioned = new HashSet<>();
  private final List<Simulation.Admin> asked = new ArrayList<>();
  /** Nodes a script will add later: never stopped for good. */
  private final Set<String> toBeAdded = new HashSet<>();

  public Chaos(Simulation sim, Schedule schedule) {
    this.sim = sim;
    this.schedule = schedule;
    this.rnd = sim.random();
    this.cfg = sim.raftConfig();
    this.restartAt = new long[sim.ids().size()];
  }

  /** Tells the operator that a script will add these nodes: they are never stopped for good. */
  public Chaos willAdd(java.util.Collection<String> ids) {
    toBeAdded.addAll(ids);
    return this;
  }

  /** Applies the schedule's faults for {@link Schedule#chaosTicks} global ticks. */
  public void run() {
    sim.network().dropRate(schedule.dropRate).duplicateRate(schedule.duplicateRate).delay(1, schedule.maxDelay)
        .longDelays(schedule.longDelayRate, schedule.longDelayMax);
    List<String> ids = sim.ids();
    if (schedule.skewMax != 1.0 || schedule.skewMin != 1.0) {
      for (String id : ids) {
        sim.setTickRate(id, schedule.skewMin + rnd.nextDouble() * (schedule.skewMax - schedule.skewMin));
      }
    }
    long end = sim.now() + schedule.chaosTicks;
    nextPartitionChange = sim.now() + cfg.electionTimeoutMax() * 2L;
    while (sim.now() < end) {
      faultsFor(ids);
      if (rnd.nextDouble() < schedule.proposeRate) proposeSomewhere(ids);
      if (schedule.readRate > 0 && rnd.nextDouble() < schedule.readRate) readSomewhere(ids);
      if (schedule.membership) decommissionRemoved(); // before asking again: a node stopped is not added back
      if (schedule.membership && rnd.nextDouble() < schedule.adminRate) adminSomewhere(ids);
      sim.runTicks(1);
    }
  }

  private void faultsFor(List<String> ids) {
    long now = sim.now();
    int n = ids.size();
    if ((schedule.partitions || schedule.laggards) && now >= nextPartitionChange) {
      int et = cfg.electionTimeoutMax();
      if (laggard != null) {
        sim.heal(); // the laggard catches up
        laggard = null;
        nextPartitionChange = now + et * (2 + rnd.nextInt(4));
      } else if (schedule.laggards && (!schedule.partitions || rnd.nextInt(3) == 0)) {
        cutOffLaggard(ids);
        nextPartitionChange = now + et * (10 + rnd.nextInt(21));
      } else {
        changePartition(ids);
        nextPartitionChange = now + (schedule.flapping ? et * (1 + rnd.nextInt(5)) : et * (5 + rnd.nextInt(11)));
      }
    }
    if (schedule.crashes) {
      int down = 0;
      for (int i = 0; i < n; i++) {
        if (!sim.isUp(ids.get(i))) {
          down++;
          if (now >= restartAt[i] && !decommissioned.contains(ids.get(i)) && !sim.refusing(ids.get(i))) {
            sim.restart(ids.get(i));
            down--;
          }
        }
      }
      if (down < (n - 1) / 2 + (n == 3 ? 1 : 0) && rnd.nextInt(120) == 0) {
        String victim = pickVictim(ids);
        if (victim != null) {
          sim.crash(victim);
          restartAt[ids.indexOf(victim)] = now + 3 + rnd.nextInt(4 * cfg.electionTimeoutMax());
        }
      }
    }
    if (schedule.pauses && now >= pausedUntil && rnd.nextInt(200) == 0) {
      String id = ids.get(rnd.nextInt(n));
      if (sim.isUp(id)) {
        int ticks = cfg.electionTimeoutMin() + rnd.nextInt(3 * cfg.electionTimeoutMax());
        sim.pause(id, ticks);
        pausedUntil = now + ticks;
      }
    }
  }

  /** The leader (40%), a node with writes in flight (30%), or anyone up. */
  private String pickVictim(List<String> ids) {
    int roll = rnd.nextInt(10);
    RaftCore leader = sim.leader();
    if (roll < 4 && leader != null) return leader.id();
    List<String> up = new ArrayList<>();
    List<String> writing = new ArrayList<>();
    for (String id : ids) {
      if (!sim.isUp(id)) continue;
      up.add(id);
      if (sim.pendingWrites(id) > 0) writing.add(id);
    }
    if (roll < 7 && !writing.isEmpty()) return writing.get(rnd.nextInt(writing.size()));
    return up.isEmpty() ? null : up.get(rnd.nextInt(up.size()));
  }

  /** Cuts off one follower (any node if no leader is known) from everyone, for a long time. */
  private void cutOffLaggard(List<String> ids) {
    sim.heal();
    RaftCore leader = sim.leader();
    List<String> candidates = new ArrayList<>(ids);
    if (leader != null) candidates.remove(leader.id());
    laggard = candidates.get(rnd.nextInt(candidates.size()));
    sim.isolate(laggard);
  }

  private void changePartition(List<String> ids) {
    sim.heal();
    int n = ids.size();
    int kind = rnd.nextInt(schedule.oneWay ? 6 : 4);
    if (kind == 0) return; // connected for a while
    if (kind == 1) {
      // a random bipartition: a minority side and a majority side
      List<String> shuffled = shuffled(ids);
      int k = 1 + rnd.nextInt(n / 2);
      sim.partition(shuffled.subList(0, k), shuffled.subList(k, n));
    } else if (kind == 2) {
      RaftCore leader = sim.leader();
      sim.isolate(leader != null ? leader.id() : ids.get(rnd.nextInt(n))); // leader isolation
    } else if (kind == 3) {
      // a bridge: two halves that only one node can reach both of
      List<String> s = shuffled(ids);
      // s.get(0) is in neither group, so it still reaches both
      int half = 1 + (n - 1) / 2;
      List<String> a = new ArrayList<>(s.subList(1, half));
      List<String> b = new ArrayList<>(s.subList(half, n));
      sim.partition(a, b);
    } else {
      // one-way cuts of random directed links
      int cuts = 1 + rnd.nextInt(n);
      for (int i = 0; i < cuts; i++) {
        String from = ids.get(rnd.nextInt(n));
        String to = ids.get(rnd.nextInt(n));
        if (!from.equals(to)) sim.cut(from, to);
      }
    }
  }

  private List<String> shuffled(List<String> ids) {
    List<String> s = new ArrayList<>(ids);
    for (int i = s.size() - 1; i > 0; i--) {
      int j = rnd.nextInt(i + 1);
      String t = s.get(i);
      s.set(i, s.get(j));
      s.set(j, t);
    }
    return s;
  }

  /** A client sends a command: usually to the leader, sometimes to any node (which may refuse). */
  private void proposeSomewhere(List<String> ids) {
    RaftCore leader = sim.leader();
    String target;
    if (leader != null && rnd.nextInt(10) < 8) {
      target = leader.id();
    } else {
      target = ids.get(rnd.nextInt(ids.size()));
    }
    if (sim.isUp(target) && !sim.isPaused(target)) sim.propose(target);
  }

  /** A client reads: usually at the leader, sometimes at any node (a follower asks its leader). */
  private void readSomewhere(List<String> ids) {
    RaftCore leader = sim.leader();
    String target = leader != null && rnd.nextInt(10) < 6 ? leader.id() : ids.get(rnd.nextInt(ids.size()));
    if (!sim.isUp(target) || sim.isPaused(target)) return;
    if (cfg.leaseTicks() > 0 && rnd.nextBoolean()) sim.leaseRead(target);
    else sim.read(target);
  }

  /**
   * An operator asks a node (the leader most of the time) for a membership change or a transfer,
   * built from the configuration that node has: add a node outside it (as voter or learner),
   * promote or remove a learner, remove a voter (the leader included), replace two voters by two
   * outsiders at once, or hand leadership to a voter (or to whoever is most up to date). The group
   * keeps between two and five voters. A removed member may be added back later with the storage it
   * kept, unless the operator stopped it for good (see {@link #decommissionRemoved}).
   */
  private void adminSomewhere(List<String> ids) {
    RaftCore leader = sim.leader();
    String at = leader != null && rnd.nextInt(10) < 8 ? leader.id() : ids.get(rnd.nextInt(ids.size()));
    if (!sim.isUp(at) || sim.isPaused(at)) return;
    ClusterConfig conf = sim.core(at).config();
    List<String> voters = new ArrayList<>(conf.voters());
    List<String> learners = new ArrayList<>(conf.learners());
    List<String> outside = new ArrayList<>();
    for (String id : ids) if (!conf.isMember(id) && !decommissioned.contains(id)) outside.add(id);
    int roll = rnd.nextInt(10);
    if (roll < 3) {
      String target = rnd.nextBoolean() ? null : voters.get(rnd.nextInt(voters.size()));
      asked.add(sim.transferLeadership(at, target));
      return;
    }
    List<MembershipChange> changes = new ArrayList<>();
    if (roll < 5 && !outside.isEmpty() && voters.size() < 5) {
      String id = pick(outside);
      changes.add(rnd.nextInt(4) == 0 ? new MembershipChange.AddLearner(id, null) : new MembershipChange.AddVoter(id, null));
    } else if (roll < 6 && !learners.isEmpty()) {
      String id = pick(learners);
      changes.add(voters.size() < 5 && rnd.nextBoolean() ? new MembershipChange.Promote(id) : new MembershipChange.Remove(id));
    } else if (roll < 8 && voters.size() > 2) {
      changes.add(new MembershipChange.Remove(pick(voters)));
    } else if (outside.size() >= 2 && voters.size() >= 3) {
      // Two voters out and two in, in one request: a joint change (thesis 4.3).
      List<String> out = shuffled(voters).subList(0, 2);
      List<String> in = shuffled(outside).subList(0, 2);
      for (String id : out) changes.add(new MembershipChange.Remove(id));
      for (String id : in) changes.add(new MembershipChange.AddVoter(id, null));
    } else {
      return;
    }
    asked.add(sim.changeMembership(at, changes));
  }

  private String pick(List<String> from) {
    return from.get(rnd.nextInt(from.size()));
  }

  /**
   * Without pre-vote a removed member that never heard of its removal campaigns again and again
   * with higher terms. Without check-quorum the members adopt them (thesis 4.2.3); with it they
   * ignore them, but the members already removed do not (no leader talks to them any more), and a
   * late answer of theirs to an AppendEntries sent before their removal carries the higher term to
   * the leader, which steps down. So in runs without pre-vote the operator stops a member for good
   * once its removal is known applied (the leader's configuration lacks it).
   */
  private void decommissionRemoved() {
    if (cfg.preVote()) return;
    RaftCore leader = sim.leader();
    if (leader == null) return;
    for (Simulation.Admin a : asked) {
      if (a.transfer || a.status() != Simulation.Admin.Status.DONE) continue;
      for (MembershipChange c : a.changes) {
        String id = c.id();
        if (c instanceof MembershipChange.Remove && !leader.config().isMember(id) && decommissioned.add(id)
            && sim.isUp(id)) {
          sim.crash(id);
        }
      }
    }
    asked.removeIf(a -> a.status() != Simulation.Admin.Status.PENDING);
  }

  /**
   * After the healing, stops for good the nodes that are removed for good (runs without pre-vote,
   * see above): outside the latest committed configuration, and outside every later one
   * that its members hold or prepare. Only those members can lead from now on, and no new change
   * is asked, so such a node is not coming back.
   */
  private void decommissionNonMembers() {
    if (cfg.preVote()) return;
    ClusterConfig committed = sim.committedConfig();
    if (committed == null) return;
    Set<String> staying = new HashSet<>(committed.members());
    staying.addAll(toBeAdded);
    long commit = sim.committedMax();
    for (String m : committed.members()) {
      RaftCore c = sim.isUp(m) ? sim.core(m) : null;
      if (c == null) return; // a member that is down might hold another configuration
      // A configuration after the committed one may still take effect; one before it never will.
      if (sim.configIndex(m) > commit) staying.addAll(c.config().members());
      var change = c.status().change();
      if (change != null) staying.addAll(change.target().members());
    }
    for (String id : sim.ids()) {
      if (!staying.contains(id) && decommissioned.add(id) && sim.isUp(id)) sim.crash(id);
    }
  }

  /**
   * Removes every fault (heals partitions, restarts crashed nodes, normal delays, no skew) and waits
   * for liveness: a leader within {@code leaderBound} ticks, then a fresh command from it applied on
   * every node and all logs equal within {@code convergeBound} more ticks, plus 12 ticks per
   * AppendEntries batch a follower may have to catch up (one round trip through a slow disk each)
   * and, without the conflict hint, per index it may have to back up; with reads in the schedule, a
   * read at the leader and one through a follower are then served. Returns the ticks until a
   * leader existed. Throws an AssertionError naming the seed if liveness fails.
   */
  public int quiesce(int leaderBound, int convergeBound) {
    sim.heal();
    sim.network().reliable(2);
    List<String> ids = sim.ids();
    for (String id : ids) {
      if (!sim.isUp(id) && !decommissioned.contains(id) && !sim.refusing(id)) sim.restart(id);
      if (sim.isUp(id)) sim.setTickRate(id, 1.0);
    }
    int pauseLeft = (int) Math.max(0, pausedUntil - sim.now());
    int toLeader = sim.runUntil(() -> sim.leader() != null, leaderBound + pauseLeft);
    if (toLeader < 0) {
      throw new AssertionError("liveness: no leader within " + (leaderBound + pauseLeft) + " ticks after healing\n"
          + sim.summary());
    }
    long longest = 0;
    for (String id : ids) if (sim.isUp(id)) longest = Math.max(longest, sim.core(id).lastIndex());
    int batches = (int) ((longest + cfg.maxEntriesPerAppend() - 1) / cfg.maxEntriesPerAppend());
    // Without the conflict hint a leader backs up one index per round trip (P5.3-09).
    int backups = cfg.conflictHint() ? 0 : (int) longest;
    int bound = convergeBound + 12 * (batches + backups);
    Simulation.Proposal[] marker = new Simulation.Proposal[1];
    int converge = sim.runUntil(() -> {
      decommissionNonMembers(); // may stop a removed leader
      RaftCore l = sim.leader();
      if (l == null) return false;
      Simulation.Proposal m = marker[0];
      boolean stale = m == null || (!m.acknowledged() && (m.status() != Simulation.Proposal.Status.PENDING
          || m.term != l.term() || !m.node.equals(l.id())));
      if (stale) marker[0] = sim.propose(l.id());
      if (!marker[0].acknowledged()) return false;
      // A membership change asked before the healing first ends (done, or failed with the
      // configuration as it was), and a joint configuration is left; then every member converges.
      var st = l.status();
      if (st.change() != null || st.transferTarget() != null || l.config().joint()) return false;
      for (String id : sim.members()) {
        if (sim.refusing(id)) continue; // lost its storage: stays out until an operator restores it (T3.8-11)
        RaftCore c = sim.core(id);
        if (c == null) return false;
        if (c.lastApplied() != l.lastIndex() || c.lastIndex() != l.lastIndex() || c.commitIndex() != l.lastIndex()) {
          return false;
        }
      }
      return true;
    }, bound);
    if (converge < 0) {
      throw new AssertionError("liveness: nodes did not converge within " + bound + " ticks after a leader\n"
          + sim.summary());
    }
    sim.assertConverged();
    if (schedule.readRate > 0) {
      // Reads are live too once the faults are gone: one at the leader, one through a follower.
      String leader = sim.leader().id();
      String follower = leader;
      for (String id : sim.members()) if (!id.equals(leader) && !sim.refusing(id)) follower = id;
      Simulation.Read atLeader = sim.read(leader);
      Simulation.Read viaFollower = sim.read(follower);
      int served = sim.runUntil(() -> atLeader.done() && viaFollower.done(), convergeBound);
      if (served < 0 || atLeader.status() != Simulation.Read.Status.SERVED
          || viaFollower.status() != Simulation.Read.Status.SERVED) {
        throw new AssertionError("liveness: reads after healing not served within " + convergeBound + " ticks: "
            + atLeader + ", " + viaFollower + "\n" + sim.summary());
      }
    }
    return toLeader;
  }
}
