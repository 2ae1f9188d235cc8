package io.raftactors.actor;

import akka.actor.Address;
import akka.actor.typed.ActorSystem;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Sends to {@code <member address>/system/raft-<group>-<member>} (see {@link NodeAddress}). */
final class ResolvingTransport implements PeerTransport {
  private static final Logger LOG = LoggerFactory.getLogger(ResolvingTransport.class);
  private final ActorSystem<?> system;
  private final RaftSettings settings;
  private final Map<String, Consumer<RaftNode.Command>> peers = new HashMap<>();

  ResolvingTransport(ActorSystem<?> system, RaftSettings settings) {
    this.system = system;
    this.settings = settings;
  }

  @Override
  public void send(String to, RaftNode.PeerEnvelope envelope) {
    Consumer<RaftNode.Command> peer = peers.get(to);
    if (peer == null) {
      Address a = settings.members().get(to);
      if (a == null) {
        LOG.warn("Raft node {} has no address for member {}; message dropped", settings.memberId(), to);
        return;
      }
      peer = NodeAddress.sender(system, a, settings.groupId(), to);
      peers.put(to, peer);
    }
    peer.accept(envelope);
  }
}
