package io.raftactors.actor;

import akka.actor.typed.ActorRef;
import akka.actor.typed.RecipientRef;
import akka.actor.typed.Scheduler;
import akka.actor.typed.javadsl.AskPattern;
import akka.japi.function.Function;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Completion stages with plain {@link CompletableFuture} callbacks.
 *
 * <p>The stage that Akka's javadsl {@code AskPattern.ask} returns is Scala's future converted, and it
 * runs even the non-async callbacks ({@code thenApply}, {@code whenComplete}, and so the {@code
 * pipeToSelf} of an actor) on {@link CompletableFuture}'s default async executor. On a machine with
 * fewer than three cores that executor starts a new thread for every callback: a thread per request
 * on a hot path. {@link #direct} gives a stage whose callbacks run where it completes, as a plain
 * future's do, and {@link #ask} is {@code AskPattern.ask} with such a stage.
 */
public final class Stages {
  private Stages() {}

  /**
   * A plain future completed, on the thread that completes {@code stage}, with its value or failure;
   * its non-async callbacks run on that thread or on the caller's, never on a new one.
   */
  public static <T> CompletableFuture<T> direct(CompletionStage<T> stage) {
    CompletableFuture<T> plain = new CompletableFuture<>();
    stage.whenCompleteAsync((value, failure) -> {
      if (failure != null) plain.completeExceptionally(failure);
      else plain.complete(value);
    }, Runnable::run);
    return plain;
  }

  /** {@code AskPattern.ask}, answered on a plain future ({@link #direct}). */
  public static <Req, Res> CompletableFuture<Res> ask(RecipientRef<Req> target, Function<ActorRef<Res>, Req> request,
      Duration timeout, Scheduler scheduler) {
    return direct(AskPattern.ask(target, request, timeout, scheduler));
  }
}
