package io.raftactors.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.raftactors.testkit.RaftTestKit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two Raft groups of three real nodes each, all six members on one segment log (one directory, as
 * the groups of one node keep theirs): commands of both groups are applied by their own group only,
 * members that crash and restart read their own log back while the other group writes on, and after
 * both groups stop, every member started again on the log applies exactly its group's commands.
 */
class GroupsOnOneSegmentLogTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir
  Path dir;

  private RaftTestKit group(String id) {
    return RaftTestKit.builder().members(3).groupId(id)
        .storage(SegmentStorage::start)
        .stateMachine(m -> new FullDiskGroupTest.Recorder())
        .config(ConfigFactory.parseString(String.join("\n",
            "raft.persistence.segments.dir = \"" + dir.toString().replace("\\", "/") + "\"",
            "raft.persistence.segments.segment-size = 16KiB")))
        .start();
  }

  /** Submits {@code n} commands "{group}-{from}".. to each group at once; returns once all are applied. */
  private static void submit(List<RaftTestKit> groups, int from, int n) throws Exception {
    List<CompletableFuture<Object>> replies = new ArrayList<>();
    for (int i = from; i < from + n; i++) {
      for (RaftTestKit g : groups) replies.add(g.client().submit(g.settings("n1").groupId() + "-" + i).toCompletableFuture());
    }
    for (CompletableFuture<Object> r : replies) r.get(30, TimeUnit.SECONDS);
  }

  private static List<String> commands(String group, int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) out.add(group + "-" + i);
    return out;
  }

  /** Every member of {@code g} has applied exactly {@code expected} (its group's commands, in order). */
  private static void assertApplied(RaftTestKit g, List<String> expected, String when) {
    for (String id : g.members()) {
      g.await(WAIT, id + " applies all " + expected.size() + " commands " + when,
          () -> g.<FullDiskGroupTest.Recorder>stateMachine(id).applied().size() >= expected.size());
      assertEquals(expected, g.<FullDiskGroupTest.Recorder>stateMachine(id).applied(), id + " of " + g.settings(id).groupId() + " " + when);
    }
  }

  @Test
  void twoGroupsOnOneLogEachRecoverExactlyTheirOwnCommands_acrossCrashesAndARestartOfBoth() throws Exception {
    RaftTestKit a = group("a");
    RaftTestKit b = group("b");
    try {
      a.awaitLeader();
      b.awaitLeader();
      submit(List.of(a, b), 0, 60);
      // A follower of each group crashes (its storage closes) and starts again while the other group writes on.
      String aFollower = a.members().stream().filter(id -> !id.equals(a.awaitLeader())).findFirst().orElseThrow();
      String bFollower = b.members().stream().filter(id -> !id.equals(b.awaitLeader())).findFirst().orElseThrow();
      a.crash(aFollower);
      submit(List.of(a, b), 60, 20);
      b.crash(bFollower);
      a.restart(aFollower);
      submit(List.of(a, b), 80, 20);
      b.restart(bFollower);
      // Crashed members restart with new state machines: they apply their group's whole log again.
      assertApplied(a, commands("a", 100), "after the crashes");
      assertApplied(b, commands("b", 100), "after the crashes");
    } finally {
      a.close();
      b.close();
    }
    try (var files = Files.list(dir)) {
      long segments = files.filter(p -> p.getFileName().toString().matches("segment-\\d{20}\\.log")).count();
      assertTrue(segments > 1, "the groups' records rolled over into several segments: " + segments);
    }
    RaftTestKit a2 = group("a");
    RaftTestKit b2 = group("b");
    try {
      assertApplied(a2, commands("a", 100), "after both groups started again");
      assertApplied(b2, commands("b", 100), "after both groups started again");
      a2.awaitLeader();
      submit(List.of(a2, b2), 100, 5);
      assertApplied(a2, commands("a", 105), "after more commands");
      assertApplied(b2, commands("b", 105), "after more commands");
    } finally {
      a2.close();
      b2.close();
    }
  }
}
