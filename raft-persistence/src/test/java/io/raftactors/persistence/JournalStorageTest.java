package io.raftactors.persistence;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.RaftSettings;
import io.raftactors.actor.RaftStorage;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.DurableState;
import io.raftactors.core.EntryData;
import io.raftactors.core.HardState;
import io.raftactors.core.LogEntry;
import io.raftactors.core.Snapshot;
import io.raftactors.core.SnapshotMeta;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The LevelDB-backed journal: what is written is what a restart recovers, exactly. */
class JournalStorageTest {
  @TempDir Path dir;

  private Config config(String group, String member) {
    return ConfigFactory.parseString(String.join("\n",
            "raft.group-id = " + group,
            "raft.member-id = " + member,
            "raft.members { n1 = \"akka://JournalStorageTest\", n2 = \"akka://JournalStorageTest\", n3 = \"akka://JournalStorageTest\" }",
            "raft.persistence.leveldb-journal.dir = \"" + dir.resolve("journal") + "\"",
            "raft.persistence.local-snapshots.dir = \"" + dir.resolve("snapshots") + "\"",
            // Journal snapshots (and deletion of the events they cover) every 7 writes, so every
            // test here also recovers through a journal snapshot plus the events after it.
            "raft.persistence.journal-snapshot-every = 7"))
        .withFallback(ConfigFactory.load())
        .resolve();
  }

  /** Runs {@code body} against a fresh ActorSystem on the same directory, then shuts it down (releasing the LevelDB lock). */
  private <T> T withStorage(String group, String member, java.util.function.Function<JournalStorage, T> body) {
    Config cfg = config(group, member);
    ActorTestKit kit = ActorTestKit.create("JournalStorageTest", cfg);
    try {
      return body.apply(JournalStorage.start(kit.system(), RaftSettings.fromConfig(cfg)));
    } finally {
      kit.shutdownTestKit();
    }
  }

  /** Recovers and, on a new journal, writes the founding configuration as entry 1, as a founding node does. */
  private static DurableState found(JournalStorage st) {
    DurableState s = st.recover().toCompletableFuture().join();
    if (!s.entries().isEmpty() || s.snapshot().lastIncludedIndex() > 0) return s;
    List<LogEntry> founding = DurableState.bootstrap(ClusterConfig.of("n1", "n2", "n3")).entries();
    st.write(new RaftStorage.Write(null, 0, founding)).toCompletableFuture().join();
    return st.recover().toCompletableFuture().join();
  }

  private static LogEntry entry(long index, long term) {
    return new LogEntry(index, term, new EntryData.Command(0, "m", ("e" + index + "@" + term).getBytes()));
  }

  @Test
  void aNewJournalIsEmptySoThatTheNodeDecidesWhetherToFoundTheGroup() {
    // T3.8-11 relies on this: a new journal must look exactly like lost storage (no term, vote or
    // entry), never like a founded member; the node writes the founding configuration itself.
    DurableState s = withStorage("g", "n1", st -> st.recover().toCompletableFuture().join());
    assertEquals(HardState.INITIAL, s.hardState());
    assertEquals(0, s.snapshot().lastIncludedIndex());
    assertEquals(List.of(), s.entries());
    DurableState founded = withStorage("g", "n1", st -> {
      st.write(new RaftStorage.Write(null, 0, DurableState.bootstrap(ClusterConfig.of("n1", "n2", "n3")).entries()))
          .toCompletableFuture().join();
      return st.recover().toCompletableFuture().join();
    });
    assertEquals(1, founded.entries().size());
    assertEquals(new EntryData.Configuration(ClusterConfig.of("n1", "n2", "n3")), founded.entries().get(0).data());
  }

  @Test
  void durability_T3_8_03_recoveryRestoresTermVoteAndLogExactly() {
    SplittableRandom rnd = new SplittableRandom(42);
    List<LogEntry> model = new ArrayList<>();
    HardState[] hard = {HardState.INITIAL};
    withStorage("g", "n1", st -> {
      model.addAll(found(st).entries());
      long term = 0;
      for (int step = 0; step < 200; step++) {
        HardState hs = null;
        if (rnd.nextInt(4) == 0) {
          term++;
          hs = new HardState(term, rnd.nextBoolean() ? "n" + (1 + rnd.nextInt(3)) : null);
          hard[0] = hs;
        }
        long truncateFrom = 0;
        if (model.size() > 2 && rnd.nextInt(5) == 0) {
          truncateFrom = 2 + rnd.nextInt(model.size() - 1);
          model.subList((int) truncateFrom - 1, model.size()).clear();
        }
        List<LogEntry> add = new ArrayList<>();
        for (int i = rnd.nextInt(4); i > 0; i--) {
          LogEntry e = entry(model.size() + 1, Math.max(1, term));
          model.add(e);
          add.add(e);
        }
        st.write(new RaftStorage.Write(hs, truncateFrom, add)).toCompletableFuture().join();
      }
      return null;
    });
    DurableState recovered = withStorage("g", "n1", st -> st.recover().toCompletableFuture().join());
    assertEquals(hard[0], recovered.hardState());
    assertEquals(model, recovered.entries()); // index, term and payload bytes
  }

  @Test
  void durability_T3_8_04_journalSequenceNumbersAreNotLogIndices() {
    withStorage("g", "n1", st -> {
      found(st);
      st.write(new RaftStorage.Write(new HardState(1, null), 0, List.of(entry(2, 1), entry(3, 1), entry(4, 1), entry(5, 1))))
          .toCompletableFuture().join();
      // Truncate from 4 and append a new 4-5 of a later term, as one write with its own truncation event.
      st.write(new RaftStorage.Write(new HardState(2, null), 4, List.of(entry(4, 2), entry(5, 2)))).toCompletableFuture().join();
      return null;
    });
    DurableState s = withStorage("g", "n1", st -> st.recover().toCompletableFuture().join());
    assertEquals(5, s.entries().size());
    assertEquals(entry(4, 2), s.entries().get(3));
    assertEquals(entry(5, 2), s.entries().get(4));
  }

  @Test
  void aJournalActorThatStoppedIsNeverAskedAgainTheNextRecoveryStartsANewOne() {
    Config cfg = ConfigFactory.parseString("raft.recovery-timeout = 5s").withFallback(config("g", "n1"));
    ActorTestKit kit = ActorTestKit.create("JournalStorageTest", cfg);
    try {
      JournalStorage st = JournalStorage.start(kit.system(), RaftSettings.fromConfig(cfg));
      found(st);
      st.write(new RaftStorage.Write(new HardState(1, "n1"), 0, List.of(entry(2, 1)))).toCompletableFuture().join();
      // The journal actor dies, as it does when the journal plugin fails under it.
      kit.system().classicSystem().actorSelection("/system/raft-journal-g-n1-*").tell(akka.actor.PoisonPill.getInstance(),
          akka.actor.ActorRef.noSender());
      // Writes fail at once instead of waiting for a dead actor...
      kit.createTestProbe().awaitAssert(java.time.Duration.ofSeconds(5), () -> {
        CompletionException e = assertThrows(CompletionException.class, () ->
            st.write(new RaftStorage.Write(null, 0, List.of(entry(3, 1)))).toCompletableFuture().join());
        assertTrue(e.getCause().getMessage().contains("has stopped"), e.toString());
        return null;
      });
      // ...and recovery reads the journal with a new actor, well within the recovery timeout.
      DurableState s = st.recover().toCompletableFuture().join();
      assertEquals(new HardState(1, "n1"), s.hardState());
      assertEquals(List.of(1L, 2L), s.entries().stream().map(LogEntry::index).toList());
      st.write(new RaftStorage.Write(null, 0, List.of(entry(3, 1)))).toCompletableFuture().join();
      assertEquals(3, st.recover().toCompletableFuture().join().entries().size());
    } finally {
      kit.shutdownTestKit();
    }
  }

  /**
   * An ActorSystem that shuts down stops the journal actor like any other: that is no fault, and
   * logs no ERROR. (Here the journal actor is stopped in the last phase of the coordinated shutdown,
   * so that its watcher sees it stop, as it did when the demo stopped its ActorSystems.)
   */
  @Test
  void aJournalActorStoppedWithItsActorSystemLogsNoError() throws Exception {
    Config cfg = config("g", "n1");
    ActorTestKit kit = ActorTestKit.create("JournalStorageTest", cfg);
    ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(JournalStorage.class);
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> events = new ch.qos.logback.core.read.ListAppender<>();
    events.start();
    logger.addAppender(events);
    ch.qos.logback.classic.Level level = logger.getLevel();
    logger.setLevel(ch.qos.logback.classic.Level.DEBUG);
    try {
      JournalStorage st = JournalStorage.start(kit.system(), RaftSettings.fromConfig(cfg));
      found(st);
      java.util.concurrent.CompletableFuture<akka.Done> journalStopped = new java.util.concurrent.CompletableFuture<>();
      akka.actor.CoordinatedShutdown.get(kit.system()).addTask(akka.actor.CoordinatedShutdown.PhaseBeforeActorSystemTerminate(),
          "stop-journal-first", () -> {
            kit.system().classicSystem().actorSelection("/system/raft-journal-g-n1-*").tell(akka.actor.PoisonPill.getInstance(),
                akka.actor.ActorRef.noSender());
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(4);
            while (events.list.stream().noneMatch(e -> e.getFormattedMessage().contains("raft-journal-g-n1-"))
                && System.nanoTime() < deadline) {
              Thread.onSpinWait(); // the watcher logs the stop within milliseconds
            }
            journalStopped.complete(akka.Done.getInstance());
            return journalStopped;
          });
      kit.shutdownTestKit();
      assertTrue(journalStopped.isDone());
      assertTrue(events.list.stream().anyMatch(e -> e.getFormattedMessage().contains("raft-journal-g-n1-")),
          "the watcher saw the journal actor stop: " + events.list);
      List<String> errors = events.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(ch.qos.logback.classic.Level.WARN))
          .map(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage).toList();
      assertEquals(List.of(), errors);
    } finally {
      logger.setLevel(level);
      logger.detachAppender(events);
    }
  }

  @Test
  void aJournalOfAnotherGroupStopsTheNodeWithAnErrorSayingSo() {
    withStorage("kv", "n1", st -> st.recover().toCompletableFuture().join());
    CompletionException e = assertThrows(CompletionException.class,
        () -> withStorage("bank", "n1", st -> st.recover().toCompletableFuture().join()));
    assertTrue(e.getCause().getMessage().contains("group kv"), e.getCause().getMessage());
    assertTrue(e.getCause().getMessage().contains("group bank"), e.getCause().getMessage());
  }

  @Test
  void aJournalDirectoryThatCannotBeCreatedIsReportedWithItsPath() throws Exception {
    File blocker = dir.resolve("not-a-dir").toFile();
    Files.writeString(blocker.toPath(), "x");
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> JournalStorage.ensureDirectory(new File(blocker, "journal"), "raft.persistence.leveldb-journal.dir"));
    assertTrue(e.getMessage().contains(blocker.getAbsolutePath()), e.getMessage());
    assertTrue(e.getMessage().contains("raft.persistence.leveldb-journal.dir"), e.getMessage());
  }

  @Test
  void durability_T3_8_05_recoveryGivesTheSnapshotWithItsDataAndTheLogSuffix() {
    byte[] state = "state-at-100".getBytes();
    withStorage("g", "n1", st -> {
      found(st);
      List<LogEntry> entries = new ArrayList<>();
      for (long i = 2; i <= 130; i++) entries.add(entry(i, 7));
      st.write(new RaftStorage.Write(new HardState(7, "n1"), 0, entries)).toCompletableFuture().join();
      SnapshotMeta meta = new SnapshotMeta(100, 7, ClusterConfig.of("n1", "n2", "n3"));
      st.write(new RaftStorage.Write(null, new Snapshot(meta, state), 0, List.of())).toCompletableFuture().join();
      return null;
    });
    DurableState s = withStorage("g", "n1", st -> st.recover().toCompletableFuture().join());
    assertEquals(100, s.snapshot().lastIncludedIndex());
    assertEquals(7, s.snapshot().lastIncludedTerm());
    assertArrayEquals(state, s.snapshotData());
    assertEquals(30, s.entries().size(), "entries 101-130 remain");
    assertEquals(entry(101, 7), s.entries().get(0));
    assertEquals(new HardState(7, "n1"), s.hardState());
  }

  @Test
  void aSnapshotPastTheEndOfTheLogReplacesItAndLaterEntriesFollowIt() {
    withStorage("g", "n1", st -> {
      found(st);
      SnapshotMeta meta = new SnapshotMeta(500, 9, ClusterConfig.of("n1", "n2", "n3"));
      // As a follower installing a leader's snapshot: snapshot, truncation of the rest, new entries.
      st.write(new RaftStorage.Write(new HardState(9, null), new Snapshot(meta, new byte[] {1}), 501,
          List.of(entry(501, 9), entry(502, 9)))).toCompletableFuture().join();
      return null;
    });
    DurableState s = withStorage("g", "n1", st -> st.recover().toCompletableFuture().join());
    assertEquals(500, s.snapshot().lastIncludedIndex());
    assertEquals(List.of(entry(501, 9), entry(502, 9)), s.entries());
  }

  @Test
  void aLongWriteRunWithSnapshotsRecoversExactlyThroughJournalSnapshots() throws Exception {
    List<LogEntry> suffix = new ArrayList<>();
    byte[][] lastState = new byte[1][];
    long[] lastSnap = new long[1];
    withStorage("g", "n1", st -> {
      found(st);
      long next = 2;
      for (int w = 0; w < 400; w++) {
        List<LogEntry> batch = new ArrayList<>();
        for (int i = 0; i < 5; i++) batch.add(entry(next++, 3));
        suffix.addAll(batch);
        Snapshot snap = null;
        if (w % 20 == 19) { // a state machine snapshot every 100 entries, as the node would take one
          long at = next - 1;
          lastState[0] = ("state@" + at).getBytes();
          lastSnap[0] = at;
          snap = new Snapshot(new SnapshotMeta(at, 3, ClusterConfig.of("n1", "n2", "n3")), lastState[0]);
          suffix.clear();
        }
        st.write(new RaftStorage.Write(w == 0 ? new HardState(3, "n1") : null, snap, 0, batch)).toCompletableFuture().join();
      }
      return null;
    });
    DurableState s = withStorage("g", "n1", st -> st.recover().toCompletableFuture().join());
    assertEquals(lastSnap[0], s.snapshot().lastIncludedIndex());
    assertArrayEquals(lastState[0], s.snapshotData());
    assertEquals(suffix, s.entries());
    assertEquals(new HardState(3, "n1"), s.hardState());
    File[] snapshots = dir.resolve("snapshots").toFile().listFiles();
    // About 57 journal snapshots were taken; 2 are kept, plus at most one whose (asynchronous)
    // deletion may still be under way when the system stops.
    assertTrue(snapshots != null && snapshots.length > 0 && snapshots.length <= 3,
        "journal snapshots kept: " + (snapshots == null ? 0 : snapshots.length));
  }
}
