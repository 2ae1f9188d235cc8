package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.ManualTime;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.core.HardState;
import io.raftactors.core.Role;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * SIM-09: the simulation's key scenarios on real node actors. Three RaftNode actors share one
 * ActorSystem under ManualTime and talk through a switchboard that can cut links; nothing
 * sleeps: time advances one tick at a time until a condition holds, within a bound.
 */
class ActorTwinTest {
  private static final List<String> IDS = List.of("n1", "n2", "n3");
  private static final Duration TICK = Duration.ofMillis(10);
  /** Ticks within which an election must complete (several maximal election timeouts). */
  private static final int ELECTION_BOUND = 200;

  private ActorTestKit kit;
  private ManualTime time;
  private final Switchboard net = new Switchboard();
  private final Map<String, RaftSettings> settings = new LinkedHashMap<>();
  private final Map<String, InMemoryStorage> storages = new LinkedHashMap<>();
  private final Map<String, ActorRef<RaftNode.Command>> nodes = new LinkedHashMap<>();
  private int incarnation;

  @BeforeEach
  void start() {
    Config base = ConfigFactory.parseString(String.join("\n",
            "raft.group-id = twin",
            "raft.members { n1 = \"akka://ActorTwinTest\", n2 = \"akka://ActorTwinTest\", n3 = \"akka://ActorTwinTest\" }",
            "raft.tick-interval = 10ms",
            "raft.election-timeout-min = 100ms",
            "raft.election-timeout-max = 200ms",
            "raft.heartbeat-interval = 20ms",
            // Small snapshots, often, in small chunks: every scenario here also compacts its logs.
            "raft.snapshot.after-entries = 10",
            "raft.snapshot.catch-up-entries = 0", // followers behind a snapshot get it, not the entries it covers
            "raft.snapshot.chunk-size = 64B"))
        .withFallback(ManualTime.config())
        .withFallback(ConfigFactory.load());
    kit = ActorTestKit.create("ActorTwinTest", base);
    time = ManualTime.get(kit.system());
    for (String id : IDS) {
      RaftSettings s = RaftSettings.fromConfig(ConfigFactory.parseString("raft.member-id = " + id).withFallback(base));
      settings.put(id, s);
      storages.put(id, new InMemoryStorage(s.bootstrapConfig()));
      startNode(id);
    }
  }

  @AfterEach
  void stop() {
    kit.shutdownTestKit();
  }

  /** Records the commands it applies; its snapshot is that list, so a restore replaces it whole. */
  static final class ListMachine implements StateMachine {
    final List<Object> log = new ArrayList<>();
    int restores;

    @Override
    public synchronized Object apply(long index, Object command) {
      log.add(command);
      return index;
    }

    @Override
    public synchronized byte[] takeSnapshot() {
      return String.join("\n", log.stream().map(Object::toString).toList()).getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    @Override
    public synchronized void restoreSnapshot(byte[] snapshot) {
      restores++;
      log.clear();
      String s = new String(snapshot, java.nio.charset.StandardCharsets.UTF_8);
      if (!s.isEmpty()) log.addAll(List.of(s.split("\n")));
    }
  }

  private final Map<String, ListMachine> machines = new LinkedHashMap<>();

  private void startNode(String id) {
    ListMachine sm = new ListMachine();
    machines.put(id, sm);
    ActorRef<RaftNode.Command> ref = kit.spawn(
        RaftNode.create(settings.get(id), storages.get(id), sm, net.transportFor(id)),
        id + "-" + (++incarnation));
    nodes.put(id, ref);
    net.register(id, ref);
    status(id); // recovered
  }

  /** The node's status once it has read its storage (status is also answered while it recovers). */
  private RaftNode.Status status(String id) {
    TestProbe<RaftNode.Status> p = kit.createTestProbe();
    return p.awaitAssert(Duration.ofSeconds(5), Duration.ofMillis(10), () -> {
      nodes.get(id).tell(new RaftNode.GetStatus(p.ref()));
      RaftNode.Status s = p.receiveMessage(Duration.ofSeconds(5));
      if (s.phase() == RaftNode.Phase.RECOVERING) throw new AssertionError("still recovering");
      return s;
    });
  }

  private List<Object> appliedOn(String id) {
    ListMachine sm = machines.get(id);
    synchronized (sm) {
      return List.copyOf(sm.log);
    }
  }

  /** Advances logical time a tick at a time until {@code cond} holds; fails after {@code maxTicks}. */
  private int advanceUntil(int maxTicks, String what, BooleanSupplier cond) {
    for (int t = 0; t <= maxTicks; t++) {
      if (cond.getAsBoolean()) return t;
      time.timePasses(TICK);
    }
    throw new AssertionError(what + " did not happen within " + maxTicks + " ticks");
  }

  /** The leader agreed on by every node of {@code among}, or null. */
  private String agreedLeader(List<String> among) {
    String leader = null;
    for (String id : among) {
      RaftNode.Status s = status(id);
      if (s.leaderId() == null || (leader != null && !leader.equals(s.leaderId()))) return null;
      leader = s.leaderId();
    }
    return leader != null && among.contains(leader) && status(leader).role() == Role.LEADER ? leader : null;
  }

  private String awaitLeader(List<String> among) {
    advanceUntil(ELECTION_BOUND, "election among " + among, () -> agreedLeader(among) != null);
    return agreedLeader(among);
  }

  private List<TestProbe<RaftNode.ProposeReply>> propose(String id, String prefix, int n) {
    List<TestProbe<RaftNode.ProposeReply>> probes = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      TestProbe<RaftNode.ProposeReply> p = kit.createTestProbe();
      nodes.get(id).tell(new RaftNode.Propose(prefix + i, p.ref()));
      probes.add(p);
    }
    return probes;
  }

  /** Advances time until every proposal is answered, and checks each answer is Applied. */
  private void awaitApplied(List<TestProbe<RaftNode.ProposeReply>> probes) {
    for (TestProbe<RaftNode.ProposeReply> p : probes) {
      RaftNode.ProposeReply[] reply = new RaftNode.ProposeReply[1];
      advanceUntil(50, "an answer to a proposal", () -> (reply[0] = poll(p)) != null);
      assertInstanceOf(RaftNode.Applied.class, reply[0]);
    }
  }

  /** The probe's next message if one arrives promptly, else null (the node runs on its own thread). */
  private static RaftNode.ProposeReply poll(TestProbe<RaftNode.ProposeReply> p) {
    try {
      return p.receiveMessage(Duration.ofMillis(20));
    } catch (AssertionError noMessageYet) {
      return null;
    }
  }

  private void awaitConverged(List<String> among, int atLeast) {
    advanceUntil(100, "convergence of " + among, () -> {
      List<Object> first = appliedOn(among.get(0));
      if (first.size() < atLeast) return false;
      for (String id : among) if (!appliedOn(id).equals(first)) return false;
      return true;
    });
  }

  @Test
  void twin_SIM_09_electionGivesExactlyOneLeaderWhomEveryNodeNames() {
    String leader = awaitLeader(IDS);
    long term = status(leader).term();
    int leaders = 0;
    for (String id : IDS) {
      RaftNode.Status s = status(id);
      assertEquals(term, s.term());
      if (s.role() == Role.LEADER) leaders++;
    }
    assertEquals(1, leaders);
  }

  @Test
  void twin_SIM_09_replicationAppliesTheSameCommandsInTheSameOrderEverywhere() {
    String leader = awaitLeader(IDS);
    awaitApplied(propose(leader, "c", 20));
    awaitConverged(IDS, 20);
    List<Object> expected = new ArrayList<>();
    for (int i = 0; i < 20; i++) expected.add("c" + i);
    assertEquals(expected, appliedOn("n1"));
  }

  @Test
  void twin_SIM_09_partitionedLeaderIsReplacedCommitsNothingAndLogsConvergeAfterHealing() {
    String old = awaitLeader(IDS);
    awaitApplied(propose(old, "before", 5));
    long oldCommit = status(old).commitIndex();
    net.isolate(old, IDS);
    List<String> majority = new ArrayList<>(IDS);
    majority.remove(old);
    List<TestProbe<RaftNode.ProposeReply>> lost = propose(old, "lost", 3);
    String fresh = awaitLeader(majority);
    assertNotEquals(old, fresh);
    assertTrue(status(fresh).term() > status(old).term());
    awaitApplied(propose(fresh, "after", 5));
    // Check-quorum: the isolated leader has stepped down, and it never committed its entries.
    advanceUntil(ELECTION_BOUND, "step-down of the isolated leader", () -> status(old).role() != Role.LEADER);
    assertEquals(oldCommit, status(old).commitIndex());
    for (TestProbe<RaftNode.ProposeReply> p : lost) {
      assertInstanceOf(RaftNode.OutcomeUnknown.class, p.receiveMessage(Duration.ofSeconds(5)));
    }
    net.healAll();
    awaitConverged(IDS, 10);
    List<Object> log = appliedOn(old);
    assertTrue(log.containsAll(List.of("before0", "before4", "after0", "after4")));
    assertTrue(log.stream().noneMatch(c -> c.toString().startsWith("lost")), "uncommitted entries were replaced");
  }

  @Test
  void twin_SIM_09_aCrashedFollowerRecoversFromItsJournalAndCatchesUp() {
    String leader = awaitLeader(IDS);
    String follower = IDS.stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
    awaitApplied(propose(leader, "a", 5));
    HardState before = storages.get(follower).hardState();
    kit.stop(nodes.get(follower));
    awaitApplied(propose(leader, "b", 5)); // the other two still make a majority
    startNode(follower);
    RaftNode.Status recovered = status(follower);
    assertEquals(before.term(), recovered.term(), "term recovered from the journal");
    assertEquals(Role.FOLLOWER, recovered.role());
    awaitConverged(IDS, 10);
    assertEquals(appliedOn(leader), appliedOn(follower));
  }

  @Test
  void twin_T5_1_02_snapshotsAreTakenEveryAfterEntriesAndKeepTheLogBounded() {
    String leader = awaitLeader(IDS);
    awaitApplied(propose(leader, "c", 35));
    awaitConverged(IDS, 35);
    // Entries 1..37 are applied (configuration, no-op, 35 commands). A node checks the policy after
    // each batch it applies, so its last snapshot is less than 10 entries behind: at 28 or later.
    // The snapshot's write follows its apply step, so wait for it.
    kit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      for (String id : IDS) {
        InMemoryStorage st = storages.get(id);
        long snap = st.snapshotMeta().lastIncludedIndex();
        assertTrue(snap >= 28, id + " snapshot at " + snap);
        assertTrue(st.entries().size() <= 12, id + " keeps " + st.entries().size() + " entries after its snapshot");
      }
      return null;
    });
  }

  @Test
  void twin_T5_1_06_T5_1_07_aFollowerBehindTheSnapshotCatchesUpThroughChunkedInstallSnapshot() {
    String leader = awaitLeader(IDS);
    String follower = IDS.stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
    kit.stop(nodes.get(follower));
    awaitApplied(propose(leader, "while-away-", 40)); // the leader compacts past the follower's log
    // The snapshot is written right after the step that answers the last proposal: wait for it.
    kit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      assertTrue(storages.get(leader).snapshotMeta().lastIncludedIndex() > storages.get(follower).entries().size());
      return null;
    });
    startNode(follower);
    awaitConverged(IDS, 40);
    // At least one install: under a slow scheduler logical time can run ahead of the actors, a new
    // leader may be elected meanwhile and send its own, later snapshot too.
    assertTrue(machines.get(follower).restores >= 1, "its state came from the leader's snapshot");
    kit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      assertTrue(storages.get(follower).snapshotMeta().lastIncludedIndex() >= 30); // written after it is restored
      return null;
    });
    // A snapshot of 40 short commands is several 64-byte chunks; the result is byte-identical.
    assertEquals(appliedOn(leader), appliedOn(follower));
    awaitApplied(propose(leader, "after-", 5)); // and it then follows the log
    awaitConverged(IDS, 45);
  }

  @Test
  void twin_T3_8_05_aNodeRestartsFromItsSnapshotPlusTheLogSuffix() {
    String leader = awaitLeader(IDS);
    awaitApplied(propose(leader, "c", 25));
    awaitConverged(IDS, 25);
    String follower = IDS.stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
    kit.stop(nodes.get(follower));
    // Read once the node is stopped: a snapshot write can trail the apply step that converged.
    long snap = storages.get(follower).snapshotMeta().lastIncludedIndex();
    assertTrue(snap > 0);
    startNode(follower);
    // Recovery is asynchronous and status is answered meanwhile: wait until the node runs. Logical
    // time stands still, so no heartbeat can commit anything before the checks below.
    kit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(RaftNode.Phase.RUNNING, status(follower).phase());
      return null;
    });
    assertEquals(1, machines.get(follower).restores, "restored from its own snapshot at start");
    RaftNode.Status s = status(follower);
    assertEquals(snap, s.lastApplied(), "nothing after the snapshot is applied before it is known committed");
    awaitConverged(IDS, 25);
    assertEquals(appliedOn(leader), appliedOn(follower));
  }
}
