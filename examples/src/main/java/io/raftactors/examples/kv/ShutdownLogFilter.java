package io.raftactors.examples.kv;

import akka.Done;
import akka.actor.CoordinatedShutdown;
import akka.actor.ExtendedActorSystem;
import akka.actor.typed.ActorSystem;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.filter.Filter;
import ch.qos.logback.core.spi.FilterReply;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A logback filter (see logback.xml) that drops two warnings Akka 2.6 logs on every normal start
 * and stop of a member, so that a WARN in the log means something went wrong.
 *
 * <p>At shutdown: Artery stops its outbound streams by failing them with its kill switch. The TCP
 * stage of each established connection (a control and an ordinary stream per peer) turns that
 * failure into an abort of the connection and fails downstream with {@code StreamTcpException:
 * The connection has been aborted}, which Artery's own handling of its shutdown signal does not
 * recognise: the {@code .log} stage of the outbound connection logs it at WARN, 4-8 lines per stop
 * ({@code akka.stream.Materializer - [outbound connection to [akka://raft@...], control stream]
 * Upstream failed, cause: StreamTcpException: The connection has been aborted}). Only these lines
 * are dropped, and only once the member's ActorSystem has passed its coordinated shutdown and
 * terminates ({@link #register}); the same connection failing while the system runs (a peer that
 * crashed, a network fault) is still logged.
 *
 * <p>At start: "Akka Cluster not in use - Using Akka Cluster is recommended if you need remote
 * watch and deploy." Raft members neither watch nor deploy remotely; Raft keeps its own membership.
 */
public final class ShutdownLogFilter extends Filter<ILoggingEvent> {
  /** Uids of ActorSystems whose coordinated shutdown has reached its last phase. */
  private static final Set<String> TERMINATING = ConcurrentHashMap.newKeySet();

  /** Marks {@code system} as terminating once its coordinated shutdown reaches before-actor-system-terminate. */
  public static void register(ActorSystem<?> system) {
    String uid = String.valueOf(((ExtendedActorSystem) system.classicSystem()).uid());
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate(), "quiet-artery-shutdown", () -> {
      TERMINATING.add(uid);
      return CompletableFuture.completedFuture(Done.getInstance());
    });
  }

  @Override
  public FilterReply decide(ILoggingEvent event) {
    if (event.getLevel() != Level.WARN) return FilterReply.NEUTRAL;
    String message = event.getFormattedMessage();
    if (message == null) return FilterReply.NEUTRAL;
    if ("akka.stream.Materializer".equals(event.getLoggerName())
        && message.startsWith("[outbound connection to [")
        && message.endsWith("Upstream failed, cause: StreamTcpException: The connection has been aborted")
        && TERMINATING.contains(event.getMDCPropertyMap().get("akkaUid"))) {
      return FilterReply.DENY;
    }
    if (event.getLoggerName().startsWith("akka.remote.RemoteActorRefProvider")
        && message.startsWith("Akka Cluster not in use - Using Akka Cluster is recommended")) {
      return FilterReply.DENY;
    }
    return FilterReply.NEUTRAL;
  }
}
