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
 * are dropped, and only once the member's ActorSystem has begun its coordinated shutdown
 * ({@link #register}); the same connection failing while the system runs (a peer that crashed, a
 * network fault) is still logged.
 *
 * <p>While stopping: the members of a group are usually stopped together ({@code run-cluster.sh}
 * sends SIGTERM to all three). A member that is still handing over its leadership or draining
 * may reconnect to a peer that has already exited, and Artery logs {@code Upstream failed, cause:
 * StreamTcpException: Tcp command [Connect(...)] failed because of java.net.ConnectException:
 * Connection refused} at WARN. Dropped too, for a stopping system only.
 *
 * <p>At start: "Akka Cluster not in use - Using Akka Cluster is recommended if you need remote
 * watch and deploy." Raft members neither watch nor deploy remotely; Raft keeps its own membership.
 */
public final class ShutdownLogFilter extends Filter<ILoggingEvent> {
  /** Uids of ActorSystems whose coordinated shutdown has begun. */
  private static final Set<String> STOPPING = ConcurrentHashMap.newKeySet();

  /** Marks {@code system} as stopping from the first phase of its coordinated shutdown on. */
  public static void register(ActorSystem<?> system) {
    String uid = String.valueOf(((ExtendedActorSystem) system.classicSystem()).uid());
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseBeforeServiceUnbind(), "quiet-artery-shutdown", () -> {
      STOPPING.add(uid);
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
        && (message.endsWith("Upstream failed, cause: StreamTcpException: The connection has been aborted")
            || (message.contains("Upstream failed, cause: StreamTcpException: Tcp command [Connect(")
                && message.endsWith("failed because of java.net.ConnectException: Connection refused")))
        && STOPPING.contains(event.getMDCPropertyMap().get("akkaUid"))) {
      return FilterReply.DENY;
    }
    if (event.getLoggerName().startsWith("akka.remote.RemoteActorRefProvider")
        && message.startsWith("Akka Cluster not in use - Using Akka Cluster is recommended")) {
      return FilterReply.DENY;
    }
    return FilterReply.NEUTRAL;
  }
}
