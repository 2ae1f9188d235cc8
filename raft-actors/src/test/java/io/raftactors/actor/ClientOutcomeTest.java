package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.SessionSnapshotTest.Counting;
import io.raftactors.core.Role;
import io.raftactors.testkit.RaftTestKit;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A RaftClient command that fails says which of the two it was: certainly not applied (no attempt
 * could have reached a log) or outcome unknown (some attempt may have). Every member isolated from
 * the others: nobody leads, every attempt is answered "no leader", and the client must not call
 * that an unknown outcome.
 */
class ClientOutcomeTest {
  private RaftTestKit group;

  @AfterEach
  void stop() {
    if (group != null) group.close();
  }

  @Test
  void aCommandNoLeaderEverAcceptedFailsAsNotAppliedNotAsUnknown() throws Exception {
    group = RaftTestKit.builder().members(3).stateMachine(id -> new Counting())
        .config(ConfigFactory.parseString("raft.client.deadline = 1s\nraft.client.backoff-max = 100ms")).start();
    group.awaitLeader();
    RaftClient client = group.client();
    client.submit("opens-the-session").toCompletableFuture().get(10, TimeUnit.SECONDS);
    for (String id : group.members()) group.isolate(id);
    // Check-quorum: the old leader steps down once it hears from nobody; then no member leads.
    group.await(Duration.ofSeconds(10), "no member leads",
        () -> group.members().stream().noneMatch(id -> group.status(id).role() == Role.LEADER));
    CompletionException e = assertThrows(CompletionException.class, () -> client.submit("never").toCompletableFuture().join());
    assertInstanceOf(RaftClient.UnavailableException.class, e.getCause(), String.valueOf(e.getCause()));
    group.heal();
    String next = group.awaitLeader();
    client.submit("after").toCompletableFuture().get(10, TimeUnit.SECONDS);
    group.awaitApplied(group.status(next).commitIndex(), Duration.ofSeconds(10));
    for (String id : group.members()) assertEquals(0, ((Counting) group.stateMachine(id)).count("never"), id);
  }
}
