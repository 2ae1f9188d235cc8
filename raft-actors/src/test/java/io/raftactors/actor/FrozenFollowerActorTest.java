package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.AskPattern;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.core.LogEntry;
import io.raftactors.core.RaftMessage;
import io.raftactors.core.Role;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A follower frozen for a few seconds under continuous proposals, on real node actors: everything it
 * sends and everything sent to it is held, in order, as the connections of a stopped process (a
 * SIGSTOP, a long GC pause) hold it, and delivered when it resumes. Its own timers keep running; the
 * leader cannot tell the difference from a stopped process, since it hears nothing either way.
 *
 * <p>What the leader hands out for the frozen follower stays within what the flow-control settings
 * allow (the pipelining window of AppendEntries, one probe and one snapshot chunk), however long the
 * freeze lasts; the other two keep committing and compacting their logs; once it resumes, the
 * follower catches up through a snapshot and every replica ends with the same state. Nothing here
 * depends on how fast the machine is: every phase ends on a condition, within a generous deadline.
 */
class FrozenFollowerActorTest {
  private static final List<String> IDS = List.of("n1", "n2", "n3");
  private static final Duration DEADLINE = Duration.ofSeconds(60);
  private static final int WINDOW = 4;
  private static final int BATCH_BYTES = 2048;
  private static final int CHUNK_BYTES = 1024;
  /** Messages of the leader (at least one per 30 ms heartbeat interval) that wait for the frozen follower before it resumes: a freeze of a few seconds. */
  private static final int FROZEN_HEARTBEATS = 60;

  private ActorTestKit kit;
  private final Switchboard net = new Switchboard();
  private final Map<String, ActorRef<RaftNode.Command>> nodes = new LinkedHashMap<>();
  private final Map<String, Registers> machines = new LinkedHashMap<>();
  private final AtomicBoolean stop = new AtomicBoolean();
  private final List<Thread> proposers = new ArrayList<>();

  @AfterEach
  void shutdown() throws InterruptedException {
    stop.set(true);
    for (Thread t : proposers) t.join(TimeUnit.SECONDS.toMillis(15));
    if (kit != null) kit.shutdownTestKit();
  }

  /**
   * Fifty registers written by "key=value" commands; it also counts the commands applied and folds
   * them, in order, into a hash, so that two replicas with equal state applied the same sequence.
   */
  static final class Registers implements StateMachine {
    private final TreeMap<String, String> values = new TreeMap<>();
    private long applied;
    private long hash;
    private int snapshotsTaken;
    private int restores;

    @Override
    public synchronized Object apply(long index, Object command) {
      String c = (String) command;
      int eq = c.indexOf('=');
      values.put(c.substring(0, eq), c.substring(eq + 1));
      applied++;
      hash = hash * 31 + c.hashCode();
      return index;
    }

    @Override
    public synchronized byte[] takeSnapshot() {
      snapshotsTaken++;
      return (applied + "\n" + hash + "\n" + values).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public synchronized void restoreSnapshot(byte[] snapshot) {
      restores++;
      String[] parts = new String(snapshot, StandardCharsets.UTF_8).split("\n", 3);
      applied = Long.parseLong(parts[0]);
      hash = Long.parseLong(parts[1]);
      values.clear();
      String map = parts[2].substring(1, parts[2].length() - 1);
      if (!map.isEmpty()) {
        for (String kv : map.split(", ")) values.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
      }
    }

    synchronized int snapshotsTaken() {
      return snapshotsTaken;
    }

    synchronized int restores() {
      return restores;
    }

    /** Everything that two agreeing replicas share. */
    synchronized String state() {
      return applied + "/" + hash + "/" + values;
    }
  }

  private RaftNode.Status status(String id) {
    return AskPattern.<RaftNode.Command, RaftNode.Status>ask(nodes.get(id), RaftNode.GetStatus::new, Duration.ofSeconds(5),
        kit.system().scheduler()).toCompletableFuture().join();
  }

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out after " + DEADLINE + " waiting until " + what);
      TimeUnit.MILLISECONDS.sleep(20);
    }
  }

  /** Entry bytes and snapshot bytes carried by {@code held}. */
  private static long dataBytes(List<RaftNode.PeerEnvelope> held) {
    long bytes = 0;
    for (RaftNode.PeerEnvelope env : held) {
      if (env.message() instanceof RaftMessage.AppendEntries ae) for (LogEntry e : ae.entries()) bytes += e.sizeInBytes();
      if (env.message() instanceof RaftMessage.InstallSnapshot is) bytes += is.data().length;
    }
    return bytes;
  }

  /** {@code n} threads, each proposing "key=value" on {@code leader} and waiting for its answer, until stopped. */
  private void startProposers(String leader, int n, AtomicLong applied, AtomicLong failed) {
    for (int t = 0; t < n; t++) {
      final int thread = t;
      Thread th = new Thread(() -> {
        long i = 0;
        while (!stop.get()) {
          String command = "k" + ((thread * 7 + i) % 50) + "=" + thread + "-" + i++ + "-" + "v".repeat(40);
          try {
            RaftNode.ProposeReply r = AskPattern.<RaftNode.Command, RaftNode.ProposeReply>ask(nodes.get(leader),
                reply -> new RaftNode.Propose(command, reply), Duration.ofSeconds(10), kit.system().scheduler())
                .toCompletableFuture().get();
            if (r instanceof RaftNode.Applied) applied.incrementAndGet();
            else failed.incrementAndGet();
          } catch (Exception e) {
            if (!stop.get()) failed.incrementAndGet();
          }
        }
      }, "proposer-" + t);
      th.setDaemon(true);
      proposers.add(th);
      th.start();
    }
  }

  @Test
  void aFrozenFollowerCostsTheLeaderOneWindowAndCatchesUpThroughASnapshotAfterItResumes() throws Exception {
    Config config = ConfigFactory.parseString(String.join("\n",
            "raft.group-id = frozen",
            "raft.members { n1 = \"akka://FrozenFollowerActorTest\", n2 = \"akka://FrozenFollowerActorTest\", "
                + "n3 = \"akka://FrozenFollowerActorTest\" }",
            "raft.tick-interval = 5ms",
            "raft.election-timeout-min = 150ms",
            "raft.election-timeout-max = 300ms",
            "raft.heartbeat-interval = 30ms",
            "raft.max-entries-per-append = 16",
            "raft.max-bytes-per-append = " + BATCH_BYTES,
            "raft.max-inflight-appends = " + WINDOW,
            "raft.snapshot.after-entries = 200",
            "raft.snapshot.chunk-size = " + CHUNK_BYTES))
        .withFallback(ConfigFactory.load());
    kit = ActorTestKit.create("FrozenFollowerActorTest", config);
    for (String id : IDS) {
      RaftSettings s = RaftSettings.fromConfig(ConfigFactory.parseString("raft.member-id = " + id).withFallback(config));
      Registers sm = new Registers();
      machines.put(id, sm);
      ActorRef<RaftNode.Command> ref = kit.spawn(RaftNode.create(s, new InMemoryStorage(s.bootstrapConfig()), sm,
          net.transportFor(id)), id);
      nodes.put(id, ref);
      net.register(id, ref);
    }
    String[] leaderFound = {null};
    await("a leader is elected", () -> {
      for (String id : IDS) if (status(id).role() == Role.LEADER) leaderFound[0] = id;
      return leaderFound[0] != null;
    });
    String leader = leaderFound[0];
    String frozen = IDS.stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
    AtomicLong applied = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    startProposers(leader, 2, applied, failed);
    await("the group has applied 300 proposals", () -> applied.get() >= 300);

    net.freeze(frozen);
    long frozenNanos = System.nanoTime();
    long commitAtFreeze = status(leader).commitIndex();
    int snapshotsAtFreeze = machines.get(leader).snapshotsTaken();
    await("the leader sent " + FROZEN_HEARTBEATS + " messages to the frozen follower, committed 1,000 more entries and "
        + "took two snapshots", () -> net.held(leader, frozen).size() >= FROZEN_HEARTBEATS
        && status(leader).commitIndex() >= commitAtFreeze + 1000
        && machines.get(leader).snapshotsTaken() >= snapshotsAtFreeze + 2);
    List<RaftNode.PeerEnvelope> held = net.held(leader, frozen);
    long data = dataBytes(held);
    long bound = (long) (WINDOW + 1) * BATCH_BYTES + CHUNK_BYTES;
    System.out.printf("frozen follower %s, %.1f s: %d messages from leader %s wait for it, carrying %d bytes of entries "
        + "and snapshot (bound %d); the group committed %d entries meanwhile%n", frozen, (System.nanoTime() - frozenNanos) / 1e9,
        held.size(), leader, data, bound, status(leader).commitIndex() - commitAtFreeze);
    assertTrue(data <= bound, "the leader handed the frozen follower " + data + " bytes of entries and snapshot, more "
        + "than max-inflight-appends + 1 batches and a chunk allow (" + bound + ")");
    assertEquals(Role.LEADER, status(leader).role(), "the leader kept leading with the other follower");

    net.thaw(frozen);
    long thawedNanos = System.nanoTime();
    long target = status(leader).commitIndex();
    await("the resumed follower applied " + target, () -> status(frozen).lastApplied() >= target);
    System.out.printf("resumed follower %s applied the leader's commit index of its resumption after %.1f s%n", frozen,
        (System.nanoTime() - thawedNanos) / 1e9);
    assertTrue(machines.get(frozen).restores() >= 1, "it caught up through a snapshot: the leader did not keep its log for it");

    stop.set(true);
    for (Thread t : proposers) t.join(TimeUnit.SECONDS.toMillis(15));
    long last = status(leader).commitIndex();
    await("every replica applied " + last, () -> IDS.stream().allMatch(id -> status(id).lastApplied() >= last));
    assertEquals(0, failed.get(), "every proposal was applied");
    for (String id : IDS) assertEquals(machines.get(leader).state(), machines.get(id).state(), id + " agrees with the leader");
  }
}
