package io.raftactors.examples.bench;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.Behaviors;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Function;

/**
 * One long-lived reply actor per benchmark client, the way an application actor that proposes gives
 * its own reference as {@code replyTo}. Each client has one request outstanding, so each actor
 * completes that client's current future. An ask per request would instead start and stop a
 * temporary actor and register a timeout timer every time: client-side cost that is not the group's.
 */
final class ReplyActors {
  private static final AtomicInteger INSTANCES = new AtomicInteger();
  private final AtomicReferenceArray<CompletableFuture<Object>> pending;
  private final List<ActorRef<Object>> refs = new ArrayList<>();

  ReplyActors(ActorSystem<?> system, int clients) {
    pending = new AtomicReferenceArray<>(clients);
    int instance = INSTANCES.incrementAndGet();
    for (int c = 0; c < clients; c++) {
      final int client = c;
      refs.add(system.systemActorOf(Behaviors.receiveMessage(reply -> {
        CompletableFuture<Object> f = pending.getAndSet(client, null);
        if (f != null) f.complete(reply);
        return Behaviors.same();
      }), "bench-replies-" + instance + "-" + c, Props.empty()));
    }
  }

  /** Sends what {@code request} makes of client {@code client}'s reply actor; completes with the reply. */
  <R> CompletableFuture<R> send(int client, ActorRef<?> target, Function<ActorRef<R>, ?> request) {
    CompletableFuture<Object> f = new CompletableFuture<>();
    if (!pending.compareAndSet(client, null, f)) throw new IllegalStateException("client " + client + " has a request outstanding");
    @SuppressWarnings("unchecked")
    ActorRef<Object> to = (ActorRef<Object>) target;
    to.tell(request.apply(refs.get(client).narrow()));
    @SuppressWarnings("unchecked")
    CompletableFuture<R> typed = (CompletableFuture<R>) (CompletableFuture<?>) f;
    return typed;
  }
}
