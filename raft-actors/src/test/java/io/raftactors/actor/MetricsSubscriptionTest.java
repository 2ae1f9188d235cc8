package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.Cancellable;
import akka.actor.DeadLetter;
import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.ManualTime;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Adapter;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.core.DurableState;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Metrics subscriptions ({@link RaftNode.SubscribeMetrics}, {@link RaftNode#subscribeMetrics}) on
 * one node under ManualTime: a snapshot at once and one per interval, none after the subscription
 * ends (unsubscribed, the subscriber stopped, the listener cancelled), and intervals that are not
 * positive refused. That nothing more is sent is seen in the dead letters: with ManualTime an
 * interval passes exactly when the test says, and a snapshot sent to a stopped subscriber becomes a
 * dead letter before the node answers its next request.
 */
class MetricsSubscriptionTest {
  private static final Duration INTERVAL = Duration.ofSeconds(1);
  private static final Duration WAIT = Duration.ofSeconds(5);
  private ActorTestKit kit;
  private ManualTime time;
  private ActorRef<RaftNode.Command> node;
  private ActorRef<Object> deadLetters;

  private static Config config(String name) {
    return ConfigFactory.parseString(String.join("\n",
            "raft.group-id = solo",
            "raft.member-id = n1",
            "raft.members { n1 = \"akka://" + name + "\" }",
            "raft.tick-interval = 10ms",
            "raft.election-timeout-min = 100ms",
            "raft.election-timeout-max = 100ms",
            "raft.heartbeat-interval = 20ms",
            "raft.recovery-timeout = 1h",
            "raft.restart-backoff.min = 100ms",
            "raft.restart-backoff.max = 200ms"))
        .withFallback(ManualTime.config())
        .withFallback(ConfigFactory.load());
  }

  private void start(RaftStorage storage) {
    node = kit.spawn(RaftNode.create(RaftSettings.fromConfig(kit.system().settings().config()), storage,
        (i, c) -> "applied " + c), "node");
  }

  @BeforeEach
  void startKit() {
    kit = ActorTestKit.create("MetricsSubscriptionTest", config("MetricsSubscriptionTest"));
    time = ManualTime.get(kit.system());
    deadLetters = kit.spawn(deadLetterCounter(), "dead-letters");
    kit.system().classicSystem().eventStream().subscribe(Adapter.toClassic(deadLetters), DeadLetter.class);
  }

  @AfterEach
  void stopKit() {
    kit.shutdownTestKit();
  }

  private record CountDeadMetrics(ActorRef<Integer> replyTo) {}

  /** Counts the dead letters that are metrics snapshots. */
  private static Behavior<Object> deadLetterCounter() {
    int[] count = {0};
    return Behaviors.receive(Object.class)
        .onMessage(DeadLetter.class, d -> {
          if (d.message() instanceof RaftMetrics) count[0]++;
          return Behaviors.same();
        })
        .onMessage(CountDeadMetrics.class, c -> {
          c.replyTo().tell(count[0]);
          return Behaviors.same();
        })
        .build();
  }

  private int deadMetrics() {
    TestProbe<Integer> p = kit.createTestProbe();
    deadLetters.tell(new CountDeadMetrics(p.ref()));
    return p.receiveMessage(WAIT);
  }

  private RaftMetrics metrics() {
    return metrics(WAIT);
  }

  private RaftMetrics metrics(Duration wait) {
    TestProbe<RaftMetrics> p = kit.createTestProbe();
    node.tell(new RaftNode.GetRaftMetrics(p.ref()));
    return p.receiveMessage(wait);
  }

  /**
   * Lets time pass until the node leads: it reads its storage and elects itself (a group of one).
   * Until it has read its storage its election timer does not run, so time passes in steps; while
   * it waits to restart (raft.restart-backoff) it drops what it is sent, so each request is asked
   * again.
   */
  private void awaitLeader() {
    kit.createTestProbe().awaitAssert(WAIT.multipliedBy(2), () -> {
      time.timePasses(Duration.ofMillis(200));
      RaftMetrics m = metrics(Duration.ofMillis(500));
      assertTrue(m.isLeader(), m.phase() + " " + m.role());
      return null;
    });
  }

  /**
   * Waits until an interval passes in which the node sends no snapshot to a stopped subscriber. The
   * node answers {@link #metrics()} after the snapshots of that interval, and each one sent to a
   * stopped subscriber is a dead letter by then.
   */
  private void awaitNoSnapshotToTheStopped() {
    kit.createTestProbe().awaitAssert(WAIT, () -> {
      int before = deadMetrics();
      time.timePasses(INTERVAL);
      metrics();
      assertEquals(before, deadMetrics(), "a snapshot still went to a stopped subscriber");
      return null;
    });
  }

  @Test
  void aSubscriberGetsASnapshotAtOnceAndThenOneEveryInterval() {
    start(new InMemoryStorage(RaftSettings.fromConfig(kit.system().settings().config()).bootstrapConfig()));
    awaitLeader();
    TestProbe<RaftMetrics> subscriber = kit.createTestProbe();
    node.tell(new RaftNode.SubscribeMetrics(subscriber.ref(), INTERVAL));
    RaftMetrics first = subscriber.receiveMessage(WAIT);
    assertEquals("n1", first.memberId());
    assertEquals("solo", first.groupId());
    assertEquals(1, first.counters().electionsWon(), "the single voter elected itself");
    TestProbe<RaftNode.ProposeReply> proposer = kit.createTestProbe();
    node.tell(new RaftNode.Propose("x", proposer.ref()));
    assertInstanceOf(RaftNode.Applied.class, proposer.receiveMessage(WAIT));
    time.expectNoMessageFor(INTERVAL.minusMillis(100), subscriber);
    time.timePasses(Duration.ofMillis(100));
    RaftMetrics second = subscriber.receiveMessage(WAIT);
    assertEquals(1, second.counters().proposalsAccepted(), "a new snapshot: " + second.counters());
    time.timePasses(INTERVAL);
    subscriber.receiveMessage(WAIT);

    node.tell(new RaftNode.UnsubscribeMetrics(subscriber.ref()));
    time.expectNoMessageFor(INTERVAL.multipliedBy(3), subscriber);
  }

  @Test
  void subscribingAgainChangesTheInterval() {
    start(new InMemoryStorage(RaftSettings.fromConfig(kit.system().settings().config()).bootstrapConfig()));
    TestProbe<RaftMetrics> subscriber = kit.createTestProbe();
    node.tell(new RaftNode.SubscribeMetrics(subscriber.ref(), INTERVAL));
    subscriber.receiveMessage(WAIT);
    node.tell(new RaftNode.SubscribeMetrics(subscriber.ref(), INTERVAL.multipliedBy(3)));
    subscriber.receiveMessage(WAIT);
    time.expectNoMessageFor(INTERVAL.multipliedBy(3).minusMillis(100), subscriber);
    time.timePasses(Duration.ofMillis(100));
    subscriber.receiveMessage(WAIT);
  }

  @Test
  void theSubscriptionEndsWhenTheSubscriberStops() {
    start(new InMemoryStorage(RaftSettings.fromConfig(kit.system().settings().config()).bootstrapConfig()));
    TestProbe<RaftMetrics> forwarded = kit.createTestProbe();
    ActorRef<RaftMetrics> subscriber = kit.spawn(Behaviors.receive(RaftMetrics.class).onAnyMessage(m -> {
      forwarded.ref().tell(m);
      return Behaviors.same();
    }).build(), "subscriber");
    node.tell(new RaftNode.SubscribeMetrics(subscriber, INTERVAL));
    forwarded.receiveMessage(WAIT);
    time.timePasses(INTERVAL);
    forwarded.receiveMessage(WAIT);

    kit.stop(subscriber);
    awaitNoSnapshotToTheStopped();
  }

  @Test
  void aJavaListenerIsCalledAtOnceAndEveryInterval_goesOnAfterItThrows_andStopsWhenCancelled() throws Exception {
    start(new InMemoryStorage(RaftSettings.fromConfig(kit.system().settings().config()).bootstrapConfig()));
    BlockingQueue<RaftMetrics> calls = new LinkedBlockingQueue<>();
    Cancellable subscription = RaftNode.subscribeMetrics(kit.system(), node, INTERVAL, m -> {
      calls.add(m);
      if (calls.size() == 1) throw new IllegalStateException("a listener that fails once");
    });
    assertNotNull(calls.poll(5, TimeUnit.SECONDS), "called at once");
    time.timePasses(INTERVAL);
    assertNotNull(calls.poll(5, TimeUnit.SECONDS), "called again after an interval, although it threw");

    assertTrue(subscription.cancel());
    assertTrue(subscription.isCancelled());
    assertFalse(subscription.cancel(), "cancelled once");
    awaitNoSnapshotToTheStopped();
    calls.clear();
    time.timePasses(INTERVAL.multipliedBy(3));
    metrics();
    assertNull(calls.poll(300, TimeUnit.MILLISECONDS), "no call after the cancellation");
  }

  /**
   * A failed storage write restarts the node (a new incarnation, with a new core): its counters go
   * on from where they were, and its subscribers keep getting snapshots.
   */
  @Test
  void countersAndSubscriptionsOutliveARestartAfterAFailedWrite() {
    RestartAfterFailedWriteTest.FailingStorage storage = new RestartAfterFailedWriteTest.FailingStorage(
        RaftSettings.fromConfig(kit.system().settings().config()).bootstrapConfig());
    start(storage);
    TestProbe<RaftMetrics> subscriber = kit.createTestProbe();
    node.tell(new RaftNode.SubscribeMetrics(subscriber.ref(), INTERVAL));
    subscriber.receiveMessage(WAIT);
    awaitLeader();
    TestProbe<RaftNode.ProposeReply> proposer = kit.createTestProbe();
    node.tell(new RaftNode.Propose("a", proposer.ref()));
    assertInstanceOf(RaftNode.Applied.class, proposer.receiveMessage(WAIT));
    storage.failing = true;
    node.tell(new RaftNode.Propose("b", proposer.ref()));
    assertInstanceOf(RaftNode.OutcomeUnknown.class, proposer.receiveMessage(WAIT), "the write failed: the node restarts");
    storage.failing = false;

    awaitLeader(); // after the restart backoff, and an election
    RaftMetrics.Counters c = metrics().counters();
    assertEquals(1, c.restarts());
    assertEquals(2, c.proposalsAccepted(), "counted before the restart and after");
    assertEquals(2, c.electionsWon(), "won before the restart and again after it");
    time.timePasses(INTERVAL);
    subscriber.fishForMessage(WAIT, m -> m.counters().restarts() == 1 && m.isLeader()
        ? akka.actor.testkit.typed.javadsl.FishingOutcomes.complete()
        : akka.actor.testkit.typed.javadsl.FishingOutcomes.continueAndIgnore());
  }

  @Test
  void anIntervalThatIsNotPositiveIsRefused() {
    start(new InMemoryStorage(RaftSettings.fromConfig(kit.system().settings().config()).bootstrapConfig()));
    TestProbe<RaftMetrics> subscriber = kit.createTestProbe();
    for (Duration bad : new Duration[] {Duration.ZERO, Duration.ofSeconds(-1), Duration.ofNanos(1), null}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> new RaftNode.SubscribeMetrics(subscriber.ref(), bad));
      assertTrue(e.getMessage().contains("must be positive"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> RaftNode.subscribeMetrics(kit.system(), node, bad, m -> {}));
    }
    assertThrows(IllegalArgumentException.class, () -> new RaftNode.SubscribeMetrics(null, INTERVAL));
  }

  @Test
  void aNodeStillReadingItsStorageAnswersWithItsPhaseAndNoState() {
    start(new InMemoryStorage(RaftSettings.fromConfig(kit.system().settings().config()).bootstrapConfig()) {
      @Override
      public CompletionStage<DurableState> recover() {
        return new CompletableFuture<>(); // never answers
      }
    });
    TestProbe<RaftMetrics> subscriber = kit.createTestProbe();
    node.tell(new RaftNode.SubscribeMetrics(subscriber.ref(), INTERVAL));
    RaftMetrics m = subscriber.receiveMessage(WAIT);
    assertEquals(RaftNode.Phase.RECOVERING, m.phase());
    assertEquals(0, m.term());
    assertNull(m.leaderId());
    assertEquals(0, m.lastIndex());
    assertTrue(m.followers().isEmpty());
    time.timePasses(INTERVAL);
    assertEquals(RaftNode.Phase.RECOVERING, subscriber.receiveMessage(WAIT).phase());
  }
}
