package io.raftactors.sim;

import io.raftactors.core.Bootstrap;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.Committed;
import io.raftactors.core.DurableState;
import io.raftactors.core.EntryData;
import io.raftactors.core.HardState;
import io.raftactors.core.LogEntry;
import io.raftactors.core.MembershipChange;
import io.raftactors.core.NodeSnapshot;
import io.raftactors.core.Outbound;
import io.raftactors.core.ProposalOutcome;
import io.raftactors.core.RaftConfig;
import io.raftactors.core.RaftCore;
import io.raftactors.core.RaftDriver;
import io.raftactors.core.RaftMessage;
import io.raftactors.core.RandomSource;
import io.raftactors.core.ReadState;
import io.raftactors.core.Ready;
import io.raftactors.core.Role;
import io.raftactors.core.SessionTable;
import io.raftactors.core.Snapshot;
import io.raftactors.core.SnapshotMeta;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * A deterministic, single-threaded simulation of a group of {@link RaftCore}s with a faulty
 * network, asynchronous storage and crash-restart, checking the Figure 3 safety properties after
 * every event.
 *
 * <h2>Model</h2>
 *
 * <ul>
 *   <li><b>Time</b> is logical. {@link #runTicks(int)} advances the global tick; on each global tick
 *       the events due by then are processed in (tick, sequence number) order, then every live node
 *       is ticked according to its tick rate ({@link #setTickRate}: 0.5 means every other global
 *       tick, 2.0 twice per global tick) unless it is paused ({@link #pause}, a GC stall: events for
 *       it wait until it resumes).
 *   <li><b>Randomness</b>: one {@link SplittableRandom} seeded with the simulation seed makes every
 *       scheduling decision (delays, loss, duplication); each node's election jitter comes from
 *       {@link RandomSource#seeded(long, String)}. The same seed gives the same run, event for event
 *       ({@link #traceHash()}).
 *   <li><b>Network</b>: each message a node emits is an {@link Envelope} with a unique id. Under the
 *       current {@link #network()} conditions it is dropped, or scheduled for delivery after a random
 *       delay (which reorders messages), possibly several times (duplication). A message crossing a
 *       blocked directed link ({@link #partition}, {@link #cut}, {@link #isolate}) is lost, whether
 *       the link is blocked when it is sent or when it arrives. Messages to a crashed node are lost;
 *       messages a node sent before crashing still arrive after it restarts.
 *   <li><b>Storage</b>: a {@link Ready} with a write (hard state, snapshot, truncation, entries)
 *       becomes a pending write that completes, in order, after a random storage delay; completion
 *       updates the node's durable state (a snapshot replaces every entry up to its index), calls
 *       {@link RaftCore#persisted} (for the snapshot, then the last entry) and releases the Ready's
 *       {@code messagesAfterPersist} (and those of Readies without a write that came after an
 *       earlier, still pending write). {@link #crash} discards pending writes whole and the messages
 *       waiting for them; {@link #restart} rebuilds the node from its durable state only (hard
 *       state, snapshot with its data, entries), with a fresh state machine loaded from the durable
 *       snapshot, if any.
 *   <li><b>State machines</b>: each node records every {@link Committed} it applies. A
 *       {@link #propose} gets a unique correlation id; a proposal applied with its id is
 *       <em>acknowledged</em> and must never be lost.
 *   <li><b>Snapshots</b> (off by default; {@link Builder#snapshotEvery}): once a node's state
 *       machine has applied that many entries past its last snapshot, the node takes a snapshot
 *       (the running log hash at every index it applied, about 8 bytes an entry, with a checksum)
 *       and calls {@link RaftCore#compact}. A leader then brings a follower whose next entries it
 *       compacted up to date with InstallSnapshot, in chunks of {@link RaftConfig#snapshotChunkBytes()};
 *       the follower loads {@link Ready#restore()} into its state machine, which is checked against
 *       the committed log entry by entry.
 *   <li><b>Reads</b>: {@link #read} and {@link #leaseRead} ask a node for a linearizable read (thesis
 *       6.4). The read records the highest index any node had marked committed when it was issued;
 *       when the node hands out its {@link ReadState}, that index must be at least the recorded one
 *       (every write completed before the read is visible) and the node's state machine must have
 *       applied it. A read may instead fail as not-leader, or never be answered.
 * </ul>
 *
 * <h2>Invariants (checked after every event)</h2>
 *
 * Election Safety, Leader Append-Only, Log Matching (running hash per index, compared for every
 * (index, term) any log ever held), Leader Completeness (every leader holds every entry committed in
 * an earlier or equal term), State Machine Safety (same entry applied at an index everywhere; each
 * node applies lastApplied+1, +2, ... never past commitIndex; a committed entry may be applied before
 * the node's own copy is durable, as it is durable on a majority), monotonic
 * term, commitIndex and lastApplied per node (reset only by a restart), durable term monotonic,
 * every message stamped with its sender's current term (PreVote and a granted PreVoteResponse carry
 * the proposed term), no message sent before its term (or, for a vote, the vote) is durable, no
 * stale or unapplied read served (see Reads above), no entry at or below a node's commitIndex or
 * marked committed anywhere ever removed, every newly committed index durable on a majority,
 * every rejection's conflict hint what the sender's log says, one probe (not a window) after a
 * rejection, every installed snapshot intact and made of committed entries, empty {@link
 * Ready#violations()}, and any invariant added with {@link #addInvariant}. The first violation
 * throws a {@link SimulationFailure} naming the {@link Invariant}, the seed, step, cluster size,
 * feature flags and the replay command.
 *
 * <p>A run also has a budget of messages and events per node per global tick ({@link
 * Builder#budget}, by default some twenty times what the randomized runs use): a livelock or a
 * message storm fails fast as a {@link Invariant#BUDGET} violation with its seed and replay command.
 *
 * <h2>Fault injection (negative tests)</h2>
 *
 * A check that never fires in a correct run could be deleted without any randomized run noticing.
 * Three small hooks let a test show that each check can fail, without touching the core: {@link
 * #inject} delivers a forged message, {@link #rewriteReady} changes what a node's core hands out
 * the way a broken core would, and {@link #replaceCore} puts a correct core into a bad state.
 * {@code InvariantCheckersTest} has one broken history per {@link Invariant}.
 *
 * <h2>Scripting</h2>
 *
 * <pre>{@code
 * Simulation sim = Simulation.builder().nodes(3).seed(7).build();     // n1..n3, bootstrapped
 * sim.runUntil(() -> sim.leader() != null, 200);                      // elect
 * String l = sim.leader().id();
 * sim.isolate(l);                                                     // partition(Set.of(l))
 * Simulation.Proposal p = sim.propose(l, Simulation.command("x"));    // appended, cannot commit
 * sim.runTicks(100);
 * sim.heal();
 * }</pre>
 *
 * For step-by-step scripts (paper Figures 7 and 8) start nodes from arbitrary states with
 * {@link Builder#node(String, DurableState)} and hold every message ({@link Builder#holdAllMessages})
 * and write ({@link Builder#holdAllWrites}): then {@link #tick(String, int)} ticks one node,
 * {@link #held()} lists the messages waiting, {@link #deliver(long)}, {@link #drop(long)} and
 * {@link #duplicate(long)} act on one message by id, and {@link #completeWrites(String)} makes a
 * node's pending writes durable. Individual messages can also be held selectively
 * ({@link #holdWhere}).
 */
public final class Simulation {

  // =================================================================== public types

  /** A message in the simulated network. {@code senderIncarnation} counts the sender's restarts. */
  public record Envelope(long id, String from, String to, RaftMessage message, int senderIncarnation, long sentAt) {
    @Override
    public String toString() {
      return "#" + id + " " + from + "->" + to + " " + summarize(message);
    }
  }

  /** A client proposal and what became of it. */
  public static final class Proposal {
    public enum Status { PENDING, NOT_LEADER, UNKNOWN, APPLIED }

    public final long correlationId;
    public final String node;
    public final EntryData data;
    /** The index the leader appended it at, or -1 if it was not appended. */
    public final long index;
    public final long term;
    private Status status = Status.PENDING;
    private long appliedIndex = -1;

    Proposal(long correlationId, String node, EntryData data, long index, long term) {
      this.correlationId = correlationId;
      this.node = node;
      this.data = data;
      this.index = index;
      this.term = term;
    }

    public Status status() {
      return status;
    }

    /** The index at which the proposal was acknowledged (applied with its correlation id), or -1. */
    public long appliedIndex() {
      return appliedIndex;
    }

    public boolean acknowledged() {
      return status == Status.APPLIED;
    }

    @Override
    public String toString() {
      return "Proposal{" + correlationId + " on " + node + " index=" + index + " " + status + "}";
    }
  }

  /** A client read (thesis 6.4) and what became of it. */
  public static final class Read {
    public enum Status { PENDING, SERVED, NOT_LEADER }

    public final long correlationId;
    public final String node;
    /** A lease read (thesis 6.4.1) rather than a ReadIndex read. */
    public final boolean lease;
    /** The highest index any node had marked committed when the read was issued. */
    public final long mustSee;
    public final long issuedAt;
    final int incarnation;
    private Status status = Status.PENDING;
    private long readIndex = -1;

    Read(long correlationId, String node, boolean lease, long mustSee, long issuedAt, int incarnation) {
      this.correlationId = correlationId;
      this.node = node;
      this.lease = lease;
      this.mustSee = mustSee;
      this.issuedAt = issuedAt;
      this.incarnation = incarnation;
    }

    public Status status() {
      return status;
    }

    /** The index the read was served at, or -1. */
    public long readIndex() {
      return readIndex;
    }

    public boolean done() {
      return status != Status.PENDING;
    }

    @Override
    public String toString() {
      return (lease ? "LeaseRead{" : "Read{") + correlationId + " on " + node + " at t" + issuedAt + " mustSee="
          + mustSee + " " + status + (readIndex >= 0 ? " index=" + readIndex : "") + "}";
    }
  }

  /** A membership change or a leadership transfer asked of a node (thesis 4, 3.10), and what became of it. */
  public static final class Admin {
    /**
     * DONE: the change's final configuration was applied (a transfer: the leader stepped down for
     * its target). REJECTED and NOT_LEADER: nothing was appended. UNKNOWN: it may still take effect.
     */
    public enum Status { PENDING, DONE, REJECTED, NOT_LEADER, UNKNOWN }

    public final long correlationId;
    public final String node;
    /** The changes asked for; empty for a transfer. */
    public final List<MembershipChange> changes;
    /** A leadership transfer (to {@link #target}, or to the most up-to-date voter if null). */
    public final boolean transfer;
    public final String target;
    private Status status = Status.PENDING;
    private String detail = "";

    Admin(long correlationId, String node, List<MembershipChange> changes, boolean transfer, String target) {
      this.correlationId = correlationId;
      this.node = node;
      this.changes = List.copyOf(changes);
      this.transfer = transfer;
      this.target = target;
    }

    public Status status() {
      return status;
    }

    /** Why it was rejected, or the configuration it ended with. */
    public String detail() {
      return detail;
    }

    @Override
    public String toString() {
      return (transfer ? "Transfer{to " + target : "Change{" + changes) + " c" + correlationId + " on " + node + " "
          + status + (detail.isEmpty() ? "" : " " + detail) + "}";
    }
  }

  /** Network conditions, changeable at any time (later sends use the new values). */
  public static final class Network {
    private double dropRate;
    private double duplicateRate;
    private int minDelay = 1;
    private int maxDelay = 1;
    private double longDelayRate;
    private int longDelayMax = 1;

    public Network dropRate(double p) {
      dropRate = p;
      return this;
    }

    /** Probability that a message is delivered 2-3 times (each copy with its own delay). */
    public Network duplicateRate(double p) {
      duplicateRate = p;
      return this;
    }

    /** Delivery delay in ticks, drawn uniformly from [min, max] per message (reorders when max > min). */
    public Network delay(int min, int max) {
      if (min < 1 || max < min) throw new IllegalArgumentException("delay " + min + ".." + max);
      minDelay = min;
      maxDelay = max;
      return this;
    }

    /** With probability {@code p} a message is delayed by up to {@code max} ticks instead. */
    public Network longDelays(double p, int max) {
      longDelayRate = p;
      longDelayMax = Math.max(1, max);
      return this;
    }

    /** No loss, no duplication, delays of 1..maxDelay ticks. */
    public Network reliable(int maxDelay) {
      dropRate = 0;
      duplicateRate = 0;
      longDelayRate = 0;
      return delay(1, maxDelay);
    }

    @Override
    public String toString() {
      return "drop=" + dropRate + " dup=" + duplicateRate + " delay=" + minDelay + ".." + maxDelay
          + (longDelayRate > 0 ? " long=" + longDelayRate + "@" + longDelayMax : "");
    }
  }

  /** Counters of what a run exercised (SIM-08). */
  public static final class Counters {
    public long events;
    public long preVoteRounds;
    public long elections;
    public long leadersElected;
    public long leaderStepDowns;
    public long truncations;
    public long proposals;
    public long proposalsRejected;
    public long proposalsUnknown;
    public long clientOpsCompleted;
    public long reads;
    public long leaseReads;
    public long readsServed;
    public long readsFailed;
    public long messagesSent;
    public long messagesDelivered;
    public long messagesDropped;
    public long messagesDuplicated;
    public long messagesFromEarlierIncarnation;
    public long writes;
    public long writesDiscardedByCrash;
    public long messagesDiscardedByCrash;
    public long crashes;
    public long crashesWithWritesInFlight;
    public long leaderCrashes;
    public long restarts;
    public long partitions;
    public long pauses;
    public long entriesApplied;
    /** Session entries applied through a node's session table (each replica counts). */
    public long sessionDecisions;
    /** Log compactions (the simulation's nodes take snapshots with {@link Builder#snapshotEvery}). */
    public long snapshots;
    /** InstallSnapshot chunks sent. */
    public long snapshotChunks;
    /** Snapshots installed from a leader and loaded into a state machine. */
    public long snapshotsInstalled;
    /** Membership changes asked, completed, and refused with nothing appended. */
    public long membershipChanges;
    public long membershipChangesDone;
    public long membershipChangesRejected;
    /** Configuration entries appended by leaders that were joint (thesis 4.3). */
    public long jointConfigurations;
    /** Leadership transfers asked, and those whose leader stepped down for the target. */
    public long transfers;
    public long transfersDone;
    /** Storage lost (wiped) on a node (T3.8-11). */
    public long storageLosses;
    /** Partitions that began while a configuration entry was not committed yet (NET-11). */
    public long partitionsDuringConfigurationChange;
    /** Partitions that began while an InstallSnapshot chunk was on its way (NET-11). */
    public long partitionsDuringSnapshotTransfer;

    public void add(Counters o) {
      events += o.events;
      preVoteRounds += o.preVoteRounds;
      elections += o.elections;
      leadersElected += o.leadersElected;
      leaderStepDowns += o.leaderStepDowns;
      truncations += o.truncations;
      proposals += o.proposals;
      proposalsRejected += o.proposalsRejected;
      proposalsUnknown += o.proposalsUnknown;
      clientOpsCompleted += o.clientOpsCompleted;
      reads += o.reads;
      leaseReads += o.leaseReads;
      readsServed += o.readsServed;
      readsFailed += o.readsFailed;
      messagesSent += o.messagesSent;
      messagesDelivered += o.messagesDelivered;
      messagesDropped += o.messagesDropped;
      messagesDuplicated += o.messagesDuplicated;
      messagesFromEarlierIncarnation += o.messagesFromEarlierIncarnation;
      writes += o.writes;
      writesDiscardedByCrash += o.writesDiscardedByCrash;
      messagesDiscardedByCrash += o.messagesDiscardedByCrash;
      crashes += o.crashes;
      crashesWithWritesInFlight += o.crashesWithWritesInFlight;
      leaderCrashes += o.leaderCrashes;
      restarts += o.restarts;
      partitions += o.partitions;
      pauses += o.pauses;
      entriesApplied += o.entriesApplied;
      sessionDecisions += o.sessionDecisions;
      snapshots += o.snapshots;
      snapshotChunks += o.snapshotChunks;
      snapshotsInstalled += o.snapshotsInstalled;
      membershipChanges += o.membershipChanges;
      membershipChangesDone += o.membershipChangesDone;
      membershipChangesRejected += o.membershipChangesRejected;
      jointConfigurations += o.jointConfigurations;
      transfers += o.transfers;
      transfersDone += o.transfersDone;
      storageLosses += o.storageLosses;
      partitionsDuringConfigurationChange += o.partitionsDuringConfigurationChange;
      partitionsDuringSnapshotTransfer += o.partitionsDuringSnapshotTransfer;
    }

    /** Every counter by name, in a fixed order. */
    public Map<String, Long> asMap() {
      Map<String, Long> m = new LinkedHashMap<>();
      m.put("events", events);
      m.put("preVoteRounds", preVoteRounds);
      m.put("elections", elections);
      m.put("leadersElected", leadersElected);
      m.put("leaderStepDowns", leaderStepDowns);
      m.put("truncations", truncations);
      m.put("proposals", proposals);
      m.put("proposalsRejected", proposalsRejected);
      m.put("proposalsUnknown", proposalsUnknown);
      m.put("clientOpsCompleted", clientOpsCompleted);
      m.put("reads", reads);
      m.put("leaseReads", leaseReads);
      m.put("readsServed", readsServed);
      m.put("readsFailed", readsFailed);
      m.put("messagesSent", messagesSent);
      m.put("messagesDelivered", messagesDelivered);
      m.put("messagesDropped", messagesDropped);
      m.put("messagesDuplicated", messagesDuplicated);
      m.put("messagesFromEarlierIncarnation", messagesFromEarlierIncarnation);
      m.put("writes", writes);
      m.put("writesDiscardedByCrash", writesDiscardedByCrash);
      m.put("messagesDiscardedByCrash", messagesDiscardedByCrash);
      m.put("crashes", crashes);
      m.put("crashesWithWritesInFlight", crashesWithWritesInFlight);
      m.put("leaderCrashes", leaderCrashes);
      m.put("restarts", restarts);
      m.put("partitions", partitions);
      m.put("pauses", pauses);
      m.put("entriesApplied", entriesApplied);
      m.put("sessionDecisions", sessionDecisions);
      m.put("snapshots", snapshots);
      m.put("snapshotChunks", snapshotChunks);
      m.put("snapshotsInstalled", snapshotsInstalled);
      m.put("membershipChanges", membershipChanges);
      m.put("membershipChangesDone", membershipChangesDone);
      m.put("membershipChangesRejected", membershipChangesRejected);
      m.put("jointConfigurations", jointConfigurations);
      m.put("transfers", transfers);
      m.put("transfersDone", transfersDone);
      m.put("storageLosses", storageLosses);
      m.put("partitionsDuringConfigurationChange", partitionsDuringConfigurationChange);
      m.put("partitionsDuringSnapshotTransfer", partitionsDuringSnapshotTransfer);
      return m;
    }

    @Override
    public String toString() {
      return asMap().toString();
    }
  }

  /**
   * Every property the simulation checks. A {@link SimulationFailure} names the one that failed, and
   * its {@code violation} text starts with the property's {@link #label()}. Each has a test that
   * makes the simulation observe a history breaking it ({@code InvariantCheckersTest}).
   */
  public enum Invariant {
    /** At most one leader per term, ever (paper Figure 3). */
    ELECTION_SAFETY("Election Safety"),
    /** A leader never removes or replaces entries of its own log. */
    LEADER_APPEND_ONLY("Leader Append-Only"),
    /** An (index, term) pair determines the entry and the whole prefix before it, in every log. */
    LOG_MATCHING("Log Matching"),
    /** A leader holds every entry committed in its term or before. */
    LEADER_COMPLETENESS("Leader Completeness"),
    /** No two nodes apply different entries at the same index. */
    STATE_MACHINE_SAFETY("State Machine Safety"),
    /** A node that marks an index committed holds the entry any node marked committed there before. */
    COMMIT_AGREEMENT("Commit Agreement"),
    /** Every acknowledged write is applied, at its index, on every node once the group converged. */
    ACKNOWLEDGED_WRITES("Acknowledged writes"),
    /** After healing, every node is up with the same log, commit index and applied state. */
    CONVERGENCE("Convergence"),
    /** A node's term never decreases (a restart starts a new observation). */
    MONOTONIC_TERM("Monotonic term"),
    /** A node's commitIndex never decreases (a restart starts a new observation). */
    MONOTONIC_COMMIT_INDEX("Monotonic commitIndex"),
    /** A node's lastApplied never decreases (a restart starts a new observation). */
    MONOTONIC_LAST_APPLIED("Monotonic lastApplied"),
    /** The term in durable storage never decreases. */
    MONOTONIC_DURABLE_TERM("Monotonic durable term"),
    /** Nothing leaves before the term (and, for a granted vote, the vote) it carries is durable (T3.8-01). */
    DURABLE_BEFORE_SEND("Durable before send"),
    /** Every message carries its sender's id and current term (P5.1-07; PreVote traffic the proposed term). */
    MESSAGE_TERM("Message term"),
    /** A served read reflects every index committed anywhere when it was issued (T6.4-05). */
    STALE_READ("Stale read"),
    /** A read is served only once the node's state machine has applied its read index (T6.4-04). */
    UNAPPLIED_READ("Unapplied read"),
    /** A read is answered once, by the node asked, and fails only as not-leader. */
    READ_ANSWERS("Read answers"),
    /** Entries are applied in index order, once, never past commitIndex; lastApplied is what was applied. */
    APPLY_ORDER("Apply order"),
    /**
     * A client is answered only for its own proposal, with its own command; an appended one is never
     * refused, nor left unknown by a leader that told a member to campaign while holding it (T3.10-02).
     */
    CLIENT_ANSWERS("Client answers"),
    /**
     * Thesis 6.3: every replica's session table decides the same about each session entry (opened,
     * applied, duplicate of the same index, expired for the same reason), and a duplicate is answered
     * with the result recorded when its command was applied.
     */
    SESSION_DECISIONS("Session decisions"),
    /** The core reports every change of its log in a Ready, in order, and its storage writes fit the log. */
    READY_CONSISTENCY("Ready consistency"),
    /**
     * No node removes an entry at or below its commitIndex, or an entry marked committed anywhere in
     * its current term or before (P5.3-08; InstallSnapshot keeps the entries after a matching
     * snapshot point, T5.1-09).
     */
    COMMITTED_KEPT("Committed entries kept"),
    /** When an index is first marked committed, a majority of the voters hold it in durable storage. */
    COMMIT_QUORUM("Commit quorum"),
    /** A rejected AppendEntries carries the hint its sender's log gives (P5.3-10, RaftMessage.AppendEntriesResponse). */
    CONFLICT_HINT("Conflict hint"),
    /**
     * An installed snapshot is the one taken (its chunks put together in order, T5.1-07/08) and
     * covers committed entries only.
     */
    SNAPSHOT_INTEGRITY("Snapshot integrity"),
    /**
     * A leader that handles a rejection from a follower sends it at most one AppendEntries with
     * entries in that step: it falls back to probing, one request at a time, instead of pipelining
     * (thesis 10.2.2; RaftCore's Progress).
     */
    PROBE_AFTER_REJECTION("Probe after rejection"),
    /**
     * A node uses the latest configuration in its log, committed or not, or the one its snapshot
     * records if its log holds none (thesis 4.1: in force when appended, reverted when truncated);
     * a snapshot records the configuration in force at its last index.
     */
    CONFIGURATION("Configuration in use"),
    /**
     * No log holds more than one configuration entry past the highest committed index (T4.1-04:
     * one change at a time; a leader appends a configuration only once the previous one commits).
     */
    ONE_CHANGE_AT_A_TIME("One change at a time"),
    /** The core itself reported a violation ({@link Ready#violations()}). */
    CORE_REPORTED("Core-reported violation"),
    /** An invariant added by a test with {@link Simulation#addInvariant}. */
    ADDED("Added invariant"),
    /**
     * The run stays within its message and event budget ({@link Builder#budget}): a livelock or a
     * message storm fails fast, with its seed, instead of running for minutes.
     */
    BUDGET("Budget");

    private final String label;

    Invariant(String label) {
      this.label = label;
    }

    /** The name every violation of this property starts with. */
    public String label() {
      return label;
    }
  }

  /** The first invariant violation of a run, with everything needed to replay it. */
  public static final class SimulationFailure extends AssertionError {
    public final long seed;
    public final long step;
    /** The property that failed. */
    public final Invariant invariant;
    /** What failed: the invariant's label, then the details. */
    public final String violation;

    SimulationFailure(String message, long seed, long step, Invariant invariant, String violation) {
      super(message);
      this.seed = seed;
      this.step = step;
      this.invariant = invariant;
      this.violation = violation;
    }
  }

  // =================================================================== builder

  public static Builder builder() {
    return new Builder();
  }

  public static final class Builder {
    private long seed = 1;
    private RaftConfig raftConfig = RaftConfig.defaults();
    private final LinkedHashMap<String, DurableState> initial = new LinkedHashMap<>();
    private final Network network = new Network();
    private int storageMin = 1;
    private int storageMax = 1;
    private boolean holdAllMessages;
    private boolean holdAllWrites;
    private boolean recordTrace;
    private String replayCommand;
    private String label = "";
    private java.util.function.BiFunction<String, Integer, RandomSource> randomSources;
    private double messagesPerNodePerTick = DEFAULT_MESSAGES_PER_NODE_PER_TICK;
    private double eventsPerNodePerTick = DEFAULT_EVENTS_PER_NODE_PER_TICK;
    private long budgetAllowance = DEFAULT_BUDGET_ALLOWANCE;
    private int snapshotEvery;
    private long sessionTimeout = DEFAULT_SESSION_TIMEOUT;
    private ClusterConfig founders;
    private Bootstrap.Mode bootstrapMode = Bootstrap.Mode.CHECKED;

    /** Founders n1..nN of a new group, each starting from {@link DurableState#bootstrap}. */
    public Builder nodes(int n) {
      List<String> ids = new ArrayList<>();
      for (int i = 1; i <= n; i++) ids.add("n" + i);
      founders = new ClusterConfig(ids);
      DurableState st = DurableState.bootstrap(founders);
      for (String id : ids) initial.put(id, st);
      return this;
    }

    /**
     * How a founder ({@link #nodes}) whose storage is empty starts ({@link Simulation#wipe}):
     * {@link Bootstrap.Mode#CHECKED} (the default, as {@code raft.bootstrap = checked}) or {@link
     * Bootstrap.Mode#UNCHECKED}. Spare nodes always join.
     */
    public Builder bootstrapMode(Bootstrap.Mode mode) {
      this.bootstrapMode = java.util.Objects.requireNonNull(mode);
      return this;
    }

    /**
     * {@code k} more nodes after the founders ({@link #nodes}): n(N+1)..n(N+k), with empty storage
     * that knows the founding configuration without being in it. They take part once a membership
     * change adds them (thesis 4.2.1), as a member started with {@code raft.bootstrap = join} does.
     */
    public Builder spares(int k) {
      ClusterConfig founders = null;
      for (DurableState st : initial.values()) founders = st.snapshot().config();
      if (founders == null) throw new IllegalStateException("spares come after the founders (nodes(n))");
      int first = initial.size() + 1;
      for (int i = 0; i < k; i++) initial.put("n" + (first + i), DurableState.empty(founders));
      return this;
    }

    /** A node starting from an arbitrary durable state (hard state, snapshot meta, log). */
    public Builder node(String id, DurableState state) {
      initial.put(id, state);
      return this;
    }

    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    public Builder raftConfig(RaftConfig cfg) {
      this.raftConfig = cfg;
      return this;
    }

    /** Initial network conditions (changeable later through {@link Simulation#network()}). */
    public Builder network(Consumer<Network> setup) {
      setup.accept(network);
      return this;
    }

    /** Storage write latency in ticks, drawn per write from [min, max]; writes complete in order. */
    public Builder storageDelay(int min, int max) {
      if (min < 1 || max < min) throw new IllegalArgumentException("storage delay " + min + ".." + max);
      storageMin = min;
      storageMax = max;
      return this;
    }

    /** Every message is held until the script delivers, drops or releases it. */
    public Builder holdAllMessages() {
      holdAllMessages = true;
      return this;
    }

    /** Writes complete only when the script calls {@link Simulation#completeWrites}. */
    public Builder holdAllWrites() {
      holdAllWrites = true;
      return this;
    }

    /** Keeps a readable line per event ({@link Simulation#trace()}); slower, for replays and debugging. */
    public Builder recordTrace(boolean on) {
      recordTrace = on;
      return this;
    }

    /** The command that replays this run, printed with any failure. */
    public Builder replayCommand(String cmd) {
      replayCommand = cmd;
      return this;
    }

    /**
     * Where each node's election jitter comes from, by node id and incarnation (0 at start, +1 per
     * restart); by default {@link RandomSource#seeded} from the simulation seed. Lets scripts inject
     * exact timeouts (paper 5.2: split votes resolved by fresh random draws).
     */
    public Builder randomSources(java.util.function.BiFunction<String, Integer, RandomSource> factory) {
      this.randomSources = factory;
      return this;
    }

    /**
     * The run's budget: by global tick t it may have sent at most {@code allowance +
     * messagesPerNodePerTick * nodes * t} messages and processed at most {@code 2 * allowance +
     * eventsPerNodePerTick * nodes * t} events; beyond that it fails with {@link Invariant#BUDGET}.
     * The allowance covers scripts that do not advance time. Defaults: {@value
     * #DEFAULT_MESSAGES_PER_NODE_PER_TICK} messages and {@value #DEFAULT_EVENTS_PER_NODE_PER_TICK}
     * events per node per tick, allowance {@value #DEFAULT_BUDGET_ALLOWANCE}: some twenty times what
     * the randomized runs use at most, so only a livelock or a message storm reaches it.
     */
    public Builder budget(double messagesPerNodePerTick, double eventsPerNodePerTick, long allowance) {
      if (messagesPerNodePerTick <= 0 || eventsPerNodePerTick <= 0 || allowance < 0) {
        throw new IllegalArgumentException("budget " + messagesPerNodePerTick + "/" + eventsPerNodePerTick + "/" + allowance);
      }
      this.messagesPerNodePerTick = messagesPerNodePerTick;
      this.eventsPerNodePerTick = eventsPerNodePerTick;
      this.budgetAllowance = allowance;
      return this;
    }

    /**
     * Log compaction (paper 7): a node takes a snapshot of its state machine ({@link
     * RaftCore#compact}) once it has applied {@code entries} entries past its last snapshot; 0 (the
     * default) never. A follower whose next entries are compacted on the leader then catches up with
     * InstallSnapshot (chunked by {@link RaftConfig#snapshotChunkBytes()}), restores its state
     * machine from the snapshot, and recovers from it after a restart.
     */
    /**
     * The idle time after which a client session expires, in the logged time of session entries
     * (the workloads stamp ticks); default {@value #DEFAULT_SESSION_TIMEOUT}.
     */
    public Builder sessionTimeout(long loggedTime) {
      if (loggedTime <= 0) throw new IllegalArgumentException("sessionTimeout " + loggedTime);
      this.sessionTimeout = loggedTime;
      return this;
    }

    public Builder snapshotEvery(int entries) {
      if (entries < 0) throw new IllegalArgumentException("snapshotEvery " + entries);
      this.snapshotEvery = entries;
      return this;
    }

    /** A short description of the fault schedule, printed with any failure. */
    public Builder label(String label) {
      this.label = label;
      return this;
    }

    public Simulation build() {
      if (initial.isEmpty()) throw new IllegalStateException("no nodes");
      return new Simulation(this);
    }
  }

  /** Default budget: messages per node per global tick (the randomized runs use under 3). */
  public static final double DEFAULT_MESSAGES_PER_NODE_PER_TICK = 50;
  /** Default budget: events per node per global tick (the randomized runs use under 5). */
  public static final double DEFAULT_EVENTS_PER_NODE_PER_TICK = 100;
  /** Default budget: messages allowed on top of the per-tick budget (twice as many events). */
  public static final long DEFAULT_BUDGET_ALLOWANCE = 100_000;

  // =================================================================== internals

  private static final int DELIVER = 1;
  private static final int WRITE_DONE = 2;

  private record Event(long tick, long seq, int kind, Envelope env, SimNode node, int incarnation, PendingWrite write) {}

  /** One pending storage write and the messages that wait for it. */
  private static final class PendingWrite {
    /** What the node's driver writes (everything batched while the previous write was in flight). */
    final RaftDriver.Write write;
    /** The running log hash at the snapshot's index. */
    final long snapshotHash;
    long completeAt = -1; // -1: held (not scheduled)

    PendingWrite(RaftDriver.Write write, long snapshotHash) {
      this.write = write;
      this.snapshotHash = snapshotHash;
    }
  }

  private final class SimNode {
    final String id;
    final int index;
    RaftCore core;
    boolean up = true;
    int incarnation;
    // durable storage: hard state, snapshot (with the running log hash at its index), entries after it
    HardState durableHard;
    SnapshotMeta durableSnap;
    byte[] durableSnapData;
    long durableSnapHash;
    final ArrayList<LogEntry> durableLog = new ArrayList<>();
    /** Carries out the core's output as the actor shell does: one write in flight, the rest batched. */
    RaftDriver driver;
    /** The driver's write in flight, or null. */
    PendingWrite writing;
    // mirror of the in-memory log (from Ready): the entries after memBase (the core's snapshot index),
    // with a running hash per index
    long memBase;
    long memBaseTerm;
    long memBaseHash;
    final ArrayList<LogEntry> mirror = new ArrayList<>();
    long[] hash = new long[64];
    // the configuration entries of the mirror by index, and the configuration its snapshot records
    final TreeMap<Long, ClusterConfig> configs = new TreeMap<>();
    ClusterConfig baseConfig;
    // recording state machine: applied.get(k) is the entry at appliedBase + k + 1, appliedHash[k] the
    // running log hash there (its snapshot is that list of hashes)
    final ArrayList<LogEntry> applied = new ArrayList<>();
    long[] appliedHash = new long[64];
    long appliedBase;
    long appliedBaseHash;
    int machineEpoch;
    // tick rate and pauses
    double rate = 1.0;
    double rateCredit;
    long pausedUntil = -1;
    // last observed values (monotonicity checks)
    long seenTerm;
    long seenCommit;
    long seenApplied;
    Role seenRole = Role.FOLLOWER;
    /** Ticks this incarnation's core has had. */
    long ticks;
    /** While its storage is empty and it waits for the founders, or refuses for good: no core runs. */
    Bootstrap boot;
    long bootTicks;
    /**
     * What its storage held when it was lost: the copies it acknowledged before then still counted for
     * commits decided on those acknowledgements (the leader could not know); see {@link #wipe}.
     */
    List<LogEntry> lostLog = List.of();
    long lostBase;
    /** Its configuration when the invariants were last checked (before the current event). */
    ClusterConfig seenConfig;
    long seenLeaderTerm = -1;
    /** The term in which it last told a member to campaign (TimeoutNow), and its last index then. */
    long timeoutNowTerm = -1;
    long timeoutNowLast;

    SimNode(String id, int index, DurableState st) {
      this.id = id;
      this.index = index;
      this.durableHard = st.hardState();
      this.durableSnap = st.snapshot();
      this.durableSnapData = st.snapshotData();
      MachineSnapshot ms = MachineSnapshot.decode(st.snapshotData());
      this.durableSnapHash = ms != null && ms.lastIndex() == durableBase() ? ms.lastHash() : startHash(durableBase());
      this.durableLog.addAll(st.entries());
    }

    long durableBase() {
      return durableSnap.lastIncludedIndex();
    }

    long mirrorLast() {
      return memBase + mirror.size();
    }

    long mirrorHash(long idx) {
      return idx == memBase ? memBaseHash : hash[(int) (idx - memBase - 1)];
    }

    long appliedLast() {
      return appliedBase + applied.size();
    }

    /** The configuration its log puts in force: the latest entry, else its snapshot's. */
    ClusterConfig logConfig() {
      return configs.isEmpty() ? baseConfig : configs.lastEntry().getValue();
    }

    /** The configuration in force at {@code index} by its log (for a snapshot taken there). */
    ClusterConfig logConfigAt(long index) {
      Map.Entry<Long, ClusterConfig> e = configs.floorEntry(index);
      return e == null ? baseConfig : e.getValue();
    }

    boolean paused() {
      return pausedUntil > now;
    }
  }

  private static final long SNAPSHOT_HASH = 0x51D5EEDL;

  /** The running hash at the start of a log that begins after {@code index} (its prefix unknown, or empty). */
  private static long startHash(long index) {
    return SNAPSHOT_HASH ^ index;
  }

  /**
   * A simulated state machine's snapshot: the running log hash at its base and at every index it
   * applied after, and a checksum over all of it. The hashes identify the entries (a running hash
   * covers the whole prefix), so a restore checks them against the committed log and takes the
   * entries from the record of what was applied. About 8 bytes per applied entry, so that a
   * snapshot of a long run needs many InstallSnapshot chunks.
   */
  static final class MachineSnapshot {
    private static final int MAGIC = 0x53494D53;
    final long base;
    /** hashes[0] is the running hash at base, hashes[k] at base + k. */
    final long[] hashes;

    private MachineSnapshot(long base, long[] hashes) {
      this.base = base;
      this.hashes = hashes;
    }

    long lastIndex() {
      return base + hashes.length - 1;
    }

    long lastHash() {
      return hashes[hashes.length - 1];
    }

    long hashAt(long index) {
      return hashes[(int) (index - base)];
    }

    static byte[] encode(long base, long baseHash, long[] appliedHash, int count) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 + 8 + 4 + 8 * (count + 1) + 8);
      b.putInt(MAGIC).putLong(base).putInt(count).putLong(baseHash);
      for (int k = 0; k < count; k++) b.putLong(appliedHash[k]);
      b.putLong(checksum(b.array(), b.position()));
      return b.array();
    }

    /** The snapshot in {@code data}, or null if it is not one (corrupt, truncated, or another format). */
    static MachineSnapshot decode(byte[] data) {
      // A snapshot the driver took holds the session table first (NodeSnapshot); the machine's part follows.
      if (data != null && NodeSnapshot.isNodeSnapshot(data)) data = NodeSnapshot.unwrap(data).stateMachine();
      if (data == null || data.length < 32) return null;
      java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(data);
      if (b.getInt() != MAGIC) return null;
      long base = b.getLong();
      int count = b.getInt();
      if (count < 0 || data.length != 16L + 8L * (count + 1) + 8) return null;
      long[] h = new long[count + 1];
      for (int k = 0; k <= count; k++) h[k] = b.getLong();
      if (b.getLong() != checksum(data, data.length - 8)) return null;
      return new MachineSnapshot(base, h);
    }

    private static long checksum(byte[] data, int length) {
      long h = 0xcbf29ce484222325L;
      for (int i = 0; i < length; i++) h = (h ^ (data[i] & 0xff)) * 0x100000001B3L;
      return mix(h);
    }
  }

  private final long seed;
  private final RaftConfig cfg;
  private final SplittableRandom rnd;
  private final Network network;
  private final int storageMin;
  private final int storageMax;
  private final boolean holdAllWrites;
  private final boolean recordTrace;
  private final String replayCommand;
  private final String label;
  private final java.util.function.BiFunction<String, Integer, RandomSource> randomSources;
  private final double messagesPerNodePerTick;
  private final double eventsPerNodePerTick;
  private final long budgetAllowance;
  private final int snapshotEvery;
  private final long sessionTimeout;
  /** Default idle time of a client session, in logged time. */
  public static final long DEFAULT_SESSION_TIMEOUT = 600;
  /** The first session decision made about each index, by any replica (SESSION_DECISIONS). */
  private final Map<Long, SessionTable.Decision> sessionDecisions = new HashMap<>();
  /** The founders of a group built with {@link Builder#nodes}, or null. */
  private final ClusterConfig founders;
  private final Bootstrap.Mode bootstrapMode;
  private final LinkedHashMap<String, SimNode> nodes = new LinkedHashMap<>();
  private final PriorityQueue<Event> queue = new PriorityQueue<>(
      (a, b) -> a.tick != b.tick ? Long.compare(a.tick, b.tick) : Long.compare(a.seq, b.seq));
  private final TreeMap<Long, Envelope> held = new TreeMap<>();
  private final Map<Long, Event> scheduled = new HashMap<>(); // envelope id -> its delivery event
  private Predicate<Envelope> holdFilter;
  private java.util.function.BiFunction<String, Ready, Ready> readyRewriter;
  /** The follower whose rejection the leader is handling in the current step, if any. */
  private String rejectionFrom;
  private final Set<String> blocked = new HashSet<>(); // "from>to"
  private final Counters counters = new Counters();
  private final List<Named> extraInvariants = new ArrayList<>();
  private final List<Consumer<Envelope>> sendListeners = new ArrayList<>();
  private final List<Runnable> eventListeners = new ArrayList<>();
  private final List<Runnable> tickListeners = new ArrayList<>();
  private final Map<Long, Proposal> proposals = new LinkedHashMap<>();
  private final List<Proposal> acknowledged = new ArrayList<>();
  private final Map<Long, Read> reads = new LinkedHashMap<>();
  private final Map<Long, Admin> admins = new LinkedHashMap<>();
  private final ArrayDeque<String> recent = new ArrayDeque<>();
  private final List<String> trace = new ArrayList<>();

  // global records for the invariants
  private final TreeMap<Long, String> leaders = new TreeMap<>(); // term -> leader id
  private final Map<Long, Map<Long, Long>> hashByIndexTerm = new HashMap<>(); // index -> term -> running hash
  private long[] committedHash = new long[64]; // index -> running hash of the committed entry
  private long[] committedTerm = new long[64]; // index -> lowest node term at which it was seen committed
  private long committedMax;
  private final ArrayList<LogEntry> appliedGlobal = new ArrayList<>(); // index-1 -> entry applied there

  private long now;
  private long seq;
  private long step;
  private long nextEnvelopeId = 1;
  private long nextCorrelation = 1;
  private long traceHash = 0xcbf29ce484222325L;
  private String currentEvent = "start";

  private Simulation(Builder b) {
    this.seed = b.seed;
    this.cfg = b.raftConfig;
    this.rnd = new SplittableRandom(b.seed);
    this.network = b.network;
    this.storageMin = b.storageMin;
    this.storageMax = b.storageMax;
    this.holdAllWrites = b.holdAllWrites;
    this.recordTrace = b.recordTrace;
    this.replayCommand = b.replayCommand;
    this.label = b.label;
    this.randomSources = b.randomSources;
    this.messagesPerNodePerTick = b.messagesPerNodePerTick;
    this.eventsPerNodePerTick = b.eventsPerNodePerTick;
    this.budgetAllowance = b.budgetAllowance;
    this.snapshotEvery = b.snapshotEvery;
    this.sessionTimeout = b.sessionTimeout;
    this.founders = b.founders;
    this.bootstrapMode = b.bootstrapMode;
    if (b.holdAllMessages) this.holdFilter = e -> true;
    int i = 0;
    for (Map.Entry<String, DurableState> e : b.initial.entrySet()) {
      SimNode n = new SimNode(e.getKey(), i++, e.getValue());
      nodes.put(n.id, n);
    }
    for (SimNode n : nodes.values()) start(n);
    check();
  }

  // =================================================================== scripting API

  /** Advances global time by {@code ticks}, processing every event that falls due. */
  public void runTicks(int ticks) {
    for (int i = 0; i < ticks; i++) advance();
  }

  /** Runs until {@code cond} holds (checked after each global tick); returns the ticks taken, or -1 at the limit. */
  public int runUntil(BooleanSupplier cond, int maxTicks) {
    if (cond.getAsBoolean()) return 0;
    for (int i = 1; i <= maxTicks; i++) {
      advance();
      if (cond.getAsBoolean()) return i;
    }
    return -1;
  }

  /** Ticks only {@code node}, {@code n} times, without advancing global time. */
  public void tick(String node, int n) {
    SimNode s = live(node);
    for (int i = 0; i < n; i++) tickNode(s);
  }

  /** Delivers one message now, whether it is held or scheduled (a blocked link or a down node still loses it). */
  public void deliver(long messageId) {
    Envelope env = held.remove(messageId);
    if (env == null) {
      Event ev = scheduled.remove(messageId);
      if (ev == null) throw new IllegalArgumentException("no message #" + messageId + " in flight");
      queue.remove(ev);
      env = ev.env;
    }
    processDelivery(env);
  }

  /** Drops one held or scheduled message. */
  public void drop(long messageId) {
    Envelope env = held.remove(messageId);
    if (env == null) {
      Event ev = scheduled.remove(messageId);
      if (ev == null) throw new IllegalArgumentException("no message #" + messageId + " in flight");
      queue.remove(ev);
    }
    counters.messagesDropped++;
    event("drop #" + messageId, 3, -1, messageId);
    check();
  }

  /** Copies a held or scheduled message; the copy is held. Returns the copy's id. */
  public long duplicate(long messageId) {
    Envelope env = held.get(messageId);
    if (env == null) {
      Event ev = scheduled.get(messageId);
      if (ev == null) throw new IllegalArgumentException("no message #" + messageId + " in flight");
      env = ev.env;
    }
    Envelope copy = new Envelope(nextEnvelopeId++, env.from, env.to, env.message, env.senderIncarnation, env.sentAt);
    held.put(copy.id, copy);
    counters.messagesDuplicated++;
    return copy.id;
  }

  /** Takes a scheduled message out of the schedule; it waits until delivered, dropped or released. */
  public void hold(long messageId) {
    Event ev = scheduled.remove(messageId);
    if (ev == null) throw new IllegalArgumentException("message #" + messageId + " is not scheduled");
    queue.remove(ev);
    held.put(messageId, ev.env);
  }

  /** Schedules a held message for delivery under the current network delay. */
  public void release(long messageId) {
    Envelope env = held.remove(messageId);
    if (env == null) throw new IllegalArgumentException("message #" + messageId + " is not held");
    scheduleDelivery(env, drawDelay());
  }

  /** Holds every message sent from now on that matches (null: hold nothing more). */
  public void holdWhere(Predicate<Envelope> filter) {
    this.holdFilter = filter;
  }

  /** The held messages, oldest first. */
  public List<Envelope> held() {
    return new ArrayList<>(held.values());
  }

  /** Held messages matching {@code p}, oldest first. */
  public List<Envelope> held(Predicate<Envelope> p) {
    List<Envelope> out = new ArrayList<>();
    for (Envelope e : held.values()) if (p.test(e)) out.add(e);
    return out;
  }

  /** Delivers every held message, oldest first, including those their delivery causes to be held. */
  public void deliverAllHeld() {
    while (!held.isEmpty()) deliver(held.firstKey());
  }

  /** Blocks every link between different groups (both directions); nodes in no group are unaffected. */
  @SafeVarargs
  public final void partition(Collection<String>... groups) {
    for (int a = 0; a < groups.length; a++) {
      for (int b = 0; b < groups.length; b++) {
        if (a == b) continue;
        for (String x : groups[a]) for (String y : groups[b]) blocked.add(x + ">" + y);
      }
    }
    countPartition();
    event("partition " + Arrays.toString(groups), 4, -1, blocked.size());
  }

  /** Cuts {@code node} off from every other node, both directions. */
  public void isolate(String node) {
    for (String o : nodes.keySet()) {
      if (!o.equals(node)) {
        blocked.add(node + ">" + o);
        blocked.add(o + ">" + node);
      }
    }
    countPartition();
    event("isolate " + node, 4, idx(node), blocked.size());
  }

  /** Blocks the directed link {@code from -> to} only (a one-way cut). */
  public void cut(String from, String to) {
    blocked.add(from + ">" + to);
    countPartition();
    event("cut " + from + ">" + to, 4, idx(from), idx(to));
  }

  /** Reopens the directed link {@code from -> to}. */
  public void reconnect(String from, String to) {
    blocked.remove(from + ">" + to);
    event("reconnect " + from + ">" + to, 5, idx(from), idx(to));
  }

  /** NET-11: a partition that hits while a configuration entry, or a snapshot, is on its way. */
  private void countPartition() {
    counters.partitions++;
    for (SimNode n : nodes.values()) {
      if (n.up && !n.configs.isEmpty() && n.configs.lastKey() > committedMax) {
        counters.partitionsDuringConfigurationChange++;
        break;
      }
    }
    for (Event e : scheduled.values()) {
      if (e.env.message() instanceof RaftMessage.InstallSnapshot) {
        counters.partitionsDuringSnapshotTransfer++;
        break;
      }
    }
  }

  /** Reopens every link. */
  public void heal() {
    blocked.clear();
    event("heal", 5, -1, 0);
  }

  public boolean linkOpen(String from, String to) {
    return !blocked.contains(from + ">" + to);
  }

  /** Stops a node: pending writes and the messages waiting for them are lost; completed writes survive. */
  public void crash(String node) {
    SimNode n = live(node);
    counters.crashes++;
    if (n.core.role() == Role.LEADER) counters.leaderCrashes++;
    if (n.driver.pendingWrites() > 0) counters.crashesWithWritesInFlight++;
    counters.writesDiscardedByCrash += n.driver.pendingWrites();
    counters.messagesDiscardedByCrash += n.driver.messagesWaitingForWrites();
    n.writing = null;
    n.driver = null;
    n.up = false;
    n.core = null;
    n.incarnation++;
    n.pausedUntil = -1;
    event("crash " + node, 6, n.index, n.incarnation);
    check();
  }

  /**
   * The node's storage is lost (a replaced disk, a wiped directory): it crashes if it is up, and its
   * term, vote, snapshot and log are gone. Restarted, it starts as a node with empty storage does
   * ({@link Builder#bootstrapMode}).
   */
  public void wipe(String node) {
    SimNode n = nodes.get(node);
    if (n == null || founders == null) throw new IllegalArgumentException("unknown node or no founders: " + node);
    if (n.up) crash(node);
    n.lostLog = new ArrayList<>(n.durableLog);
    n.lostBase = n.durableBase();
    adoptDurable(n, new DurableState(HardState.INITIAL, SnapshotMeta.initial(founders), List.of()));
    counters.storageLosses++;
    event("wipe " + node, 21, n.index, n.incarnation);
    check();
  }

  /** Restarts a crashed node from its durable state only (hard state and log), with an empty state machine. */
  public void restart(String node) {
    SimNode n = nodes.get(node);
    if (n == null) throw new IllegalArgumentException("unknown node " + node);
    if (n.up) throw new IllegalStateException(node + " is up");
    counters.restarts++;
    start(n);
    event("restart " + node, 7, n.index, n.incarnation);
    check();
  }

  /** Stops ticking {@code node} and processing its events for {@code ticks} global ticks (a GC stall). */
  public void pause(String node, int ticks) {
    SimNode n = live(node);
    n.pausedUntil = now + ticks;
    counters.pauses++;
    event("pause " + node + " " + ticks, 8, n.index, ticks);
  }

  /** Ticks per global tick for {@code node}: 0.5 ticks it every other global tick, 2.0 twice. */
  public void setTickRate(String node, double rate) {
    nodes.get(node).rate = rate;
  }

  /** Proposes {@code data} on {@code node} as a client would, with a fresh correlation id. */
  public Proposal propose(String node, EntryData data) {
    SimNode n = live(node);
    long corr = nextCorrelation++;
    counters.proposals++;
    beginEvent("propose " + node + " c" + corr, 9, n.index, corr);
    long index = n.core.propose(data, corr);
    Proposal p = new Proposal(corr, node, data, index, n.core.term());
    proposals.put(corr, p);
    afterInput(n);
    return p;
  }

  /** Proposes a fresh, unique command on {@code node}. */
  public Proposal propose(String node) {
    return propose(node, command("c" + nextCorrelation));
  }

  /**
   * A client asks {@code node} for a linearizable read through ReadIndex (thesis 6.4), with a fresh
   * correlation id. The read must reflect every index committed anywhere at this moment.
   */
  public Read read(String node) {
    return issueRead(node, false);
  }

  /** As {@link #read}, but a lease read (thesis 6.4.1): served at once while the leader's lease holds. */
  public Read leaseRead(String node) {
    return issueRead(node, true);
  }

  private Read issueRead(String node, boolean lease) {
    SimNode n = live(node);
    long corr = nextCorrelation++;
    counters.reads++;
    if (lease) counters.leaseReads++;
    beginEvent((lease ? "lease read " : "read ") + node + " c" + corr, 14, n.index, corr);
    Read rd = new Read(corr, node, lease, committedMax, now, n.incarnation);
    reads.put(corr, rd);
    if (lease) n.core.leaseRead(corr);
    else n.core.readIndex(corr);
    afterInput(n);
    return rd;
  }

  /** Asks {@code node} to change the group's members (thesis chapter 4), as an operator would. */
  public Admin changeMembership(String node, List<MembershipChange> changes) {
    SimNode n = live(node);
    long corr = nextCorrelation++;
    counters.membershipChanges++;
    beginEvent("change members " + node + " " + changes + " c" + corr, 17, n.index, corr);
    Admin a = new Admin(corr, node, changes, false, null);
    admins.put(corr, a);
    n.core.changeMembership(changes, corr);
    afterInput(n);
    return a;
  }

  /** Asks {@code node} to hand its leadership to {@code target} (null: the most up-to-date voter), thesis 3.10. */
  public Admin transferLeadership(String node, String target) {
    SimNode n = live(node);
    long corr = nextCorrelation++;
    counters.transfers++;
    beginEvent("transfer leadership " + node + " to " + target + " c" + corr, 18, n.index, corr);
    Admin a = new Admin(corr, node, List.of(), true, target);
    admins.put(corr, a);
    n.core.transferLeadership(target, corr);
    afterInput(n);
    return a;
  }

  /** Every membership change and transfer asked, in order. */
  public List<Admin> admins() {
    return new ArrayList<>(admins.values());
  }

  /** Completes every pending write of {@code node} now, in order (for scripts using held writes). */
  public void completeWrites(String node) {
    SimNode n = live(node);
    while (n.writing != null) completeWrite(n, n.writing);
  }

  /** Completes the oldest pending write of {@code node} now. */
  public void completeNextWrite(String node) {
    SimNode n = live(node);
    if (n.writing == null) throw new IllegalStateException(node + " has no pending write");
    completeWrite(n, n.writing);
  }

  /** Adds an invariant checked after every event; {@code holds} returns null if fine, else a description. */
  public void addInvariant(String name, java.util.function.Function<Simulation, String> check) {
    extraInvariants.add(new Named(name, check));
  }

  /** Called with every message a node emits (before the network decides its fate). */
  public void onSend(Consumer<Envelope> listener) {
    sendListeners.add(listener);
  }

  /** Called after every event, once the invariants hold. */
  public void afterEvent(Runnable listener) {
    eventListeners.add(listener);
  }

  /**
   * Called at the start of every global tick, outside any event: a workload driven by another
   * loop (such as {@link Chaos#run}) issues its client requests here.
   */
  public void beforeTick(Runnable listener) {
    tickListeners.add(listener);
  }

  // =================================================================== fault injection (negative tests)

  /**
   * Test hook: every Ready a node hands out passes through {@code rewriter} (node id, Ready) before
   * the simulation carries it out, so a test can make the simulation observe what a broken core
   * would do: flip a message's term, send early what should wait for a write, drop a truncation,
   * apply an entry early. Null removes the hook. Used only to show that each invariant check can
   * fail ({@code InvariantCheckersTest}).
   */
  public void rewriteReady(java.util.function.BiFunction<String, Ready, Ready> rewriter) {
    this.readyRewriter = rewriter;
  }

  /**
   * Test hook: delivers {@code forged} to {@code to} now, as if it had come over the network from
   * {@code forged.from()} (a forged vote, a second leader's AppendEntries, a stale read answer). No
   * node sent it, so nothing is checked on a sender's side; the receiver and everything after are
   * checked as usual. A blocked link or a down receiver loses it.
   */
  public void inject(String to, RaftMessage forged) {
    if (!nodes.containsKey(to)) throw new IllegalArgumentException("unknown node " + to);
    processDelivery(new Envelope(nextEnvelopeId++, forged.from(), to, forged, -1, now));
  }

  /**
   * The driver of node {@code n}. Every other node keeps the last {@code snapshotEvery} entries a
   * snapshot covers in memory (as a node with raft.snapshot.catch-up-entries does), so that leaders
   * both send kept entries below their snapshot and send snapshots. The others send the messages
   * a write carries themselves, the moment it completes ({@link RaftDriver#sendAfterDurable}).
   */
  private RaftDriver newDriver(SimNode n) {
    RaftDriver d = new RaftDriver(n.core, new SimHost(n), snapshotEvery, 0, sessionTimeout);
    if (n.index % 2 == 0) d.keepAfterSnapshot(snapshotEvery, Long.MAX_VALUE);
    else d.sendAfterDurable(true); // as the actor does: what waited for a write leaves when the write completes
    return d;
  }

  /**
   * Test hook: replaces the running core of {@code node} by one built from {@code state}, without a
   * crash or restart: what the simulation observed of the node (term, commitIndex, lastApplied, its
   * log and state machine) is kept, as if the running core had jumped to that state by itself. Puts
   * a correct core into a state that breaks an invariant.
   */
  public void replaceCore(String node, DurableState state) {
    SimNode n = live(node);
    beginEvent("replace core of " + node, 15, n.index, 0);
    n.core = new RaftCore(n.id, cfg, RandomSource.seeded(seed, n.id + "/replaced"), state);
    n.driver = newDriver(n);
    n.writing = null; // the old core's write in flight is forgotten
    n.ticks = 0;
    afterInput(n);
  }

  // =================================================================== observers

  public Network network() {
    return network;
  }

  /** The one seeded source of every scheduling decision; fault schedules draw from it too. */
  public SplittableRandom random() {
    return rnd;
  }

  public long seed() {
    return seed;
  }

  public long now() {
    return now;
  }

  /** Events processed so far. */
  public long step() {
    return step;
  }

  public Counters counters() {
    return counters;
  }

  public RaftConfig raftConfig() {
    return cfg;
  }

  public List<String> ids() {
    return new ArrayList<>(nodes.keySet());
  }

  /** The node's core, or null while it is down. */
  public RaftCore core(String node) {
    return nodes.get(node).core;
  }

  /** The session table of a node's driver (read it; a test may corrupt it on purpose). */
  public SessionTable sessions(String node) {
    return nodes.get(node).driver.sessions();
  }

  /** The idle time after which a client session expires, in logged time. */
  public long sessionTimeout() {
    return sessionTimeout;
  }

  /**
   * What the session tables decided about the session entry at {@code index} (all replicas decide
   * alike, or SESSION_DECISIONS is violated), or null if none applied one there yet.
   */
  public SessionTable.Decision sessionDecision(long index) {
    return sessionDecisions.get(index);
  }

  /**
   * The result a node's state machine hands its session table for a command it applied at {@code
   * index}: the index itself, so that a duplicate's cached result shows where it came from.
   */
  static EntryData.Command resultOf(long index) {
    return new EntryData.Command(0, "result", java.nio.ByteBuffer.allocate(8).putLong(index).array());
  }

  /** SESSION_DECISIONS: the same decision as every other replica; a duplicate carries its first result. */
  private void decided(SimNode n, long index, SessionTable.Decision d) {
    counters.sessionDecisions++;
    if (d instanceof SessionTable.Duplicate dup && !resultOf(dup.response().index()).equals(dup.response().result())) {
      violation(Invariant.SESSION_DECISIONS, n.id + " answered the duplicate at " + index + " with "
          + dup.response().result() + ", not the result recorded at " + dup.response().index());
    }
    SessionTable.Decision first = sessionDecisions.putIfAbsent(index, d);
    if (first != null && !sameDecision(first, d)) {
      violation(Invariant.SESSION_DECISIONS, n.id + " decided " + d + " about the session entry at " + index
          + ", another replica " + first);
    }
  }

  private static boolean sameDecision(SessionTable.Decision a, SessionTable.Decision b) {
    if (a instanceof SessionTable.Duplicate x && b instanceof SessionTable.Duplicate y) {
      return x.response().index() == y.response().index();
    }
    return a.equals(b);
  }

  public boolean isUp(String node) {
    return nodes.get(node).up;
  }

  public boolean isPaused(String node) {
    return nodes.get(node).paused();
  }

  /** Restarts of {@code node} so far. */
  public int incarnation(String node) {
    return nodes.get(node).incarnation;
  }

  /** The live leader of the highest term, or null. */
  public RaftCore leader() {
    RaftCore best = null;
    for (SimNode n : nodes.values()) {
      if (n.up && n.core.role() == Role.LEADER && (best == null || n.core.term() > best.term())) best = n.core;
    }
    return best;
  }

  /** Live nodes that consider themselves leader. */
  public List<RaftCore> leaders() {
    List<RaftCore> out = new ArrayList<>();
    for (SimNode n : nodes.values()) if (n.up && n.core.role() == Role.LEADER) out.add(n.core);
    return out;
  }

  /**
   * The members of the group as the live leader of the highest term sees them (its configuration's
   * voters, outgoing voters and learners that are nodes of this simulation); every node if there is
   * no leader. Nodes never added, or removed, are not members.
   */
  public List<String> members() {
    RaftCore l = leader();
    if (l == null) return ids();
    List<String> m = new ArrayList<>();
    for (String id : l.config().members()) if (nodes.containsKey(id)) m.add(id);
    return m;
  }

  /**
   * The configuration in force at the highest index ever marked committed ({@link #committedMax}),
   * read from a live node whose log holds that entry (or a later snapshot), or null if none does.
   * Commit indexes are volatile and restarts forget them; this record is not.
   */
  public ClusterConfig committedConfig() {
    for (SimNode n : nodes.values()) {
      if (n.up && holdsCommitted(n, committedMax)) return n.logConfigAt(Math.max(committedMax, n.memBase));
    }
    return null;
  }

  /** The index of the configuration entry in force on {@code node} (its snapshot index if its log holds none). */
  public long configIndex(String node) {
    SimNode n = live(node);
    return n.configs.isEmpty() ? n.memBase : n.configs.lastKey();
  }

  /** The leader recorded for every term that had one (Election Safety record). */
  public Map<Long, String> leaderHistory() {
    return new TreeMap<>(leaders);
  }

  /**
   * Entries the node's current state machine applied, in order: after a restore from a snapshot,
   * the entries the snapshot holds, then those applied since (so the list ends at the core's
   * lastApplied).
   */
  public List<LogEntry> applied(String node) {
    return new ArrayList<>(nodes.get(node).applied);
  }

  /**
   * Counts the times the node's state machine was replaced (a restart, or a snapshot installed from
   * the leader): a driver that mirrors the state machine rebuilds it from {@link #applied} then.
   */
  public int stateMachineEpoch(String node) {
    return nodes.get(node).machineEpoch;
  }

  /** What the node would recover from right now. */
  public DurableState durableState(String node) {
    SimNode n = nodes.get(node);
    return new DurableState(n.durableHard, n.durableSnap, n.durableLog, n.durableSnapData);
  }

  public int pendingWrites(String node) {
    SimNode n = nodes.get(node);
    return n.up ? n.driver.pendingWrites() : 0;
  }

  /** Scheduled plus held messages. */
  public int messagesInFlight() {
    return scheduled.size() + held.size();
  }

  /** Scheduled or held messages from {@code from} to {@code to}. */
  public int messagesInFlight(String from, String to) {
    int c = 0;
    for (Event e : scheduled.values()) if (e.env.from.equals(from) && e.env.to.equals(to)) c++;
    for (Envelope e : held.values()) if (e.from.equals(from) && e.to.equals(to)) c++;
    return c;
  }

  public List<Proposal> proposals() {
    return new ArrayList<>(proposals.values());
  }

  /** Every read issued, in issue order. */
  public List<Read> reads() {
    return new ArrayList<>(reads.values());
  }

  /** Proposals acknowledged to their client, in acknowledgement order. */
  public List<Proposal> acknowledged() {
    return new ArrayList<>(acknowledged);
  }

  /** Messages sent so far per node per global tick elapsed (compare {@link Builder#budget}). */
  public double messagesPerNodePerTick() {
    return counters.messagesSent / (double) (nodes.size() * Math.max(1, now));
  }

  /** Events processed so far per node per global tick elapsed (compare {@link Builder#budget}). */
  public double eventsPerNodePerTick() {
    return counters.events / (double) (nodes.size() * Math.max(1, now));
  }

  /** Hash over every event processed so far and the state it left (SIM-01). */
  public long traceHash() {
    return traceHash;
  }

  /** One line per event, if the trace is recorded ({@link Builder#recordTrace}). */
  public List<String> trace() {
    return trace;
  }

  /** The highest index any node has marked committed. */
  public long committedMax() {
    return committedMax;
  }

  /** A description of the run's settings, as printed with failures. */
  public String describe() {
    return "seed=" + seed + " nodes=" + nodes.size() + " preVote=" + cfg.preVote() + " checkQuorum="
        + cfg.checkQuorum() + " conflictHint=" + cfg.conflictHint() + " batch=" + cfg.maxEntriesPerAppend()
        + "/" + cfg.maxInflightAppends() + " timeouts=" + cfg.electionTimeoutMin() + ".." + cfg.electionTimeoutMax()
        + "/" + cfg.heartbeatInterval() + (cfg.leaseTicks() > 0 ? " lease=" + cfg.leaseTicks() : "") + " storage="
        + storageMin + ".." + storageMax + (snapshotEvery > 0 ? " snapshotEvery=" + snapshotEvery + "/chunk="
        + cfg.snapshotChunkBytes() : "") + " network[" + network + "]"
        + (label.isEmpty() ? "" : " schedule[" + label + "]");
  }

  /** A short summary: time, events, per-node state, counters. */
  public String summary() {
    StringBuilder sb = new StringBuilder();
    sb.append(describe()).append('\n').append("tick=").append(now).append(" step=").append(step)
        .append(" trace=").append(Long.toHexString(traceHash)).append('\n');
    for (SimNode n : nodes.values()) {
      sb.append("  ").append(n.up ? String.valueOf(n.core) : n.id + " DOWN").append(" applied=")
          .append(n.appliedLast()).append(" durable=").append(n.durableBase()).append('+').append(n.durableLog.size())
          .append(" config=").append(n.up ? n.core.config() : n.logConfig()).append('\n');
    }
    sb.append("  leaders by term: ").append(leaders).append('\n');
    sb.append("  counters: ").append(counters);
    return sb.toString();
  }

  /** A command entry with the given text. */
  public static EntryData.Command command(String text) {
    return new EntryData.Command(0, "", text.getBytes(StandardCharsets.UTF_8));
  }

  /** Throws unless every live node has applied the same sequence and holds the same log; returns the log length. */
  public long assertConverged() {
    List<SimNode> group = new ArrayList<>();
    for (String id : members()) if (!refusing(id)) group.add(nodes.get(id)); // lost storage: stays out (T3.8-11)
    SimNode ref = null;
    for (SimNode n : group) {
      if (!n.up) fail(Invariant.CONVERGENCE, n.id + " is down");
      if (ref == null) {
        ref = n;
        continue;
      }
      if (n.mirrorLast() != ref.mirrorLast() || n.mirrorHash(n.mirrorLast()) != ref.mirrorHash(ref.mirrorLast())) {
        fail(Invariant.CONVERGENCE, "logs differ: " + ref.core + " vs " + n.core);
      }
      if (n.core.commitIndex() != ref.core.commitIndex() || n.appliedLast() != ref.appliedLast()) {
        fail(Invariant.CONVERGENCE, "commit/applied differ: " + ref.core + " vs " + n.core);
      }
      if (!n.core.config().equals(ref.core.config())) {
        fail(Invariant.CONVERGENCE, "configurations differ: " + ref.id + " " + ref.core.config() + " vs " + n.id + " "
            + n.core.config());
      }
    }
    for (Proposal p : acknowledged) {
      for (SimNode n : group) {
        long i = p.appliedIndex;
        int k = (int) (i - n.appliedBase - 1);
        if (k < 0 || k >= n.applied.size() || !n.applied.get(k).data().equals(p.data)) {
          fail(Invariant.ACKNOWLEDGED_WRITES, p + " is not applied at " + i + " on " + n.id);
        }
      }
    }
    return ref.mirrorLast();
  }

  // =================================================================== event processing

  private void advance() {
    for (Runnable l : tickListeners) l.run();
    now++;
    while (!queue.isEmpty() && queue.peek().tick <= now) {
      Event ev = queue.poll();
      if (ev.kind == DELIVER) {
        scheduled.remove(ev.env.id);
        SimNode to = nodes.get(ev.env.to);
        if (to.up && to.paused()) {
          scheduleDelivery(ev.env, to.pausedUntil - now); // waits for the stall to end
          continue;
        }
        processDelivery(ev.env);
      } else {
        SimNode n = ev.node;
        if (!n.up || n.incarnation != ev.incarnation || n.writing != ev.write) continue; // lost or done
        if (n.paused()) {
          // the node is stalled: its write completes when the stall ends
          push(new Event(Math.max(now + 1, n.pausedUntil), seq++, WRITE_DONE, null, n, n.incarnation, ev.write));
          continue;
        }
        completeWrite(n, n.writing);
      }
    }
    for (SimNode n : nodes.values()) {
      if (n.boot != null && n.boot.decision() instanceof Bootstrap.Wait w && ++n.bootTicks % cfg.electionTimeoutMin() == 0) {
        for (String p : w.unanswered()) send(n, new Outbound(p, n.boot.probe())); // probe again
      }
      if (!n.up || n.paused()) continue;
      n.rateCredit += n.rate;
      while (n.rateCredit >= 1.0 && n.up) {
        n.rateCredit -= 1.0;
        tickNode(n);
      }
    }
  }

  private void tickNode(SimNode n) {
    beginEvent(recordTrace ? "tick " + n.id : null, 10, n.index, n.ticks); // the core's clock (now) before this tick
    n.ticks++;
    n.core.tick();
    afterInput(n);
  }

  private void processDelivery(Envelope env) {
    SimNode to = nodes.get(env.to);
    if (to.boot != null && !blocked.contains(env.from + ">" + env.to)) {
      counters.messagesDelivered++;
      bootMessage(to, env);
      return;
    }
    if (!to.up || blocked.contains(env.from + ">" + env.to)) {
      counters.messagesDropped++;
      event(recordTrace ? "lost " + env : null, 11, to.index, env.id);
      check();
      return;
    }
    counters.messagesDelivered++;
    if (env.message instanceof RaftMessage.AppendEntriesResponse a && !a.success() && to.core.role() == Role.LEADER
        && a.term() == to.core.term()) {
      rejectionFrom = env.from; // checked against what the leader sends in this step
    }
    SimNode from = nodes.get(env.from);
    if (from != null && env.senderIncarnation >= 0 && env.senderIncarnation != from.incarnation) {
      counters.messagesFromEarlierIncarnation++;
    }
    beginEvent(recordTrace ? "deliver " + env : null, 12, to.index, env.id);
    to.core.step(env.message);
    afterInput(to);
  }

  private void completeWrite(SimNode n, PendingWrite pw) {
    RaftDriver.Write w = pw.write;
    n.writing = null;
    beginEvent(recordTrace ? "write done " + n.id + " w" + w.seq() : null, 13, n.index, w.seq());
    if (w.hardState() != null) {
      if (w.hardState().term() < n.durableHard.term()) {
        violation(Invariant.MONOTONIC_DURABLE_TERM, "durable term of " + n.id + " went back from " + n.durableHard.term() + " to " + w.hardState().term());
      }
      n.durableHard = w.hardState();
    }
    if (w.snapshot() != null && w.snapshot().index() > n.durableBase()) {
      // The snapshot replaces every entry up to its index (a write: hard state, snapshot, truncation, entries).
      int covered = (int) Math.min(n.durableLog.size(), w.snapshot().index() - n.durableBase());
      n.durableLog.subList(0, covered).clear();
      n.durableSnap = w.snapshot().meta();
      n.durableSnapData = w.snapshot().data();
      n.durableSnapHash = pw.snapshotHash;
    }
    long base = n.durableBase();
    if (w.truncateFrom() > base) truncateList(n.durableLog, (int) (w.truncateFrom() - base - 1));
    for (LogEntry e : w.entries()) {
      if (e.index() <= base) continue; // covered by the snapshot
      if (e.index() != base + n.durableLog.size() + 1) {
        violation(Invariant.READY_CONSISTENCY, n.id + ": write " + describe(w) + " appends at " + e.index()
            + " but the durable log ends at " + (base + n.durableLog.size()));
      }
      n.durableLog.add(e);
    }
    for (Outbound o : w.afterDurable()) send(n, o); // the host's own sending (odd nodes), before the core learns
    n.driver.writeDone(w.seq()); // the core learns; what waited for the write leaves; the next write starts
    afterInput(n);
  }

  private static String describe(RaftDriver.Write w) {
    return "w" + w.seq() + "[" + (w.hardState() != null ? w.hardState() + " " : "")
        + (w.snapshot() != null ? "snapshot@" + w.snapshot().index() + " " : "")
        + (w.truncateFrom() > 0 ? "truncate@" + w.truncateFrom() + " " : "")
        + (w.entries().isEmpty() ? "no entries" : "entries " + w.entries().get(0).index() + ".." + w.lastEntry().index()) + "]";
  }

  /** The node's driver carries out what its core hands out after an input; then every invariant is checked. */
  private void afterInput(SimNode n) {
    n.driver.flush();
    observeRole(n);
    endEvent(n);
    check();
  }

  /**
   * What a node's {@link RaftDriver} asks of the simulation: every Ready is checked (and may be
   * rewritten by a test) before the driver carries it out; sends go to the simulated network,
   * writes to the simulated disk; snapshots are taken of the recording state machine (log
   * compaction, T5.1-02, every {@link Builder#snapshotEvery} entries).
   */
  private final class SimHost implements RaftDriver.Host {
    private final SimNode n;

    SimHost(SimNode n) {
      this.n = n;
    }

    @Override
    public Ready inspect(Ready given) {
      Ready r = readyRewriter != null ? readyRewriter.apply(n.id, given) : given;
      checkReady(n, r);
      // A commit is recorded (and checked against what was committed before) before this Ready's
      // entries are applied: a committed entry may be applied before it is durable here, and a
      // commit of another entry is a Commit Agreement failure before it is a State Machine one.
      RaftCore c = n.core;
      if (c != null && c.commitIndex() > n.seenCommit && c.commitIndex() <= n.mirrorLast()) recordCommit(n, c.commitIndex(), c.term());
      return r;
    }

    @Override
    public void send(Outbound o) {
      Simulation.this.send(n, o);
    }

    @Override
    public void write(RaftDriver.Write w) {
      if (w.snapshot() != null && w.snapshot().index() != n.memBase) {
        Simulation.this.violation(Invariant.READY_CONSISTENCY, n.id + " writes a snapshot at " + w.snapshot().index()
            + " but its log starts after " + n.memBase);
      }
      PendingWrite pw = new PendingWrite(w, w.snapshot() != null ? n.memBaseHash : 0);
      counters.writes++;
      n.writing = pw;
      if (!holdAllWrites) {
        pw.completeAt = now + drawStorageDelay();
        push(new Event(pw.completeAt, seq++, WRITE_DONE, null, n, n.incarnation, pw));
      }
    }

    @Override
    public void restore(Snapshot s) {
      Simulation.this.restore(n, s);
    }

    @Override
    public EntryData.Command apply(Committed c, SessionTable.Decision session) {
      Simulation.this.apply(n, c);
      if (session != null) decided(n, c.entry().index(), session);
      return session instanceof SessionTable.Apply ? resultOf(c.entry().index()) : null;
    }

    @Override
    public void read(ReadState rs) {
      serveRead(n, rs);
    }

    @Override
    public void outcome(ProposalOutcome o) {
      Simulation.this.outcome(n, o);
    }

    @Override
    public void violation(String v) {
      Simulation.this.violation(Invariant.CORE_REPORTED, n.id + " reported " + v);
    }

    @Override
    public byte[] snapshot() {
      RaftCore c = n.core;
      if (c.lastApplied() != n.appliedLast()) return null; // the checks report this
      // What this event committed was recorded when its Ready was inspected, before the log is compacted.
      counters.snapshots++;
      return MachineSnapshot.encode(n.appliedBase, n.appliedBaseHash, n.appliedHash, n.applied.size());
    }
  }

  /** Checks a Ready before it is carried out, and mirrors the log it reports. */
  private void checkReady(SimNode n, Ready r) {
    long term = n.core.term();
    for (Outbound o : r.messages()) checkStamp(n, o, term);
    for (Outbound o : r.messagesAfterPersist()) checkStamp(n, o, term);
    for (Outbound o : r.messages()) {
      if (o.message() instanceof RaftMessage.TimeoutNow) {
        n.timeoutNowTerm = term;
        n.timeoutNowLast = n.core.lastIndex();
      }
    }
    updateMirror(n, r);
    for (Outbound o : r.messagesAfterPersist()) checkHint(n, o.message());
    for (Outbound o : r.messages()) checkHint(n, o.message());
    if (rejectionFrom != null) {
      int withEntries = 0;
      for (Outbound o : r.messages()) {
        if (o.to().equals(rejectionFrom) && o.message() instanceof RaftMessage.AppendEntries ae
            && !ae.entries().isEmpty()) {
          withEntries++;
        }
      }
      String f = rejectionFrom;
      rejectionFrom = null;
      if (withEntries > 1) {
        violation(Invariant.PROBE_AFTER_REJECTION, n.id + " handled a rejection from " + f + " and sent it " + withEntries
            + " AppendEntries with entries at once instead of one probe");
      }
    }
  }

  /** A proposal, read, membership change or transfer that ended without being applied. */
  private void outcome(SimNode n, ProposalOutcome o) {
    Read rd = reads.get(o.correlationId());
    if (rd != null) {
      readFailed(n, rd, o);
      return;
    }
    Admin a = admins.get(o.correlationId());
    if (a != null) {
      adminOutcome(n, a, o);
      return;
    }
    Proposal p = proposals.get(o.correlationId());
    if (p == null) return;
    if (o instanceof ProposalOutcome.NotLeader) {
      p.status = Proposal.Status.NOT_LEADER;
      counters.proposalsRejected++;
      if (p.index > 0) violation(Invariant.CLIENT_ANSWERS, "proposal " + p + " was appended but answered not-leader");
    } else if (p.status != Proposal.Status.APPLIED) {
      if (p.node.equals(n.id) && p.index > 0 && p.term == n.timeoutNowTerm && p.index <= n.timeoutNowLast) {
        // T3.10-02: a leader tells a member to campaign only once its whole log is committed, so
        // the entries it then held keep their callers when it steps down for the new leader.
        violation(Invariant.CLIENT_ANSWERS, n.id + " sent TimeoutNow in term " + p.term + " holding entries up to "
            + n.timeoutNowLast + ", then answered " + p + " with " + o + ": it handed over before they were known committed");
      }
      p.status = Proposal.Status.UNKNOWN;
      counters.proposalsUnknown++;
    }
  }

  /**
   * T6.4-05, T6.4-04: a served read reflects every index committed anywhere when it was issued, and
   * the node's state machine has applied its read index.
   */
  private void serveRead(SimNode n, ReadState rs) {
    Read rd = reads.get(rs.correlationId());
    if (rd == null || !rd.node.equals(n.id) || rd.incarnation != n.incarnation) {
      violation(Invariant.READ_ANSWERS, n.id + " served read c" + rs.correlationId() + " it was never asked (" + rd + ")");
      return;
    }
    if (rd.status != Read.Status.PENDING) violation(Invariant.READ_ANSWERS, n.id + " served " + rd + " again at " + rs.index());
    if (rs.index() < rd.mustSee) {
      violation(Invariant.STALE_READ, n.id + " served " + rd + " at index " + rs.index() + ", but index " + rd.mustSee
          + " was committed before the read was issued");
    }
    long applied = n.appliedLast();
    if (applied < rs.index()) {
      violation(Invariant.UNAPPLIED_READ, n.id + " served " + rd + " at index " + rs.index() + " with only " + applied + " applied");
    }
    rd.status = Read.Status.SERVED;
    rd.readIndex = rs.index();
    counters.readsServed++;
  }

  private void readFailed(SimNode n, Read rd, ProposalOutcome o) {
    if (!rd.node.equals(n.id) || rd.incarnation != n.incarnation) {
      violation(Invariant.READ_ANSWERS, n.id + " answered read " + rd + " it was never asked");
    } else if (!(o instanceof ProposalOutcome.NotLeader)) {
      violation(Invariant.READ_ANSWERS, n.id + " answered " + rd + " with " + o + ": a read fails only as not-leader");
    } else if (rd.status != Read.Status.PENDING) {
      violation(Invariant.READ_ANSWERS, n.id + " failed " + rd + " after it was answered");
    } else {
      rd.status = Read.Status.NOT_LEADER;
      counters.readsFailed++;
    }
  }

  /**
   * A membership change or transfer ends once, at the node asked: a change by the entry of its
   * final configuration being applied (see {@link #apply}), a transfer by the leader stepping down.
   */
  private void adminOutcome(SimNode n, Admin a, ProposalOutcome o) {
    if (!a.node.equals(n.id)) {
      violation(Invariant.CLIENT_ANSWERS, n.id + " answered " + a + " it was never asked");
      return;
    }
    if (a.status != Admin.Status.PENDING) {
      violation(Invariant.CLIENT_ANSWERS, n.id + " answered " + a + " again with " + o);
      return;
    }
    if (o instanceof ProposalOutcome.NotLeader) {
      a.status = Admin.Status.NOT_LEADER;
    } else if (o instanceof ProposalOutcome.Rejected r) {
      a.status = Admin.Status.REJECTED;
      a.detail = r.reason();
      if (!a.transfer) counters.membershipChangesRejected++;
    } else if (o instanceof ProposalOutcome.Transferred) {
      if (!a.transfer) violation(Invariant.CLIENT_ANSWERS, n.id + " answered membership change " + a + " with " + o);
      if (n.core.role() == Role.LEADER) violation(Invariant.CLIENT_ANSWERS, n.id + " reported " + a + " done but still leads");
      a.status = Admin.Status.DONE;
      counters.transfersDone++;
    } else {
      a.status = Admin.Status.UNKNOWN;
    }
  }

  /** P5.1-07: every message carries the sender's current term; PreVote traffic carries the proposed one. */
  private void checkStamp(SimNode n, Outbound o, long term) {
    RaftMessage m = o.message();
    if (!m.from().equals(n.id)) violation(Invariant.MESSAGE_TERM, n.id + " sent a message claiming to be from " + m.from() + ": " + m);
    if (m instanceof RaftMessage.PreVote) {
      if (m.term() != term + 1) violation(Invariant.MESSAGE_TERM, n.id + " at term " + term + " sent " + m);
    } else if (m instanceof RaftMessage.PreVoteResponse pr && pr.granted()) {
      if (m.term() <= term) violation(Invariant.MESSAGE_TERM, n.id + " at term " + term + " granted a pre-vote stamped " + m);
    } else if (m.term() != term) {
      violation(Invariant.MESSAGE_TERM, n.id + " at term " + term + " sent " + m);
    }
  }

  /**
   * T3.8-01: nothing leaves before the state it depends on is durable. A message stamped with a
   * term needs that term in durable storage (PreVote traffic carries a proposed term and is exempt);
   * a vote grant needs the durable vote for that candidate in that term.
   */
  private void checkDurableBeforeSend(SimNode n, Outbound o) {
    RaftMessage m = o.message();
    if (m instanceof RaftMessage.PreVote || m instanceof RaftMessage.PreVoteResponse) return;
    HardState d = n.durableHard;
    if (m.term() > d.term()) {
      violation(Invariant.DURABLE_BEFORE_SEND, n.id + " sent " + m + " before term " + m.term() + " was durable (durable " + d + ")");
    }
    // A granted vote is durable once storage holds it, or a later term (the node never votes in its term again).
    if (m instanceof RaftMessage.RequestVoteResponse v && v.granted()
        && !(d.term() > v.term() || (d.term() == v.term() && o.to().equals(d.votedFor())))) {
      violation(Invariant.DURABLE_BEFORE_SEND, n.id + " granted a vote in term " + v.term() + " to " + o.to()
          + " before the vote was durable (" + d + ")");
    }
    // An acknowledgement of entries claims that they are durable (T3.8-01); the leader counts it.
    if (m instanceof RaftMessage.AppendEntriesResponse a && a.success() && a.matchIndex() > n.durableBase()) {
      long i = a.matchIndex();
      int k = (int) (i - n.durableBase() - 1);
      if (k >= n.durableLog.size() || !matchesLeader(o.to(), a.term(), i, n.durableLog.get(k).term())) {
        violation(Invariant.DURABLE_BEFORE_SEND, n.id + " acknowledged entries up to " + i + " to " + o.to()
            + " that its storage does not hold (durable log ends at " + (n.durableBase() + n.durableLog.size()) + ")");
      }
    }
  }

  /**
   * Whether entry {@code index} with {@code term} is the one the leader of {@code leaderTerm} holds
   * there. Only while {@code leader} still leads that term is its log that leader's log (a leader
   * never changes its own log); otherwise the answer is stale and will be ignored: true.
   */
  private boolean matchesLeader(String leader, long leaderTerm, long index, long term) {
    SimNode l = nodes.get(leader);
    if (l == null || !l.up || l.core.role() != Role.LEADER || l.core.term() != leaderTerm) return true;
    if (index <= l.memBase || index > l.mirrorLast()) return true;
    return termOf(l, index) == term;
  }

  private void updateMirror(SimNode n, Ready r) {
    if (r.snapshot() != null) snapshotMirror(n, r.snapshot(), r.restore() != null);
    long from = -1;
    if (r.truncateFrom() > 0) from = r.truncateFrom();
    if (!r.entries().isEmpty()) {
      long first = r.entries().get(0).index();
      from = from < 0 ? first : Math.min(from, first);
    }
    if (from < 0) return;
    if (from <= n.memBase) {
      violation(Invariant.READY_CONSISTENCY, n.id + ": Ready rewrites index " + from + ", inside its snapshot at "
          + n.memBase);
    }
    if (from <= n.mirrorLast()) {
      // Entries handed out again unchanged (same term at the same index) are not a replacement.
      List<LogEntry> es = r.entries();
      long firstNew = es.isEmpty() ? Long.MAX_VALUE : es.get(0).index();
      long changed = -1;
      for (long i = from; i <= n.mirrorLast(); i++) {
        long pos = i - firstNew;
        if (pos < 0 || pos >= es.size() || es.get((int) pos).term() != termOf(n, i)) {
          changed = i;
          break;
        }
      }
      if (changed > 0) {
        counters.truncations++;
        if (n.core.role() == Role.LEADER) {
          violation(Invariant.LEADER_APPEND_ONLY, "leader " + n.id + " of term " + n.core.term() + " removed or replaced entries from " + from);
        }
        checkCommittedKept(n, changed);
      }
      truncateList(n.mirror, (int) (from - n.memBase - 1));
      n.configs.tailMap(from, true).clear();
    }
    for (LogEntry e : r.entries()) {
      if (e.index() != n.mirrorLast() + 1) violation(Invariant.READY_CONSISTENCY, n.id + ": Ready entries out of order at " + e.index());
      n.mirror.add(e);
      if (e.data() instanceof EntryData.Configuration conf) {
        n.configs.put(e.index(), conf.config());
        if (conf.config().joint() && n.core.role() == Role.LEADER && e.term() == n.core.term()) counters.jointConfigurations++;
      }
      int k = n.mirror.size() - 1;
      if (k >= n.hash.length) n.hash = Arrays.copyOf(n.hash, n.hash.length * 2);
      long prev = n.mirrorHash(e.index() - 1);
      long h = mix(prev * 0x100000001B3L + e.term() * 31 + dataHash(e.data()));
      n.hash[k] = h;
      // Log Matching: an (index, term) pair determines the whole prefix, in every log, at all times.
      Long known = hashByIndexTerm.computeIfAbsent(e.index(), x -> new HashMap<>()).putIfAbsent(e.term(), h);
      if (known != null && known != h) {
        violation(Invariant.LOG_MATCHING, n.id + " holds entry (" + e.index() + ", " + e.term()
            + ") with a different prefix or content than another log did");
      }
    }
  }

  /**
   * P5.3-08: a node never removes an entry at or below its own commitIndex, nor an entry that a node
   * marked committed in its term or an earlier one (a committed entry is in the log of every leader
   * of a later term, so none makes a follower drop it; InstallSnapshot keeps the suffix after a
   * matching snapshot point). A leader of an earlier term, stalled or cut off, may: see below.
   * {@code from} is the first index the node removes or replaces.
   */
  private void checkCommittedKept(SimNode n, long from) {
    if (from <= n.seenCommit) {
      violation(Invariant.COMMITTED_KEPT, n.id + " removed its entries from " + from + ", at or below its commitIndex "
          + n.seenCommit);
    }
    // A leader of a term before the commit may still reach a node that has not heard of later terms:
    // its entries were sent before the commit and can replace a copy (the committed entry stays on a
    // majority). From the term the commit was first seen in on, no leader may.
    if (from <= committedMax && committedHash[(int) from] != 0 && n.mirrorHash(from) == committedHash[(int) from]
        && committedTerm[(int) from] <= n.core.term()) {
      violation(Invariant.COMMITTED_KEPT, n.id + " removed committed entry " + from + " (" + termOf(n, from)
          + "); entries up to " + committedMax + " are committed");
    }
  }

  /**
   * A Ready's snapshot: the core compacted its log ({@code installed} false) or installed a
   * snapshot from the leader. The mirror drops the entries the snapshot covers and starts after it,
   * at the running hash the snapshot's content gives. Checks: an installed snapshot's data is intact
   * (InstallSnapshot chunks put together as sent), agrees with the entry the node holds at that
   * point, with every other log (Log Matching), and covers only committed entries.
   */
  private void snapshotMirror(SimNode n, Snapshot s, boolean installed) {
    long idx = s.index();
    if (idx <= n.memBase) {
      violation(Invariant.READY_CONSISTENCY, n.id + ": snapshot at " + idx + " does not move its log start " + n.memBase);
      return;
    }
    boolean held = idx <= n.mirrorLast() && termOf(n, idx) == s.term();
    long h;
    if (installed) {
      MachineSnapshot ms = MachineSnapshot.decode(s.data());
      if (ms == null || ms.lastIndex() != idx) {
        violation(Invariant.SNAPSHOT_INTEGRITY, n.id + " installed a snapshot at " + idx + " whose " + s.data().length
            + " bytes are not the snapshot taken there (chunks lost, repeated or misplaced)");
      }
      h = ms.lastHash();
      if (held && h != n.mirrorHash(idx)) {
        violation(Invariant.LOG_MATCHING, n.id + " installed a snapshot at (" + idx + ", " + s.term()
            + ") unlike the entries it holds up to there");
      }
    } else {
      if (!held) violation(Invariant.READY_CONSISTENCY, n.id + " compacted its log at " + idx + ", which it does not hold");
      h = n.mirrorHash(idx);
    }
    Long known = hashByIndexTerm.computeIfAbsent(idx, x -> new HashMap<>()).putIfAbsent(s.term(), h);
    if (known != null && known != h) {
      violation(Invariant.LOG_MATCHING, n.id + "'s snapshot at (" + idx + ", " + s.term()
          + ") covers another prefix than another log holds");
    }
    if (idx > committedMax) {
      violation(Invariant.SNAPSHOT_INTEGRITY, n.id + "'s snapshot at " + idx + " covers entries never committed (up to "
          + committedMax + ")");
    } else if (committedHash[(int) idx] != 0 && committedHash[(int) idx] != h) {
      violation(Invariant.STATE_MACHINE_SAFETY, n.id + "'s snapshot at " + idx
          + " holds other entries than were committed");
    }
    // The snapshot records the configuration in force at its last index (thesis 5.1 / 4: part of snapshots).
    if ((!installed || held) && !s.meta().config().equals(n.logConfigAt(idx))) {
      violation(Invariant.CONFIGURATION, n.id + "'s snapshot at " + idx + " records configuration " + s.meta().config()
          + " but its log puts " + n.logConfigAt(idx) + " in force there");
    }
    n.baseConfig = s.meta().config();
    n.configs.headMap(idx, true).clear();
    int drop = (int) Math.min(n.mirror.size(), idx - n.memBase);
    if (drop > 0) {
      n.mirror.subList(0, drop).clear();
      System.arraycopy(n.hash, drop, n.hash, 0, n.mirror.size());
    }
    n.memBase = idx;
    n.memBaseTerm = s.term();
    n.memBaseHash = h;
    // Entries after idx that the log did not match are truncated by the same Ready (T5.1-10).
  }

  /** A snapshot installed from the leader becomes the state machine (Ready.restore). */
  private void restore(SimNode n, Snapshot s) {
    MachineSnapshot ms = MachineSnapshot.decode(s.data());
    if (ms == null || ms.lastIndex() != s.index()) {
      violation(Invariant.SNAPSHOT_INTEGRITY, n.id + " restored its state machine from corrupt snapshot data at "
          + s.index());
    }
    // State Machine Safety: the restored state is the committed prefix, entry for entry.
    for (long i = ms.base + 1; i <= ms.lastIndex(); i++) {
      if (i > committedMax || (committedHash[(int) i] != 0 && committedHash[(int) i] != ms.hashAt(i))) {
        violation(Invariant.STATE_MACHINE_SAFETY, n.id + " restored a state machine whose entry " + i
            + " is not the committed one");
      }
    }
    loadMachine(n, ms);
    counters.snapshotsInstalled++;
  }

  /** The state machine becomes the content of {@code ms}; false if the record of applied entries lacks some. */
  private boolean loadMachine(SimNode n, MachineSnapshot ms) {
    if (ms.lastIndex() > appliedGlobal.size()) return false;
    n.applied.clear();
    n.applied.addAll(appliedGlobal.subList((int) ms.base, (int) ms.lastIndex()));
    int count = n.applied.size();
    if (count > n.appliedHash.length) n.appliedHash = new long[Math.max(count, 2 * n.appliedHash.length)];
    System.arraycopy(ms.hashes, 1, n.appliedHash, 0, count);
    n.appliedBase = ms.base;
    n.appliedBaseHash = ms.hashes[0];
    n.machineEpoch++;
    return true;
  }

  /**
   * The hint of a rejected AppendEntries (RaftMessage.AppendEntriesResponse): hintTerm is the
   * follower's term at prevLogIndex and hintIndex the first index it holds of that term; if its log
   * is too short, hintTerm 0 and hintIndex its last index + 1. Checked against the sender's log.
   */
  private void checkHint(SimNode n, RaftMessage m) {
    if (!(m instanceof RaftMessage.AppendEntriesResponse a) || a.success()) return;
    if (a.hintIndex() == 0 && a.hintTerm() == 0) return; // a refusal of a stale term carries no hint
    long prev = a.rejectedIndex();
    long index;
    long term;
    if (prev > n.mirrorLast()) {
      index = n.mirrorLast() + 1;
      term = 0;
    } else if (prev < n.memBase) {
      violation(Invariant.CONFLICT_HINT, n.id + " rejected an AppendEntries at " + prev + ", inside its snapshot at "
          + n.memBase + " (T5.1-05): " + m);
      return;
    } else {
      term = termOf(n, prev);
      index = prev;
      while (index - 1 > n.memBase && termOf(n, index - 1) == term) index--;
    }
    if (a.hintIndex() != index || a.hintTerm() != term) {
      violation(Invariant.CONFLICT_HINT, n.id + " rejected prevLogIndex " + prev + " with hint " + a.hintIndex() + "/"
          + a.hintTerm() + ", but its log (" + n.memBase + ".." + n.mirrorLast() + ") says " + index + "/" + term);
    }
  }

  private void apply(SimNode n, Committed c) {
    LogEntry e = c.entry();
    long expected = n.appliedLast() + 1;
    if (e.index() != expected) violation(Invariant.APPLY_ORDER, n.id + " applied index " + e.index() + ", expected " + expected);
    if (e.index() > n.core.commitIndex()) {
      violation(Invariant.APPLY_ORDER, n.id + " applied " + e.index() + " past commitIndex " + n.core.commitIndex());
    }
    // State Machine Safety: one entry per index, on every node, forever.
    int g = (int) (e.index() - 1);
    if (g < appliedGlobal.size()) {
      LogEntry other = appliedGlobal.get(g);
      if (other.term() != e.term() || !other.data().equals(e.data())) {
        violation(Invariant.STATE_MACHINE_SAFETY, n.id + " applied " + e + " at " + e.index() + " where " + other
            + " was applied before");
      }
    } else if (g == appliedGlobal.size()) {
      appliedGlobal.add(e);
    } else {
      violation(Invariant.APPLY_ORDER, "applied " + e.index() + " beyond every earlier apply (" + appliedGlobal.size() + ")");
    }
    int k = n.applied.size();
    if (k >= n.appliedHash.length) n.appliedHash = Arrays.copyOf(n.appliedHash, 2 * n.appliedHash.length);
    n.appliedHash[k] = e.index() >= n.memBase && e.index() <= n.mirrorLast() ? n.mirrorHash(e.index()) : 0;
    n.applied.add(e);
    counters.entriesApplied++;
    Admin a = c.hasCaller() ? admins.get(c.correlationId()) : null;
    if (a != null) {
      if (!a.node.equals(n.id) || a.transfer || !(e.data() instanceof EntryData.Configuration conf)
          || conf.config().joint()) {
        violation(Invariant.CLIENT_ANSWERS, n.id + " acknowledged " + a + " with entry " + e);
      } else if (a.status != Admin.Status.PENDING) {
        violation(Invariant.CLIENT_ANSWERS, n.id + " acknowledged " + a + " after it was answered");
      } else {
        a.status = Admin.Status.DONE;
        a.detail = conf.config().toString();
        counters.membershipChangesDone++;
      }
    } else if (c.hasCaller()) {
      Proposal p = proposals.get(c.correlationId());
      if (p == null || !p.node.equals(n.id)) {
        violation(Invariant.CLIENT_ANSWERS, n.id + " acknowledged correlation id " + c.correlationId() + " it never proposed");
      } else if (!p.data.equals(e.data())) {
        violation(Invariant.CLIENT_ANSWERS, n.id + " acknowledged " + p + " with another command: " + e);
      } else if (p.status != Proposal.Status.APPLIED) {
        p.status = Proposal.Status.APPLIED;
        p.appliedIndex = e.index();
        acknowledged.add(p);
        counters.clientOpsCompleted++;
      }
    }
  }

  private void observeRole(SimNode n) {
    Role r = n.core.role();
    if (r != n.seenRole) {
      if (r == Role.PRE_CANDIDATE) counters.preVoteRounds++;
      if (r == Role.CANDIDATE) counters.elections++;
      if (r == Role.LEADER) counters.leadersElected++;
      if (n.seenRole == Role.LEADER) counters.leaderStepDowns++;
      n.seenRole = r;
    } else if (r == Role.CANDIDATE && n.core.term() != n.seenTerm) {
      counters.elections++; // a new election straight after a failed one
    }
  }

  private void send(SimNode n, Outbound o) {
    checkDurableBeforeSend(n, o);
    Envelope env = new Envelope(nextEnvelopeId++, n.id, o.to(), o.message(), n.incarnation, now);
    counters.messagesSent++;
    if (o.message() instanceof RaftMessage.InstallSnapshot) counters.snapshotChunks++;
    if (counters.messagesSent > budgetAllowance + messagesPerNodePerTick * nodes.size() * now) {
      overBudget("messages sent", counters.messagesSent, budgetAllowance, messagesPerNodePerTick);
    }
    for (Consumer<Envelope> l : sendListeners) l.accept(env);
    if (!nodes.containsKey(o.to())) return; // not a member of the simulation
    if (holdFilter != null && holdFilter.test(env)) {
      held.put(env.id, env);
      return;
    }
    if (blocked.contains(env.from + ">" + env.to) || (network.dropRate > 0 && rnd.nextDouble() < network.dropRate)) {
      counters.messagesDropped++;
      return;
    }
    scheduleDelivery(env, drawDelay());
    if (network.duplicateRate > 0 && rnd.nextDouble() < network.duplicateRate) {
      int copies = 1 + rnd.nextInt(2);
      for (int i = 0; i < copies; i++) {
        Envelope copy = new Envelope(nextEnvelopeId++, env.from, env.to, env.message, env.senderIncarnation, now);
        counters.messagesDuplicated++;
        scheduleDelivery(copy, drawDelay());
      }
    }
  }

  private void scheduleDelivery(Envelope env, long delay) {
    Event ev = new Event(now + Math.max(1, delay), seq++, DELIVER, env, null, 0, null);
    scheduled.put(env.id, ev);
    push(ev);
  }

  private int drawDelay() {
    if (network.longDelayRate > 0 && rnd.nextDouble() < network.longDelayRate) {
      return 1 + rnd.nextInt(network.longDelayMax);
    }
    return network.minDelay + rnd.nextInt(network.maxDelay - network.minDelay + 1);
  }

  private int drawStorageDelay() {
    return storageMin + rnd.nextInt(storageMax - storageMin + 1);
  }

  private void push(Event e) {
    queue.add(e);
  }

  private void start(SimNode n) {
    if (founders != null && Bootstrap.isEmpty(currentDurable(n))) {
      boolean founder = founders.isVoter(n.id);
      Bootstrap b = new Bootstrap(n.id, founders, founder ? bootstrapMode : Bootstrap.Mode.JOIN);
      Bootstrap.Decision d = b.recovered(currentDurable(n));
      if (d instanceof Bootstrap.Found f) {
        adoptDurable(n, f.founded()); // the founding write
      } else if (d instanceof Bootstrap.Wait) {
        n.boot = b;
        n.bootTicks = 0;
        n.up = false;
        for (String p : ((Bootstrap.Wait) d).unanswered()) send(n, new Outbound(p, b.probe()));
        return;
      }
    }
    n.boot = null;
    RandomSource random = randomSources != null ? randomSources.apply(n.id, n.incarnation)
        : RandomSource.seeded(seed, n.incarnation == 0 ? n.id : n.id + "/" + n.incarnation);
    n.core = new RaftCore(n.id, cfg, random,
        new DurableState(n.durableHard, n.durableSnap, n.durableLog, n.durableSnapData));
    n.up = true;
    n.driver = newDriver(n);
    n.writing = null;
    n.memBase = n.durableBase();
    n.memBaseTerm = n.durableSnap.lastIncludedTerm();
    n.memBaseHash = n.durableSnapHash;
    n.mirror.clear();
    n.mirror.addAll(n.durableLog);
    n.baseConfig = n.durableSnap.config();
    n.configs.clear();
    for (LogEntry e : n.durableLog) {
      if (e.data() instanceof EntryData.Configuration conf) n.configs.put(e.index(), conf.config());
    }
    n.hash = new long[Math.max(64, n.mirror.size() * 2)];
    for (int k = 0; k < n.mirror.size(); k++) {
      LogEntry e = n.mirror.get(k);
      long prev = n.mirrorHash(e.index() - 1);
      n.hash[k] = mix(prev * 0x100000001B3L + e.term() * 31 + dataHash(e.data()));
      Long known = hashByIndexTerm.computeIfAbsent(e.index(), x -> new HashMap<>()).putIfAbsent(e.term(), n.hash[k]);
      if (known != null && known != n.hash[k]) {
        violation(Invariant.LOG_MATCHING, n.id + " starts with entry (" + e.index() + ", " + e.term() + ") unlike another log");
      }
    }
    // A fresh state machine: loaded from the durable snapshot, or empty at the snapshot point.
    MachineSnapshot ms = MachineSnapshot.decode(n.durableSnapData);
    if (ms == null || ms.lastIndex() != n.durableBase() || !loadMachine(n, ms)) {
      n.applied.clear();
      n.appliedBase = n.durableBase();
      n.appliedBaseHash = n.durableSnapHash;
      n.machineEpoch++;
    }
    if (n.core.term() != n.durableHard.term()) violation(Invariant.READY_CONSISTENCY, n.id + " restarted at term " + n.core.term());
    n.seenTerm = n.core.term();
    n.seenCommit = n.core.commitIndex();
    n.seenApplied = n.core.lastApplied();
    n.seenRole = n.core.role();
    n.seenConfig = n.core.config();
    n.ticks = n.core.status().now();
    n.rateCredit = 0;
  }

  private static DurableState currentDurable(SimNode n) {
    return new DurableState(n.durableHard, n.durableSnap, n.durableLog, n.durableSnapData);
  }

  private void adoptDurable(SimNode n, DurableState st) {
    n.durableHard = st.hardState();
    n.durableSnap = st.snapshot();
    n.durableSnapData = st.snapshotData();
    n.durableSnapHash = startHash(n.durableBase());
    n.durableLog.clear();
    n.durableLog.addAll(st.entries());
  }

  /**
   * A message to a node whose storage is empty and that waits for the founders or refuses: its
   * {@link Bootstrap} answers; once it decides to found, the founding state is written and the core
   * starts. It never votes nor acknowledges (T3.8-11).
   */
  private void bootMessage(SimNode n, Envelope env) {
    beginEvent(recordTrace ? "deliver to starting " + env : null, 19, n.index, env.id);
    RaftMessage reply = n.boot.received(env.message);
    if (reply != null) send(n, new Outbound(env.from, reply));
    Bootstrap.Decision d = n.boot.decision();
    if (d instanceof Bootstrap.Found f) {
      adoptDurable(n, f.founded()); // the founding write
      start(n);
    }
    check();
  }

  /** Whether {@code node} lost its storage and refuses to take part (T3.8-11). */
  public boolean refusing(String node) {
    SimNode n = nodes.get(node);
    return n.boot != null && n.boot.decision() instanceof Bootstrap.Refuse;
  }

  // =================================================================== invariants

  private record Named(String name, java.util.function.Function<Simulation, String> check) {}

  private void check() {
    for (SimNode n : nodes.values()) {
      if (!n.up) continue;
      RaftCore c = n.core;
      long term = c.term();
      if (term < n.seenTerm) violation(Invariant.MONOTONIC_TERM, n.id + ": term went back from " + n.seenTerm + " to " + term);
      if (c.lastApplied() < n.seenApplied) {
        violation(Invariant.MONOTONIC_LAST_APPLIED, n.id + ": lastApplied went back from " + n.seenApplied + " to " + c.lastApplied());
      }
      if (c.commitIndex() < n.seenCommit) {
        violation(Invariant.MONOTONIC_COMMIT_INDEX, n.id + ": commitIndex went back from " + n.seenCommit + " to " + c.commitIndex());
      }
      if (c.lastApplied() > c.commitIndex()) violation(Invariant.APPLY_ORDER, n.id + ": lastApplied past commitIndex: " + c);
      if (c.lastApplied() != n.appliedLast()) {
        violation(Invariant.APPLY_ORDER, n.id + ": lastApplied " + c.lastApplied() + " but the state machine applied up to "
            + n.appliedLast());
      }
      if (c.snapshotIndex() != n.memBase) {
        violation(Invariant.READY_CONSISTENCY, n.id + ": log starts after " + c.snapshotIndex()
            + " but no Ready handed out a snapshot there (mirror starts after " + n.memBase + ")");
      }
      if (c.lastIndex() != n.mirrorLast() || c.termAt(c.lastIndex()) != termOf(n, n.mirrorLast())) {
        violation(Invariant.READY_CONSISTENCY, n.id + ": log changed without being reported in a Ready: " + c + " vs mirror " + n.mirrorLast());
      }
      n.seenTerm = term;
      n.seenApplied = c.lastApplied();
      if (c.commitIndex() > n.seenCommit || (c.commitIndex() > 0 && c.commitIndex() > committedMax)) {
        recordCommit(n, c.commitIndex(), term);
      }
      n.seenCommit = c.commitIndex();
      if (c.role() == Role.LEADER) {
        // Election Safety: at most one leader per term, ever.
        String prev = leaders.putIfAbsent(term, n.id);
        if (prev != null && !prev.equals(n.id)) {
          violation(Invariant.ELECTION_SAFETY, prev + " and " + n.id + " both led term " + term);
        }
        // Leader Completeness: it holds every entry committed in its term or before.
        long i = lastCommittedAtOrBefore(term);
        if (i > 0 && !holdsCommitted(n, i)) {
          violation(Invariant.LEADER_COMPLETENESS, "leader " + n.id + " of term " + term + " lacks committed entry " + i
              + " (log ends at " + n.mirrorLast() + ")");
        }
      }
    }
    for (SimNode n : nodes.values()) {
      if (!n.up) continue;
      ClusterConfig inLog = n.logConfig();
      if (!n.core.config().equals(inLog)) {
        violation(Invariant.CONFIGURATION, n.id + " uses configuration " + n.core.config() + " but its log puts "
            + inLog + " in force");
      }
      if (n.configs.size() > 1 && n.configs.tailMap(committedMax, false).size() > 1) {
        violation(Invariant.ONE_CHANGE_AT_A_TIME, n.id + " holds configuration entries " + n.configs.tailMap(committedMax, false).keySet()
            + " past the highest committed index " + committedMax);
      }
      n.seenConfig = n.core.config();
    }
    for (Named x : extraInvariants) {
      String problem = x.check.apply(this);
      if (problem != null) violation(Invariant.ADDED, x.name + ": " + problem);
    }
    for (Runnable l : eventListeners) l.run();
  }

  /** Whether the node's log holds committed entry {@code i} (a compacted one through the hash at its snapshot point). */
  private boolean holdsCommitted(SimNode n, long i) {
    if (i > n.mirrorLast()) return false;
    long at = Math.max(i, n.memBase);
    return at > committedMax || committedHash[(int) at] == 0 || n.mirrorHash(at) == committedHash[(int) at];
  }

  private void recordCommit(SimNode n, long commit, long term) {
    if (commit > n.mirrorLast()) {
      violation(Invariant.READY_CONSISTENCY, n.id + ": commitIndex " + commit + " beyond its log " + n.mirrorLast());
      return;
    }
    long upTo = Math.min(commit, committedMax);
    if (upTo > 0 && upTo >= n.memBase && committedHash[(int) upTo] != 0
        && n.mirrorHash(upTo) != committedHash[(int) upTo]) {
      violation(Invariant.COMMIT_AGREEMENT, n.id + " marked index " + upTo + " committed with an entry other than the one committed before");
    }
    if (commit > committedMax) {
      ensureCommitCapacity(commit);
      for (long i = committedMax + 1; i <= commit; i++) {
        committedHash[(int) i] = i >= n.memBase ? n.mirrorHash(i) : 0; // 0: compacted before anyone saw it committed
        committedTerm[(int) i] = term;
      }
      committedMax = commit;
      checkCommitQuorum(n, commit);
    }
    // The term at which an index is known committed is the lowest term of a node that marked it.
    for (long i = commit; i >= 1 && committedTerm[(int) i] > term; i--) committedTerm[(int) i] = term;
  }

  /**
   * P5.3-13, T3.8-01: an entry is committed once a majority stores it durably, and stays there (no
   * correct leader makes a node drop a committed entry). So when index {@code c} is first marked
   * committed, a majority of the voters must hold it in durable storage (or in a durable snapshot).
   */
  private void checkCommitQuorum(SimNode n, long c) {
    if (c <= n.memBase) return;
    long t = termOf(n, c);
    // The configuration the commit was decided under: the one in force before this event, or one
    // this event appended (a configuration counts as soon as it is in the log, thesis 4.1). The end
    // of a joint change counts only if the joint configuration was committed first, under both
    // majorities, by an entry of this leader's term at or after it (thesis 4.3).
    ClusterConfig before = n.seenConfig;
    ClusterConfig now = n.core.config();
    String missing = durableQuorumMissing(c, t, before);
    if (missing != null && !now.equals(before) && (!before.joint() || jointCommittedBefore(n, c, before))) {
      missing = durableQuorumMissing(c, t, now);
    }
    if (missing != null) {
      violation(Invariant.COMMIT_QUORUM, n.id + " marked " + c + " committed, but " + missing + " (configuration "
          + before + (now.equals(before) ? "" : ", then " + now) + ")");
    }
  }

  /** Whether some entry of the node's current term in [the joint entry, c] is durable on both majorities of {@code joint}. */
  private boolean jointCommittedBefore(SimNode n, long c, ClusterConfig joint) {
    Long k = null;
    for (Map.Entry<Long, ClusterConfig> e : n.configs.descendingMap().entrySet()) {
      if (e.getValue().equals(joint)) {
        k = e.getKey();
        break;
      }
    }
    // In the snapshot: committed already (a snapshot covers committed entries only, SNAPSHOT_INTEGRITY).
    if (k == null) return joint.equals(n.baseConfig);
    long term = n.core.term();
    for (long i = c; i >= Math.max(k, n.memBase + 1); i--) {
      long ti = termOf(n, i);
      if (ti < term) return false;
      if (durableQuorumMissing(i, ti, joint) == null) return true;
    }
    return false;
  }

  /** Null if a majority of {@code conf}'s voters (during a joint change, of both halves) hold entry (c, t) durably. */
  private String durableQuorumMissing(long c, long t, ClusterConfig conf) {
    String problem = durableMajorityMissing(c, t, conf.voters());
    if (problem == null && conf.joint()) problem = durableMajorityMissing(c, t, conf.outgoingVoters()); // thesis 4.3
    return problem;
  }

  private String durableMajorityMissing(long c, long t, List<String> voters) {
    int holders = 0;
    for (String v : voters) {
      SimNode x = nodes.get(v);
      if (x == null) return null; // a voter outside the simulation: its storage is unknown
      int d = (int) (c - x.durableBase() - 1);
      int lost = (int) (c - x.lostBase - 1);
      if (d < 0 || (d < x.durableLog.size() && x.durableLog.get(d).term() == t)
          || (x.lostBase > 0 && lost < 0) // in the snapshot it lost
          || (lost >= 0 && lost < x.lostLog.size() && x.lostLog.get(lost).term() == t)) {
        holders++;
      }
    }
    return holders >= voters.size() / 2 + 1 ? null
        : "only " + holders + " of " + voters + " hold it in durable storage";
  }

  /** The highest committed index whose commit was seen at a term <= {@code term} (committedTerm is non-decreasing). */
  private long lastCommittedAtOrBefore(long term) {
    long lo = 0;
    long hi = committedMax;
    while (lo < hi) {
      long mid = (lo + hi + 1) >>> 1;
      if (committedTerm[(int) mid] <= term) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private void ensureCommitCapacity(long idx) {
    if (idx >= committedHash.length) {
      int len = (int) Math.max(idx + 1, committedHash.length * 2L);
      committedHash = Arrays.copyOf(committedHash, len);
      committedTerm = Arrays.copyOf(committedTerm, len);
    }
  }

  private long termOf(SimNode n, long idx) {
    if (idx == n.memBase) return n.memBaseTerm;
    return n.mirror.get((int) (idx - n.memBase - 1)).term();
  }

  private void overBudget(String what, long used, long allowance, double perNodePerTick) {
    fail(Invariant.BUDGET, String.format(java.util.Locale.ROOT,
        "%d %s by tick %d, over the budget of %d + %.1f per node per tick for %d nodes: a livelock or a message storm"
            + " (replay the seed with its trace to see what repeats); counters %s",
        used, what, now, allowance, perNodePerTick, nodes.size(), counters));
  }

  private void violation(Invariant inv, String what) {
    fail(inv, what);
  }

  private void fail(Invariant inv, String details) {
    String what = inv.label() + ": " + details;
    StringBuilder sb = new StringBuilder();
    sb.append("Simulation invariant violated at step ").append(step).append(" (tick ").append(now).append("): ")
        .append(what).append('\n');
    sb.append("  event: ").append(currentEvent).append('\n');
    sb.append("  ").append(describe()).append('\n');
    if (replayCommand != null) sb.append("  replay: ").append(replayCommand).append('\n');
    for (SimNode n : nodes.values()) sb.append("  ").append(n.up ? String.valueOf(n.core) : n.id + " DOWN").append('\n');
    if (!recent.isEmpty()) sb.append("  recent events:\n");
    for (String s : recent) sb.append("    ").append(s).append('\n');
    throw new SimulationFailure(sb.toString(), seed, step, inv, what);
  }

  // =================================================================== trace

  private void beginEvent(String text, int kind, int node, long detail) {
    step++;
    counters.events++;
    if (counters.events > 2 * budgetAllowance + eventsPerNodePerTick * nodes.size() * now) {
      overBudget("events", counters.events, 2 * budgetAllowance, eventsPerNodePerTick);
    }
    traceHash = mix(traceHash ^ (kind * 0x9E3779B97F4A7C15L) ^ ((long) node << 48) ^ now);
    traceHash = mix(traceHash ^ detail);
    if (recordTrace && text != null) {
      currentEvent = "step " + step + " t=" + now + " " + text;
      trace.add(currentEvent);
      recent.addLast(currentEvent);
      if (recent.size() > 30) recent.removeFirst();
    } else {
      currentEvent = "step " + step + " t=" + now + " kind=" + kind + " node=" + node + " detail=" + detail;
    }
  }

  private void endEvent(SimNode n) {
    RaftCore c = n.core;
    traceHash = mix(traceHash ^ (c.term() * 31 + c.role().ordinal()) ^ (c.commitIndex() << 20) ^ (c.lastIndex() << 40));
    if (recordTrace) trace.add("    -> " + c);
  }

  private void event(String text, int kind, int node, long detail) {
    beginEvent(text, kind, node, detail);
  }

  private int idx(String node) {
    SimNode n = nodes.get(node);
    return n == null ? -1 : n.index;
  }

  private SimNode live(String node) {
    SimNode n = nodes.get(node);
    if (n == null) throw new IllegalArgumentException("unknown node " + node);
    if (!n.up) throw new IllegalStateException(node + " is down");
    return n;
  }

  private static void truncateList(List<LogEntry> list, int from) {
    if (from < 0) from = 0;
    if (from < list.size()) list.subList(from, list.size()).clear();
  }

  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  private static long dataHash(EntryData d) {
    if (d instanceof EntryData.Command c) {
      return mix(Arrays.hashCode(c.bytes()) * 31L + c.manifest().hashCode() * 7L + c.serializerId());
    }
    if (d instanceof EntryData.Noop nop) return mix(0x4E4F4F50L ^ nop.leaderTerm());
    if (d instanceof EntryData.Configuration cfg) return mix(0xC0F1L ^ cfg.config().voters().hashCode());
    return d.hashCode();
  }

  static String summarize(RaftMessage m) {
    if (m instanceof RaftMessage.AppendEntries ae) {
      return "AppendEntries{t" + ae.term() + " prev=" + ae.prevLogIndex() + "/" + ae.prevLogTerm() + " n="
          + ae.entries().size() + " commit=" + ae.leaderCommit() + "}";
    }
    return m.toString();
  }
}
