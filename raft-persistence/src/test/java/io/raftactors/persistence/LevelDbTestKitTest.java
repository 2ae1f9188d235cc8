package io.raftactors.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.StateMachine;
import io.raftactors.testkit.RaftTestKit;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The RaftTestKit on the LevelDB journal: a crashed member recovers its log from disk. */
class LevelDbTestKitTest {
  @TempDir Path dir;

  /** Records what it applies; no snapshots, so a restart replays the whole journal. */
  static final class Recorder implements StateMachine {
    final List<Object> applied = new ArrayList<>();

    @Override
    public synchronized Object apply(long index, Object command) {
      applied.add(command);
      return applied.size();
    }

    synchronized List<Object> applied() {
      return List.copyOf(applied);
    }
  }

  @Test
  void membersJournalToLevelDbAndACrashedMemberRecoversFromIt() throws Exception {
    try (RaftTestKit group = RaftTestKit.builder()
        .members(3)
        .stateMachine(id -> new Recorder())
        .storage(JournalStorage::start)
        .config(ConfigFactory.parseString(String.join("\n",
            "raft.persistence.leveldb-journal.dir = \"" + dir.resolve("journal") + "\"",
            "raft.persistence.local-snapshots.dir = \"" + dir.resolve("snapshots") + "\"")))
        .start()) {
      String leader = group.awaitLeader(Duration.ofSeconds(20));
      for (int i = 0; i < 20; i++) group.client().submit("c" + i).toCompletableFuture().get(10, TimeUnit.SECONDS);
      String follower = group.members().stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
      group.crash(follower); // its journal actor stops too
      for (int i = 20; i < 30; i++) group.client().submit("c" + i).toCompletableFuture().get(10, TimeUnit.SECONDS);
      group.restart(follower); // a new journal actor recovers from LevelDB
      group.awaitApplied(group.status(group.awaitLeader()).commitIndex(), Duration.ofSeconds(20));
      List<Object> expected = new ArrayList<>();
      for (int i = 0; i < 30; i++) expected.add("c" + i);
      for (String id : group.members()) {
        assertEquals(expected, ((Recorder) group.stateMachine(id)).applied(), id);
      }
    }
  }
}
