package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import io.raftactors.testkit.RaftTestKit;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * T6.3-08 through the client: an idle RaftClient keeps its session alive with keep-alives in the
 * log, so a command sent after more than the session timeout of idleness still runs in it.
 */
class ClientKeepAliveTest {
  @Test
  void sessions_T6_3_08_anIdleClientsSessionOutlivesTheTimeoutThroughKeepAlives() throws Exception {
    try (RaftTestKit group = RaftTestKit.builder().members(3)
        .stateMachine(id -> (StateMachine) (index, command) -> "done " + command)
        .config(ConfigFactory.parseString("raft.sessions.timeout = 1s\nraft.client.keep-alive = 150ms"))
        .start()) {
      String leader = group.awaitLeader();
      RaftClient client = group.client();
      assertEquals("done a", client.submit("a").toCompletableFuture().get(10, TimeUnit.SECONDS));
      long after = group.status(leader).commitIndex();
      // Idle: only keep-alives reach the log. Wait until at least eight have committed, which
      // also means more than the 1 s session timeout has passed on the leader's clock.
      group.await(Duration.ofSeconds(20), "eight keep-alives in the log", () -> group.status(leader).commitIndex() >= after + 8);
      // Without keep-alives the session would have expired (on logged time) and this would fail.
      assertEquals("done b", client.submit("b").toCompletableFuture().get(10, TimeUnit.SECONDS));
    }
  }
}
