package io.raftactors.actor;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.Behaviors;
import java.time.Duration;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** Messages to a member in the same ActorSystem reach whichever incarnation of its node runs now. */
class NodeAddressTest {
  private static final ActorTestKit testKit = ActorTestKit.create("NodeAddressTest");

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  /** A stand-in node: forwards what it gets to {@code probe}, tagged with {@code incarnation}. */
  private static Behavior<RaftNode.Command> node(String incarnation, ActorRef<String> probe) {
    return Behaviors.receive(RaftNode.Command.class)
        .onMessage(RaftNode.Command.class, m -> {
          if (m == RaftNode.Stop.INSTANCE) return Behaviors.stopped();
          probe.tell(incarnation);
          return Behaviors.same();
        })
        .build();
  }

  @Test
  void aLocalMemberIsReachedAgainAfterItsNodeWasStartedAnew() {
    TestProbe<String> probe = testKit.createTestProbe();
    String name = RaftSettings.actorName("g", "m1");
    ActorRef<RaftNode.Command> first = testKit.system().systemActorOf(node("first", probe.ref()), name, Props.empty());
    Consumer<RaftNode.Command> send = NodeAddress.sender(testKit.system(), testKit.system().address(), "g", "m1");
    RaftNode.Command ping = new RaftNode.GetMetrics(false, testKit.createTestProbe(NodeMetrics.Snapshot.class).ref());

    send.accept(ping);
    probe.expectMessage("first");

    first.tell(RaftNode.Stop.INSTANCE);
    probe.expectTerminated(first, Duration.ofSeconds(5));
    // The name is free once the old incarnation has stopped; a restarted node takes it again.
    ActorRef<RaftNode.Command> second = awaitSpawn(name, probe.ref());
    send.accept(ping);
    probe.expectMessage("second");
    send.accept(ping);
    probe.expectMessage("second"); // and keeps reaching it
    probe.expectNoMessage(Duration.ofMillis(100));
    second.tell(RaftNode.Stop.INSTANCE);
  }

  private static ActorRef<RaftNode.Command> awaitSpawn(String name, ActorRef<String> probe) {
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (true) {
      try {
        return testKit.system().systemActorOf(node("second", probe), name, Props.empty());
      } catch (akka.actor.InvalidActorNameException e) {
        // the stopped incarnation's name is released by its parent shortly after it stopped
        if (System.nanoTime() > deadline) throw e;
        Thread.onSpinWait();
      }
    }
  }
}
