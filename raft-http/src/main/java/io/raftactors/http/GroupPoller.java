package io.raftactors.http;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.RaftSettings;
import io.raftactors.actor.Stages;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.MemberAddress;
import io.raftactors.core.Role;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The polling behind one event stream of {@link ClusterView}: asks every member of the group for
 * its status and renders what each last said, or why it did not answer. Asks run in parallel and
 * record their outcome whenever it comes. A poll renders once the asks to the members that answered
 * last time are recorded, or after four fifths of the interval: a member that is down, or slow,
 * never delays an event, and a new leader shows in the first event after it answers. A member is
 * not asked again while an ask to it is outstanding.
 */
final class GroupPoller {
  private static final ObjectMapper JSON = new ObjectMapper();
  /**
   * The least time the first ask to a member may take: the first status request between two
   * ActorSystems also sets up the serializer on both sides, which takes a second or more on a busy
   * machine. Until it is answered or this time has passed the member is neither up nor down.
   */
  static final Duration FIRST_ASK_TIMEOUT = Duration.ofSeconds(3);

  /** What a member last said ({@code status}), or why it did not answer ({@code error}, since {@code downSince}). */
  record Seen(RaftNode.Status status, String error, long downSince) {}

  private final ActorSystem<?> system;
  private final ActorRef<RaftNode.Command> local;
  private final RaftSettings settings;
  private final ClusterView.Options options;
  private final Map<String, Seen> seen = new ConcurrentHashMap<>();
  private final Set<String> asking = ConcurrentHashMap.newKeySet();
  /** The configuration of the last rendered view (at first the founding one): whom the next poll asks. */
  private volatile ClusterConfig config;

  GroupPoller(ActorSystem<?> system, ActorRef<RaftNode.Command> local, RaftSettings settings, ClusterView.Options options) {
    this.system = system;
    this.local = local;
    this.settings = settings;
    this.options = options;
    this.config = settings.bootstrapConfig();
  }

  /** Asks every member once and completes with the view (never exceptionally). */
  CompletableFuture<ObjectNode> poll() {
    List<CompletableFuture<Void>> asks = new ArrayList<>();
    for (String id : members(config)) {
      Seen before = seen.get(id);
      CompletableFuture<Void> asked = ask(id);
      if (before == null || before.status() != null) asks.add(asked); // waited for unless it did not answer last time
    }
    long wait = Math.max(1, options.interval().toMillis() * 4 / 5);
    return CompletableFuture.allOf(asks.toArray(CompletableFuture[]::new))
        .completeOnTimeout(null, wait, TimeUnit.MILLISECONDS)
        .thenApply(v -> render(System.currentTimeMillis()));
  }

  /** This node and every member of {@code c}, in id order. */
  private List<String> members(ClusterConfig c) {
    TreeSet<String> ids = new TreeSet<>();
    ids.add(settings.memberId());
    if (c != null) ids.addAll(c.members());
    return List.copyOf(ids);
  }

  /** Asks member {@code id} for its status unless an ask is outstanding; completes once the outcome is recorded. */
  private CompletableFuture<Void> ask(String id) {
    if (!asking.add(id)) return CompletableFuture.completedFuture(null);
    ActorRef<RaftNode.Command> ref = id.equals(settings.memberId()) ? local : RaftNode.nodeOf(system, settings, config, id);
    if (ref == null) {
      asking.remove(id);
      failed(id, "no address known for it");
      return CompletableFuture.completedFuture(null);
    }
    Duration timeout = seen.containsKey(id) ? options.askTimeout()
        : java.util.Collections.max(List.of(options.askTimeout(), FIRST_ASK_TIMEOUT));
    return Stages.<RaftNode.Command, RaftNode.Status>ask(ref, RaftNode.GetStatus::new, timeout, system.scheduler())
        .toCompletableFuture()
        .handle((status, failure) -> {
          if (status != null) seen.put(id, new Seen(status, null, 0));
          else failed(id, reason(failure, timeout));
          asking.remove(id);
          return null;
        });
  }

  private void failed(String id, String error) {
    Seen before = seen.get(id);
    long since = before != null && before.status() == null ? before.downSince() : System.currentTimeMillis();
    seen.put(id, new Seen(null, error, since));
  }

  private static String reason(Throwable failure, Duration timeout) {
    Throwable t = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    if (t instanceof TimeoutException) return "no answer within " + timeout.toMillis() + " ms";
    return String.valueOf(t);
  }

  /** The view as of now, from what each member last said; remembers its configuration for the next poll. */
  ObjectNode render(long nowMillis) {
    List<String> asked = members(config);
    RaftNode.Status leader = null;
    long term = 0;
    for (String id : asked) {
      Seen s = seen.get(id);
      RaftNode.Status st = s == null ? null : s.status();
      if (st == null) continue;
      term = Math.max(term, st.term());
      if (st.role() == Role.LEADER && (leader == null || st.term() > leader.term())) leader = st;
    }
    if (leader != null && leader.term() < term) leader = null; // the group has moved on to a later term
    Seen self = seen.get(settings.memberId());
    ClusterConfig c = leader != null && leader.configuration() != null ? leader.configuration()
        : self != null && self.status() != null && self.status().configuration() != null ? self.status().configuration()
        : config;
    config = c;
    List<String> shown = members(c);
    seen.keySet().removeIf(id -> !asked.contains(id) && !shown.contains(id)); // members that left

    ObjectNode view = JSON.createObjectNode();
    view.put("at", nowMillis);
    view.put("node", settings.memberId());
    view.put("group", settings.groupId());
    view.put("leader", leader == null ? null : leader.memberId());
    view.put("term", term);
    ids(view.putArray("voters"), c == null ? List.of() : c.voters());
    ids(view.putArray("learners"), c == null ? List.of() : c.learners());
    ids(view.putArray("outgoingVoters"), c == null ? List.of() : c.outgoingVoters());
    ArrayNode members = view.putArray("members");
    for (String id : shown) members.add(member(id, c, leader));
    return view;
  }

  private ObjectNode member(String id, ClusterConfig c, RaftNode.Status leader) {
    ObjectNode m = JSON.createObjectNode();
    m.put("id", id);
    m.put("kind", c == null ? "voter" : c.voters().contains(id) ? "voter" : c.outgoingVoters().contains(id) ? "outgoing voter"
        : c.isLearner(id) ? "learner" : "not a member");
    m.put("self", id.equals(settings.memberId()));
    String address = address(id, c);
    if (address != null) m.put("address", address);
    Seen s = seen.get(id);
    RaftNode.Status st = s == null ? null : s.status();
    if (s == null) m.putNull("up"); // not answered yet: neither up nor down
    else m.put("up", st != null);
    if (st != null) {
      m.put("role", st.role().name());
      m.put("term", st.term());
      m.put("leader", st.leaderId());
      m.put("phase", st.phase().name());
      m.put("commitIndex", st.commitIndex());
      m.put("appliedIndex", st.lastApplied());
      m.put("lastIndex", st.lastIndex());
      if (st.problem() != null) m.put("problem", st.problem());
    } else if (s != null) {
      m.put("error", s.error());
      m.put("downSince", s.downSince());
    }
    if (leader != null) {
      Long match = id.equals(leader.memberId()) ? Long.valueOf(leader.lastIndex()) : leader.matchIndexes().get(id);
      if (match != null) {
        m.put("matchIndex", match);
        m.put("lag", Math.max(0, leader.lastIndex() - match));
      }
    }
    return m;
  }

  /** Where member {@code id} is reached: its address in the settings, else the one the configuration records. */
  private String address(String id, ClusterConfig c) {
    akka.actor.Address a = settings.members().get(id);
    if (a != null) return a.toString();
    MemberAddress recorded = c == null ? null : c.address(id);
    return recorded == null ? null : recorded.peer();
  }

  private static void ids(ArrayNode into, List<String> ids) {
    ids.forEach(into::add);
  }

  static String json(ObjectNode view) {
    return view.toString();
  }
}
