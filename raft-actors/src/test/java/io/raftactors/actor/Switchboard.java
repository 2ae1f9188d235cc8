package io.raftactors.actor;

import akka.actor.typed.ActorRef;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** An in-JVM network for node actors in one ActorSystem: links can be cut one way or both. */
final class Switchboard {
  private final Map<String, ActorRef<RaftNode.Command>> nodes = new ConcurrentHashMap<>();
  private final Set<String> blocked = ConcurrentHashMap.newKeySet();

  void register(String id, ActorRef<RaftNode.Command> ref) {
    nodes.put(id, ref);
  }

  PeerTransport transportFor(String from) {
    return (to, env) -> {
      ActorRef<RaftNode.Command> ref = nodes.get(to);
      if (ref != null && !blocked.contains(from + "->" + to)) ref.tell(env);
    };
  }

  /** Cuts every link between {@code id} and the others, both ways. */
  void isolate(String id, Iterable<String> others) {
    for (String o : others) {
      if (o.equals(id)) continue;
      blocked.add(id + "->" + o);
      blocked.add(o + "->" + id);
    }
  }

  void healAll() {
    blocked.clear();
  }
}
