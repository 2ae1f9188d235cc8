package io.raftactors.actor;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.Behaviors;

/** Test probes that stand in for a node's peers, at the paths where the node looks for them. */
final class PeerProbes {
  private PeerProbes() {}

  /** A probe receiving whatever is sent to member {@code id} of {@code group} in {@code kit}'s system. */
  static TestProbe<RaftNode.Command> peer(ActorTestKit kit, String group, String id) {
    TestProbe<RaftNode.Command> probe = kit.createTestProbe();
    kit.system().systemActorOf(Behaviors.<RaftNode.Command>receiveMessage(m -> {
      probe.ref().tell(m);
      return Behaviors.same();
    }), RaftSettings.actorName(group, id), Props.empty());
    return probe;
  }
}
