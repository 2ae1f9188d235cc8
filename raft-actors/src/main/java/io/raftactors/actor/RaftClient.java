package io.raftactors.actor;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import com.typesafe.config.Config;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.MemberAddress;
import io.raftactors.core.MembershipChange;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A client of one Raft group, usable from any ActorSystem that can reach the members (the same
 * one, or another over Akka remoting). It finds the leader, follows redirects and retries with
 * backoff across leader changes.
 *
 * <p>Commands run in a client session (thesis 6.3): each has a sequence number, and the group
 * applies it at most once however often it is retried; a retry is answered with the first answer.
 * A {@link #submit} completes with the state machine's result, or fails with one of two kinds of
 * failure. Certainly not applied: {@link RejectedException} (refused), {@link OverloadedException}
 * (the leader refused it for backpressure until the deadline) and {@link UnavailableException} (no
 * leader accepted it before the deadline, and no attempt could have reached the log). Outcome
 * unknown: {@link OutcomeUnknownException} (an attempt may have been appended, and no answer came
 * before the deadline, or the session expired meanwhile: it may or may not have been applied).
 *
 * <p>Queries are linearizable by default ({@link ReadConsistency}); they are retried freely since
 * they change nothing, and fail with {@link UnavailableException} if no answer comes in time.
 *
 * <p>Commands, queries and results travel serialized with Akka Serialization, so their classes need
 * a serializer binding (implementing {@link RaftSerializable} binds them to Jackson CBOR). Settings:
 * {@code raft.client} in reference.conf. Thread-safe.
 *
 * <p>Membership ({@link #addMember}, {@link #promote}, {@link #removeMember}, {@link #changeMembers})
 * and {@link #transferLeadership} go to the leader. A change completes with the group's new
 * configuration once it is committed; it fails with {@link RejectedException} when the group
 * refused it and nothing changed (another change in progress, an unknown member or one already
 * present, the last voter removed, a new voter that did not catch up, a transfer target that is no
 * other voter), and with {@link OutcomeUnknownException} when no answer came before the deadline or
 * leadership was lost meanwhile: then {@link #members} tells what the group holds. They are not
 * retried after a timeout, since a change that was made would be refused the second time.
 */
public final class RaftClient implements AutoCloseable {

  /** Base class of the failures a client reports. */
  public static class RaftClientException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    RaftClientException(String message) {
      super(message);
    }
  }

  /** The command or query was refused; it has not been applied and will not be. */
  public static final class RejectedException extends RaftClientException {
    private static final long serialVersionUID = 1L;
    private final io.raftactors.core.ProposalOutcome.Rejection rejection;

    RejectedException(String message) {
      this(message, io.raftactors.core.ProposalOutcome.Rejection.INVALID_REQUEST);
    }

    RejectedException(String message, io.raftactors.core.ProposalOutcome.Rejection rejection) {
      super(message);
      this.rejection = rejection;
    }

    /**
     * Why, as a value to act on: for example {@code CHANGE_IN_PROGRESS} (ask again later),
     * {@code ALREADY_A_MEMBER}, {@code NOT_A_MEMBER}, {@code LAST_VOTER}, {@code CATCH_UP_FAILED},
     * {@code NOT_A_VOTER} or {@code TRANSFER_TIMED_OUT}; {@code INVALID_REQUEST} for a malformed one.
     */
    public io.raftactors.core.ProposalOutcome.Rejection rejection() {
      return rejection;
    }
  }

  /** The command may or may not have been applied: no answer came before the deadline, or its session expired. */
  public static final class OutcomeUnknownException extends RaftClientException {
    private static final long serialVersionUID = 1L;

    OutcomeUnknownException(String message) {
      super(message);
    }
  }

  /**
   * The leader refused the command for backpressure ({@code raft.flow-control}) on every attempt
   * until the deadline: it was not applied.
   */
  public static final class OverloadedException extends RaftClientException {
    private static final long serialVersionUID = 1L;

    OverloadedException(String message) {
      super(message);
    }
  }

  /**
   * No member answered in time: a query got no answer, or a command was never accepted by a leader
   * (every attempt was refused as not-leader or no session could be opened): it was not applied.
   */
  public static final class UnavailableException extends RaftClientException {
    private static final long serialVersionUID = 1L;

    UnavailableException(String message) {
      super(message);
    }
  }

  /** Client timing, from {@code raft.client}; {@code keepAlive} zero turns keep-alives off. */
  public record Settings(Duration requestTimeout, Duration deadline, Duration backoffMin, Duration backoffMax,
      Duration keepAlive) {
    public Settings {
      if (keepAlive.isNegative()) throw new IllegalArgumentException("raft.client.keep-alive must not be negative");
      for (Duration d : List.of(requestTimeout, deadline, backoffMin, backoffMax)) {
        if (d.isNegative() || d.isZero()) throw new IllegalArgumentException("raft.client durations must be positive, was " + d);
      }
      if (backoffMin.compareTo(backoffMax) > 0) {
        throw new IllegalArgumentException("raft.client.backoff-min must not exceed raft.client.backoff-max");
      }
    }

    public static Settings fromConfig(Config config) {
      Config c = config.getConfig("raft.client");
      try {
        return new Settings(c.getDuration("request-timeout"), c.getDuration("deadline"), c.getDuration("backoff-min"),
            c.getDuration("backoff-max"), c.getDuration("keep-alive"));
      } catch (com.typesafe.config.ConfigException e) {
        throw new IllegalArgumentException("raft.client: " + e.getMessage(), e);
      }
    }
  }

  private final ActorSystem<?> system;
  private final ActorRef<Msg> actor;
  private final Serialization serialization;

  private RaftClient(ActorSystem<?> system, ActorRef<Msg> actor) {
    this.system = system;
    this.actor = actor;
    this.serialization = SerializationExtension.get(system.classicSystem());
  }

  /** A client of the group described by {@code settings} (group id and member addresses), timing from the system's config. */
  public static RaftClient create(ActorSystem<?> system, RaftSettings settings) {
    return create(system, settings.groupId(), settings.members(), Settings.fromConfig(system.settings().config()));
  }

  /** A client of group {@code groupId} whose members live at {@code members} (member id -> ActorSystem address). */
  public static RaftClient create(ActorSystem<?> system, String groupId, Map<String, Address> members, Settings settings) {
    if (members.isEmpty()) throw new IllegalArgumentException("a Raft group has at least one member");
    ActorRef<Msg> actor = system.systemActorOf(
        Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new ClientActor(ctx, timers, groupId, members, settings).behavior())),
        "raft-client-" + groupId + "-" + UUID.randomUUID(), Props.empty());
    return new RaftClient(system, actor);
  }

  /** Submits a command; completes with the state machine's result once it is applied (exactly once). */
  public CompletionStage<Object> submit(Object command) {
    CompletableFuture<Object> f = new CompletableFuture<>();
    Payload p;
    try {
      p = Payload.of(serialization, command);
    } catch (RuntimeException e) {
      f.completeExceptionally(new RejectedException("command cannot be serialized: " + e.getMessage()));
      return f;
    }
    actor.tell(new Submit(p, f));
    return f;
  }

  /** A linearizable query. */
  public CompletionStage<Object> query(Object query) {
    return query(query, ReadConsistency.LINEARIZABLE);
  }

  /** A query with the given consistency. */
  public CompletionStage<Object> query(Object query, ReadConsistency consistency) {
    CompletableFuture<Object> f = new CompletableFuture<>();
    Payload p;
    try {
      p = Payload.of(serialization, query);
    } catch (RuntimeException e) {
      f.completeExceptionally(new RejectedException("query cannot be serialized: " + e.getMessage()));
      return f;
    }
    actor.tell(new Read(p, consistency, f));
    return f;
  }

  /** The group's members as its leader sees them, and who leads. */
  public record Members(ClusterConfig configuration, String leaderId) {}

  /**
   * Adds member {@code id}, reachable at {@code address} (null: from the members' settings), as a
   * voter once it has caught up, or as a learner (a non-voting read replica) if {@code learner}.
   */
  public CompletionStage<ClusterConfig> addMember(String id, MemberAddress address, boolean learner) {
    return changeMembers(List.of(learner ? new MembershipChange.AddLearner(id, address) : new MembershipChange.AddVoter(id, address)));
  }

  /** Makes learner {@code id} a voter, once it has caught up. */
  public CompletionStage<ClusterConfig> promote(String id) {
    return changeMembers(List.of(new MembershipChange.Promote(id)));
  }

  /** Removes member {@code id} (the leader too: it hands over once the removal is committed). */
  public CompletionStage<ClusterConfig> removeMember(String id) {
    return changeMembers(List.of(new MembershipChange.Remove(id)));
  }

  /** Makes several changes at once: one voter through a single entry, more through a joint configuration. */
  public CompletionStage<ClusterConfig> changeMembers(List<MembershipChange> changes) {
    return admin(new RaftNode.ChangeMembersRequest(List.copyOf(changes))).thenApply(Members::configuration);
  }

  /** Hands the leadership to voter {@code target} (null: the most up-to-date one); completes with the new leader's id. */
  public CompletionStage<String> transferLeadership(String target) {
    return admin(new RaftNode.TransferRequest(target)).thenApply(Members::leaderId);
  }

  /** The configuration in force on the leader (it may not be committed yet) and the leader's id. */
  public CompletionStage<Members> members() {
    return admin(new RaftNode.MembersRequest());
  }

  private CompletionStage<Members> admin(RaftNode.AdminRequest request) {
    CompletableFuture<Object> f = new CompletableFuture<>();
    actor.tell(new Admin(request, f));
    return f.thenApply(o -> (Members) o);
  }

  /** Stops the client; calls still running fail with {@link OutcomeUnknownException} or {@link UnavailableException}. */
  @Override
  public void close() {
    actor.tell(Stop.INSTANCE);
  }


  // ------------------------------------------------------------------ the client actor

  private interface Msg {}

  private record Submit(Payload command, CompletableFuture<Object> result) implements Msg {}

  private record Read(Payload query, ReadConsistency consistency, CompletableFuture<Object> result) implements Msg {}

  private record Admin(RaftNode.AdminRequest request, CompletableFuture<Object> result) implements Msg {}

  private record Reply(RaftNode.ClientReply reply) implements Msg {}

  /** Attempt {@code attempt} of request {@code id} got no answer in time. */
  private record Timeout(long id, int attempt) implements Msg {}

  /** The backoff before resending request {@code id} is over. */
  private record Resend(long id) implements Msg {}

  private enum Stop implements Msg {
    INSTANCE
  }

  private enum KeepAliveTick implements Msg {
    INSTANCE
  }

  /** One command or query in flight. */
  private static final class Call {
    final long id;
    final Payload payload;
    final ReadConsistency consistency; // null for commands
    final CompletableFuture<Object> result;
    final long deadlineNanos;
    long session;
    int attempt;
    int backoffs;
    /** Some attempt may have reached a leader's log: it timed out or ended with outcome unknown. */
    boolean maybeApplied;
    /** The last refusal for backpressure (null after any other answer), when no attempt may have reached the log. */
    RaftNode.ClientOverloaded lastOverloaded;
    /** A membership change, transfer or members query (payload and consistency are null). */
    RaftNode.AdminRequest admin;

    Call(long id, Payload payload, ReadConsistency consistency, CompletableFuture<Object> result, long deadlineNanos) {
      this.id = id;
      this.payload = payload;
      this.consistency = consistency;
      this.result = result;
      this.deadlineNanos = deadlineNanos;
    }
  }

  private static final long OPEN_ID_BASE = 1L << 61;
  private static final long QUERY_ID_BASE = 1L << 62;
  private static final long ADMIN_ID_BASE = (1L << 62) + (1L << 61);

  private static final class ClientActor {
    private final ActorContext<Msg> ctx;
    private final TimerScheduler<Msg> timers;
    private final String groupId;
    private final List<String> memberIds;
    private final Map<String, java.util.function.Consumer<RaftNode.Command>> nodes = new HashMap<>();
    private final Settings settings;
    private final ActorRef<RaftNode.ClientReply> replyTo;
    private final Serialization serialization;

    private String target;
    private long session; // 0: none open
    private Call opening;
    private long nextOpenId = OPEN_ID_BASE;
    private long nextSeq = 1;
    private long nextQueryId = QUERY_ID_BASE;
    /** Commands waiting for a session. */
    private final List<Call> waitingForSession = new ArrayList<>();
    /** Commands sent and not answered, by seq: their lowest is the client's lowest unanswered number. */
    private final TreeMap<Long, Call> commands = new TreeMap<>();
    private final Map<Long, Call> queries = new HashMap<>();
    private final Map<Long, Call> admins = new HashMap<>();
    private long nextAdminId = ADMIN_ID_BASE;
    /** Keep-alives sent and not answered: request id -> session. */
    private final Map<Long, Long> keepAlives = new HashMap<>();
    private long lastSentNanos = System.nanoTime();

    ClientActor(ActorContext<Msg> ctx, TimerScheduler<Msg> timers, String groupId, Map<String, Address> members,
        Settings settings) {
      this.ctx = ctx;
      this.timers = timers;
      this.groupId = groupId;
      this.memberIds = new ArrayList<>(members.keySet());
      this.settings = settings;
      for (Map.Entry<String, Address> m : members.entrySet()) {
        nodes.put(m.getKey(), NodeAddress.sender(ctx.getSystem(), m.getValue(), groupId, m.getKey()));
      }
      this.replyTo = ctx.messageAdapter(RaftNode.ClientReply.class, Reply::new);
      this.serialization = SerializationExtension.get(ctx.getSystem().classicSystem());
      this.target = memberIds.get(ThreadLocalRandom.current().nextInt(memberIds.size()));
      if (!settings.keepAlive().isZero()) {
        timers.startTimerWithFixedDelay("keep-alive", KeepAliveTick.INSTANCE, settings.keepAlive());
      }
    }

    /**
     * T6.3-08: a session without commands for a keep-alive interval is kept alive through the log,
     * so that it does not expire between commands (raft.sessions.timeout on the group's side).
     */
    private void keepAlive() {
      if (session == 0 || !commands.isEmpty() || opening != null) return;
      if (System.nanoTime() - lastSentNanos < settings.keepAlive().toNanos()) return;
      long id = nextOpenId++;
      keepAlives.put(id, session);
      lastSentNanos = System.nanoTime();
      nodes.get(target).accept(new RaftNode.ClientKeepAlive(id, session, replyTo));
    }

    Behavior<Msg> behavior() {
      return Behaviors.receive(Msg.class)
          .onMessage(Submit.class, s -> {
            Call c = new Call(0, s.command(), null, s.result(), deadline());
            if (session == 0) {
              waitingForSession.add(c);
              openSession();
            } else {
              startCommand(c);
            }
            return Behaviors.same();
          })
          .onMessage(Read.class, r -> {
            Call c = new Call(nextQueryId++, r.query(), r.consistency(), r.result(), deadline());
            queries.put(c.id, c);
            send(c);
            return Behaviors.same();
          })
          .onMessage(Admin.class, a -> {
            Call c = new Call(nextAdminId++, null, null, a.result(), deadline());
            c.admin = a.request();
            admins.put(c.id, c);
            send(c);
            return Behaviors.same();
          })
          .onMessage(Reply.class, r -> onReply(r.reply()))
          .onMessage(Timeout.class, this::onTimeout)
          .onMessage(KeepAliveTick.class, t -> {
            keepAlive();
            return Behaviors.same();
          })
          .onMessage(Resend.class, r -> {
            Call c = call(r.id());
            if (c != null) send(c);
            return Behaviors.same();
          })
          .onMessage(Stop.class, s -> {
            RaftClientException closed = new OutcomeUnknownException("the client was closed");
            for (Call c : commands.values()) c.result.completeExceptionally(closed);
            for (Call c : waitingForSession) c.result.completeExceptionally(closed);
            for (Call c : queries.values()) c.result.completeExceptionally(new UnavailableException("the client was closed"));
            for (Call c : admins.values()) c.result.completeExceptionally(new OutcomeUnknownException("the client was closed"));
            return Behaviors.stopped();
          })
          .build();
    }

    private long deadline() {
      return System.nanoTime() + settings.deadline().toNanos();
    }

    private void openSession() {
      if (opening != null) return;
      opening = new Call(nextOpenId++, null, null, null, Long.MAX_VALUE);
      send(opening);
    }

    private void startCommand(Call pending) {
      Call c = new Call(nextSeq++, pending.payload, null, pending.result, pending.deadlineNanos);
      c.session = session;
      commands.put(c.id, c);
      send(c);
    }

    private void send(Call c) {
      c.attempt++;
      lastSentNanos = System.nanoTime();
      java.util.function.Consumer<RaftNode.Command> node = nodes.get(target);
      if (c.admin != null) {
        node.accept(new RaftNode.ClientAdmin(c.id, c.admin, replyTo));
        // A change is sent until a node takes it and then waits for its answer until the deadline:
        // sent again, a change already made would be refused. Members queries are retried as queries.
        Duration wait = c.admin instanceof RaftNode.MembersRequest ? settings.requestTimeout()
            : Duration.ofNanos(Math.max(1, c.deadlineNanos - System.nanoTime()));
        timers.startSingleTimer(c.id, new Timeout(c.id, c.attempt), wait);
        return;
      } else if (c == opening) {
        node.accept(new RaftNode.OpenClientSession(c.id, replyTo));
      } else if (c.consistency != null) {
        node.accept(new RaftNode.ClientQuery(c.id, c.consistency, c.payload, replyTo));
      } else {
        long lowestUnacked = commands.isEmpty() ? nextSeq : commands.firstKey();
        node.accept(new RaftNode.ClientCommand(c.session, c.id, lowestUnacked, c.payload, replyTo));
      }
      timers.startSingleTimer(c.id, new Timeout(c.id, c.attempt), settings.requestTimeout());
    }

    private Call call(long id) {
      if (opening != null && opening.id == id) return opening;
      Call c = commands.get(id);
      if (c != null) return c;
      c = queries.get(id);
      return c != null ? c : admins.get(id);
    }

    private Behavior<Msg> onTimeout(Timeout t) {
      Call c = call(t.id());
      if (c == null || c.attempt != t.attempt()) return Behaviors.same(); // answered, or sent again since
      if (c.admin != null && !(c.admin instanceof RaftNode.MembersRequest)) {
        finish(c, new OutcomeUnknownException("no answer before the deadline; the " + describe(c.admin)
            + " may or may not have been made (ask members())"));
        return Behaviors.same();
      }
      // No answer in time: the member may be down or cut off. Try the next one.
      c.maybeApplied = true;
      nextTarget();
      retryLater(c, "no answer within " + settings.requestTimeout().toMillis() + " ms");
      return Behaviors.same();
    }

    /** Sends {@code c} again after a randomized exponential backoff, unless its deadline has passed. */
    private void retryLater(Call c, String why) {
      if (c == opening) {
        // Commands that never got a session were never sent: they fail as unavailable, not applied.
        long now = System.nanoTime();
        waitingForSession.removeIf(w -> {
          if (now <= w.deadlineNanos) return false;
          w.result.completeExceptionally(new UnavailableException("no session could be opened before the deadline (" + why
              + "); the command was not sent"));
          return true;
        });
        if (waitingForSession.isEmpty()) {
          remove(c);
          return;
        }
      } else if (System.nanoTime() > c.deadlineNanos) {
        finish(c, c.admin != null
            ? new UnavailableException("no leader took the " + describe(c.admin) + " before the deadline; nothing changed ("
                + why + ")")
            : c.consistency != null
            ? new UnavailableException("no answer to the query before the deadline (" + why + ")")
            : c.maybeApplied
                ? new OutcomeUnknownException("no answer before the deadline; the command may or may not have been applied (" + why + ")")
                : c.lastOverloaded != null
                    ? new OverloadedException("the leader refused the command until the deadline; it was not applied ("
                        + c.lastOverloaded.reason() + ")")
                    : new UnavailableException("no leader accepted the command before the deadline; it was not applied (" + why + ")"));
        return;
      }
      long min = settings.backoffMin().toMillis();
      long max = Math.min(settings.backoffMax().toMillis(), min << Math.min(c.backoffs++, 20));
      long delay = ThreadLocalRandom.current().nextLong(min, Math.max(min, max) + 1);
      timers.startSingleTimer(c.id, new Resend(c.id), Duration.ofMillis(delay)); // replaces the timeout
    }

    private Behavior<Msg> onReply(RaftNode.ClientReply reply) {
      Long kept = keepAlives.remove(reply.requestId());
      if (kept != null) {
        if (reply instanceof RaftNode.ClientSessionExpired && session == kept) session = 0; // the next command opens one
        else if (reply instanceof RaftNode.ClientNotLeader nl && nl.leaderId() != null && nodes.containsKey(nl.leaderId())) {
          target = nl.leaderId(); // the next keep-alive goes there
        }
        return Behaviors.same();
      }
      Call c = call(reply.requestId());
      if (c == null) return Behaviors.same(); // already answered
      if (reply instanceof RaftNode.ClientSessionOpened o) {
        opening = null;
        timers.cancel(c.id);
        session = o.session();
        List<Call> waiting = new ArrayList<>(waitingForSession);
        waitingForSession.clear();
        for (Call w : waiting) startCommand(w);
      } else if (reply instanceof RaftNode.ClientNotLeader nl) {
        c.lastOverloaded = null;
        if (nl.leaderId() != null && nl.leaderAddress() != null) learn(nl.leaderId(), nl.leaderAddress());
        redirect(c, nl.leaderId());
      } else if (c == opening) {
        nextTarget();
        retryLater(c, String.valueOf(reply));
      } else if (reply instanceof RaftNode.ClientMembers m) {
        learn(m.configuration());
        remove(c);
        c.result.complete(new Members(m.configuration(), m.leaderId()));
      } else if (c.admin != null && reply instanceof RaftNode.ClientOutcomeUnknown u) {
        finish(c, new OutcomeUnknownException("the " + describe(c.admin) + " may or may not have been made: " + u.reason()));
      } else if (reply instanceof RaftNode.ClientResult r) {
        finishWith(c, r.result());
      } else if (reply instanceof RaftNode.ClientOverloaded o) {
        c.lastOverloaded = o; // certainly not appended: back off and try again
        retryLater(c, o.reason());
      } else if (reply instanceof RaftNode.ClientOutcomeUnknown u) {
        c.maybeApplied = true;
        retryLater(c, u.reason()); // the same seq again: applied at most once
      } else if (reply instanceof RaftNode.ClientSessionExpired e) {
        // The session is gone: this command may have been applied before it expired. Later commands open a new one.
        if (session == c.session) session = 0;
        finish(c, new OutcomeUnknownException("client session expired: " + e.reason()));
      } else if (reply instanceof RaftNode.ClientRejected rj) {
        finish(c, new RejectedException(rj.reason(), rj.rejection()));
      }
      return Behaviors.same();
    }

    /** Follows a redirect at once; without a usable leader hint, waits a little and retries. */
    private void redirect(Call c, String leader) {
      if (leader != null && nodes.containsKey(leader) && !leader.equals(target)) {
        target = leader;
        send(c);
        return;
      }
      if (leader == null) nextTarget(); // no leader known (an election is running): ask the next member
      retryLater(c, "no leader");
    }

    /** Members added at run time bring their addresses in the configuration: the client can reach them too. */
    private void learn(ClusterConfig config) {
      for (Map.Entry<String, MemberAddress> e : config.addresses().entrySet()) learn(e.getKey(), e.getValue().peer());
    }

    private void learn(String id, String address) {
      if (nodes.containsKey(id)) return;
      try {
        Address a = NodeAddress.parse(address);
        nodes.put(id, NodeAddress.sender(ctx.getSystem(), a, groupId, id));
        memberIds.add(id);
      } catch (RuntimeException ex) {
        ctx.getLog().warn("Raft client of group {}: member {} has no usable address '{}': {}", groupId, id, address, ex.toString());
      }
    }

    private static String describe(RaftNode.AdminRequest r) {
      return r instanceof RaftNode.TransferRequest ? "leadership transfer" : "membership change";
    }

    private void nextTarget() {
      target = memberIds.get((memberIds.indexOf(target) + 1) % memberIds.size());
    }

    private void finishWith(Call c, Payload result) {
      Object value;
      try {
        value = result == null ? null : result.deserialize(serialization);
      } catch (Exception e) {
        finish(c, new RaftClientException("the result cannot be deserialized: " + e));
        return;
      }
      remove(c);
      c.result.complete(value);
    }

    private void finish(Call c, RaftClientException failure) {
      remove(c);
      if (c.result != null) c.result.completeExceptionally(failure);
    }

    private void remove(Call c) {
      timers.cancel(c.id);
      if (c == opening) opening = null;
      else if (c.admin != null) admins.remove(c.id);
      else if (c.consistency != null) queries.remove(c.id);
      else commands.remove(c.id);
    }
  }
}
