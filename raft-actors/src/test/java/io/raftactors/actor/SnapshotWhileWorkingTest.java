package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.NodeSnapshot;
import io.raftactors.testkit.RaftTestKit;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * T5.1-03 (thesis 5.1.1): a member whose snapshot is slow to write, leader or follower, holds up
 * neither the group's commits nor its applies (a leader applies and answers what its followers
 * committed while its own storage is busy with the snapshot), and the snapshot it writes is the
 * state machine's state at exactly its last included index.
 */
class SnapshotWhileWorkingTest {
  private RaftTestKit group;

  @AfterEach
  void stop() {
    if (group != null) group.close();
  }

  /**
   * A state machine whose state is a digest of every command applied, in order; it remembers its
   * digest after each index it applied, so a test can tell what the state was at any index.
   */
  static final class Digest implements StateMachine {
    private long lastIndex;
    private long digest = 17;
    final Map<Long, String> stateAt = new ConcurrentHashMap<>();
    /** The last command index of the latest snapshot installed (0: none): the history before it is not known here. */
    volatile long restoredAt;

    @Override
    public synchronized Object apply(long index, Object command) {
      digest = digest * 31 + command.hashCode();
      lastIndex = index;
      stateAt.put(index, state());
      return digest;
    }

    private String state() {
      return lastIndex + ":" + digest;
    }

    @Override
    public synchronized byte[] takeSnapshot() {
      return state().getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public synchronized void restoreSnapshot(byte[] snapshot) {
      String[] parts = new String(snapshot, StandardCharsets.UTF_8).split(":");
      lastIndex = Long.parseLong(parts[0]);
      digest = Long.parseLong(parts[1]);
      stateAt.put(lastIndex, state());
      restoredAt = Math.max(restoredAt, lastIndex);
    }

    /** The state after the last command at or below {@code index}. */
    String stateAtOrBefore(long index) {
      long best = 0;
      for (long i : stateAt.keySet()) if (i <= index && i > best) best = i;
      return stateAt.get(best);
    }
  }

  /** In-memory storage whose first write with a snapshot, once armed, is held until the test releases it. */
  static final class SlowSnapshotStorage extends InMemoryStorage {
    final CountDownLatch snapshotHeld = new CountDownLatch(1);
    final CompletableFuture<Void> release = new CompletableFuture<>();
    volatile boolean armed;
    volatile Write heldWrite;

    SlowSnapshotStorage(ClusterConfig bootstrap) {
      super(bootstrap);
    }

    @Override
    public synchronized CompletionStage<Void> write(Write w) {
      if (!armed || w.snapshot() == null || heldWrite != null) return super.write(w);
      heldWrite = w;
      snapshotHeld.countDown();
      // Written once released: durable only then, as a slow disk would make it.
      return release.thenCompose(x -> super.write(w));
    }
  }

  @Test
  void snapshot_T5_1_03_aLeaderWhoseSnapshotWriteIsSlowKeepsCommittingAndApplying() throws Exception {
    slowSnapshotOn(true);
  }

  @Test
  void snapshot_T5_1_03_aFollowerWhoseSnapshotWriteIsSlowHoldsUpNeitherCommitsNorApplies() throws Exception {
    slowSnapshotOn(false);
  }

  /**
   * The leader's (or a follower's) first snapshot write is held: while it is, commands commit and
   * are applied and answered by the leader, and applied by the other follower, whose storage is not
   * slow; the snapshot written is the state at exactly its last included index.
   */
  private void slowSnapshotOn(boolean leader) throws Exception {
    Map<String, SlowSnapshotStorage> storages = new ConcurrentHashMap<>();
    group = RaftTestKit.builder().members(3).stateMachine(id -> new Digest())
        .storage((system, settings) -> storages.computeIfAbsent(settings.memberId(), id -> new SlowSnapshotStorage(settings.bootstrapConfig())))
        .config(ConfigFactory.parseString("raft.snapshot.after-entries = 20")).start();
    String lead = group.awaitLeader();
    String slow = leader ? lead : group.members().stream().filter(id -> !id.equals(lead)).findFirst().orElseThrow();
    String other = group.members().stream().filter(id -> !id.equals(lead) && !id.equals(slow)).findFirst().orElseThrow();
    SlowSnapshotStorage storage = storages.get(slow);
    storage.armed = true;
    RaftClient client = group.client();
    // Enough commands for the slow member to take a snapshot; its write is held from then on.
    int n = 0;
    while (storage.snapshotHeld.getCount() > 0 && n < 200) {
      try {
        client.submit("before-" + n++).toCompletableFuture().get(10, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        throw new AssertionError("command " + (n - 1) + " did not commit; " + group.describe(), e);
      }
    }
    assertTrue(storage.snapshotHeld.await(10, TimeUnit.SECONDS), slow + " took no snapshot after " + n + " commands");

    // While the snapshot is being written: commands commit and the leader applies and answers them.
    List<CompletableFuture<Object>> during = new ArrayList<>();
    for (int i = 0; i < 30; i++) during.add(client.submit("during-" + i).toCompletableFuture());
    for (CompletableFuture<Object> f : during) {
      try {
        assertNotNull(f.get(10, TimeUnit.SECONDS));
      } catch (java.util.concurrent.TimeoutException e) {
        throw new AssertionError("a command did not commit while " + slow + "'s snapshot write was held; " + group.describe(), e);
      }
    }
    assertFalse(storage.release.isDone(), "the snapshot write is still in flight");
    assertEquals(lead, group.awaitLeader(), "the same leader throughout");
    long committed = group.status(lead).commitIndex();
    String applier = leader ? lead : other;
    try {
      group.await(Duration.ofSeconds(10), applier + " applies every committed entry while the snapshot write is in flight",
          () -> group.status(applier).lastApplied() >= committed);
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; " + group.describe(), e);
    }

    // The snapshot written is the state at exactly its last included index, as another member had it then.
    RaftStorage.Write held = storage.heldWrite;
    long at = held.snapshot().meta().lastIncludedIndex();
    String written = new String(NodeSnapshot.unwrap(held.snapshot().data()).stateMachine(), StandardCharsets.UTF_8);
    // Every member whose history reaches back to that index agrees (one that installed a later
    // snapshot from the leader does not know its state there; the member that took it always does).
    int references = 0;
    for (String id : group.members()) {
      Digest d = group.stateMachine(id);
      if (d.restoredAt > at) continue;
      assertEquals(d.stateAtOrBefore(at), written, id + "'s state at index " + at + ", the snapshot's last included index");
      references++;
    }
    assertTrue(references >= 1, "no member knows its state at " + at);
    storage.release.complete(null);
    group.awaitApplied(committed, Duration.ofSeconds(10)); // the slow member catches up once written
  }
}
