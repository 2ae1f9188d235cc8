package io.raftactors.actor;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorRefResolver;
import akka.actor.typed.ActorSystem;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Sends to {@code <member address>/system/raft-<group>-<member>}, resolving each peer once. */
final class ResolvingTransport implements PeerTransport {
  private static final Logger LOG = LoggerFactory.getLogger(ResolvingTransport.class);
  private final ActorRefResolver resolver;
  private final RaftSettings settings;
  private final Map<String, ActorRef<RaftNode.Command>> peers = new HashMap<>();

  ResolvingTransport(ActorSystem<?> system, RaftSettings settings) {
    this.resolver = ActorRefResolver.get(system);
    this.settings = settings;
  }

  @Override
  public void send(String to, RaftNode.PeerEnvelope envelope) {
    ActorRef<RaftNode.Command> ref = peers.get(to);
    if (ref == null) {
      Address a = settings.members().get(to);
      if (a == null) {
        LOG.warn("Raft node {} has no address for member {}; message dropped", settings.memberId(), to);
        return;
      }
      ref = resolver.resolveActorRef(a + "/system/" + RaftSettings.actorName(settings.groupId(), to));
      peers.put(to, ref);
    }
    ref.tell(envelope);
  }
}
