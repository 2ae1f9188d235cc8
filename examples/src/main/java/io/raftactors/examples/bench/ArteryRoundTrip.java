package io.raftactors.examples.bench;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorRefResolver;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.examples.kv.ShutdownLogFilter;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The round trip of Akka remoting itself, as the benchmark's nodes use it: two ActorSystems in this
 * JVM, configured as the nodes are, an actor in one sending a {@value Floor#MESSAGE_BYTES}-byte
 * message to an actor in the other, which sends it back; one message in flight. Every Raft message
 * between two nodes pays this transport's cost (serialization, Artery's streams, the TCP connection
 * and the hand-overs between their threads) on top of the loopback round trip of the {@link Floor},
 * so a replicated write cannot be acknowledged over Artery in less than one sync plus one of these.
 */
public final class ArteryRoundTrip {
  private ArteryRoundTrip() {}

  /** Tells the pinger whom to ping, once both actors exist. */
  private record Start(ActorRef<byte[]> echo) {}

  /**
   * Times round trips between two ActorSystems started with {@code config} (which must set up
   * Artery; each system binds a port of its own): {@code warmup} untimed, then up to {@code max}
   * for up to {@code budgetNanos}. Returns each round trip in microseconds; both systems are
   * terminated before it returns.
   */
  static double[] measure(Config config, int warmup, int max, long budgetNanos) throws Exception {
    Config c = ConfigFactory.parseString("akka.remote.artery.canonical.port = 0").withFallback(config);
    ActorSystem<Void> a = ActorSystem.create(Behaviors.empty(), "round-trip-a", c);
    ShutdownLogFilter.register(a); // no Artery WARNs when the two stop
    ActorSystem<Void> b = null;
    try {
      b = ActorSystem.create(Behaviors.empty(), "round-trip-b", c);
      ShutdownLogFilter.register(b);
      CompletableFuture<double[]> times = new CompletableFuture<>();
      ActorRef<Object> pinger = a.systemActorOf(pinger(warmup, max, budgetNanos, times), "pinger", Props.empty());
      ActorRef<byte[]> pingerSeenFromB = ActorRefResolver.get(b).resolveActorRef(ActorRefResolver.get(a).toSerializationFormat(pinger));
      ActorRef<byte[]> echo = b.systemActorOf(Behaviors.receive(byte[].class).onMessage(byte[].class, m -> {
        pingerSeenFromB.tell(m);
        return Behaviors.same();
      }).build(), "echo", Props.empty());
      pinger.tell(new Start(ActorRefResolver.get(a).resolveActorRef(ActorRefResolver.get(b).toSerializationFormat(echo))));
      return times.get(60, TimeUnit.SECONDS);
    } finally {
      a.terminate();
      if (b != null) b.terminate();
      a.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      if (b != null) b.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  /** Sends a message to the echo, times its return and sends the next, until it has its figures. */
  private static Behavior<Object> pinger(int warmup, int max, long budgetNanos, CompletableFuture<double[]> result) {
    return Behaviors.setup(ctx -> {
      byte[] message = new byte[Floor.MESSAGE_BYTES];
      double[] times = new double[max];
      int[] done = {-warmup, 0}; // round trips so far (negative while warming up), times recorded
      long[] at = {0, 0}; // when the message in flight left, when the timed ones began
      ActorRef<byte[]>[] echo = new ActorRef[1];
      return Behaviors.receive(Object.class)
          .onMessage(Start.class, s -> {
            echo[0] = s.echo();
            at[0] = System.nanoTime();
            echo[0].tell(message);
            return Behaviors.same();
          })
          .onMessage(byte[].class, m -> {
            long now = System.nanoTime();
            if (done[0]++ >= 0) times[done[1]++] = (now - at[0]) / 1000.0;
            if (done[0] == 0) at[1] = now;
            if (done[1] == max || (done[0] > 0 && now - at[1] >= budgetNanos)) {
              result.complete(Arrays.copyOf(times, done[1]));
              return Behaviors.stopped();
            }
            at[0] = System.nanoTime();
            echo[0].tell(message);
            return Behaviors.same();
          })
          .build();
    });
  }
}
