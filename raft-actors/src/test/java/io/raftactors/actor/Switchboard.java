package io.raftactors.actor;

import akka.actor.typed.ActorRef;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An in-JVM network for node actors in one ActorSystem: links can be cut one way or both, and a
 * member can be frozen: what it sends and what is sent to it is held, in order, as the connections
 * of a stopped process hold it, and delivered when it is thawed.
 */
final class Switchboard {
  /** A message held for or from a frozen member. */
  record Held(String from, String to, RaftNode.PeerEnvelope envelope) {}

  private final Map<String, ActorRef<RaftNode.Command>> nodes = new ConcurrentHashMap<>();
  private final Set<String> blocked = ConcurrentHashMap.newKeySet();
  private final Set<String> frozen = new HashSet<>();
  private final List<Held> held = new ArrayList<>();

  void register(String id, ActorRef<RaftNode.Command> ref) {
    nodes.put(id, ref);
  }

  PeerTransport transportFor(String from) {
    return (to, env) -> {
      if (blocked.contains(from + "->" + to)) return;
      synchronized (this) {
        if (frozen.contains(from) || frozen.contains(to)) {
          held.add(new Held(from, to, env));
          return;
        }
        ActorRef<RaftNode.Command> ref = nodes.get(to);
        if (ref != null) ref.tell(env);
      }
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

  /** From now on, messages from and to {@code id} are held until {@link #thaw}. */
  synchronized void freeze(String id) {
    frozen.add(id);
  }

  /** Delivers, in the order they were sent, the messages held for and from {@code id}, and lets its links run again. */
  synchronized void thaw(String id) {
    frozen.remove(id);
    for (Iterator<Held> it = held.iterator(); it.hasNext(); ) {
      Held h = it.next();
      if (frozen.contains(h.from()) || frozen.contains(h.to())) continue; // the other end is still frozen
      ActorRef<RaftNode.Command> ref = nodes.get(h.to());
      if (ref != null) ref.tell(h.envelope());
      it.remove();
    }
  }

  /** The messages held so far from {@code from} to {@code to}, oldest first. */
  synchronized List<RaftNode.PeerEnvelope> held(String from, String to) {
    List<RaftNode.PeerEnvelope> out = new ArrayList<>();
    for (Held h : held) if (h.from().equals(from) && h.to().equals(to)) out.add(h.envelope());
    return out;
  }
}
