package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class StagesTest {
  private static final ActorTestKit KIT = ActorTestKit.create();

  @AfterAll
  static void stop() {
    KIT.shutdownTestKit();
  }

  /** Holds the question until told to answer, then answers with the name of the thread it answers on. */
  private sealed interface Msg {}

  private record Ask(ActorRef<String> replyTo) implements Msg {}

  private record Answer() implements Msg {}

  private static Behavior<Msg> holder(ActorRef<String> held) {
    return Behaviors.receive(Msg.class)
        .onMessage(Ask.class, a -> holder(a.replyTo()))
        .onMessage(Answer.class, x -> {
          held.tell(Thread.currentThread().getName());
          return Behaviors.same();
        })
        .build();
  }

  /** Thread names: the one that answered, and the one a callback registered before the answer ran on. */
  private static String[] callbackThread(boolean direct) throws Exception {
    ActorRef<Msg> target = KIT.spawn(holder(null));
    CompletionStage<String> stage = direct ? Stages.ask(target, Ask::new, Duration.ofSeconds(5), KIT.scheduler())
        : AskPattern.ask(target, Ask::new, Duration.ofSeconds(5), KIT.scheduler());
    CompletableFuture<String> callback = stage.thenApply(answeredOn -> answeredOn + "|" + Thread.currentThread().getName())
        .toCompletableFuture();
    target.tell(new Answer());
    String[] threads = callback.get(5, TimeUnit.SECONDS).split("\\|");
    KIT.stop(target);
    return threads;
  }

  @Test
  void anAskStagesCallbackRunsOnAnotherThreadThanTheAnswer() throws Exception {
    // What Stages.direct is for: Akka's ask stage hands even thenApply to the default async executor
    // (a new thread per callback with fewer than three cores, the common pool otherwise).
    String[] t = callbackThread(false);
    assertNotEquals(t[0], t[1]);
  }

  @Test
  void aDirectStagesCallbackRunsOnTheThreadThatAnswered() throws Exception {
    for (int i = 0; i < 20; i++) {
      String[] t = callbackThread(true);
      assertEquals(t[0], t[1], "round " + i);
    }
  }

  @Test
  void aDirectStageKeepsTheFailure() {
    CompletableFuture<String> failed = Stages.direct(CompletableFuture.<String>failedFuture(new IllegalStateException("no")));
    assertTrue(failed.isCompletedExceptionally());
  }
}
