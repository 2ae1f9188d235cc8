package io.raftactors.actor;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorRefResolver;
import akka.actor.typed.ActorSystem;
import java.util.function.Consumer;

/**
 * How to reach the node actor of a member from its configured address. A remote address is
 * resolved once to an ActorRef (it reaches whatever actor runs at the path, including one started
 * again after a crash). A local address (no host: every member in this ActorSystem, as in tests)
 * is resolved too, but a local reference points at one actor incarnation: once that incarnation
 * has stopped (the node was stopped or crashed and started again), the path is resolved anew, so
 * messages reach the node that runs there now. Resolving on every message (an actor selection)
 * would cost a walk of the actor tree per message.
 */
final class NodeAddress {
  private NodeAddress() {}

  /**
   * {@code text} as an Akka address; an IllegalArgumentException (the parser's exception as its
   * cause) if it is none. (Akka's parser throws MalformedURLException, a checked exception it does not declare, so
   * a {@code catch (RuntimeException)} around it does not catch it.)
   */
  static Address parse(String text) {
    try {
      return akka.actor.AddressFromURIString.parse(text);
    } catch (Exception e) {
      throw new IllegalArgumentException("address '" + text + "' is no Akka address (akka://system@host:port)", e);
    }
  }

  /**
   * The node actor at {@code address}: for a local address, the incarnation that runs now (or, if
   * none does, a reference that hands messages to dead letters).
   */
  static ActorRef<RaftNode.Command> resolve(ActorSystem<?> system, Address address, String groupId, String memberId) {
    return ActorRefResolver.get(system).resolveActorRef(path(address, groupId, memberId));
  }

  private static String path(Address address, String groupId, String memberId) {
    return address + "/system/" + RaftSettings.actorName(groupId, memberId);
  }

  static Consumer<RaftNode.Command> sender(ActorSystem<?> system, Address address, String groupId, String memberId) {
    String path = path(address, groupId, memberId);
    ActorRefResolver resolver = ActorRefResolver.get(system);
    if (!address.host().isEmpty()) {
      ActorRef<RaftNode.Command> ref = resolver.resolveActorRef(path);
      return ref::tell;
    }
    return new Consumer<>() {
      private volatile ActorRef<RaftNode.Command> ref; // sent to from the node's thread and its storage's

      @Override
      public void accept(RaftNode.Command m) {
        ActorRef<RaftNode.Command> r = ref;
        if (r == null || stopped(r)) ref = r = resolver.resolveActorRef(path);
        r.tell(m); // a path without an actor resolves to one that hands messages to dead letters
      }
    };
  }

  /** True once the local actor behind {@code ref} has stopped (or none ran at its path when resolved). */
  @SuppressWarnings("deprecation")
  private static boolean stopped(ActorRef<?> ref) {
    akka.actor.ActorRef classic = akka.actor.typed.javadsl.Adapter.toClassic(ref);
    return classic instanceof akka.actor.InternalActorRef internal && internal.isTerminated();
  }
}
