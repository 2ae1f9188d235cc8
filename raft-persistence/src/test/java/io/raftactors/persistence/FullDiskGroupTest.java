package io.raftactors.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.LoggingTestKit;
import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.AskPattern;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.StateMachine;
import io.raftactors.core.Role;
import io.raftactors.testkit.RaftTestKit;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A group of three real RaftNodes on {@link SegmentStorage}, whose disks fill up ({@link FullDisk})
 * under a steady stream of proposals. Every answer is recorded as applied, certainly not applied
 * (not the leader, rejected, overloaded) or unknown (outcome unknown, no answer in time), and at
 * the end: every command answered applied is in every member's state machine exactly once, also
 * after all three restart from their files; no command answered "not applied" is anywhere; no
 * member applied anything twice (a node restarts after a failed write and keeps its state machine).
 */
class FullDiskGroupTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final int SEGMENT = 8192;

  @TempDir
  Path dir;

  private final Map<String, FullDisk> disks = new ConcurrentHashMap<>();

  /** Records the commands it applies, in order. No snapshots: the log is replayed in full. */
  static final class Recorder implements StateMachine {
    private final List<String> applied = new ArrayList<>();

    @Override
    public synchronized Object apply(long index, Object command) {
      applied.add((String) command);
      return index;
    }

    synchronized List<String> applied() {
      return List.copyOf(applied);
    }
  }

  private RaftTestKit group(boolean copyOnWrite) {
    for (String id : List.of("n1", "n2", "n3")) disks.put(id, new FullDisk(copyOnWrite));
    return RaftTestKit.builder().members(3).groupId("disks")
        .storage((system, s) -> new SegmentStorage(dir.resolve(s.memberId()), SEGMENT, true, s.bootstrapConfig(),
            s.groupId() + "-" + s.memberId(), disks.get(s.memberId())))
        .stateMachine(id -> new Recorder())
        .start();
  }

  enum Outcome { APPLIED, NOT_APPLIED, UNKNOWN }

  /** Proposes "w0", "w1", ... one after the other to the member it believes leads, and records each answer. */
  static final class Writer implements Runnable {
    final RaftTestKit group;
    final Map<String, Outcome> outcomes = new ConcurrentHashMap<>();
    final AtomicLong next = new AtomicLong();
    final AtomicLong appliedCount = new AtomicLong();
    volatile boolean stop;
    private String target;
    private final Thread thread = new Thread(this, "full-disk-writer");

    Writer(RaftTestKit group, String leader) {
      this.group = group;
      this.target = leader;
    }

    void start() {
      thread.start();
    }

    void stopAndJoin() throws InterruptedException {
      stop = true;
      thread.join(TimeUnit.SECONDS.toMillis(30));
    }

    @Override
    public void run() {
      List<String> ids = group.members();
      while (!stop) {
        String command = "w" + next.getAndIncrement();
        ActorRef<RaftNode.Command> node = group.node(target);
        RaftNode.ProposeReply reply;
        try {
          reply = AskPattern.<RaftNode.Command, RaftNode.ProposeReply>ask(node, r -> new RaftNode.Propose(command, r),
              Duration.ofSeconds(2), group.system().scheduler()).toCompletableFuture().get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
          outcomes.put(command, Outcome.UNKNOWN); // no answer in time
          target = ids.get((ids.indexOf(target) + 1) % ids.size());
          continue;
        }
        if (reply instanceof RaftNode.Applied) {
          outcomes.put(command, Outcome.APPLIED);
          appliedCount.incrementAndGet();
        } else if (reply instanceof RaftNode.OutcomeUnknown) {
          outcomes.put(command, Outcome.UNKNOWN);
        } else {
          outcomes.put(command, Outcome.NOT_APPLIED);
          String hint = reply instanceof RaftNode.NotLeader nl ? nl.leaderId() : null;
          target = hint != null ? hint : ids.get((ids.indexOf(target) + 1) % ids.size());
          if (hint == null) pause(); // no leader known: give the election a moment instead of spinning
        }
      }
    }

    String summary() {
      return "applied " + with(Outcome.APPLIED).size() + ", not applied " + with(Outcome.NOT_APPLIED).size()
          + ", unknown " + with(Outcome.UNKNOWN).size();
    }

    private static void pause() {
      try {
        TimeUnit.MILLISECONDS.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    List<String> with(Outcome o) {
      List<String> out = new ArrayList<>();
      outcomes.forEach((c, x) -> {
        if (x == o) out.add(c);
      });
      return out;
    }
  }

  /** The member, other than {@code not}, that leads in the highest term, if any (members that are restarting are skipped). */
  private static Optional<String> leaderOtherThan(RaftTestKit g, String not) {
    String best = null;
    long term = -1;
    for (String id : g.members()) {
      RaftNode.Status s = g.status(id);
      if (!id.equals(not) && s.role() == Role.LEADER && s.term() > term) {
        best = id;
        term = s.term();
      }
    }
    return Optional.ofNullable(best);
  }

  /** Every member applied the same commands, none twice, with every acknowledged one and none of the refused ones. */
  private static void assertHonest(RaftTestKit g, Writer w, String when) {
    List<String> applied = w.with(Outcome.APPLIED);
    List<String> refused = w.with(Outcome.NOT_APPLIED);
    List<String> first = null;
    for (String id : g.members()) {
      List<String> sm = g.<Recorder>stateMachine(id).applied();
      assertEquals(sm.size(), new java.util.HashSet<>(sm).size(), when + ": " + id + " applied a command twice");
      java.util.Set<String> has = new java.util.HashSet<>(sm);
      assertTrue(has.containsAll(applied), when + ": " + id + " lacks acknowledged commands " + missing(applied, has));
      for (String c : refused) assertTrue(!has.contains(c), when + ": " + id + " applied " + c + ", answered not applied");
      if (first == null) first = sm;
      else assertEquals(first, sm, when + ": " + id + " applied other commands than " + g.members().get(0));
    }
  }

  private static List<String> missing(List<String> expected, java.util.Set<String> has) {
    return expected.stream().filter(c -> !has.contains(c)).limit(20).toList();
  }

  /** No command from {@code first} on, among those answered so far, was answered applied. */
  private static void assertNothingAppliedFrom(Writer w, long first) {
    for (long i = first; i < w.next.get() - 1; i++) {
      assertTrue(w.outcomes.get("w" + i) != Outcome.APPLIED, "w" + i + " was answered applied while two of three disks were full");
    }
  }

  /**
   * Waits until a leader's commit index is at least {@code atLeast} and every member has applied
   * it; returns that index. The writer must have stopped.
   */
  private static long awaitConverged(RaftTestKit g, long atLeast) {
    long[] converged = new long[1];
    g.await(WAIT, "every member applied the leader's commit index, at least " + atLeast, () -> {
      Optional<String> leader = leaderOtherThan(g, null);
      if (leader.isEmpty()) return false;
      long commit = g.status(leader.get()).commitIndex();
      if (commit < atLeast) return false;
      for (String id : g.members()) if (g.status(id).lastApplied() < commit) return false;
      converged[0] = commit;
      return true;
    });
    return converged[0];
  }

  /** All three stop and start again from their segment files, with new state machines, and apply up to {@code index} again. */
  private static void restartAll(RaftTestKit g, long index) {
    for (String id : g.members()) g.crash(id);
    for (String id : g.members()) g.restart(id);
    awaitConverged(g, index);
  }

  /**
   * The leader's disk fills up (a plain file system: it goes on writing into its preallocated
   * segment until it needs a new one). Its write fails, logged at ERROR with member, group and
   * cause; it steps down and the other two go on while the disk stays full. Once there is room
   * again it catches up, and nothing acknowledged is lost, also across a restart of every member.
   */
  @Test
  void aLeaderWhoseDiskFillsStepsDown_theOthersGoOn_andNothingAcknowledgedIsLost() throws Exception {
    try (RaftTestKit g = group(false)) {
      String full = g.awaitLeader(WAIT);
      Writer w = new Writer(g, full);
      w.start();
      try {
        g.await(WAIT, "first writes applied", () -> w.appliedCount.get() >= 20);
        FullDisk disk = disks.get(full);
        LoggingTestKit.error("Raft node " + full + " of group disks: a storage write failed (java.io.IOException: "
                + FullDisk.ENOSPC + ")")
            .withMessageContains("As LEADER in term")
            .expect(g.system(), () -> {
              disk.fill();
              g.await(WAIT, full + " finding its disk full", () -> disk.refused() > 0);
              return null;
            });
        g.await(WAIT, "another member leading", () -> leaderOtherThan(g, full).isPresent());
        assertTrue(g.status(full).role() != Role.LEADER, full + " still leads on a full disk");
        long before = w.appliedCount.get();
        g.await(WAIT, "writes applied through the others while " + full + "'s disk is full",
            () -> w.appliedCount.get() >= before + 50);
        assertTrue(g.status(full).role() != Role.LEADER, full + " leads on a full disk");
        int refusedBefore = disk.refused();
        g.await(WAIT, full + " still trying (and failing) to write", () -> disk.refused() > refusedBefore);
        disk.makeRoom();
        long afterRoom = w.appliedCount.get();
        g.await(WAIT, "writes applied with space back", () -> w.appliedCount.get() >= afterRoom + 20);
      } finally {
        w.stopAndJoin();
      }
      assertHonestAfterSpaceCameBackAndAfterRestarts(g, w);
    }
  }

  /**
   * Two of three disks fill up at once (copy-on-write: no write succeeds on them). No entry can be
   * durable on a majority, so from then on nothing is acknowledged: every answer is "not applied"
   * or "unknown". Once space is back the group elects a leader and goes on, and what was
   * acknowledged stays.
   */
  @Test
  void twoOfThreeDisksFull_nothingIsAcknowledged_andOnceSpaceIsBackTheGroupGoesOn() throws Exception {
    try (RaftTestKit g = group(true)) {
      String leader = g.awaitLeader(WAIT);
      String follower = g.members().stream().filter(m -> !m.equals(leader)).findFirst().orElseThrow();
      Writer w = new Writer(g, leader);
      w.start();
      long firstAfterFull;
      try {
        g.await(WAIT, "first writes applied", () -> w.appliedCount.get() >= 20);
        disks.get(leader).fill();
        disks.get(follower).fill();
        firstAfterFull = w.next.get() + 1; // the command in flight now may have been written before
        g.await(WAIT, "both full disks refusing writes",
            () -> disks.get(leader).refused() > 0 && disks.get(follower).refused() > 0);
        long from = w.next.get();
        g.await(WAIT, "30 more proposals answered while the disks are full", () -> w.next.get() >= from + 30);
        assertNothingAppliedFrom(w, firstAfterFull);
        // Elections go on: the full disks refuse votes and entries after each restart, and still nothing commits.
        g.await(WAIT, "both full disks refusing writes again and again",
            () -> disks.get(leader).refused() >= 3 && disks.get(follower).refused() >= 3);
        assertNothingAppliedFrom(w, firstAfterFull);
        disks.get(leader).makeRoom();
        disks.get(follower).makeRoom();
        long afterRoom = w.appliedCount.get();
        g.await(WAIT, "writes applied with space back", () -> w.appliedCount.get() >= afterRoom + 20);
      } finally {
        w.stopAndJoin();
      }
      assertHonestAfterSpaceCameBackAndAfterRestarts(g, w);
    }
  }

  /** Once the writer stopped: the members converge, every answer was honest, and stays so after every member restarted. */
  private void assertHonestAfterSpaceCameBackAndAfterRestarts(RaftTestKit g, Writer w) throws Exception {
    System.out.println("[full-disk] " + w.summary() + "; writes refused: " + disks);
    long applied = awaitConverged(g, 0);
    assertHonest(g, w, "after space came back");
    restartAll(g, applied);
    assertHonest(g, w, "after every member restarted from its files");
  }
}
