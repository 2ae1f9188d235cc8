package io.raftactors.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
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
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code raft.persistence.storage} changed under a member that has a log: it must not start on the
 * other, empty storage (it would start over and the log would be silently left behind), but refuse
 * with an error naming the data found and the setting that reads it. Members without a log in the
 * other storage start as usual, and the log itself is untouched by the check.
 */
class StorageSettingChangeTest {
  private static final ClusterConfig THREE = ClusterConfig.of("n1", "n2", "n3");

  @TempDir
  Path dir;

  /** Journal snapshots (which delete the events they cover) every this many writes. */
  private int journalSnapshotEvery = 1000;

  private Config config(String storage, String member) {
    return ConfigFactory.parseString(String.join("\n",
            "raft.group-id = g",
            "raft.member-id = " + member,
            "raft.members { n1 = \"akka://StorageSettingChangeTest\", n2 = \"akka://StorageSettingChangeTest\", "
                + "n3 = \"akka://StorageSettingChangeTest\" }",
            "raft.persistence.storage = " + storage,
            "raft.persistence.leveldb-journal.dir = \"" + dir.resolve("journal") + "\"",
            "raft.persistence.local-snapshots.dir = \"" + dir.resolve("snapshots") + "\"",
            "raft.persistence.segments.dir = \"" + dir.resolve("log") + "\"",
            "raft.persistence.journal-snapshot-every = " + journalSnapshotEvery))
        .withFallback(ConfigFactory.load())
        .resolve();
  }

  /** Runs {@code body} with the storage {@code storage} of {@code member} (RaftPersistence chooses it), on a fresh ActorSystem. */
  private <T> T withStorage(String storage, String member, Function<RaftStorage, T> body) {
    Config cfg = config(storage, member);
    ActorTestKit kit = ActorTestKit.create("StorageSettingChangeTest", cfg);
    try {
      return body.apply(RaftPersistence.storage(kit.system(), RaftSettings.fromConfig(cfg)));
    } finally {
      kit.shutdownTestKit();
    }
  }

  /** The error of starting {@code member} on {@code storage}. */
  private IllegalStateException refusal(String storage, String member) {
    Config cfg = config(storage, member);
    ActorTestKit kit = ActorTestKit.create("StorageSettingChangeTest", cfg);
    try {
      return assertThrows(IllegalStateException.class, () -> RaftPersistence.storage(kit.system(), RaftSettings.fromConfig(cfg)),
          member + " started on " + storage);
    } finally {
      kit.shutdownTestKit();
    }
  }

  private static void deleteTree(Path p) throws java.io.IOException {
    try (var files = java.nio.file.Files.walk(p)) {
      for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) java.nio.file.Files.delete(f);
    }
  }

  private static DurableState recover(RaftStorage s) {
    try {
      return s.recover().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  /** A founded member's log: the configuration, then ten entries, one write each. */
  private static List<LogEntry> writeALog(RaftStorage s) {
    try {
      assertTrue(recover(s).entries().isEmpty(), "new storage");
      s.write(new RaftStorage.Write(null, 0, DurableState.bootstrap(THREE).entries())).toCompletableFuture().get(30, TimeUnit.SECONDS);
      for (long i = 2; i <= 11; i++) {
        LogEntry e = new LogEntry(i, 1, new EntryData.Command(0, "m", ("e" + i).getBytes()));
        s.write(new RaftStorage.Write(new HardState(1, "n1"), 0, List.of(e))).toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
      return recover(s).entries();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  /**
   * The journal's log as events only; as a journal snapshot and the events after it (the events the
   * snapshot covers are deleted); and as journal snapshots alone (the LevelDB files gone).
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"events", "snapshot and events", "snapshots only"})
  void aMemberWhoseLogIsInTheJournalDoesNotStartOnSegments_andTheErrorNamesTheJournalSetting(String kept) throws Exception {
    journalSnapshotEvery = kept.equals("events") ? 1000 : 3;
    List<LogEntry> log = withStorage("journal", "n1", s -> {
      assertInstanceOf(JournalStorage.class, s);
      return writeALog(s);
    });
    assertEquals(11, log.get(log.size() - 1).index());
    if (kept.equals("snapshots only")) deleteTree(dir.resolve("journal"));

    IllegalStateException e = refusal("segments", "n1");
    String m = e.getMessage();
    assertTrue(m.contains("set raft.persistence.storage = journal"), m);
    assertTrue(m.contains("raft node n1 of group g") && m.contains("'raft|n1'"), m);
    Path evidence = kept.equals("snapshots only") ? dir.resolve("snapshots") : dir.resolve("journal");
    assertTrue(m.contains(evidence.toAbsolutePath().toString()), m);
    if (kept.equals("snapshots only")) return; // the journal itself is gone

    // Another member of the same journal has no log in it: it starts on segments.
    withStorage("segments", "n2", s -> assertInstanceOf(SegmentStorage.class, s));
    // The check opened the journal and left it as it was.
    assertEquals(log, withStorage("journal", "n1", s -> recover(s).entries()));
  }

  @Test
  void aMemberWhoseLogIsInSegmentFilesDoesNotStartOnTheJournal_andTheErrorNamesTheSegmentsSetting() {
    List<LogEntry> log = withStorage("segments", "n1", s -> {
      assertInstanceOf(SegmentStorage.class, s);
      return writeALog(s);
    });
    assertEquals(11, log.get(log.size() - 1).index());

    IllegalStateException e = refusal("journal", "n1");
    String m = e.getMessage();
    assertTrue(m.contains("set raft.persistence.storage = segments"), m);
    assertTrue(m.contains(dir.resolve("log").resolve("g").resolve("n1").toAbsolutePath().toString()), m);
    assertTrue(m.contains("raft node n1 of group g"), m);

    withStorage("journal", "n2", s -> assertInstanceOf(JournalStorage.class, s));
    assertEquals(log, withStorage("segments", "n1", s -> recover(s).entries()));
  }

  /** Segment files in the member's own directory are the per-member layout of an earlier version: refused, not read as empty. */
  @Test
  void aMemberWithSegmentsOfTheEarlierPerMemberLayoutDoesNotStart_andTheErrorNamesThem() throws Exception {
    Path old = java.nio.file.Files.createDirectories(dir.resolve("log").resolve("g").resolve("n1"));
    java.nio.file.Files.write(old.resolve(String.format("segment-%020d.log", 1)), new byte[4096]);
    String m = refusal("segments", "n1").getMessage();
    assertTrue(m.contains(old.toAbsolutePath().toString()) && m.contains("earlier version"), m);
    withStorage("segments", "n2", s -> assertInstanceOf(SegmentStorage.class, s)); // the others start
  }
}
