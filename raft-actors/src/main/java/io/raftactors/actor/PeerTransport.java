package io.raftactors.actor;

/**
 * How a node reaches its peers. The default ({@link #resolving}) sends to the peer's node actor at
 * the address configured in {@code raft.members}; tests can plug in a transport that drops or
 * partitions messages inside one JVM.
 */
@FunctionalInterface
public interface PeerTransport {
  /**
   * Sends {@code envelope} to member {@code to}; delivery is best-effort, like the network. Called
   * from the node's actor and also from the thread that completes a storage write (an
   * acknowledgement leaves the moment its entries are durable), so it must be safe to call from
   * several threads at once.
   */
  void send(String to, RaftNode.PeerEnvelope envelope);

  /**
   * The group's configuration now records these addresses (members added at run time bring theirs);
   * a transport that resolves members by address uses them for members its settings do not list.
   */
  default void addressesChanged(java.util.Map<String, io.raftactors.core.MemberAddress> addresses) {}

  /** The default: resolve each peer's node actor from its configured Akka address. */
  static PeerTransport resolving(akka.actor.typed.ActorSystem<?> system, RaftSettings settings) {
    return new ResolvingTransport(system, settings);
  }
}
