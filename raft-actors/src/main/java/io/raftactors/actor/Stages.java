package io.raftactors.actor;

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
 * future's do.
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
}
