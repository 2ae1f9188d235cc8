package io.raftactors.examples.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;

import akka.Done;
import akka.actor.CoordinatedShutdown;
import akka.actor.ExtendedActorSystem;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.spi.FilterReply;
import com.typesafe.config.ConfigFactory;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The filter drops Artery's "connection has been aborted" warnings of a system that is
 * terminating, and keeps the same warning while the system runs (a peer that crashed).
 */
class ShutdownLogFilterTest {
  private static final String ABORTED =
      "[outbound connection to [akka://raft@127.0.0.1:2552], control stream] Upstream failed, cause: StreamTcpException: The connection has been aborted";
  private static final String REFUSED =
      "[outbound connection to [akka://raft@127.0.0.1:36125], message stream] Upstream failed, cause: StreamTcpException: Tcp command "
          + "[Connect(127.0.0.1/<unresolved>:36125,None,List(),Some(5000 milliseconds),true)] failed because of java.net.ConnectException: Connection refused";

  private static LoggingEvent event(String logger, Level level, String message, String uid) {
    LoggingEvent e = new LoggingEvent(ShutdownLogFilterTest.class.getName(), new LoggerContext().getLogger(logger), level, message, null, null);
    e.setMDCPropertyMap(uid == null ? Map.of() : Map.of("akkaUid", uid));
    return e;
  }

  @Test
  void artery_sAbortedAndRefusedConnectionsAreDroppedOnlyOnceTheirSystemStops() throws Exception {
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "filter", ConfigFactory.parseString(
        "akka.actor.provider = local\nakka.loglevel = WARNING").withFallback(ConfigFactory.load()));
    String uid = String.valueOf(((ExtendedActorSystem) system.classicSystem()).uid());
    ShutdownLogFilter.register(system);
    ShutdownLogFilter filter = new ShutdownLogFilter();
    assertEquals(FilterReply.NEUTRAL, filter.decide(event("akka.stream.Materializer", Level.WARN, ABORTED, uid)),
        "while the system runs, a failed connection is a fault worth a warning");
    assertEquals(FilterReply.NEUTRAL, filter.decide(event("akka.stream.Materializer", Level.WARN, REFUSED, uid)),
        "while the system runs, a peer that refuses connections is a fault worth a warning");

    // Already during the shutdown's early phases (a leader still handing over), not only at its end.
    CompletableFuture<FilterReply> whileUnbinding = new CompletableFuture<>();
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseServiceUnbind(), "probe", () -> {
      whileUnbinding.complete(filter.decide(event("akka.stream.Materializer", Level.WARN, REFUSED, uid)));
      return CompletableFuture.completedFuture(Done.getInstance());
    });
    system.terminate();
    assertEquals(FilterReply.DENY, whileUnbinding.get(30, TimeUnit.SECONDS), "stopping from the first phase on");
    system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    assertEquals(FilterReply.DENY, filter.decide(event("akka.stream.Materializer", Level.WARN, ABORTED, uid)));
    assertEquals(FilterReply.DENY, filter.decide(event("akka.stream.Materializer", Level.WARN, REFUSED, uid)),
        "a stopping member reconnecting to a peer that already exited");
    assertEquals(FilterReply.NEUTRAL, filter.decide(event("akka.stream.Materializer", Level.WARN, REFUSED, "12345")), "another system");
    assertEquals(FilterReply.NEUTRAL, filter.decide(event("akka.stream.Materializer", Level.WARN,
        REFUSED.replace("Connection refused", "Connection timed out"), uid)), "another failure");
    assertEquals(FilterReply.NEUTRAL, filter.decide(event("akka.stream.Materializer", Level.WARN, ABORTED, "12345")), "another system");
    assertEquals(FilterReply.NEUTRAL, filter.decide(event("akka.stream.Materializer", Level.WARN,
        ABORTED.replace("has been aborted", "reset by peer"), uid)), "another failure");
    assertEquals(FilterReply.NEUTRAL, filter.decide(event("akka.stream.Materializer", Level.ERROR, ABORTED, uid)));
    assertEquals(FilterReply.DENY, filter.decide(event("akka.remote.RemoteActorRefProvider", Level.WARN,
        "Akka Cluster not in use - Using Akka Cluster is recommended if you need remote watch and deploy.", null)));
  }
}
