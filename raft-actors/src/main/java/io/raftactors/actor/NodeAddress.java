package io.raftactors.actor;

import akka.actor.ActorSelection;
import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorRefResolver;
import akka.actor.typed.ActorSystem;
import java.util.function.Consumer;

/**
 * How to reach the node actor of a member from its configured address. A remote address is
 * resolved once to an ActorRef (it reaches whatever actor runs at the path, including one started
 * again after a crash). A local address (no host: every member in this ActorSystem, as in tests) is
 * reached through an actor selection, because a resolved local reference points at one actor
 * incarnation and would stop working when the node is restarted.
 */
final class NodeAddress {
  private NodeAddress() {}

  static Consumer<RaftNode.Command> sender(ActorSystem<?> system, Address address, String groupId, String memberId) {
    String path = address + "/system/" + RaftSettings.actorName(groupId, memberId);
    if (address.host().isEmpty()) {
      ActorSelection selection = system.classicSystem().actorSelection(path);
      return m -> selection.tell(m, akka.actor.ActorRef.noSender());
    }
    ActorRef<RaftNode.Command> ref = ActorRefResolver.get(system).resolveActorRef(path);
    return ref::tell;
  }
}
