package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.ManualTime;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.core.Role;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** T5.1-02: a snapshot starts when the entries or bytes threshold is crossed, and not before. */
class SnapshotPolicyTest {
  private static final AtomicInteger SYSTEMS = new AtomicInteger();
  private ActorTestKit kit;
  private InMemoryStorage storage;
  private ActorRef<RaftNode.Command> node;
  private final AtomicInteger snapshotsTaken = new AtomicInteger();

  @AfterEach
  void stop() {
    kit.shutdownTestKit();
  }

  private void start(String afterEntries, String afterBytes) {
    String name = "SnapshotPolicyTest" + SYSTEMS.incrementAndGet();
    Config cfg = ConfigFactory.parseString(String.join("\n",
            "raft.group-id = solo",
            "raft.member-id = n1",
            "raft.members { n1 = \"akka://" + name + "\" }",
            "raft.election-timeout-min = 100ms",
            "raft.election-timeout-max = 100ms",
            "raft.heartbeat-interval = 20ms",
            "raft.snapshot.after-entries = " + afterEntries,
            "raft.snapshot.after-bytes = " + afterBytes))
        .withFallback(ManualTime.config())
        .withFallback(ConfigFactory.load());
    kit = ActorTestKit.create(name, cfg);
    RaftSettings settings = RaftSettings.fromConfig(cfg);
    storage = new InMemoryStorage(settings.bootstrapConfig());
    StateMachine sm = new StateMachine() {
      long applied;

      @Override
      public Object apply(long index, Object command) {
        return ++applied;
      }

      @Override
      public byte[] takeSnapshot() {
        snapshotsTaken.incrementAndGet();
        return Long.toString(applied).getBytes();
      }

      @Override
      public void restoreSnapshot(byte[] snapshot) {
        applied = Long.parseLong(new String(snapshot));
      }
    };
    node = kit.spawn(RaftNode.create(settings, storage, sm), "node");
    ManualTime.get(kit.system()).timePasses(Duration.ofMillis(110));
    TestProbe<RaftNode.Status> p = kit.createTestProbe();
    p.awaitAssert(Duration.ofSeconds(5), () -> {
      node.tell(new RaftNode.GetStatus(p.ref()));
      assertEquals(Role.LEADER, p.receiveMessage().role());
      return null;
    });
  }

  /** Proposes one command and waits until it is applied. */
  private void write(Object command) {
    TestProbe<RaftNode.ProposeReply> client = kit.createTestProbe();
    node.tell(new RaftNode.Propose(command, client.ref()));
    assertInstanceOf(RaftNode.Applied.class, client.receiveMessage(Duration.ofSeconds(5)));
  }

  @Test
  void compaction_T5_1_02_aSnapshotStartsWhenTheEntriesThresholdIsCrossedAndNotBefore() {
    start("10", "64MiB");
    // Applied so far: the bootstrap configuration (1) and the leader's no-op (2).
    for (int i = 0; i < 7; i++) write("c" + i); // applied index 9
    assertEquals(0, snapshotsTaken.get());
    assertEquals(0, storage.snapshotMeta().lastIncludedIndex());
    write("c7"); // applied index 10: the threshold
    awaitSnapshotAt(10);
    assertEquals(1, snapshotsTaken.get());
    for (int i = 8; i < 17; i++) write("c" + i); // up to index 19
    assertEquals(1, snapshotsTaken.get(), "the next one is due 10 entries after the last");
    write("c17");
    awaitSnapshotAt(20);
    assertEquals(2, snapshotsTaken.get());
  }

  @Test
  void compaction_T5_1_02_aSnapshotStartsWhenTheBytesThresholdIsCrossedAndNotBefore() {
    start("100000", "2KiB");
    byte[] big = new byte[700];
    write(big);
    write(big); // about 1.4 KiB of entries applied
    assertEquals(0, snapshotsTaken.get());
    write(big); // past 2 KiB
    awaitSnapshotAt(5);
    assertEquals(1, snapshotsTaken.get());
  }

  /**
   * The proposer's answer leaves while the entry is applied; the snapshot is taken right after it
   * in the same step and then written, so wait for the write rather than racing it.
   */
  private void awaitSnapshotAt(long index) {
    kit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(index, storage.snapshotMeta().lastIncludedIndex());
      return null;
    });
  }
}
