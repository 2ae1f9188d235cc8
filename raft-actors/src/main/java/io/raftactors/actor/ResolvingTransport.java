package io.raftactors.actor;

import akka.actor.Address;
import akka.actor.typed.ActorSystem;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends to {@code <member address>/system/raft-<group>-<member>} (see {@link NodeAddress}); safe
 * from any thread, as {@link PeerTransport} asks.
 */
final class ResolvingTransport implements PeerTransport {
  private static final Logger LOG = LoggerFactory.getLogger(ResolvingTransport.class);
  private final ActorSystem<?> system;
  private final RaftSettings settings;
  private final Map<String, Consumer<RaftNode.Command>> peers = new ConcurrentHashMap<>();
  /** Addresses recorded in the group's configuration, used for members the settings do not list (guarded by this). */
  private final Map<String, Address> learned = new HashMap<>();

  ResolvingTransport(ActorSystem<?> system, RaftSettings settings) {
    this.system = system;
    this.settings = settings;
  }

  @Override
  public void send(String to, RaftNode.PeerEnvelope envelope) {
    Consumer<RaftNode.Command> peer = peers.get(to);
    if (peer == null) peer = resolve(to);
    if (peer != null) peer.accept(envelope);
  }

  /** Under the lock {@link #addressesChanged} takes, so that a sender for an old address is never kept. */
  private synchronized Consumer<RaftNode.Command> resolve(String to) {
    Consumer<RaftNode.Command> peer = peers.get(to);
    if (peer != null) return peer;
    Address a = settings.members().get(to);
    if (a == null) a = learned.get(to);
    if (a == null) {
      LOG.warn("Raft node {} has no address for member {}; message dropped", settings.memberId(), to);
      return null;
    }
    peer = NodeAddress.sender(system, a, settings.groupId(), to);
    peers.put(to, peer);
    return peer;
  }

  @Override
  public synchronized void addressesChanged(Map<String, io.raftactors.core.MemberAddress> addresses) {
    for (Map.Entry<String, io.raftactors.core.MemberAddress> e : addresses.entrySet()) {
      if (settings.members().containsKey(e.getKey())) continue; // the settings win for members they list
      Address a;
      try {
        a = NodeAddress.parse(e.getValue().peer());
      } catch (IllegalArgumentException ex) {
        LOG.warn("Raft node {}: the configuration records address '{}' for member {}, which is no Akka address: {}",
            settings.memberId(), e.getValue().peer(), e.getKey(), ex.toString());
        continue;
      }
      if (!a.equals(learned.put(e.getKey(), a))) peers.remove(e.getKey()); // resolve it again at the new address
    }
  }
}
