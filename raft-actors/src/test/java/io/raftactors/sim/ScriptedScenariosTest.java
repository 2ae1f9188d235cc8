package io.raftactors.sim;

import static io.raftactors.core.CoreFixture.logOfTerms;
import static io.raftactors.core.CoreFixture.sequence;
import static io.raftactors.sim.Sims.ET_MAX;
import static io.raftactors.sim.Sims.ET_MIN;
import static io.raftactors.sim.Sims.HB;
import static io.raftactors.sim.Sims.awaitLeader;
import static io.raftactors.sim.Sims.cluster;
import static io.raftactors.sim.Sims.core;
import static io.raftactors.sim.Sims.others;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.raftactors.core.ClusterConfig;
import io.raftactors.core.CoreStatus;
import io.raftactors.core.DurableState;
import io.raftactors.core.EntryData;
import io.raftactors.core.HardState;
import io.raftactors.core.LogEntry;
import io.raftactors.core.RaftConfig;
import io.raftactors.core.RaftCore;
import io.raftactors.core.RaftMessage;
import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import io.raftactors.core.RaftMessage.PreVote;
import io.raftactors.core.RaftMessage.PreVoteResponse;
import io.raftactors.core.RaftMessage.RequestVote;
import io.raftactors.core.RaftMessage.RequestVoteResponse;
import io.raftactors.core.RandomSource;
import io.raftactors.core.Role;
import io.raftactors.core.SnapshotMeta;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Scripted scenarios: the paper's Figures 7 and 8 and the crash, retry and election cases of the
 * checklist, driven step by step. In a script every message is held until the script delivers or
 * drops it, and each node is ticked on its own, so the order of events is exactly the one the item
 * describes. The simulation still checks every Figure 3 invariant after every event. Unless a test
 * says otherwise, election timeouts are pinned to the maximum, so that a script can "age" a voter
 * past the minimum election timeout (it no longer counts as having heard from a leader) without
 * that voter campaigning itself.
 */
class ScriptedScenariosTest {

  /** The basic algorithm must behave the same with every optional feature on or off. */
  static Stream<Arguments> features() {
    return Stream.of(
        Arguments.of("optional features on", RaftConfig.defaults()),
        Arguments.of("optional features off",
            RaftConfig.defaults().withPreVote(false).withCheckQuorum(false).withConflictHint(false)));
  }

  // =================================================================== script helpers

  /** A simulation whose messages and writes move only when the script says so. */
  private static Simulation.Builder scripted(RaftConfig cfg) {
    return Simulation.builder().seed(1).raftConfig(cfg).holdAllMessages().holdAllWrites()
        .randomSources((id, incarnation) -> (min, max) -> max);
  }

  private static DurableState state(ClusterConfig members, long term, String votedFor, List<LogEntry> log) {
    return new DurableState(new HardState(term, votedFor), SnapshotMeta.initial(members), log);
  }

  private static boolean isElection(RaftMessage m) {
    return m instanceof PreVote || m instanceof PreVoteResponse || m instanceof RequestVote
        || m instanceof RequestVoteResponse;
  }

  private static boolean isPreVote(RaftMessage m) {
    return m instanceof PreVote || m instanceof PreVoteResponse;
  }

  /**
   * Moves held messages of the given kinds until none is left: a message between two live members
   * of {@code group} is delivered (oldest first), any other is dropped. Writes of the group's live
   * members are completed before each delivery, so replies that wait for durability go out.
   */
  private static void exchange(Simulation sim, Collection<String> group, Predicate<RaftMessage> kinds) {
    for (int guard = 0; guard < 100_000; guard++) {
      for (String id : group) if (sim.isUp(id)) sim.completeWrites(id);
      List<Simulation.Envelope> todo = sim.held(e -> kinds.test(e.message()));
      if (todo.isEmpty()) return;
      Simulation.Envelope e = todo.get(0);
      if (group.contains(e.from()) && group.contains(e.to()) && sim.isUp(e.to())) sim.deliver(e.id());
      else sim.drop(e.id());
    }
    fail("the exchange did not settle");
  }

  /** Every message between live members of {@code group} flows; every other held message is dropped. */
  private static void settle(Simulation sim, Collection<String> group) {
    exchange(sim, group, m -> true);
  }

  private static void dropAllHeld(Simulation sim) {
    for (Simulation.Envelope e : sim.held()) sim.drop(e.id());
  }

  /**
   * Ticks a follower until it is at least the minimum election timeout past its last leader
   * contact, so that its (pre-)votes depend on the log alone; it must not campaign meanwhile.
   */
  private static void age(Simulation sim, String node) {
    if (!sim.isUp(node)) return;
    RaftCore c = core(sim, node);
    if (c.role() != Role.FOLLOWER) return;
    assertTrue(c.status().randomizedElectionTimeout() > ET_MIN, "script needs a long timeout on " + node);
    while (c.status().electionElapsed() < ET_MIN) {
      sim.tick(node, 1);
      assertEquals(Role.FOLLOWER, c.role(), node + " must not campaign while being aged");
    }
  }

  /** Ticks {@code node} until its election timer fires (it starts a pre-vote round or an election). */
  private static void tickUntilCampaign(Simulation sim, String node) {
    RaftCore c = core(sim, node);
    assertNotEquals(Role.LEADER, c.role());
    for (int i = 0; i < 3 * ET_MAX; i++) {
      sim.tick(node, 1);
      if (c.status().electionElapsed() == 0) return;
    }
    fail(node + " never timed out");
  }

  /**
   * Up to {@code rounds} election rounds of {@code candidate}: its voters are aged, its timer is
   * forced to fire, and every election message between it and {@code voters} is delivered (all other
   * election messages are lost). Returns whether it became leader.
   */
  private static boolean campaign(Simulation sim, String candidate, Collection<String> voters, int rounds) {
    Set<String> group = new LinkedHashSet<>();
    group.add(candidate);
    group.addAll(voters);
    for (int round = 0; round < rounds; round++) {
      for (String v : voters) age(sim, v);
      tickUntilCampaign(sim, candidate);
      exchange(sim, group, ScriptedScenariosTest::isElection);
      if (core(sim, candidate).role() == Role.LEADER) {
        sim.completeWrites(candidate);
        return true;
      }
    }
    return false;
  }

  private static void elect(Simulation sim, String candidate, Collection<String> voters) {
    assertTrue(campaign(sim, candidate, voters, 3), candidate + " should win\n" + sim.summary());
  }

  /** Records, per term, which voters granted {@code candidate} a vote (grants that left the voter). */
  private static Map<Long, Set<String>> recordGrants(Simulation sim, String candidate) {
    Map<Long, Set<String>> grants = new HashMap<>();
    sim.onSend(e -> {
      if (e.to().equals(candidate) && e.message() instanceof RequestVoteResponse r && r.granted()) {
        grants.computeIfAbsent(r.term(), t -> new TreeSet<>()).add(e.from());
      }
    });
    return grants;
  }

  private static Simulation.Envelope onlyHeld(Simulation sim, Predicate<Simulation.Envelope> p) {
    List<Simulation.Envelope> es = sim.held(p);
    assertEquals(1, es.size(), "expected exactly one such message held: " + sim.held());
    return es.get(0);
  }

  private static Predicate<Simulation.Envelope> from(String a, String b, Class<? extends RaftMessage> type) {
    return e -> e.from().equals(a) && e.to().equals(b) && type.isInstance(e.message());
  }

  // =================================================================== P5.3-11 Figure 7

  @ParameterizedTest(name = "{0}")
  @MethodSource("features")
  void replication_P5_3_11_figure7FollowersConvergeOnLeaderLog(String label, RaftConfig cfg) {
    // Figure 7: the leader of term 8 and six followers (a)-(f). (c) and (d) hold longer or newer logs
    // than the leader and deny it, but (a), (b), (e) and (f) are behind it, so it wins 5 of 7 votes.
    ClusterConfig members = ClusterConfig.of("L", "a", "b", "c", "d", "e", "f");
    long[] leaderLog = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
    Simulation sim = scripted(cfg)
        .node("L", state(members, 7, null, logOfTerms(leaderLog)))
        .node("a", state(members, 6, null, logOfTerms(1, 1, 1, 4, 4, 5, 5, 6, 6)))
        .node("b", state(members, 4, null, logOfTerms(1, 1, 1, 4)))
        .node("c", state(members, 7, "d", logOfTerms(1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6)))
        .node("d", state(members, 7, "d", logOfTerms(1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7)))
        .node("e", state(members, 4, null, logOfTerms(1, 1, 1, 4, 4, 4, 4)))
        .node("f", state(members, 3, null, logOfTerms(1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3)))
        .build();
    List<String> followers = List.of("a", "b", "c", "d", "e", "f");
    Map<Long, Set<String>> grants = recordGrants(sim, "L");

    elect(sim, "L", followers);
    RaftCore leader = core(sim, "L");
    assertEquals(8, leader.term());
    assertEquals(Set.of("a", "b", "e", "f"), grants.get(8L), "(c) and (d) hold more up-to-date logs and deny");

    // Two client commands in term 8, then let replication run to the end.
    Simulation.Proposal x = sim.propose("L", Simulation.command("x"));
    Simulation.Proposal y = sim.propose("L", Simulation.command("y"));
    settle(sim, sim.ids());
    sim.tick("L", HB); // heartbeats carry the new commitIndex
    settle(sim, sim.ids());

    List<LogEntry> expected = new ArrayList<>(logOfTerms(leaderLog));
    expected.add(new LogEntry(11, 8, new EntryData.Noop(8)));
    expected.add(new LogEntry(12, 8, Simulation.command("x")));
    expected.add(new LogEntry(13, 8, Simulation.command("y")));
    assertEquals(expected, leader.entriesFrom(1), "the leader only appended");
    for (String f : followers) {
      assertEquals(expected, core(sim, f).entriesFrom(1), "(" + f + ") holds exactly the leader's log");
      assertEquals(13, core(sim, f).commitIndex(), f);
      assertEquals(expected, sim.applied(f), f);
    }
    assertTrue(x.acknowledged() && y.acknowledged());
    assertTrue(sim.counters().truncations >= 4, "(c), (d), (e) and (f) lost their extra entries");
  }

  // =================================================================== P5.4.2 Figure 8

  /** Figure 8 run up to (c); continuations pick up from here. */
  private record Fig8(Simulation sim, Map<Long, Set<String>> grantsToS1, Map<Long, Set<String>> grantsToS5) {}

  private static final List<String> S = List.of("S1", "S2", "S3", "S4", "S5");

  private static RaftConfig fig8Settings(RaftConfig cfg) {
    // One entry per AppendEntries, so that S1 can copy its index 2 to S3 without index 3 (Figure 8 (c)).
    return cfg.withBatching(1, cfg.maxBytesPerAppend(), cfg.maxInflightAppends());
  }

  private static Fig8 figure8UpToC(RaftConfig cfg) {
    ClusterConfig members = new ClusterConfig(S);
    Simulation.Builder b = scripted(fig8Settings(cfg));
    for (String s : S) b.node(s, DurableState.empty(members));
    Simulation sim = b.build();
    Map<Long, Set<String>> toS1 = recordGrants(sim, "S1");
    Map<Long, Set<String>> toS5 = recordGrants(sim, "S5");

    // Index 1 (term 1) committed everywhere: S2 leads term 1 and everyone learns the commit.
    elect(sim, "S2", others(sim, "S2"));
    settle(sim, S);
    sim.tick("S2", HB);
    settle(sim, S);
    for (String s : S) {
      assertEquals(1, core(sim, s).commitIndex(), s);
      assertEquals(List.of(new LogEntry(1, 1, new EntryData.Noop(1))), sim.applied(s), s);
    }

    // (a) S1 leads term 2 (votes of S3, S4), appends index 2 (term 2) and delivers it only to S2.
    elect(sim, "S1", List.of("S3", "S4"));
    assertEquals(2, core(sim, "S1").term());
    settle(sim, List.of("S1", "S2")); // the AppendEntries to S3, S4, S5 are lost
    assertEquals(2, core(sim, "S1").status().matchIndex("S2"));
    assertEquals(2, core(sim, "S2").termAt(2));
    for (String s : List.of("S3", "S4", "S5")) assertEquals(1, core(sim, s).lastIndex(), s);
    for (String s : S) assertEquals(1, core(sim, s).commitIndex(), "(a) " + s);

    // (b) S1 crashes; S5 wins term 3 with the votes of S3, S4 and itself (S2's log is newer and it
    // denies), appends its own index 2 (term 3) and sends it nowhere.
    sim.crash("S1");
    dropAllHeld(sim);
    elect(sim, "S5", List.of("S2", "S3", "S4"));
    assertEquals(3, core(sim, "S5").term());
    assertEquals(Set.of("S3", "S4"), toS5.get(3L));
    sim.completeWrites("S5");
    dropAllHeld(sim);
    assertEquals(3, core(sim, "S5").termAt(2));
    assertEquals(2, sim.durableState("S5").entries().size(), "index 2 (term 3) is durable on S5");
    for (String s : List.of("S2", "S3", "S4", "S5")) assertEquals(1, core(sim, s).commitIndex(), "(b) " + s);

    // (c) S5 crashes, S1 restarts and wins term 4 (votes of S2, S3, S4), copies its index 2 to S3 and
    // appends index 3 (term 4) only locally.
    sim.crash("S5");
    sim.restart("S1");
    elect(sim, "S1", List.of("S2", "S3", "S4"));
    RaftCore s1 = core(sim, "S1");
    assertEquals(4, s1.term());
    assertEquals(Set.of("S2", "S3", "S4"), toS1.get(4L));
    assertEquals(4, s1.termAt(3), "the new leader's entry of term 4 at index 3");
    // S3 rejects index 3 (its log ends at 1), the leader backs up and sends index 2 alone.
    for (int i = 0; i < 10 && s1.status().matchIndex("S3") < 2; i++) {
      sim.deliver(onlyHeld(sim, from("S1", "S3", AppendEntries.class)).id());
      sim.completeWrites("S3");
      sim.deliver(onlyHeld(sim, from("S3", "S1", AppendEntriesResponse.class)).id());
    }
    assertEquals(2, s1.status().matchIndex("S3"));
    sim.completeWrites("S1");
    for (Simulation.Envelope e : sim.held(e -> e.to().equals("S5"))) sim.drop(e.id());
    // Held now, undelivered: index 3 to S2, to S3 and to S4.
    assertEquals(3, sim.held().size(), sim.held().toString());

    for (String s : List.of("S1", "S2", "S3")) assertEquals(2, core(sim, s).termAt(2), s + " holds (2, term 2)");
    assertEquals(2, core(sim, "S2").lastIndex());
    assertEquals(2, core(sim, "S3").lastIndex());
    assertEquals(1, core(sim, "S4").lastIndex());
    return new Fig8(sim, toS1, toS5);
  }

  /** No node marks index 2 (or later) committed, and no state machine applies it. */
  private static void assertIndex2NotCommitted(Simulation sim, String when) {
    assertEquals(1, sim.committedMax(), when + ": nothing past index 1 is committed anywhere");
    for (String s : S) {
      if (!sim.isUp(s)) continue;
      // S1's commitIndex is volatile: after its restart it is 0 until it commits an entry of its own term.
      assertTrue(core(sim, s).commitIndex() <= 1, when + ": " + core(sim, s));
      assertTrue(sim.applied(s).size() <= 1, when + ": " + s + " applied " + sim.applied(s));
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("features")
  void safety_P5_4_2_01_figure8OldTermEntryIsNotCommittedByCounting(String label, RaftConfig cfg) {
    Simulation sim = figure8UpToC(cfg).sim();
    RaftCore s1 = core(sim, "S1");
    // (c): index 2 (term 2) is on S1, S2 and S3, a majority, yet it is not committed.
    assertIndex2NotCommitted(sim, "(c)");

    // Still (c), one step further: S2 acknowledges in term 4, so the leader now KNOWS that index 2 is
    // on a majority (S1, S2, S3). Index 3 is on S1 and S2 only. Counting replicas would commit index 2;
    // Raft commits only an entry of the current term by counting, so nothing commits.
    sim.deliver(onlyHeld(sim, from("S1", "S2", AppendEntries.class)).id());
    sim.completeWrites("S2");
    sim.deliver(onlyHeld(sim, from("S2", "S1", AppendEntriesResponse.class)).id());
    CoreStatus st = s1.status();
    assertEquals(3, st.matchIndex("S2"));
    assertEquals(2, st.matchIndex("S3"));
    assertEquals(3, st.stableIndex());
    assertIndex2NotCommitted(sim, "(c) after S2's acknowledgement");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("features")
  void safety_P5_4_2_02_figure8UncommittedOldTermEntryIsOverwritten(String label, RaftConfig cfg) {
    Fig8 f = figure8UpToC(cfg);
    Simulation sim = f.sim();
    // (d) S1 crashes (its index 3 never leaves), S5 restarts and campaigns until it wins.
    dropAllHeld(sim);
    sim.crash("S1");
    sim.restart("S5");
    List<String> rest = List.of("S2", "S3", "S4");
    elect(sim, "S5", rest);
    RaftCore s5 = core(sim, "S5");
    assertEquals(5, s5.term(), "S5 wins term 5, as in the figure");
    assertEquals(Set.of("S2", "S3", "S4"), f.grantsToS5().get(5L), "its last term 3 beats their 2 and 1");

    List<String> live = List.of("S2", "S3", "S4", "S5");
    settle(sim, live);
    sim.tick("S5", HB);
    settle(sim, live);
    List<LogEntry> log = s5.entriesFrom(1);
    assertEquals(3, log.size());
    assertEquals(3, log.get(1).term(), "index 2 is S5's entry of term 3");
    assertEquals(5, log.get(2).term());
    for (String s : live) {
      assertEquals(log, core(sim, s).entriesFrom(1), s + ": index 2 (term 2) was replaced");
      assertEquals(3, core(sim, s).commitIndex(), s);
      assertEquals(log, sim.applied(s), s + " applies index 2 of term 3");
    }
    assertTrue(sim.counters().truncations >= 2, "S2 and S3 lost their index 2 (term 2)");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("features")
  void safety_P5_4_2_03_figure8CommitThroughCurrentTermEntry(String label, RaftConfig cfg) {
    Fig8 f = figure8UpToC(cfg);
    Simulation sim = f.sim();
    RaftCore s1 = core(sim, "S1");
    // (e) S1 replicates index 3 (term 4) to S2 and S3 before it crashes.
    sim.deliver(onlyHeld(sim, from("S1", "S2", AppendEntries.class)).id());
    sim.completeWrites("S2");
    sim.deliver(onlyHeld(sim, from("S2", "S1", AppendEntriesResponse.class)).id());
    assertTrue(s1.commitIndex() <= 1, "index 3 on S1 and S2 only: not yet a majority");
    sim.deliver(onlyHeld(sim, from("S1", "S3", AppendEntries.class)).id());
    sim.completeWrites("S3");
    sim.deliver(onlyHeld(sim, from("S3", "S1", AppendEntriesResponse.class)).id());
    assertEquals(3, s1.commitIndex(), "index 3 (term 4) on S1, S2, S3 commits, and index 2 with it");
    assertEquals(List.of(2L, 4L), List.of(sim.applied("S1").get(1).term(), sim.applied("S1").get(2).term()));
    assertEquals(3, sim.committedMax());

    // Every later leader holds (2, term 2) and (3, term 4): checked after every event from here on.
    sim.addInvariant("Figure 8 (e): leaders after term 4 hold (2,2) and (3,4)", s -> {
      for (String id : s.ids()) {
        RaftCore c = s.core(id);
        if (c != null && c.role() == Role.LEADER && c.term() > 4 && (c.termAt(2) != 2 || c.termAt(3) != 4)) {
          return id + " leads term " + c.term() + " without them: " + c;
        }
      }
      return null;
    });
    List<String> grantsFromS2S3 = new ArrayList<>();
    sim.onSend(e -> {
      if (e.to().equals("S5") && (e.from().equals("S2") || e.from().equals("S3"))) {
        RaftMessage m = e.message();
        if ((m instanceof RequestVoteResponse r && r.granted()) || (m instanceof PreVoteResponse p && p.granted())) {
          grantsFromS2S3.add(e.toString());
        }
      }
    });

    dropAllHeld(sim);
    sim.crash("S1");
    sim.restart("S5");
    assertFalse(campaign(sim, "S5", List.of("S2", "S3", "S4"), 5), "S5 can no longer win");
    assertTrue(grantsFromS2S3.isEmpty(), "S2 and S3 deny S5 (their last term 4 beats its 3): " + grantsFromS2S3);
    assertFalse(campaign(sim, "S4", List.of("S2", "S3", "S5"), 2), "S4 lacks index 2 and 3 as well");
    elect(sim, "S2", List.of("S3", "S4", "S5"));
    List<String> live = List.of("S2", "S3", "S4", "S5");
    settle(sim, live);
    sim.tick("S2", HB);
    settle(sim, live);
    for (String s : live) {
      assertEquals(2, core(sim, s).termAt(2), s);
      assertEquals(4, core(sim, s).termAt(3), s);
      assertEquals(core(sim, "S2").lastIndex(), core(sim, s).commitIndex(), s);
    }
    // And the leader after that, too.
    dropAllHeld(sim);
    sim.crash("S2");
    elect(sim, "S3", List.of("S4", "S5"));
    assertEquals(2, core(sim, "S3").termAt(2));
    assertEquals(4, core(sim, "S3").termAt(3));
  }

  // =================================================================== P5.4.1-03

  /** Timeouts pinned to the maximum while {@code scripted}, seeded random draws afterwards. */
  private static final class Jitter {
    boolean scripted = true;

    RandomSource forNode(long seed, String id, int incarnation) {
      RandomSource r = RandomSource.seeded(seed, id + "/" + incarnation);
      return (min, max) -> scripted ? max : r.between(min, max);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("features")
  void election_P5_4_1_03_candidateWithStaleLogLosesVote(String label, RaftConfig cfg) {
    for (long seed = 1; seed <= 20; seed++) {
      Jitter jitter = new Jitter();
      long sd = seed;
      Simulation sim = Simulation.builder().nodes(5).seed(seed).raftConfig(cfg).network(n -> n.reliable(2))
          .randomSources((id, inc) -> jitter.forNode(sd, id, inc)).build();
      sim.holdWhere(e -> true);
      List<String> grantsToS4 = new ArrayList<>();
      sim.onSend(e -> {
        RaftMessage m = e.message();
        boolean grant = (m instanceof RequestVoteResponse r && r.granted())
            || (m instanceof PreVoteResponse p && p.granted());
        if (grant && e.to().equals("n4") && (e.from().equals("n2") || e.from().equals("n3"))) {
          grantsToS4.add(e.toString());
        }
      });

      // S1 (n1) leads; entry k reaches S2 and S3 only and commits.
      elect(sim, "n1", others(sim, "n1"));
      settle(sim, sim.ids());
      Simulation.Proposal k = sim.propose("n1", Simulation.command("k"));
      settle(sim, List.of("n1", "n2", "n3"));
      assertEquals(k.index, core(sim, "n1").commitIndex(), "k committed on S1, S2, S3");
      assertTrue(core(sim, "n4").lastIndex() < k.index && core(sim, "n5").lastIndex() < k.index);
      long oldTerm = core(sim, "n1").term();

      // S1 crashes; S4 is forced to time out first, several times, with S2, S3 and S5 reachable.
      sim.crash("n1");
      dropAllHeld(sim);
      assertFalse(campaign(sim, "n4", List.of("n2", "n3", "n5"), 4), "seed " + seed + ": S4 won with a stale log");
      assertTrue(grantsToS4.isEmpty(), "S2 and S3 deny S4: " + grantsToS4);

      // Then the cluster runs on its own: the next leader is S2 or S3, and it holds k.
      jitter.scripted = false;
      sim.holdWhere(null);
      for (Simulation.Envelope e : sim.held()) sim.release(e.id());
      int t = sim.runUntil(() -> sim.leader() != null, 50 * ET_MAX);
      assertTrue(t >= 0, "seed " + seed + ": no leader\n" + sim.summary());
      RaftCore next = sim.leader();
      assertTrue(next.id().equals("n2") || next.id().equals("n3"), "seed " + seed + ": " + next);
      assertEquals(k.term, next.termAt(k.index));
      assertEquals(k.data, next.entry(k.index).data());
      Map<Long, String> history = sim.leaderHistory();
      assertEquals(List.of(oldTerm, next.term()), new ArrayList<>(history.keySet()), "no leader in between");
      assertFalse(history.containsValue("n4"));
      assertTrue(grantsToS4.isEmpty(), "S2 and S3 deny S4: " + grantsToS4);
    }
  }

  // =================================================================== P5.3-19

  @ParameterizedTest(name = "{0}")
  @MethodSource("features")
  void replication_P5_3_19_proposalThatLosesItsSlotFails(String label, RaftConfig cfg) {
    ClusterConfig members = ClusterConfig.of("L", "M", "N");
    List<LogEntry> log = logOfTerms(1, 1, 2, 2, 2);
    Simulation sim = scripted(cfg)
        .node("L", state(members, 2, null, log))
        .node("M", state(members, 2, null, log))
        .node("N", state(members, 2, null, log))
        .build();
    // L leads term 3 (its no-op is index 6) and appends command X at index 7; then it is cut off.
    elect(sim, "L", List.of("M", "N"));
    Simulation.Proposal x = sim.propose("L", Simulation.command("X"));
    assertEquals(7, x.index);
    assertEquals(3, x.term);
    sim.completeWrites("L");
    sim.isolate("L");
    dropAllHeld(sim);

    // M leads term 4 with N, and writes Y at index 7; it commits.
    elect(sim, "M", List.of("N"));
    Simulation.Proposal y = sim.propose("M", Simulation.command("Y"));
    assertEquals(7, y.index);
    assertEquals(4, y.term);
    settle(sim, List.of("M", "N"));
    sim.tick("M", HB);
    settle(sim, List.of("M", "N"));
    assertTrue(y.acknowledged());
    assertEquals(Simulation.Proposal.Status.PENDING, x.status(), "L has heard nothing yet");

    // L rejoins: M's heartbeat of term 4 ends L's leadership; X's caller learns the outcome is unknown.
    sim.heal();
    sim.tick("M", HB);
    settle(sim, sim.ids());
    assertEquals(Simulation.Proposal.Status.UNKNOWN, x.status());
    sim.tick("M", HB);
    settle(sim, sim.ids());
    RaftCore l = core(sim, "L");
    assertEquals(Role.FOLLOWER, l.role());
    assertEquals(7, l.lastApplied());
    LogEntry applied7 = sim.applied("L").get(6);
    assertEquals(new LogEntry(7, 4, Simulation.command("Y")), applied7, "L applies M's entry at index 7");
    // The simulation fails the run if L had handed Y's output to X's caller (correlation id on the
    // wrong entry); X is never acknowledged.
    assertEquals(Simulation.Proposal.Status.UNKNOWN, x.status());
    assertFalse(sim.acknowledged().contains(x));
    assertEquals(List.of(y), sim.acknowledged());
  }

  // =================================================================== P5.2-08

  @ParameterizedTest(name = "preVote={0}")
  @ValueSource(booleans = {false, true})
  void election_P5_2_08_splitVoteResolvesThroughFreshRandomTimeouts(boolean preVote) {
    // Injected timeouts: n1 and n2 time out together at tick 10; their next draws are 13 and 19.
    // (With pre-vote a campaign draws twice: entering the pre-vote round and entering the election.)
    Map<String, RandomSource> sources = Map.of(
        "n1", preVote ? sequence(10, 20, 13) : sequence(10, 13),
        "n2", preVote ? sequence(10, 20, 19) : sequence(10, 19));
    Simulation sim = Simulation.builder().nodes(4).seed(3).raftConfig(RaftConfig.defaults().withPreVote(preVote))
        .network(n -> n.reliable(1))
        .randomSources((id, inc) -> sources.getOrDefault(id, (min, max) -> max)).build();
    sim.holdWhere(e -> true);
    sim.runTicks(10);
    if (preVote) exchange(sim, sim.ids(), ScriptedScenariosTest::isPreVote);
    for (String c : List.of("n1", "n2")) {
      assertEquals(Role.CANDIDATE, core(sim, c).role(), c);
      assertEquals(1, core(sim, c).term(), c);
    }
    assertEquals(10, sim.now(), "both start term 1 on the same tick");

    // Each candidate wins exactly one other vote: n3 hears n1 first, n4 hears n2 first.
    sim.completeWrites("n1");
    sim.completeWrites("n2");
    sim.deliver(onlyHeld(sim, from("n1", "n3", RequestVote.class)).id());
    sim.deliver(onlyHeld(sim, from("n2", "n4", RequestVote.class)).id());
    exchange(sim, sim.ids(), ScriptedScenariosTest::isElection);
    CoreStatus n1 = core(sim, "n1").status();
    CoreStatus n2 = core(sim, "n2").status();
    assertEquals(Set.of("n1", "n3"), n1.votesGranted());
    assertEquals(Set.of("n2", "n4"), n2.votesGranted());
    assertTrue(sim.leaders().isEmpty(), "no leader in term 1");
    assertEquals(13, n1.randomizedElectionTimeout(), "n1 drew a fresh timeout");
    assertEquals(19, n2.randomizedElectionTimeout(), "n2 drew a fresh timeout");

    long[] firstTerm2 = {-1};
    String[] firstCandidate = {null};
    sim.afterEvent(() -> {
      for (String id : sim.ids()) {
        RaftCore c = sim.core(id);
        if (firstCandidate[0] == null && c.role() == Role.CANDIDATE && c.term() == 2) {
          firstCandidate[0] = id;
          firstTerm2[0] = sim.now();
        }
      }
    });
    sim.holdWhere(null);
    int t = sim.runUntil(() -> sim.leader() != null, 10 * ET_MAX);
    assertTrue(t >= 0, sim.summary());
    assertEquals("n1", firstCandidate[0], "the shorter fresh timeout fires first");
    assertTrue(firstTerm2[0] >= 23 && firstTerm2[0] < 29, "n1 campaigned at " + firstTerm2[0]);
    sim.runTicks(3 * ET_MAX);
    assertEquals(Map.of(2L, "n1"), sim.leaderHistory(), "no leader in term 1, exactly one (n1) in term 2");
    assertEquals(List.of(core(sim, "n1")), sim.leaders());
  }

  // =================================================================== P5.2-13, P5.5-04

  private static final ClusterConfig ABC = ClusterConfig.of("n1", "n2", "n3");

  /** n1, n2, n3 at term 8; n1 becomes candidate of term 9, its term and self-vote become durable, and it crashes. */
  private static Simulation candidateCrashesAfterPersisting(RaftConfig cfg,
      java.util.function.BiFunction<String, Integer, RandomSource> random) {
    List<LogEntry> log = logOfTerms(8);
    Simulation sim = scripted(cfg).randomSources(random)
        .node("n1", state(ABC, 8, null, log)).node("n2", state(ABC, 8, null, log)).node("n3", state(ABC, 8, null, log))
        .build();
    age(sim, "n2");
    age(sim, "n3");
    tickUntilCampaign(sim, "n1");
    exchange(sim, sim.ids(), ScriptedScenariosTest::isPreVote);
    assertEquals(Role.CANDIDATE, core(sim, "n1").role());
    assertEquals(9, core(sim, "n1").term());
    sim.completeWrites("n1");
    assertEquals(new HardState(9, "n1"), sim.durableState("n1").hardState());
    assertEquals(2, sim.held(e -> e.message() instanceof RequestVote).size(), "the RequestVotes left");
    dropAllHeld(sim); // lost with the crash
    sim.crash("n1");
    return sim;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("features")
  void election_P5_2_13_restartedCandidateDeniesOtherCandidateOfItsTerm(String label, RaftConfig cfg) {
    Simulation sim = candidateCrashesAfterPersisting(cfg, (id, inc) -> (min, max) -> max);
    sim.restart("n1");
    RaftCore a = core(sim, "n1");
    assertEquals(9, a.term());
    assertEquals("n1", a.status().votedFor());

    // n2 becomes candidate of term 9 (its pre-vote, if any, granted by n3 alone) and asks n1.
    age(sim, "n3");
    tickUntilCampaign(sim, "n2");
    if (cfg.preVote()) {
      sim.drop(onlyHeld(sim, from("n2", "n1", PreVote.class)).id());
      exchange(sim, List.of("n2", "n3"), ScriptedScenariosTest::isPreVote);
    }
    RaftCore b = core(sim, "n2");
    assertEquals(Role.CANDIDATE, b.role());
    assertEquals(9, b.term());
    sim.completeWrites("n2");
    sim.deliver(onlyHeld(sim, from("n2", "n1", RequestVote.class)).id());
    sim.completeWrites("n1");
    RequestVoteResponse answer =
        (RequestVoteResponse) onlyHeld(sim, from("n1", "n2", RequestVoteResponse.class)).message();
    assertEquals(new RequestVoteResponse(9, "n1", false), answer, "n1 already voted for itself in term 9");
    assertEquals("n1", a.status().votedFor());
    assertEquals(new HardState(9, "n1"), sim.durableState("n1").hardState());
    sim.deliverAllHeld();
    assertEquals(Role.CANDIDATE, b.role(), "n1's denial does not make n2 leader");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("features")
  void fault_P5_5_04_crashedCandidateRestartsAsFollowerAndWaitsForFreshTimeout(String label, RaftConfig cfg) {
    // After the restart n1 draws 15 for its election timeout.
    Simulation sim = candidateCrashesAfterPersisting(cfg,
        (id, inc) -> inc == 0 ? (min, max) -> max : (min, max) -> 15);
    sim.restart("n1");
    RaftCore a = core(sim, "n1");
    assertEquals(Role.FOLLOWER, a.role());
    assertEquals(9, a.term());
    CoreStatus st = a.status();
    assertEquals("n1", st.votedFor());
    assertEquals(15, st.randomizedElectionTimeout());

    sim.tick("n1", 14);
    assertEquals(Role.FOLLOWER, a.role(), "no campaign before the fresh timeout fires");
    assertTrue(sim.held().isEmpty(), "nothing sent: " + sim.held());
    sim.tick("n1", 1);
    assertNotEquals(Role.FOLLOWER, a.role(), "campaigns when the fresh timeout fires");
    age(sim, "n2");
    age(sim, "n3");
    exchange(sim, sim.ids(), ScriptedScenariosTest::isElection);
    assertEquals(Role.LEADER, a.role());
    assertEquals(10, a.term(), "the next election uses term 9 + 1");
  }

  // =================================================================== P5.5-02, P5.5-03

  @ParameterizedTest(name = "{0}")
  @MethodSource("features")
  void fault_P5_5_02_crashAfterPersistingBeforeReplyingThenSameAppendAgain(String label, RaftConfig cfg) {
    Simulation sim = scripted(cfg).nodes(3).build();
    elect(sim, "n1", List.of("n2", "n3"));
    settle(sim, sim.ids());
    Simulation.Proposal p = sim.propose("n1", Simulation.command("p"));

    Simulation.Envelope append = onlyHeld(sim, from("n1", "n2", AppendEntries.class));
    long again = sim.duplicate(append.id()); // the same request, sent again later
    sim.deliver(append.id());
    sim.completeWrites("n2"); // n2's append is durable...
    Simulation.Envelope reply = onlyHeld(sim, from("n2", "n1", AppendEntriesResponse.class));
    AppendEntriesResponse first = (AppendEntriesResponse) reply.message();
    assertTrue(first.success());
    // ...and n2 crashes before its reply leaves: the reply never reaches the leader.
    sim.drop(reply.id());
    sim.crash("n2");
    List<LogEntry> journal = sim.durableState("n2").entries();
    assertEquals(p.index, journal.get(journal.size() - 1).index());
    sim.restart("n2");

    sim.deliver(again);
    assertEquals(0, sim.pendingWrites("n2"), "nothing to write: the entries are already there");
    AppendEntriesResponse second =
        (AppendEntriesResponse) onlyHeld(sim, from("n2", "n1", AppendEntriesResponse.class)).message();
    assertTrue(second.success());
    assertEquals(first.matchIndex(), second.matchIndex());
    assertEquals(journal, sim.durableState("n2").entries(), "the journal holds each entry once");
    assertEquals(p.index, core(sim, "n2").lastIndex());
    settle(sim, sim.ids());
    assertTrue(p.acknowledged());
    assertEquals(journal, sim.durableState("n2").entries());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("features")
  void fault_P5_5_03_voteRequestRetriedAfterRestartIsGrantedAgain(String label, RaftConfig cfg) {
    Simulation sim = scripted(cfg).nodes(3).build();
    age(sim, "n2");
    tickUntilCampaign(sim, "n1");
    if (cfg.preVote()) exchange(sim, List.of("n1", "n2"), ScriptedScenariosTest::isPreVote);
    RaftCore a = core(sim, "n1");
    assertEquals(Role.CANDIDATE, a.role());
    long term = a.term();
    sim.completeWrites("n1");
    sim.drop(onlyHeld(sim, from("n1", "n3", RequestVote.class)).id()); // n3 never hears of it

    Simulation.Envelope request = onlyHeld(sim, from("n1", "n2", RequestVote.class));
    long again = sim.duplicate(request.id()); // the candidate's retry of the same request
    sim.deliver(request.id());
    sim.completeWrites("n2"); // the vote is durable...
    Simulation.Envelope grant = onlyHeld(sim, from("n2", "n1", RequestVoteResponse.class));
    assertEquals(new RequestVoteResponse(term, "n2", true), grant.message());
    sim.drop(grant.id()); // ...and n2 crashes before the grant leaves
    sim.crash("n2");
    sim.restart("n2");
    assertEquals("n1", core(sim, "n2").status().votedFor());

    sim.deliver(again);
    assertEquals(0, sim.pendingWrites("n2"), "the vote is already durable");
    Simulation.Envelope regrant = onlyHeld(sim, from("n2", "n1", RequestVoteResponse.class));
    assertEquals(new RequestVoteResponse(term, "n2", true), regrant.message(), "granted again");
    assertEquals("n1", core(sim, "n2").status().votedFor());
    assertEquals(new HardState(term, "n1"), sim.durableState("n2").hardState());
    sim.deliver(regrant.id());
    assertEquals(Role.LEADER, a.role(), "the repeated grant elects n1");
  }

  // =================================================================== P5.3-09

  @ParameterizedTest(name = "{0}")
  @MethodSource("features")
  void replication_P5_3_09_leaderBacksUpOneEntryPerRejectionWithoutHint(String label, RaftConfig features) {
    RaftConfig cfg = features.withConflictHint(false);
    ClusterConfig members = ClusterConfig.of("L", "F", "G");
    List<LogEntry> nine = logOfTerms(1, 1, 1, 2, 2, 2, 3, 3, 3);
    Simulation sim = scripted(cfg)
        .node("L", state(members, 3, null, nine))
        .node("F", state(members, 3, null, nine.subList(0, 6)))
        .node("G", state(members, 3, null, nine))
        .build();
    elect(sim, "L", List.of("F", "G"));
    RaftCore leader = core(sim, "L");
    assertEquals(10, leader.lastIndex(), "the leader holds 1-10 (its no-op is 10)");
    // Messages between L and G stay held until the end; only L and F talk.
    long next = leader.status().nextIndex("F");
    assertEquals(10, next);
    int rejections = 0;
    while (true) {
      Simulation.Envelope probe = onlyHeld(sim, from("L", "F", AppendEntries.class));
      assertEquals(next - 1, ((AppendEntries) probe.message()).prevLogIndex(), "the leader retries at nextIndex");
      sim.deliver(probe.id());
      sim.completeWrites("F");
      Simulation.Envelope answer = onlyHeld(sim, from("F", "L", AppendEntriesResponse.class));
      boolean ok = ((AppendEntriesResponse) answer.message()).success();
      sim.deliver(answer.id());
      if (ok) break;
      rejections++;
      long current = leader.status().nextIndex("F");
      assertEquals(next - 1, current, "each rejection lowers nextIndex by exactly one");
      assertTrue(current >= 1);
      next = current;
      assertTrue(rejections <= 4, "at most 4 rejections");
    }
    assertEquals(3, rejections, "prevLogIndex 9, 8 and 7 fail; 6 matches");
    settle(sim, sim.ids());
    assertEquals(10, leader.status().matchIndex("F"));
    assertEquals(leader.entriesFrom(1), core(sim, "F").entriesFrom(1));
  }

  // =================================================================== P5.3-16

  @ParameterizedTest(name = "{0}")
  @MethodSource("features")
  void replication_P5_3_16_idleLeaderHeartbeatsKeepFollowersAndCarryCommit(String label, RaftConfig cfg) {
    for (long seed = 1; seed <= 5; seed++) {
      Simulation sim = cluster(5, seed, cfg);
      RaftCore leader = awaitLeader(sim);
      sim.runTicks(2 * ET_MAX);
      Simulation.Proposal p = sim.propose(leader.id());
      assertTrue(sim.runUntil(() -> leader.commitIndex() >= p.index, 10 * HB) >= 0);
      // The entry reached the followers with the old leaderCommit: they lag on commit now.
      List<String> lagging = new ArrayList<>();
      for (String f : others(sim, leader.id())) if (core(sim, f).commitIndex() < leader.commitIndex()) lagging.add(f);
      assertFalse(lagging.isEmpty(), "seed " + seed);

      Map<String, Long> lastTo = new HashMap<>();
      long[] maxGap = {0};
      List<String> bad = new ArrayList<>();
      long since = sim.now();
      for (String f : others(sim, leader.id())) lastTo.put(f, since);
      sim.onSend(e -> {
        if (!e.from().equals(leader.id()) || !(e.message() instanceof AppendEntries ae)) return;
        maxGap[0] = Math.max(maxGap[0], sim.now() - lastTo.get(e.to()));
        lastTo.put(e.to(), sim.now());
        if (!ae.entries().isEmpty()) bad.add("entries sent while idle: " + e);
        if (ae.leaderCommit() != leader.commitIndex()) bad.add("stale leaderCommit: " + e);
        if (ae.prevLogTerm() != leader.termAt(ae.prevLogIndex())) bad.add("wrong prevLogTerm: " + e);
      });
      long elections = sim.counters().elections;
      long preVotes = sim.counters().preVoteRounds;
      long term = leader.term();
      int t = sim.runUntil(() -> {
        for (String f : lagging) if (core(sim, f).commitIndex() < leader.commitIndex()) return false;
        return true;
      }, 3 * HB);
      assertTrue(t >= 0, "seed " + seed + ": lagging followers did not catch up from heartbeats");
      sim.runTicks(100 * ET_MAX);
      for (String f : others(sim, leader.id())) assertEquals(leader.commitIndex(), core(sim, f).commitIndex());
      assertTrue(bad.isEmpty(), bad.toString());
      assertTrue(maxGap[0] <= HB, "every follower hears at least every " + HB + " ticks; gap " + maxGap[0]);
      assertEquals(elections, sim.counters().elections, "no follower started an election");
      assertEquals(preVotes, sim.counters().preVoteRounds, "no follower even timed out");
      assertEquals(Role.LEADER, leader.role());
      assertEquals(term, leader.term());
    }
  }

  // =================================================================== T9.6-02

  @ParameterizedTest(name = "checkQuorum={0}")
  @ValueSource(booleans = {true, false})
  void prevote_T9_6_02_followerWithLiveLeaderDeniesPreVoteOfCutOffNode(boolean checkQuorum) {
    for (long seed = 1; seed <= 10; seed++) {
      Simulation sim = cluster(3, seed, RaftConfig.defaults().withCheckQuorum(checkQuorum));
      RaftCore leader = awaitLeader(sim);
      sim.runTicks(10);
      String x = others(sim, leader.id()).get(0);
      String f = others(sim, leader.id()).get(1);
      List<String> granted = new ArrayList<>();
      sim.onSend(e -> {
        if (e.message() instanceof PreVoteResponse r && r.granted()) granted.add(e.toString());
      });
      long term = leader.term();
      long xTerm = core(sim, x).term();
      long elections = sim.counters().elections;
      long preVotes = sim.counters().preVoteRounds;
      // The leader's messages no longer reach x; x's still reach everyone.
      sim.cut(leader.id(), x);
      sim.runTicks(30 * ET_MAX);
      assertTrue(sim.counters().preVoteRounds > preVotes, "x timed out and asked for pre-votes");
      assertTrue(granted.isEmpty(), "f heard from its leader recently and denies: " + granted);
      assertEquals(elections, sim.counters().elections, "x never became candidate");
      assertEquals(xTerm, core(sim, x).term());
      assertEquals(Role.LEADER, leader.role());
      assertEquals(term, leader.term(), "the leader's term never changed");
      assertEquals(term, core(sim, f).term());
      assertEquals(leader.id(), core(sim, f).leaderId());
    }
  }
}
