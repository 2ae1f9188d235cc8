package io.raftactors.actor;

import akka.actor.Cancellable;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.Props;
import akka.actor.typed.SupervisorStrategy;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.BehaviorBuilder;
import akka.actor.typed.javadsl.StashBuffer;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import io.raftactors.core.Bootstrap;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.Committed;
import io.raftactors.core.CoreStatus;
import io.raftactors.core.DurableState;
import io.raftactors.core.EntryData;
import io.raftactors.core.NodeSnapshot;
import io.raftactors.core.LogEntry;
import io.raftactors.core.MembershipChange;
import io.raftactors.core.Outbound;
import io.raftactors.core.ProposalOutcome;
import io.raftactors.core.RaftCore;
import io.raftactors.core.RaftDriver;
import io.raftactors.core.RaftMessage;
import io.raftactors.core.RandomSource;
import io.raftactors.core.SessionTable;
import io.raftactors.core.ReadState;
import io.raftactors.core.Role;
import io.raftactors.core.Snapshot;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;
import org.slf4j.Logger;

/**
 * A Raft node as a typed actor. It drives a pure {@link RaftCore} through a {@link RaftDriver}:
 * its follower, candidate and leader behaviours own their tick timers and turn messages into core
 * inputs; the driver decides how the core's output is carried out (one write in flight, the rest
 * batched into the next: group commit; what waits for a write leaves after it; when to snapshot),
 * and this actor does it: sends, writes, applies committed commands and answers proposers.
 *
 * <p>Start one with {@link #start}; it lives at {@code /system/raft-<group>-<member>} so that peers
 * find each other from the configured member addresses.
 */
public final class RaftNode {
  /** For what is logged off the actor's thread (the actor's own logger is for that thread only). */
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(RaftNode.class);

  /** Everything a node actor accepts. */
  public interface Command {}

  /**
   * Proposes {@code command} to the group; answered once it is applied, or when it cannot be.
   *
   * <p>With an {@code idempotencyKey} (null: none) the command is applied at most once per key:
   * proposed again with the same key, through any member and across leader changes, it is answered
   * with the first answer ({@link Applied} with the first index and result) and has no second
   * effect. Keys live as long as client sessions ({@code raft.sessions.timeout} of logged time since
   * their command) and survive snapshots and restarts; a key used again for a different command is
   * answered {@link IdempotencyKeyReused}.
   */
  public record Propose(Object command, String idempotencyKey, ActorRef<ProposeReply> replyTo) implements Command {
    /** A proposal without an idempotency key. */
    public Propose(Object command, ActorRef<ProposeReply> replyTo) {
      this(command, null, replyTo);
    }
  }

  /** Longest idempotency key accepted, in characters. */
  public static final int MAX_IDEMPOTENCY_KEY_LENGTH = 255;

  /** Runs {@code query} against the state machine ({@link StateMachine#query}) with the given consistency. */
  public record Query(Object query, ReadConsistency consistency, ActorRef<QueryReply> replyTo) implements Command {}

  /**
   * Stops the node actor, as a crash would: nothing more is sent or written, its storage stays as
   * it is, and a node started again on the same storage recovers from it. Writes in flight may or
   * may not complete; nothing that depends on them has been sent.
   */
  public enum Stop implements Command {
    INSTANCE
  }

  /**
   * Asks for the node's current {@link Status}. It may come from another ActorSystem (a status
   * page polling every member, see {@link #nodeOf}): it and its answer cross the network in CBOR.
   */
  public record GetStatus(ActorRef<Status> replyTo) implements Command, RaftSerializable {}

  /**
   * Asks for what the node measured on its write path ({@link NodeMetrics}) since it started or
   * since the last request with {@code reset}, which starts the measurement over.
   */
  public record GetMetrics(boolean reset, ActorRef<NodeMetrics.Snapshot> replyTo) implements Command {}

  /**
   * Asks for everything the node measures, as one {@link RaftMetrics}: role, term, indexes and the
   * size of its log, each follower's progress (leaders), what it counted since it started, and its
   * write path (as {@link GetMetrics} without reset). Answered in every {@link Phase}.
   */
  public record GetRaftMetrics(ActorRef<RaftMetrics> replyTo) implements Command {}

  /**
   * Sends the node's {@link RaftMetrics} to {@code subscriber} at once and then every {@code
   * interval}, until {@link UnsubscribeMetrics} or until the subscriber stops: the node watches it.
   * Subscribing again with the same subscriber changes its interval. Subscriptions outlive the
   * node's restarts after a failure and end with the node actor. Each delivery is taken on the
   * node's thread and costs about what a {@link GetStatus} and the percentiles of a dozen
   * histograms cost: intervals of a second or more suit monitoring. Within the node's ActorSystem
   * (the message is not serializable); {@link #subscribeMetrics} does it for a plain Java listener.
   *
   * @throws IllegalArgumentException if {@code subscriber} is null or {@code interval} is not
   *     positive (at least 1 ms)
   */
  public record SubscribeMetrics(ActorRef<RaftMetrics> subscriber, Duration interval) implements Command {
    public SubscribeMetrics {
      if (subscriber == null) throw new IllegalArgumentException("a metrics subscriber is required");
      checkMetricsInterval(interval);
    }
  }

  /** Ends {@code subscriber}'s {@link SubscribeMetrics} subscription; nothing if it has none. */
  public record UnsubscribeMetrics(ActorRef<RaftMetrics> subscriber) implements Command {}

  private static void checkMetricsInterval(Duration interval) {
    if (interval == null || interval.compareTo(Duration.ofMillis(1)) < 0) {
      throw new IllegalArgumentException("the metrics interval must be positive (at least 1 ms), was " + interval);
    }
  }

  /**
   * Calls {@code listener} with the node's {@link RaftMetrics} at once and then every {@code
   * interval} (a {@link SubscribeMetrics} subscription), until the returned {@link Cancellable} is
   * cancelled. The listener runs on an actor of its own in {@code system}, the node's ActorSystem,
   * one call at a time: a slow listener delays its own next calls, never the node. An exception it
   * throws is logged and the subscription goes on.
   *
   * @throws IllegalArgumentException if {@code interval} is not positive (at least 1 ms)
   */
  public static Cancellable subscribeMetrics(ActorSystem<?> system, ActorRef<Command> node, Duration interval,
      Consumer<RaftMetrics> listener) {
    checkMetricsInterval(interval);
    java.util.Objects.requireNonNull(node, "node");
    java.util.Objects.requireNonNull(listener, "listener");
    Behavior<Object> forwarder = Behaviors.setup(ctx -> {
      ActorRef<RaftMetrics> self = ctx.getSelf().narrow();
      node.tell(new SubscribeMetrics(self, interval));
      return Behaviors.receive(Object.class)
          .onMessage(RaftMetrics.class, m -> {
            try {
              listener.accept(m);
            } catch (RuntimeException e) {
              ctx.getLog().warn("A metrics listener of raft node {} failed: {}", m.memberId(), e.toString());
            }
            return Behaviors.same();
          })
          .onMessageEquals(StopListening.INSTANCE, () -> {
            node.tell(new UnsubscribeMetrics(self));
            return Behaviors.stopped();
          })
          .build();
    });
    ActorRef<Object> ref = system.systemActorOf(forwarder, "raft-metrics-listener-" + LISTENERS.incrementAndGet(),
        Props.empty());
    java.util.concurrent.atomic.AtomicBoolean cancelled = new java.util.concurrent.atomic.AtomicBoolean();
    return new Cancellable() {
      @Override
      public boolean cancel() {
        if (!cancelled.compareAndSet(false, true)) return false;
        ref.tell(StopListening.INSTANCE);
        return true;
      }

      @Override
      public boolean isCancelled() {
        return cancelled.get();
      }
    };
  }

  private static final java.util.concurrent.atomic.AtomicLong LISTENERS = new java.util.concurrent.atomic.AtomicLong();

  private enum StopListening {
    INSTANCE
  }

  /**
   * Changes the group's members (thesis chapter 4); only the leader does, others answer {@link
   * NotLeader}. New voters first catch up without a vote (raft.membership.catch-up-rounds). Answered
   * {@link MembersChanged} once the new configuration is committed; {@link Rejected} if it cannot be
   * made (another change in progress, a member unknown or already present, the last voter removed,
   * a new voter that does not catch up), with the configuration unchanged; {@link OutcomeUnknown} if
   * leadership was lost after the configuration was appended.
   */
  public record ChangeMembers(List<MembershipChange> changes, ActorRef<AdminReply> replyTo) implements Command {}

  /**
   * Hands the leadership to voter {@code target} (null: the most up-to-date other voter), thesis
   * 3.10. Meanwhile the leader refuses proposals with {@link NotLeader} naming the target. Answered
   * {@link LeadershipTransferred} once the target leads; {@link Rejected} if the target is no other
   * voter or it did not take over within an election timeout (the leader then carries on);
   * {@link OutcomeUnknown} if leadership went elsewhere.
   */
  public record TransferLeadership(String target, ActorRef<AdminReply> replyTo) implements Command {}

  /** How a {@link ChangeMembers} or {@link TransferLeadership} ended. */
  public sealed interface AdminReply {}

  /** The new configuration is committed at {@code index}. */
  public record MembersChanged(long index, ClusterConfig configuration) implements AdminReply {}

  /** {@code leaderId} leads now, in {@code term}. */
  public record LeadershipTransferred(String leaderId, long term) implements AdminReply {}

  /** A Raft message between two nodes of group {@code groupId}, addressed to member {@code to}. */
  public record PeerEnvelope(String groupId, String to, RaftMessage message) implements Command, RaftSerializable {}

  /** How a proposal ended. */
  public sealed interface ProposeReply {}

  /** How a query ended: {@link QueryResult}, {@link NotLeader} (try the leader) or {@link Rejected}. */
  public sealed interface QueryReply {}

  /** The state machine's answer to a query. */
  public record QueryResult(Object result) implements QueryReply {}

  /** The command was committed at {@code index} and applied; {@code result} is the state machine's answer. */
  public record Applied(long index, Object result) implements ProposeReply {}

  /**
   * Certainly not applied: this node is not the leader and appended nothing. {@code leaderId} is the
   * leader it knows of, or null.
   */
  public record NotLeader(String leaderId) implements ProposeReply, QueryReply, AdminReply {}

  /**
   * Certainly not applied: refused before reaching the log (for example it cannot be serialized, or
   * another membership change is in progress). {@code rejection} says why, for programs.
   */
  public record Rejected(String reason, ProposalOutcome.Rejection rejection) implements ProposeReply, QueryReply, AdminReply {
    public Rejected {
      if (rejection == null) rejection = ProposalOutcome.Rejection.INVALID_REQUEST;
    }

    /** A request refused as asked (malformed, or it cannot be serialized). */
    public Rejected(String reason) {
      this(reason, ProposalOutcome.Rejection.INVALID_REQUEST);
    }
  }

  /**
   * Certainly not applied: the leader already holds as many proposals waiting to commit as
   * {@code raft.flow-control} allows (or as many idempotency keys as it keeps). Retry later.
   */
  public record Overloaded(String reason) implements ProposeReply {}

  /** Not applied now: the idempotency key was already used for a different command. */
  public record IdempotencyKeyReused(String key) implements ProposeReply {}

  /**
   * The outcome is unknown: the command was appended, and leadership was lost before it committed.
   * It may or may not be applied; retrying it without an idempotency key or session may apply it twice.
   */
  public record OutcomeUnknown(String reason) implements ProposeReply, AdminReply {}

  // ------------------------------------------------------------------ client protocol (any ActorSystem)

  /**
   * Opens a client session (thesis 6.3) through the log; answered with {@link ClientSessionOpened}
   * whose session id is the index of the session's log entry. Used by {@link RaftClient}.
   */
  public record OpenClientSession(long requestId, ActorRef<ClientReply> replyTo) implements Command, RaftSerializable {}

  /**
   * Command {@code seq} of client session {@code session}; {@code lowestUnacked} is the lowest
   * sequence number whose answer the client has not received yet. Applied at most once however
   * often it is sent; every copy is answered with the same {@link ClientResult}.
   */
  public record ClientCommand(long session, long seq, long lowestUnacked, Payload command, ActorRef<ClientReply> replyTo)
      implements Command, RaftSerializable {}

  /**
   * Keeps an idle client's session alive through the log (thesis 6.3): answered with a
   * {@link ClientResult} without result, or {@link ClientSessionExpired} if it is already gone.
   */
  public record ClientKeepAlive(long requestId, long session, ActorRef<ClientReply> replyTo)
      implements Command, RaftSerializable {}

  /** A query from a client, serialized. */
  public record ClientQuery(long requestId, ReadConsistency consistency, Payload query, ActorRef<ClientReply> replyTo)
      implements Command, RaftSerializable {}

  /** A membership change, leadership transfer or members query from a client ({@link RaftClient}). */
  public record ClientAdmin(long requestId, AdminRequest request, ActorRef<ClientReply> replyTo)
      implements Command, RaftSerializable {}

  /** What a {@link ClientAdmin} asks for. */
  @com.fasterxml.jackson.annotation.JsonTypeInfo(use = com.fasterxml.jackson.annotation.JsonTypeInfo.Id.NAME, property = "t")
  @com.fasterxml.jackson.annotation.JsonSubTypes({
    @com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = ChangeMembersRequest.class, name = "change"),
    @com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = TransferRequest.class, name = "transfer"),
    @com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = MembersRequest.class, name = "members")
  })
  public sealed interface AdminRequest {}

  /** As {@link ChangeMembers}; answered {@link ClientMembers} once committed. */
  public record ChangeMembersRequest(List<MembershipChange> changes) implements AdminRequest {}

  /** As {@link TransferLeadership}; answered {@link ClientMembers} naming the new leader. */
  public record TransferRequest(String target) implements AdminRequest {}

  /** The leader's configuration now; answered {@link ClientMembers}. */
  public record MembersRequest() implements AdminRequest {}

  /** Answers of the client protocol; {@code requestId} is the request's id (a command's seq). */
  public sealed interface ClientReply extends RaftSerializable {
    long requestId();
  }

  /** Applied (or, for a retried command, applied before): the result, serialized (null for null). */
  public record ClientResult(long requestId, long index, Payload result) implements ClientReply {}

  /**
   * Not the leader; nothing was appended. Retry at {@code leaderId} if not null; {@code leaderAddress}
   * is where it is reached if the group's configuration records it (a member added at run time), else null.
   */
  public record ClientNotLeader(long requestId, String leaderId, String leaderAddress) implements ClientReply {
    public ClientNotLeader(long requestId, String leaderId) {
      this(requestId, leaderId, null);
    }
  }

  /**
   * Refused before reaching the log, or failed without effect (for example a malformed payload, or
   * another membership change in progress); {@code rejection} says why, for programs.
   */
  public record ClientRejected(long requestId, String reason, ProposalOutcome.Rejection rejection) implements ClientReply {
    public ClientRejected {
      if (rejection == null) rejection = ProposalOutcome.Rejection.INVALID_REQUEST;
    }

    public ClientRejected(long requestId, String reason) {
      this(requestId, reason, ProposalOutcome.Rejection.INVALID_REQUEST);
    }
  }

  /** Refused before reaching the log: the leader holds as many waiting proposals as it allows. Retry later. */
  public record ClientOverloaded(long requestId, String reason) implements ClientReply {}

  /** The session is unknown or expired, or the answer to this old request is gone; it was not applied now. */
  public record ClientSessionExpired(long requestId, String reason) implements ClientReply {}

  /** Leadership was lost after the command was appended: it may still be applied. Retry it with the same seq. */
  public record ClientOutcomeUnknown(long requestId, String reason) implements ClientReply {}

  /** The group's configuration as of entry {@code index} (committed), and its leader. */
  public record ClientMembers(long requestId, long index, ClusterConfig configuration, String leaderId) implements ClientReply {}

  /** A session is open. */
  public record ClientSessionOpened(long requestId, long session) implements ClientReply {}

  /**
   * Where a node is in its life. Only a RUNNING node takes part in the group; in every other phase
   * its {@link Status} has term 0 and no leader, and it serves no client request.
   */
  public enum Phase {
    /** Reading its state from storage (at start, or after a restart). Client requests are answered "no leader known". */
    RECOVERING,
    /** Empty storage, raft.bootstrap = checked: waiting for every other founding member to answer. */
    AWAITING_FOUNDERS,
    /** Writing the founding configuration. Client requests are answered "no leader known". */
    FOUNDING,
    /** Taking part in the group. */
    RUNNING,
    /** Empty storage in a group that already exists: storage lost or replaced; not taking part. */
    REFUSING
  }

  /**
   * A snapshot of a node's state. {@code problem} is null while the node takes part in the group;
   * otherwise it says why it does not (for example it is still reading its storage, it waits for the
   * founding members, or its storage was lost). {@code phase} says which {@link Phase} it is in.
   * {@code matchIndexes} is, on a leader, each other member's match index by id: the highest index
   * the leader knows to be in that member's log (how far behind {@code lastIndex} it lags); empty on
   * every other node.
   */
  public record Status(
      String memberId, Role role, long term, String leaderId, long commitIndex, long lastApplied, long lastIndex,
      String problem, Phase phase, ClusterConfig configuration, Map<String, Long> matchIndexes) implements RaftSerializable {

    public Status {
      matchIndexes = matchIndexes == null ? Map.of() : java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(matchIndexes));
    }

    /** A status without match indexes (a node that does not lead). */
    public Status(String memberId, Role role, long term, String leaderId, long commitIndex, long lastApplied, long lastIndex,
        String problem, Phase phase, ClusterConfig configuration) {
      this(memberId, role, term, leaderId, commitIndex, lastApplied, lastIndex, problem, phase, configuration, Map.of());
    }

    /** A status without a configuration (a node that does not take part yet). */
    public Status(String memberId, Role role, long term, String leaderId, long commitIndex, long lastApplied, long lastIndex,
        String problem, Phase phase) {
      this(memberId, role, term, leaderId, commitIndex, lastApplied, lastIndex, problem, phase, null);
    }
  }

  private enum Tick implements Command {
    INSTANCE
  }

  private enum Flush implements Command {
    INSTANCE
  }

  /** The state read by recovery attempt {@code attempt}. */
  private record Recovered(int attempt, DurableState state) implements Command {}

  /** Recovery attempt {@code attempt} failed, or did not complete within raft.recovery-timeout. */
  private record RecoveryFailed(int attempt, Throwable cause) implements Command {}

  /** Writing the founding configuration failed. */
  private record FoundingFailed(Throwable cause) implements Command {}

  private enum Founded implements Command {
    INSTANCE
  }

  private enum Probe implements Command {
    INSTANCE
  }

  /** A storage write of {@code driver} (of one incarnation) completed. */
  private record WriteCompleted(long seq, Throwable failure, RaftDriver driver) implements Command {}

  /** Time to send a metrics subscriber its next {@link RaftMetrics}; also the key of its timer. */
  private record PublishMetrics(ActorRef<RaftMetrics> subscriber) implements Command {}

  /** A metrics subscriber stopped: its subscription ends. */
  private record MetricsSubscriberStopped(ActorRef<RaftMetrics> subscriber) implements Command {}

  /** Someone waiting for a proposal: a local proposer, or a client of the client protocol. */
  private sealed interface Waiter {}

  private record LocalWaiter(ActorRef<ProposeReply> replyTo) implements Waiter {}

  /** A waiter of the client protocol, answered with a {@link ClientReply} for its request. */
  private interface ClientSide {
    ActorRef<ClientReply> replyTo();

    long requestId();
  }

  private record ClientWaiter(ActorRef<ClientReply> replyTo, long requestId) implements Waiter, ClientSide {}

  /** Someone waiting for a membership change or transfer: local, or a client of the client protocol. */
  private record AdminWaiter(ActorRef<AdminReply> replyTo) implements Waiter {}

  private record ClientAdminWaiter(ActorRef<ClientReply> replyTo, long requestId) implements Waiter, ClientSide {}

  /** A transfer the core has handed over: answered once {@code target} is known to lead, or at {@code deadline}. */
  private record TransferWait(Waiter waiter, String target, long deadlineNanos) {}

  /** A proposal appended and not yet answered: who waits, and its size for raft.flow-control.max-pending-bytes. */
  private record Pending(Waiter waiter, long bytes, long arrivedNanos) {}

  /**
   * A query and whom to answer: exactly one of {@code local} and {@code client} is set. A query
   * without a consistency is linearizable.
   */
  private record PendingQuery(Object query, ReadConsistency consistency, ActorRef<QueryReply> local,
      ActorRef<ClientReply> client, long requestId) {
    PendingQuery {
      if (consistency == null) consistency = ReadConsistency.LINEARIZABLE;
    }
  }

  private static final String TICK_TIMER = "raft-tick";
  private static final String PROBE_TIMER = "raft-founding-probe";
  private static final String RECOVERY_TIMER = "raft-recovery-timeout";
  private static final int STASH_CAPACITY = 100_000;

  /**
   * The node actor of member {@code memberId} of the group of {@code settings}, found the way that
   * node finds its peers: at the member's address in {@code raft.members}, else at the peer address
   * {@code configuration} records for it (a member added at run time; {@code configuration} may be
   * null). Null if neither names an address. For asking any member a {@link GetStatus} from this
   * ActorSystem. A remote member's reference reaches whatever node runs at its address, also after a
   * restart; a member in this ActorSystem is reached in the incarnation that runs now, so look it up
   * again for each request.
   */
  public static ActorRef<Command> nodeOf(ActorSystem<?> system, RaftSettings settings, ClusterConfig configuration,
      String memberId) {
    akka.actor.Address address = settings.members().get(memberId);
    if (address == null && configuration != null) {
      io.raftactors.core.MemberAddress recorded = configuration.address(memberId);
      if (recorded == null) return null;
      try {
        address = NodeAddress.parse(recorded.peer());
      } catch (IllegalArgumentException e) {
        return null; // not an Akka address
      }
    }
    return address == null ? null : NodeAddress.resolve(system, address, settings.groupId(), memberId);
  }

  /** Spawns a node as a system actor of {@code system}. */
  public static ActorRef<Command> start(
      ActorSystem<?> system, RaftSettings settings, RaftStorage storage, StateMachine stateMachine) {
    ActorRef<Command> node = system.systemActorOf(create(settings, storage, stateMachine), settings.actorName(), Props.empty());
    if (settings.transferOnShutdown()) handOverOnShutdown(system, settings, node);
    return node;
  }

  /**
   * raft.membership.transfer-leadership-on-shutdown: before the ActorSystem stops serving (a SIGTERM,
   * a rolling restart), a leader hands its leadership to the most up-to-date other voter, so that
   * the group does not wait an election timeout for its next leader. Any other node answers at once.
   */
  static void handOverOnShutdown(ActorSystem<?> system, RaftSettings settings, ActorRef<Command> node) {
    akka.actor.CoordinatedShutdown.get(system).addTask(akka.actor.CoordinatedShutdown.PhaseBeforeServiceUnbind(),
        "raft-hand-over-" + settings.actorName(), () -> {
          long started = System.nanoTime();
          return Stages.direct(akka.actor.typed.javadsl.AskPattern.<Command, AdminReply>ask(node,
                  r -> new TransferLeadership(null, r), settings.transferTimeout(), system.scheduler()))
              .handle((reply, failure) -> {
                long ms = (System.nanoTime() - started) / 1_000_000;
                if (reply instanceof LeadershipTransferred t) {
                  LOG.info("Raft node {} of group {} handed its leadership to {} before shutting down ({} ms)",
                      settings.memberId(), settings.groupId(), t.leaderId(), ms);
                } else if (!(reply instanceof NotLeader)) {
                  // Not a fault: the other voters may be stopping too (the whole group is stopped), or
                  // lag behind; the group elects its next leader after an election timeout instead.
                  LOG.info("Raft node {} of group {} could not hand its leadership over before shutting down ({} ms): {}; "
                      + "the others elect a leader after an election timeout",
                      settings.memberId(), settings.groupId(), ms, failure != null ? failure.toString() : String.valueOf(reply));
                }
                return akka.Done.getInstance();
              });
        });
  }

  /**
   * The node's behaviour. A failed storage write stops the node's current incarnation; it restarts
   * with backoff and recovers from storage, so no answer that depended on the failed write is sent
   * (a leader steps down, and whoever waits for a proposal on it learns that its outcome is
   * unknown). The state machine lives on across such restarts and is not given again the entries
   * it has applied.
   */
  public static Behavior<Command> create(RaftSettings settings, RaftStorage storage, StateMachine stateMachine) {
    return create(settings, storage, stateMachine, null);
  }

  /** As {@link #create(RaftSettings, RaftStorage, StateMachine)}, with a transport of its own (null: the default). */
  public static Behavior<Command> create(
      RaftSettings settings, RaftStorage storage, StateMachine stateMachine, PeerTransport transport) {
    // Counts recovery attempts across restarts, so that each attempt is numbered in the log and in the status.
    java.util.concurrent.atomic.AtomicInteger recoveries = new java.util.concurrent.atomic.AtomicInteger();
    AppliedProgress progress = new AppliedProgress();
    NodeCounters counters = new NodeCounters();
    Behavior<Command> node = Behaviors.setup(ctx -> Behaviors.withStash(STASH_CAPACITY, stash ->
        Behaviors.withTimers(timers -> new RaftNode(ctx, stash, timers, settings, storage, stateMachine, progress,
            counters, transport != null ? transport : PeerTransport.resolving(ctx.getSystem(), settings))
            .recovering(recoveries.incrementAndGet()))));
    Behavior<Command> supervised = Behaviors.supervise(node).onFailure(Exception.class, SupervisorStrategy.restartWithBackoff(
        settings.restartBackoffMin(), settings.restartBackoffMax(), 0.2));
    return Behaviors.intercept(StopInterceptor::new, supervised);
  }

  /**
   * What outlives an incarnation of a node, which the supervisor restarts after a failure with the
   * same state machine: how far that state machine has applied the log, and the session table that
   * went with it. Used by one incarnation at a time, on the actor's thread.
   */
  private static final class AppliedProgress {
    /** The last index the state machine reflects, applied or restored from a snapshot (0: none). */
    long index;
    /** The session table of the incarnation that applied up to {@link #index} (null: none yet). */
    SessionTable sessions;
  }

  /** {@link Stop} ends the actor in whatever behaviour it is. */
  private static final class StopInterceptor extends akka.actor.typed.BehaviorInterceptor<Command, Command> {
    StopInterceptor() {
      super(Command.class);
    }

    @Override
    public Behavior<Command> aroundReceive(akka.actor.typed.TypedActorContext<Command> ctx, Command msg,
        akka.actor.typed.BehaviorInterceptor.ReceiveTarget<Command> target) {
      if (msg == Stop.INSTANCE) return Behaviors.stopped();
      return target.apply(ctx, msg);
    }
  }

  // ------------------------------------------------------------------------------------------

  private final ActorContext<Command> ctx;
  private final StashBuffer<Command> stash;
  private final TimerScheduler<Command> timers;
  private final RaftSettings settings;
  /** Stage latencies and batch sizes of the write path. */
  private final NodeMetrics metrics;
  /** Counts for {@link RaftMetrics} and the metrics subscribers, across incarnations. */
  private final NodeCounters counters;
  /** Where this incarnation is in its life, for {@link RaftMetrics}. */
  private Phase phase = Phase.RECOVERING;
  private final RaftStorage storage;
  private final StateMachine stateMachine;
  /** How far the state machine got, across incarnations. */
  private final AppliedProgress progress;
  /**
   * Entries up to this index were applied to the state machine by an earlier incarnation: they are
   * decided again by the session table, which this incarnation rebuilds, but not applied again.
   */
  private long appliedBefore;
  /** The session table of that earlier incarnation, for the answers it recorded (null: none). */
  private SessionTable sessionsBefore;
  private final Logger log;
  private final Serialization serialization;
  private final PeerTransport transport;

  private RaftCore core;
  private Role role;
  /** Who waits for each proposal, by correlation id. */
  private final Map<Long, Pending> waiting = new HashMap<>();
  /** Bytes of the proposals in {@code waiting}. */
  private long waitingBytes;
  /** Queries waiting for their read index, by correlation id. */
  private final Map<Long, PendingQuery> queries = new HashMap<>();
  /**
   * Ids of proposals and reads. Forwarded reads carry theirs to the leader and back, so a late
   * answer meant for an earlier incarnation of this node must not match a new read: each
   * incarnation starts at a random point of a 2^62 range.
   */
  private long nextCorrelation = java.util.concurrent.ThreadLocalRandom.current().nextLong(1L << 62);
  private boolean flushScheduled;

  /** Carries out the core's output: writes (group commit), persist-before-send, snapshot timing. */
  private RaftDriver driver;
  /** When this incarnation started running on its recovered state, until it first hears of a leader. */
  private long runningSinceNanos;
  private boolean leaderKnown;
  /** The configuration as last seen, to log and act on changes. */
  private ClusterConfig lastConfig;
  /** A transfer the core has handed over, waiting for the target to lead. */
  private TransferWait transferWait;

  private RaftNode(ActorContext<Command> ctx, StashBuffer<Command> stash, TimerScheduler<Command> timers,
      RaftSettings settings, RaftStorage storage, StateMachine stateMachine, AppliedProgress progress,
      NodeCounters counters, PeerTransport transport) {
    this.ctx = ctx;
    this.stash = stash;
    this.timers = timers;
    this.settings = settings;
    this.metrics = new NodeMetrics(settings.memberId());
    this.counters = counters;
    counters.incarnationStarted();
    this.storage = storage;
    this.stateMachine = stateMachine;
    this.progress = progress;
    this.log = ctx.getLog();
    this.serialization = SerializationExtension.get(ctx.getSystem().classicSystem());
    this.transport = transport;
  }

  // ------------------------------------------------------------------ behaviours

  /**
   * Reads the node's state from storage; everything but status requests waits in the stash. An
   * attempt that fails or takes longer than raft.recovery-timeout is logged and fails this
   * incarnation, so that the supervisor retries it after backoff.
   *
   * <p>Failures arrive as messages and are thrown from a message handler: an exception thrown while
   * adapting a piped result would become a signal that this behaviour does not handle, and Akka
   * drops unhandled signals without a trace, which left the node recovering forever.
   */
  private Behavior<Command> recovering(int attempt) {
    long started = System.nanoTime();
    phase = Phase.RECOVERING;
    resumeMetricsSubscriptions();
    if (attempt > 1) {
      log.info("Raft node {} of group {}: recovery attempt {}: reading its state from storage again",
          settings.memberId(), settings.groupId(), attempt);
    }
    java.util.concurrent.CompletionStage<DurableState> reading;
    try {
      reading = storage.recover();
    } catch (RuntimeException e) {
      reading = java.util.concurrent.CompletableFuture.failedFuture(e);
    }
    ctx.pipeToSelf(reading, (state, failure) -> failure != null ? new RecoveryFailed(attempt, failure) : new Recovered(attempt, state));
    timers.startSingleTimer(RECOVERY_TIMER, new RecoveryFailed(attempt, new java.util.concurrent.TimeoutException(
        "storage did not answer within raft.recovery-timeout = " + settings.recoveryTimeout().toMillis() + " ms")),
        settings.recoveryTimeout());
    return metricsRequests(Behaviors.receive(Command.class))
        .onMessage(RecoveryFailed.class, f -> f.attempt() != attempt ? Behaviors.same() : recoveryFailed(f, started))
        .onMessage(Recovered.class, r -> r.attempt() != attempt, r -> Behaviors.same()) // an abandoned earlier attempt
        .onMessage(Recovered.class, r -> {
          timers.cancel(RECOVERY_TIMER);
          log.info("Raft node {} of group {} read its state from storage in {} ms (attempt {})", settings.memberId(),
              settings.groupId(), (System.nanoTime() - started) / 1_000_000, attempt);
          Bootstrap bootstrap = new Bootstrap(settings.memberId(), settings.bootstrapConfig(), settings.bootstrapMode());
          Bootstrap.Decision d = bootstrap.recovered(r.state());
          if (d instanceof Bootstrap.Run run) {
            if (Bootstrap.isEmpty(r.state())) {
              // T4.4-01: nothing is written; the configuration arrives by replication from the leader.
              // Until then this node knows no configuration that makes it a voter: it never campaigns.
              log.info("Raft node {} of group {} starts on empty storage and joins: it waits for the leader to send it "
                  + "the group's log (raft.bootstrap = join)", settings.memberId(), settings.groupId());
            }
            return running(run.state());
          }
          if (d instanceof Bootstrap.Found f) return founding(f.founded());
          log.info("Raft node {} of group {} starts on empty storage; it founds the group once every other member {} "
              + "answers that it is still in term 0 (raft.bootstrap = checked)", settings.memberId(), settings.groupId(),
              bootstrap.peers());
          return stash.unstashAll(awaitingFounders(bootstrap));
        })
        .onMessage(GetStatus.class, g -> startingStatus(g, Phase.RECOVERING, "recovering: reading its state from storage "
            + "(attempt " + attempt + ", for " + (System.nanoTime() - started) / 1_000_000 + " ms)"))
        // Client requests are answered at once, never stashed: a stash is lost when a failed attempt
        // restarts the node, and its clients would then wait for nothing and learn nothing.
        .onMessage(Command.class, RaftNode::isClientRequest, c -> tellNotLeader(c, null))
        .onAnyMessage(this::stashIt)
        .build();
  }

  private Behavior<Command> recoveryFailed(RecoveryFailed f, long started) {
    log.error("Raft node {} of group {}: recovery attempt {} from storage failed after {} ms: {}; it is retried after "
            + "raft.restart-backoff", settings.memberId(), settings.groupId(), f.attempt(),
        (System.nanoTime() - started) / 1_000_000, String.valueOf(f.cause()));
    throw new IllegalStateException("recovery attempt " + f.attempt() + " of raft node " + settings.memberId() + " failed",
        f.cause());
  }

  private Behavior<Command> stashIt(Command m) {
    stash.stash(m);
    return Behaviors.same();
  }

  /** Starts the core on recovered (or freshly founded) state and becomes a follower. */
  private Behavior<Command> running(DurableState recovered) {
    DurableState state = new DurableState(recovered.hardState(), recovered.snapshot(),
        LegacySessionEntries.upgrade(recovered.entries(), serialization), recovered.snapshotData());
    core = new RaftCore(settings.memberId(), settings.core(),
        RandomSource.seeded(new SecureRandom().nextLong(), settings.memberId()), state);
    driver = new RaftDriver(core, new DriverHost(), settings.snapshotAfterEntries(), settings.snapshotAfterBytes(),
        settings.sessionTimeout().toMillis()); // loads the session table from the snapshot
    driver.keepAfterSnapshot(settings.snapshotCatchUpEntries(), settings.snapshotCatchUpBytes());
    driver.sendAfterDurable(true); // acknowledgements leave from the thread that finished the write (DriverHost.write)
    if (state.snapshotData() != null) {
      // T3.8-05: the state machine starts from the snapshot; the log after it is applied as it commits.
      stateMachine.restoreSnapshot(NodeSnapshot.unwrap(state.snapshotData()).stateMachine());
      progress.index = state.snapshot().lastIncludedIndex();
      appliedBefore = 0;
      sessionsBefore = null;
    } else {
      // After a restart (a failed write) the state machine still holds what it applied: every entry it
      // applied was committed, so this node's log holds the same entries at those indexes once the
      // leader has repaired it (the recovered log may end before the last of them, or still hold a
      // stale entry whose replacement was not yet durable, as a committed entry is applied before it
      // is durable here), and applying them again would apply them twice.
      appliedBefore = progress.index;
      sessionsBefore = progress.sessions;
      if (appliedBefore > 0) {
        log.info("Raft node {} of group {}: its state machine has applied the log up to index {} before the restart; "
            + "those entries are not applied again", settings.memberId(), settings.groupId(), appliedBefore);
      }
    }
    progress.sessions = driver.sessions();
    counters.coreStarted(core);
    phase = Phase.RUNNING;
    role = core.role();
    lastConfig = null;
    configurationSeen();
    log.info("Raft node {} of group {} recovered: term {}, last index {}; starting as {}",
        settings.memberId(), settings.groupId(), core.term(), core.lastIndex(), role);
    runningSinceNanos = System.nanoTime();
    return stash.unstashAll(follower());
  }

  // ------------------------------------------------------------------ empty storage (T3.8-11)

  /** Writes the founding configuration as log entry 1, then runs as a founding member. */
  private Behavior<Command> founding(DurableState founded) {
    log.info("Raft node {} founds group {} with voters {}", settings.memberId(), settings.groupId(), settings.bootstrapConfig().voters());
    phase = Phase.FOUNDING;
    ctx.pipeToSelf(written(storage.write(new RaftStorage.Write(null, 0, founded.entries()))),
        (ok, failure) -> failure != null ? new FoundingFailed(failure) : Founded.INSTANCE);
    return metricsRequests(Behaviors.receive(Command.class))
        .onMessage(Founded.class, f -> running(founded))
        .onMessage(FoundingFailed.class, f -> {
          log.error("Raft node {} of group {} could not write its founding state: {}; it restarts after raft.restart-backoff",
              settings.memberId(), settings.groupId(), String.valueOf(f.cause()));
          throw new IllegalStateException("raft node " + settings.memberId() + " could not write its founding state", f.cause());
        })
        .onMessage(GetStatus.class, g -> startingStatus(g, Phase.FOUNDING, "founding the group: writing its first configuration"))
        .onMessage(Command.class, RaftNode::isClientRequest, c -> tellNotLeader(c, null))
        .onAnyMessage(this::stashIt)
        .build();
  }

  /**
   * raft.bootstrap = checked: probes every other founder until {@link Bootstrap} decides to found
   * (all answered term 0) or to refuse (one is in a later term). A node in this state never votes,
   * never campaigns and never acknowledges entries.
   */
  private Behavior<Command> awaitingFounders(Bootstrap bootstrap) {
    Runnable probe = () -> {
      if (bootstrap.decision() instanceof Bootstrap.Wait w) {
        for (String p : w.unanswered()) transport.send(p, new PeerEnvelope(settings.groupId(), p, bootstrap.probe()));
      }
    };
    phase = Phase.AWAITING_FOUNDERS;
    probe.run();
    long intervalTicks = settings.core().electionTimeoutMin();
    timers.startTimerWithFixedDelay(PROBE_TIMER, Probe.INSTANCE, settings.tickInterval().multipliedBy(intervalTicks));
    return metricsRequests(Behaviors.receive(Command.class))
        .onMessage(Probe.class, t -> {
          probe.run();
          return Behaviors.same();
        })
        .onMessage(PeerEnvelope.class, env -> {
          if (!accept(env)) return Behaviors.same();
          RaftMessage reply = bootstrap.received(env.message());
          if (reply != null) send(env.message().from(), reply);
          Bootstrap.Decision d = bootstrap.decision();
          if (d instanceof Bootstrap.Refuse r) {
            timers.cancel(PROBE_TIMER);
            return refusing(bootstrap, r);
          }
          if (d instanceof Bootstrap.Found f) {
            timers.cancel(PROBE_TIMER);
            return founding(f.founded());
          }
          return Behaviors.same();
        })
        .onMessage(Command.class, RaftNode::isClientRequest, c -> tellNotLeader(c, null))
        .onMessage(GetStatus.class, g -> startingStatus(g, Phase.AWAITING_FOUNDERS, "empty storage: waiting for every founding member to answer "
            + "before founding the group (raft.bootstrap = checked); no answer yet from "
            + (bootstrap.decision() instanceof Bootstrap.Wait w ? w.unanswered() : java.util.Set.of())))
        .build();
  }

  /**
   * Storage is empty, but the group has been in a later term: this node may have voted and
   * acknowledged entries that it no longer has. It stays silent: no votes, no campaigns, no
   * acknowledgements. It only answers pre-votes, with the group's term, so that other members
   * that lost their storage learn it too.
   */
  private Behavior<Command> refusing(Bootstrap bootstrap, Bootstrap.Refuse r) {
    log.error("Raft node {} of group {} has EMPTY storage, but member {} is already in term {}: the group existed "
            + "before this storage did, so this node's storage was lost or replaced. It may have voted or acknowledged "
            + "entries it no longer remembers, so it will not vote, stand for election or acknowledge entries. To bring it "
            + "back, restore its storage, or (only if this member has certainly never run before) restart it with "
            + "raft.bootstrap = unchecked.",
        settings.memberId(), settings.groupId(), r.witness(), r.groupTerm());
    phase = Phase.REFUSING;
    return metricsRequests(Behaviors.receive(Command.class))
        .onMessage(PeerEnvelope.class, env -> {
          if (accept(env)) {
            RaftMessage reply = bootstrap.received(env.message());
            if (reply != null) send(env.message().from(), reply);
          }
          return Behaviors.same();
        })
        .onMessage(Command.class, RaftNode::isClientRequest, c -> tellNotLeader(c, null))
        .onMessage(GetStatus.class, g -> startingStatus(g, Phase.REFUSING, "empty storage, but the group is already in term "
            + r.groupTerm() + " (seen from " + r.witness() + "): storage lost or replaced; not taking part"))
        .onMessage(Probe.class, t -> Behaviors.same())
        .build();
  }

  /** Requests that only a leader can serve: they append to the log. */
  private static boolean isWrite(Command c) {
    return c instanceof Propose || c instanceof ClientCommand || c instanceof OpenClientSession || c instanceof ClientKeepAlive
        || c instanceof ChangeMembers || c instanceof TransferLeadership || c instanceof ClientAdmin;
  }

  /** Every client request; a node without state (not founded, or refusing) serves none of them. */
  private static boolean isClientRequest(Command c) {
    return isWrite(c) || c instanceof Query || c instanceof ClientQuery;
  }

  /** Answers a client request with "not the leader", naming {@code leader} (null: none known). */
  private Behavior<Command> tellNotLeader(Command c, String leader) {
    if (c instanceof Propose || c instanceof ClientCommand) counters.proposalsNotLeader++;
    else if (c instanceof Query || c instanceof ClientQuery) counters.readsNotLeader++;
    if (c instanceof Propose p) p.replyTo().tell(new NotLeader(leader));
    else if (c instanceof Query q) q.replyTo().tell(new NotLeader(leader));
    else if (c instanceof ClientCommand cc) cc.replyTo().tell(clientNotLeader(cc.seq(), leader));
    else if (c instanceof ClientQuery cq) cq.replyTo().tell(clientNotLeader(cq.requestId(), leader));
    else if (c instanceof OpenClientSession o) o.replyTo().tell(clientNotLeader(o.requestId(), leader));
    else if (c instanceof ClientKeepAlive k) k.replyTo().tell(clientNotLeader(k.requestId(), leader));
    else if (c instanceof ChangeMembers m) m.replyTo().tell(new NotLeader(leader));
    else if (c instanceof TransferLeadership t) t.replyTo().tell(new NotLeader(leader));
    else if (c instanceof ClientAdmin a) a.replyTo().tell(clientNotLeader(a.requestId(), leader));
    return Behaviors.same();
  }

  /** Answers a read with "not the leader", naming {@code leader} (null: none known). */
  private void tellNotLeader(PendingQuery q, String leader) {
    counters.readsNotLeader++;
    if (q.local() != null) q.local().tell(new NotLeader(leader));
    else q.client().tell(clientNotLeader(q.requestId(), leader));
  }

  /** "Not the leader" for a client, with the leader's address when the configuration records it. */
  private ClientNotLeader clientNotLeader(long requestId, String leader) {
    io.raftactors.core.MemberAddress a = leader == null || core == null ? null : core.config().address(leader);
    return new ClientNotLeader(requestId, leader, a == null ? null : a.peer());
  }

  /** The status of a node that does not take part (yet): no term, no leader, no log. */
  private Behavior<Command> startingStatus(GetStatus g, Phase phase, String problem) {
    g.replyTo().tell(new Status(settings.memberId(), Role.FOLLOWER, 0, null, 0, 0, 0, problem, phase));
    return Behaviors.same();
  }

  private void send(String to, RaftMessage m) {
    transport.send(to, new PeerEnvelope(settings.groupId(), to, m));
  }

  // ------------------------------------------------------------------ metrics (every phase)

  /** Adds the metrics requests to a behaviour: every phase answers them. */
  private BehaviorBuilder<Command> metricsRequests(BehaviorBuilder<Command> b) {
    return b
        .onMessage(GetRaftMetrics.class, g -> {
          g.replyTo().tell(raftMetrics());
          return Behaviors.same();
        })
        .onMessage(PublishMetrics.class, p -> {
          if (counters.subscribers.containsKey(p.subscriber())) p.subscriber().tell(raftMetrics());
          return Behaviors.same();
        })
        .onMessage(SubscribeMetrics.class, this::subscribe)
        .onMessage(UnsubscribeMetrics.class, u -> unsubscribe(u.subscriber()))
        .onMessage(MetricsSubscriberStopped.class, u -> unsubscribe(u.subscriber()));
  }

  private Behavior<Command> subscribe(SubscribeMetrics s) {
    ActorRef<RaftMetrics> subscriber = s.subscriber();
    if (counters.subscribers.put(subscriber, s.interval()) == null) {
      ctx.watchWith(subscriber, new MetricsSubscriberStopped(subscriber));
    }
    PublishMetrics publish = new PublishMetrics(subscriber);
    timers.startTimerWithFixedDelay(publish, publish, s.interval());
    subscriber.tell(raftMetrics());
    return Behaviors.same();
  }

  private Behavior<Command> unsubscribe(ActorRef<RaftMetrics> subscriber) {
    if (counters.subscribers.remove(subscriber) != null) {
      timers.cancel(new PublishMetrics(subscriber));
      ctx.unwatch(subscriber);
    }
    return Behaviors.same();
  }

  /**
   * A new incarnation (the first, or one after a restart, which cancelled every timer) carries on
   * the subscriptions: their timers start again, and each subscriber is watched (again: watching
   * an actor already watched with the same message changes nothing, and an actor that stopped
   * meanwhile is reported at once).
   */
  private void resumeMetricsSubscriptions() {
    counters.subscribers.forEach((subscriber, interval) -> {
      ctx.watchWith(subscriber, new MetricsSubscriberStopped(subscriber));
      PublishMetrics publish = new PublishMetrics(subscriber);
      timers.startTimerWithFixedDelay(publish, publish, interval);
    });
  }

  /** Everything the node measures, now. */
  private RaftMetrics raftMetrics() {
    NodeMetrics.Snapshot writePath = metrics.snapshot(false);
    long now = System.currentTimeMillis();
    if (core == null) {
      return new RaftMetrics(settings.groupId(), settings.memberId(), now, phase, Role.FOLLOWER, 0, null, 0, 0, 0, 0, 0,
          Map.of(), counters.snapshot(), writePath);
    }
    CoreStatus s = core.status();
    Map<String, RaftMetrics.Follower> followers = new HashMap<>();
    s.progress().forEach((id, p) -> followers.put(id,
        new RaftMetrics.Follower(p.matchIndex(), p.nextIndex(), Math.max(0, s.lastIndex() - p.matchIndex()))));
    return new RaftMetrics(settings.groupId(), settings.memberId(), now, phase, s.role(), s.term(), s.leaderId(),
        s.commitIndex(), s.lastApplied(), s.firstIndex(), s.lastIndex(), s.snapshotIndex(), followers,
        counters.snapshot(), writePath);
  }

  /** Followers (and pre-candidates) tick towards an election; proposals are redirected to the leader. */
  private Behavior<Command> follower() {
    timers.startTimerWithFixedDelay(TICK_TIMER, Tick.INSTANCE, settings.tickInterval());
    return notLeading().build();
  }

  /** A candidate ticks towards a new election round while it collects votes; there is no leader to redirect to. */
  private Behavior<Command> candidate() {
    timers.startTimerWithFixedDelay(TICK_TIMER, Tick.INSTANCE, settings.tickInterval());
    return notLeading().build();
  }

  private BehaviorBuilder<Command> notLeading() {
    // T6.2-01: writes are refused with the leader this node knows of; nothing is appended.
    return common().onMessage(Command.class, RaftNode::isWrite, c -> tellNotLeader(c, core.leaderId()));
  }

  /** A leader ticks for heartbeats and check-quorum and batches proposals into AppendEntries and writes. */
  private Behavior<Command> leader() {
    timers.startTimerWithFixedDelay(TICK_TIMER, Tick.INSTANCE, settings.tickInterval());
    return common(Behaviors.receive(Command.class)
            .onMessage(Propose.class, this::onPropose)
            .onMessage(ClientCommand.class, this::onClientCommand))
        .onMessage(OpenClientSession.class, this::onOpenSession)
        .onMessage(ClientKeepAlive.class, k -> propose(
            new EntryData.KeepAlive(k.session(), System.currentTimeMillis()), new ClientWaiter(k.replyTo(), k.requestId())))
        .onMessage(ChangeMembers.class, c -> changeMembers(c.changes(), new AdminWaiter(c.replyTo())))
        .onMessage(TransferLeadership.class, t -> transfer(t.target(), new AdminWaiter(t.replyTo())))
        .onMessage(ClientAdmin.class, this::onClientAdmin)
        .build();
  }

  private BehaviorBuilder<Command> common() {
    return common(Behaviors.receive(Command.class));
  }

  /**
   * The messages of every running role, after {@code first}. A built behaviour tries its cases in
   * order (and allocates for each case it tries), so the frequent ones come first: the leader's
   * proposals, then peer messages and write completions.
   */
  private BehaviorBuilder<Command> common(BehaviorBuilder<Command> first) {
    return metricsRequests(first
        .onSignal(akka.actor.typed.PostStop.class, s -> incarnationEnded())
        .onSignal(akka.actor.typed.PreRestart.class, s -> incarnationEnded())
        .onMessage(PeerEnvelope.class, env -> {
          if (accept(env)) {
            if (env.message() instanceof RaftMessage.AppendEntriesResponse r) {
              metrics.appendAnswered(r.from(), r.success(), r.matchIndex(), System.nanoTime());
            }
            core.step(LegacySessionEntries.upgrade(env.message(), serialization));
          }
          return afterInput();
        })
        .onMessage(WriteCompleted.class, this::onWriteCompleted)
        .onMessage(Flush.class, f -> {
          flushScheduled = false;
          return afterInput();
        })
        .onMessage(Tick.class, t -> {
          core.tick();
          return afterInput();
        }))
        .onMessage(GetMetrics.class, g -> {
          g.replyTo().tell(metrics.snapshot(g.reset()));
          return Behaviors.same();
        })
        .onMessage(Query.class, q -> onQuery(new PendingQuery(q.query(), q.consistency(), q.replyTo(), null, 0)))
        .onMessage(ClientQuery.class, this::onClientQuery)
        .onMessage(GetStatus.class, g -> {
          ClusterConfig config = core.config();
          String problem = config.isMember(settings.memberId()) ? null
              : "not a member of the group's configuration " + config + ": not added yet, or removed; it does not take part";
          g.replyTo().tell(new Status(settings.memberId(), core.role(), core.term(), core.leaderId(),
              core.commitIndex(), core.lastApplied(), core.lastIndex(), problem, Phase.RUNNING, config, matchIndexes()));
          return Behaviors.same();
        });
  }

  /** A leader's view of how far each other member's log agrees with its own; empty when not leading. */
  private Map<String, Long> matchIndexes() {
    if (core.role() != Role.LEADER) return Map.of();
    Map<String, Long> out = new HashMap<>();
    core.status().progress().forEach((id, p) -> out.put(id, p.matchIndex()));
    return out;
  }

  private Behavior<Command> onPropose(Propose p) {
    String key = p.idempotencyKey();
    if (key != null && (key.isEmpty() || key.length() > MAX_IDEMPOTENCY_KEY_LENGTH)) {
      counters.proposalsInvalid++;
      p.replyTo().tell(new Rejected("an idempotency key has 1 to " + MAX_IDEMPOTENCY_KEY_LENGTH + " characters, this one "
          + key.length()));
      return Behaviors.same();
    }
    EntryData.Command command;
    try {
      command = serialize(p.command());
    } catch (Exception e) {
      log.warn("Raft node {} rejected a proposal: {}", settings.memberId(), e.toString());
      counters.proposalsInvalid++;
      p.replyTo().tell(new Rejected("command cannot be serialized: " + e.getMessage()));
      return Behaviors.same();
    }
    if (key == null) return propose(command, new LocalWaiter(p.replyTo()));
    SessionTable sessions = driver.sessions();
    SessionTable.Response first = sessions.cached(key, command);
    if (first != null) {
      // Applied before under this key (thesis 6.3): the first answer, without touching the log.
      p.replyTo().tell(applied(first));
      return Behaviors.same();
    }
    if (sessions.keyCount() >= settings.maxIdempotencyKeys() || sessions.keyBytes() >= settings.maxIdempotencyKeyBytes()) {
      counters.proposalsOverloaded++;
      p.replyTo().tell(new Overloaded("the group keeps " + sessions.keyCount() + " idempotency keys (" + sessions.keyBytes()
          + " bytes), its limit (raft.sessions.max-idempotency-keys / max-idempotency-key-bytes); keys expire after "
          + settings.sessionTimeout().toMinutes() + " min"));
      return Behaviors.same();
    }
    // The leader stamps its clock; replicas expire keys on logged time only, as sessions.
    return propose(new EntryData.KeyedCommand(key, System.currentTimeMillis(), command), new LocalWaiter(p.replyTo()));
  }

  private Behavior<Command> changeMembers(List<MembershipChange> changes, Waiter waiter) {
    if (changes == null || changes.isEmpty() || changes.stream().anyMatch(java.util.Objects::isNull)) {
      answer(waiter, new ProposalOutcome.Rejected(0, ProposalOutcome.Rejection.INVALID_REQUEST, "no membership change asked"));
      return Behaviors.same();
    }
    // Peers reach each other at Akka addresses: one that is none would be committed to every member's log.
    for (MembershipChange c : changes) {
      io.raftactors.core.MemberAddress added = c instanceof MembershipChange.AddVoter a ? a.address()
          : c instanceof MembershipChange.AddLearner a ? a.address() : null;
      if (added == null) continue;
      try {
        NodeAddress.parse(added.peer());
      } catch (IllegalArgumentException e) {
        answer(waiter, new ProposalOutcome.Rejected(0, ProposalOutcome.Rejection.INVALID_REQUEST, e.getMessage()));
        return Behaviors.same();
      }
    }
    // New members are replicated to while they catch up, before the configuration records their addresses.
    Map<String, io.raftactors.core.MemberAddress> addresses = new HashMap<>(core.config().addresses());
    for (MembershipChange c : changes) {
      if (c instanceof MembershipChange.AddVoter a && a.address() != null) addresses.put(a.id(), a.address());
      if (c instanceof MembershipChange.AddLearner a && a.address() != null) addresses.put(a.id(), a.address());
    }
    transport.addressesChanged(addresses);
    long corr = nextCorrelation++;
    waiting.put(corr, new Pending(waiter, 0, 0));
    log.info("Raft node {} of group {}: membership change {} asked", settings.memberId(), settings.groupId(), changes);
    core.changeMembership(List.copyOf(changes), corr);
    scheduleFlush();
    return Behaviors.same();
  }

  private Behavior<Command> transfer(String target, Waiter waiter) {
    long corr = nextCorrelation++;
    waiting.put(corr, new Pending(waiter, 0, 0));
    log.info("Raft node {} of group {}: leadership transfer to {} asked", settings.memberId(), settings.groupId(),
        target == null ? "the most up-to-date voter" : target);
    core.transferLeadership(target, corr);
    scheduleFlush();
    return Behaviors.same();
  }

  private Behavior<Command> onClientAdmin(ClientAdmin a) {
    ClientAdminWaiter w = new ClientAdminWaiter(a.replyTo(), a.requestId());
    if (a.request() instanceof ChangeMembersRequest c) return changeMembers(c.changes(), w);
    if (a.request() instanceof TransferRequest t) return transfer(t.target(), w);
    if (a.request() instanceof MembersRequest) {
      a.replyTo().tell(new ClientMembers(a.requestId(), core.commitIndex(), core.config(), core.leaderId()));
      return Behaviors.same();
    }
    a.replyTo().tell(new ClientRejected(a.requestId(), "unknown request " + a.request()));
    return Behaviors.same();
  }

  /** Answers a waiter with how its request ended (for a transfer handed over: once the target leads). */
  private void answer(Waiter w, ProposalOutcome o) {
    if (o instanceof ProposalOutcome.Transferred t) {
      long wait = settings.tickInterval().toNanos() * settings.core().electionTimeoutMax() * 2;
      transferWait = new TransferWait(w, t.target(), System.nanoTime() + wait);
      return;
    }
    String leader = o instanceof ProposalOutcome.NotLeader nl ? nl.leaderHint() : null;
    String reason = o instanceof ProposalOutcome.Unknown u ? u.reason() : o instanceof ProposalOutcome.Rejected r ? r.reason() : null;
    ProposalOutcome.Rejection why = o instanceof ProposalOutcome.Rejected r ? r.rejection() : null;
    boolean notLeader = o instanceof ProposalOutcome.NotLeader;
    boolean unknown = o instanceof ProposalOutcome.Unknown;
    if (w instanceof ClientSide c) {
      long id = c.requestId();
      c.replyTo().tell(notLeader ? clientNotLeader(id, leader) : unknown ? new ClientOutcomeUnknown(id, reason)
          : new ClientRejected(id, reason, why));
      return;
    }
    // The same three answers serve local proposers and local admin requests (they implement both replies).
    var reply = notLeader ? new NotLeader(leader) : unknown ? new OutcomeUnknown(reason) : new Rejected(reason, why);
    if (w instanceof LocalWaiter l) l.replyTo().tell(reply);
    else if (w instanceof AdminWaiter a) a.replyTo().tell(reply);
  }

  /** A transfer handed over ends once its target is known to lead, or unknown after twice the election timeout. */
  private void checkTransferWait() {
    TransferWait t = transferWait;
    if (t == null) return;
    boolean led = t.target().equals(core.leaderId());
    if (!led && System.nanoTime() < t.deadlineNanos()) return;
    transferWait = null;
    if (led) {
      log.info("Raft node {} of group {}: leadership transferred to {} in term {}", settings.memberId(), settings.groupId(),
          t.target(), core.term());
      if (t.waiter() instanceof AdminWaiter a) a.replyTo().tell(new LeadershipTransferred(t.target(), core.term()));
      else if (t.waiter() instanceof ClientAdminWaiter c) {
        c.replyTo().tell(new ClientMembers(c.requestId(), core.commitIndex(), core.config(), t.target()));
      }
      return;
    }
    answer(t.waiter(), new ProposalOutcome.Unknown(0, "leadership was handed to " + t.target()
        + ", which was not seen leading within twice the election timeout; leader now: " + core.leaderId()));
  }

  /** Notices a new configuration: logs it, tells the transport its addresses, and warns when this node left it. */
  private void configurationSeen() {
    ClusterConfig c = core.config();
    if (c.equals(lastConfig)) return;
    ClusterConfig before = lastConfig;
    lastConfig = c;
    transport.addressesChanged(c.addresses());
    if (before == null) return;
    log.info("Raft node {} of group {}: configuration now {} (was {}) in term {}, last index {}, commit index {}",
        settings.memberId(), settings.groupId(), c, before, core.term(), core.lastIndex(), core.commitIndex());
    String me = settings.memberId();
    if (before.isMember(me) && !c.isMember(me)) {
      // An operator's decision, not a fault: INFO, like the configuration change itself.
      log.info("Raft node {} was removed from group {} in term {} (last index {}): it no longer votes, campaigns or serves; "
          + "its storage may be deleted once the removal is committed", me, settings.groupId(), core.term(), core.lastIndex());
    }
  }

  /**
   * Backpressure: null if one more proposal of {@code data} fits within {@code raft.flow-control},
   * else why not. Proposals past the bound are refused at once (certainly not applied) instead of
   * piling up in the leader's memory while the group cannot commit them fast enough.
   */
  private String overload(EntryData data) {
    if (waiting.size() < settings.maxPendingProposals() && waitingBytes + data.sizeInBytes() <= settings.maxPendingBytes()) {
      return null;
    }
    return "overloaded: " + waiting.size() + " proposals (" + waitingBytes + " bytes) wait to commit on leader "
        + settings.memberId() + " (raft.flow-control allows " + settings.maxPendingProposals() + " and "
        + settings.maxPendingBytes() + " bytes); not applied, retry later";
  }

  private Behavior<Command> onClientCommand(ClientCommand c) {
    if (c.command() == null || c.session() <= 0 || c.seq() <= 0 || c.lowestUnacked() < 0 || c.replyTo() == null) {
      log.warn("Raft node {} rejected a malformed client command: {}", settings.memberId(), c);
      counters.proposalsInvalid++;
      if (c.replyTo() != null) c.replyTo().tell(new ClientRejected(c.seq(), "malformed client command"));
      return Behaviors.same();
    }
    SessionTable.Response cached = driver.sessions().cached(c.session(), c.seq());
    if (cached != null) {
      // Already applied here (thesis 6.3): answer from the session without touching the log.
      c.replyTo().tell(new ClientResult(c.seq(), cached.index(), payloadOf(cached.result())));
      return Behaviors.same();
    }
    // The leader stamps its clock; replicas expire sessions on logged time only (T6.3-05).
    EntryData.SessionCommand logged = new EntryData.SessionCommand(c.session(), c.seq(), c.lowestUnacked(),
        System.currentTimeMillis(), entryOf(c.command()));
    return propose(logged, new ClientWaiter(c.replyTo(), c.seq()));
  }

  private Behavior<Command> onOpenSession(OpenClientSession o) {
    return propose(new EntryData.OpenSession(System.currentTimeMillis()), new ClientWaiter(o.replyTo(), o.requestId()));
  }

  private Behavior<Command> propose(EntryData data, Waiter waiter) {
    boolean command = !(data instanceof EntryData.OpenSession || data instanceof EntryData.KeepAlive);
    String overload = overload(data);
    if (overload != null) {
      if (command) counters.proposalsOverloaded++;
      if (waiter instanceof LocalWaiter l) l.replyTo().tell(new Overloaded(overload));
      else if (waiter instanceof ClientWaiter c) c.replyTo().tell(new ClientOverloaded(c.requestId(), overload));
      return Behaviors.same();
    }
    long corr = nextCorrelation++;
    long arrived = System.nanoTime();
    waiting.put(corr, new Pending(waiter, data.sizeInBytes(), arrived));
    waitingBytes += data.sizeInBytes();
    long index = core.propose(data, corr);
    if (index > 0) {
      metrics.proposed(index, arrived);
      if (command) counters.proposalsAccepted++;
    } else if (command) {
      counters.proposalsNotLeader++; // handing its leadership over, or removed: nothing appended
    }
    // Batching: proposals already in the mailbox join the same AppendEntries and the same write;
    // the Flush queued behind them hands the batch to the core's ready().
    scheduleFlush();
    return Behaviors.same();
  }

  private Behavior<Command> onClientQuery(ClientQuery q) {
    Object query;
    try {
      query = q.query().deserialize(serialization);
    } catch (Exception e) {
      q.replyTo().tell(new ClientRejected(q.requestId(), "query cannot be deserialized: " + e.getMessage()));
      return Behaviors.same();
    }
    return onQuery(new PendingQuery(query, q.consistency(), null, q.replyTo(), q.requestId()));
  }

  private Behavior<Command> onQuery(PendingQuery q) {
    ReadConsistency consistency = q.consistency();
    if (consistency == ReadConsistency.STALE) {
      answer(q);
      return Behaviors.same();
    }
    long corr = nextCorrelation++;
    queries.put(corr, q);
    if (consistency == ReadConsistency.LEASE) core.leaseRead(corr);
    else core.readIndex(corr);
    // Reads already in the mailbox share one heartbeat round (T6.4-07): the round starts at the
    // core's next ready(), which the Flush queued behind them triggers.
    scheduleFlush();
    return Behaviors.same();
  }

  private void scheduleFlush() {
    if (!flushScheduled) {
      flushScheduled = true;
      ctx.getSelf().tell(Flush.INSTANCE);
    }
  }

  /** Runs a query whose read index is applied; a failing query fails alone, never the node. */
  private void answer(PendingQuery q) {
    Object result;
    try {
      result = stateMachine.query(q.query());
    } catch (RuntimeException e) {
      String reason = "query failed: " + e;
      if (q.local() != null) q.local().tell(new Rejected(reason));
      else q.client().tell(new ClientRejected(q.requestId(), reason));
      return;
    }
    counters.readsServed[q.consistency().ordinal()]++;
    if (q.local() != null) {
      q.local().tell(new QueryResult(result));
    } else {
      q.client().tell(new ClientResult(q.requestId(), core.lastApplied(), serializeResult(result)));
    }
  }

  private Behavior<Command> onWriteCompleted(WriteCompleted w) {
    // A write of an earlier incarnation (pipeToSelf reaches the restarted actor): its sequence number
    // may be that of this incarnation's write in flight, which is not durable for it.
    if (w.driver() != driver) return Behaviors.same();
    if (w.failure() != null) return storageFailed(w.failure());
    metrics.writeDone(System.nanoTime());
    driver.writeDone(w.seq());
    return afterInput();
  }

  /**
   * T3.8-09: a storage write failed (a full disk, an I/O error). Nothing that depends on it may
   * leave: this incarnation ends (a leader steps down) and the node reads its state from storage
   * again after raft.restart-backoff. Whoever waits here for a proposal learns at once that its
   * outcome is unknown (its entry may reach a majority through the followers and be applied), and
   * reads waiting here are answered "not the leader"; nothing is answered "applied".
   */
  private Behavior<Command> storageFailed(Throwable failure) {
    Throwable cause = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
        ? failure.getCause() : failure;
    log.error("Raft node {} of group {}: a storage write failed ({}). As {} in term {} it stops taking part: {} waiting "
            + "request(s) are answered 'outcome unknown', and it reads its state from storage again after "
            + "raft.restart-backoff; until a write succeeds it acknowledges nothing", settings.memberId(),
        settings.groupId(), cause, core.role(), core.term(), waiting.size());
    String reason = "the storage of raft node " + settings.memberId() + " of group " + settings.groupId()
        + " failed a write (" + cause + "); the command may or may not be applied";
    for (Long corr : List.copyOf(waiting.keySet())) answer(takeWaiter(corr), new ProposalOutcome.Unknown(corr, reason));
    if (transferWait != null) {
      answer(transferWait.waiter(), new ProposalOutcome.Unknown(0, reason));
      transferWait = null;
    }
    for (PendingQuery q : queries.values()) tellNotLeader(q, null);
    queries.clear();
    throw new IllegalStateException("storage write failed on raft node " + settings.memberId() + " of group "
        + settings.groupId(), cause);
  }

  /**
   * Set when this incarnation stops or is restarted. A write of it that completes afterwards sends
   * nothing: the next incarnation may have read storage before that write landed (a storage need
   * not order a recovery after the writes in flight), and acknowledging entries it does not know of
   * would let it vote for a log without them.
   */
  private final java.util.concurrent.atomic.AtomicBoolean ended = new java.util.concurrent.atomic.AtomicBoolean();

  private Behavior<Command> incarnationEnded() {
    ended.set(true);
    return Behaviors.same();
  }

  /** Runs the core's output and switches behaviour if the role changed. */
  private Behavior<Command> afterInput() {
    driver.flush();
    metrics.committed(core.commitIndex());
    counters.observe(core);
    configurationSeen();
    if (transferWait != null) checkTransferWait();
    if (!leaderKnown && core.leaderId() != null) {
      leaderKnown = true;
      log.info("Raft node {} of group {} knows leader {} in term {}, {} ms after it recovered; commit index {}", settings.memberId(),
          settings.groupId(), core.leaderId(), core.term(), (System.nanoTime() - runningSinceNanos) / 1_000_000, core.commitIndex());
    }
    Role now = core.role();
    if (now == role || (now == Role.PRE_CANDIDATE && role == Role.FOLLOWER) || (now == Role.FOLLOWER && role == Role.PRE_CANDIDATE)) {
      role = now;
      return Behaviors.same();
    }
    Role before = role;
    role = now;
    if (before == Role.LEADER) metrics.notLeading();
    log.info("Raft node {} of group {} became {} in term {} (was {}); leader {}, last index {}, commit index {}",
        settings.memberId(), settings.groupId(), now, core.term(), before, core.leaderId(), core.lastIndex(), core.commitIndex());
    switch (now) {
      case LEADER:
        return leader();
      case CANDIDATE:
        return candidate();
      default:
        return follower();
    }
  }

  /**
   * A storage write's completion with a value that is not null. Akka 2.6's dead-letter logger
   * fails with a NullPointerException (an ERROR with a stack trace) on a {@code pipeToSelf} result
   * of null that reaches a stopped actor, as a write's {@code Void} does when a node stops while a
   * write is in flight.
   */
  private static CompletionStage<Boolean> written(CompletionStage<Void> write) {
    return Stages.direct(write).thenApply(v -> Boolean.TRUE);
  }

  // ------------------------------------------------------------------ carrying out the core's output

  /** What the driver asks of this actor. */
  private final class DriverHost implements RaftDriver.Host {
    @Override
    public void send(Outbound o) {
      if (o.message() instanceof RaftMessage.AppendEntries ae && !ae.entries().isEmpty()) {
        metrics.appendSent(o.to(), ae.entries().size(), ae.lastIndex(), System.nanoTime());
      }
      transport.send(o.to(), new PeerEnvelope(settings.groupId(), o.to(), o.message()));
    }

    @Override
    public void write(RaftDriver.Write w) {
      long seq = w.seq();
      long bytes = 0;
      for (LogEntry e : w.entries()) bytes += e.sizeInBytes();
      LogEntry last = w.lastEntry();
      metrics.writeStarted(w.entries().size(), bytes, last == null ? 0 : last.index(), System.nanoTime());
      CompletionStage<Void> durable = storage.write(new RaftStorage.Write(w.hardState(), w.snapshot(), w.truncateFrom(), w.entries()));
      List<Outbound> waiting = w.afterDurable();
      if (!waiting.isEmpty()) durable = Stages.direct(durable).thenApply(v -> sendDurable(waiting));
      RaftDriver d = driver;
      ctx.pipeToSelf(written(durable), (ok, failure) -> new WriteCompleted(seq, failure, d));
    }

    /**
     * Sends the messages that waited for a write, on the thread that learned it is durable (the
     * storage's, mostly), so an acknowledgement does not wait for this actor's next turn. The
     * transport is safe to call from any thread ({@link PeerTransport}). A message that cannot be
     * sent is lost, as the network may lose it: the write still counts.
     */
    private Void sendDurable(List<Outbound> waiting) {
      if (ended.get()) return null; // the incarnation is over: its acknowledgements go with it
      for (Outbound o : waiting) {
        try {
          RaftNode.this.send(o.to(), o.message());
        } catch (RuntimeException e) {
          // The class's logger: the actor's may be used on the actor's own thread only.
          LOG.warn("Raft node {} of group {} could not send {} to {} after a write: {}",
              settings.memberId(), settings.groupId(), o.message().getClass().getSimpleName(), o.to(), e.toString());
        }
      }
      return null;
    }

    @Override
    public void restore(Snapshot s) {
      stateMachine.restoreSnapshot(s.data()); // installed from the leader; the driver restored the sessions
      counters.snapshotsInstalled++;
      progress.index = s.index();
      appliedBefore = 0; // the state machine is the snapshot's now: what follows is applied
      log.info("Raft node {} of group {} installed a snapshot from leader {} up to index {} (of term {}) in term {}",
          settings.memberId(), settings.groupId(), core.leaderId(), s.meta().lastIncludedIndex(), s.meta().lastIncludedTerm(), core.term());
    }

    @Override
    public EntryData.Command apply(Committed c, SessionTable.Decision session) {
      return RaftNode.this.apply(c, session);
    }

    @Override
    public void read(ReadState rs) {
      PendingQuery q = queries.remove(rs.correlationId());
      if (q != null) answer(q); // T6.4-04: the core hands out a read once its index is applied
    }

    @Override
    public void outcome(ProposalOutcome o) {
      PendingQuery q = queries.remove(o.correlationId());
      if (q != null) {
        tellNotLeader(q, o instanceof ProposalOutcome.NotLeader nl ? nl.leaderHint() : null);
        return;
      }
      Waiter w = takeWaiter(o.correlationId());
      if (w != null) answer(w, o);
    }

    @Override
    public void violation(String v) {
      log.error("Raft invariant violation on node {}: {}", settings.memberId(), v);
    }

    /** T5.1-02: the state machine's snapshot (the driver adds the session table); synchronous, one at a time. */
    @Override
    public byte[] snapshot() {
      // Until this incarnation has caught up with what the state machine applied before a restart,
      // the state machine is ahead of the index the snapshot would be taken at.
      if (core.lastApplied() < appliedBefore) return null;
      byte[] data = stateMachine.takeSnapshot();
      if (data != null) {
        counters.snapshotsTaken++;
        log.info("Raft node {} of group {} took a snapshot up to index {} in term {} ({} bytes); the log before it is compacted",
            settings.memberId(), settings.groupId(), core.lastApplied(), core.term(), data.length);
      }
      return data;
    }
  }

  /**
   * Applies a committed entry and answers whoever waits for it here. Session entries come with the
   * session table's decision (thesis 6.3); the result of a command applied under one goes back to
   * the driver, serialized, for the table to answer repeats with.
   */
  private EntryData.Command apply(Committed c, SessionTable.Decision session) {
    Pending p = c.hasCaller() ? takePending(c.correlationId()) : null;
    EntryData.Command result = applyAndAnswer(c, session, p == null ? null : p.waiter());
    if (p != null && p.arrivedNanos() > 0) metrics.applied(p.arrivedNanos(), System.nanoTime());
    progress.index = Math.max(progress.index, c.entry().index());
    return result;
  }

  private EntryData.Command applyAndAnswer(Committed c, SessionTable.Decision session, Waiter waiter) {
    LogEntry e = c.entry();
    if (e.data() instanceof EntryData.Configuration cfg) {
      if (waiter instanceof AdminWaiter a) a.replyTo().tell(new MembersChanged(e.index(), cfg.config()));
      else if (waiter instanceof ClientAdminWaiter ca) {
        ca.replyTo().tell(new ClientMembers(ca.requestId(), e.index(), cfg.config(), core.leaderId()));
      }
      if (waiter != null) log.info("Raft node {} of group {}: configuration {} committed at index {} in term {}", settings.memberId(),
          settings.groupId(), cfg.config(), e.index(), core.term());
      return null;
    }
    if (session == null) {
      if (e.data() instanceof EntryData.Command cmd) applyCommand(e, cmd, waiter, false);
      return null;
    }
    if (session instanceof SessionTable.Apply a) return applyCommand(e, a.command(), waiter, true);
    if (session instanceof SessionTable.Opened o) {
      if (waiter instanceof ClientWaiter w) w.replyTo().tell(new ClientSessionOpened(w.requestId(), o.session()));
    } else if (session instanceof SessionTable.KeptAlive) {
      if (waiter instanceof ClientWaiter w) w.replyTo().tell(new ClientResult(w.requestId(), e.index(), null));
    } else if (session instanceof SessionTable.Duplicate dup) {
      // Applied before (thesis 6.3): the first answer, not a second execution.
      if (waiter instanceof ClientWaiter w) {
        w.replyTo().tell(new ClientResult(w.requestId(), dup.response().index(), payloadOf(dup.response().result())));
      } else if (waiter instanceof LocalWaiter l) {
        l.replyTo().tell(applied(dup.response()));
      }
    } else if (session instanceof SessionTable.Expired ex) {
      if (waiter instanceof ClientWaiter w) w.replyTo().tell(new ClientSessionExpired(w.requestId(), ex.reason()));
      else if (waiter instanceof LocalWaiter l) l.replyTo().tell(new Rejected(ex.reason()));
    } else if (session instanceof SessionTable.KeyReused && waiter instanceof LocalWaiter l) {
      l.replyTo().tell(new IdempotencyKeyReused(((EntryData.KeyedCommand) e.data()).key()));
    }
    return null;
  }

  /**
   * Applies a user command and answers its caller; returns the result serialized if {@code
   * keep} (for the session table), else null.
   */
  private EntryData.Command applyCommand(LogEntry e, EntryData.Command cmd, Waiter waiter, boolean keep) {
    long index = e.index();
    if (index <= appliedBefore) return keep ? resultBefore(e) : null; // applied before the restart; nobody waits for it here
    Object command = deserializeEntry(index, payloadOf(cmd));
    long started = System.nanoTime();
    Object result = stateMachine.apply(index, command);
    metrics.applyTook(System.nanoTime() - started);
    if (waiter instanceof LocalWaiter l) {
      l.replyTo().tell(new Applied(index, result));
      return keep ? entryOf(serializeResult(result)) : null;
    }
    Payload serialized = keep || waiter instanceof ClientWaiter ? serializeResult(result) : null;
    if (waiter instanceof ClientWaiter w) w.replyTo().tell(new ClientResult(w.requestId(), index, serialized));
    return keep ? entryOf(serialized) : null;
  }

  /**
   * The result recorded for session entry {@code e} by the incarnation that applied it before the
   * restart: the rebuilt session table must keep the same answers. An answer that table no longer
   * had was dropped by the time it reached the same index, so the rebuilt one drops it too.
   */
  private EntryData.Command resultBefore(LogEntry e) {
    if (sessionsBefore == null) return null;
    SessionTable.Response r = null;
    if (e.data() instanceof EntryData.SessionCommand c) r = sessionsBefore.cached(c.session(), c.seq());
    else if (e.data() instanceof EntryData.KeyedCommand k) r = sessionsBefore.cached(k.key(), k.command());
    return r != null && r.index() == e.index() ? r.result() : null;
  }

  private Waiter takeWaiter(long correlationId) {
    Pending p = takePending(correlationId);
    return p == null ? null : p.waiter();
  }

  private Pending takePending(long correlationId) {
    Pending p = waiting.remove(correlationId);
    if (p != null) waitingBytes -= p.bytes();
    return p;
  }

  /**
   * The first answer to a keyed command, from the session table, for a local proposer; a result that
   * no longer deserializes is answered as null, and logged.
   */
  private Applied applied(SessionTable.Response first) {
    if (first.result() == null) return new Applied(first.index(), null);
    try {
      return new Applied(first.index(), payloadOf(first.result()).deserialize(serialization));
    } catch (Exception ex) {
      log.error("Raft node {}: the cached result of entry {} cannot be deserialized ({}); answering null",
          settings.memberId(), first.index(), ex.toString());
      return new Applied(first.index(), null);
    }
  }

  private Object deserializeEntry(long index, Payload p) {
    try {
      return p.deserialize(serialization);
    } catch (Exception ex) {
      // Every replica would fail the same way; halting is better than silently skipping an entry.
      throw new IllegalStateException("cannot deserialize the command of entry " + index
          + " (serializer " + p.serializerId() + ", manifest '" + p.manifest() + "')", ex);
    }
  }

  /**
   * A result as it is sent to clients and kept in sessions. A result that cannot be serialized is
   * replaced by null, the same way on every replica, and logged: the command was applied all the same.
   */
  private Payload serializeResult(Object result) {
    if (result == null) return null;
    try {
      return Payload.of(serialization, result);
    } catch (Exception ex) {
      log.error("Raft node {}: the state machine result {} cannot be serialized ({}); the client gets null",
          settings.memberId(), result.getClass().getName(), ex.toString());
      return null;
    }
  }

  private EntryData.Command serialize(Object command) {
    return entryOf(payload(command));
  }

  private Payload payload(Object command) {
    if (command == null) throw new IllegalArgumentException("command is null");
    return Payload.of(serialization, command);
  }

  /** A payload as a log entry's command (null for null). */
  private static EntryData.Command entryOf(Payload p) {
    return p == null ? null : new EntryData.Command(p.serializerId(), p.manifest(), p.bytes());
  }

  /** A result kept by the session table as a payload for a client (null for null). */
  private static Payload payloadOf(EntryData.Command c) {
    return c == null ? null : new Payload(c.serializerId(), c.manifest(), c.bytes());
  }

  // ------------------------------------------------------------------ input validation

  /** Drops, with a warning, anything that is not a well-formed message of this group for this node. */
  private boolean accept(PeerEnvelope env) {
    String problem = PeerMessageValidator.problem(env, settings);
    if (problem != null) {
      log.warn("Raft node {} dropped a peer message: {} ({})", settings.memberId(), problem, env);
      return false;
    }
    return true;
  }
}
