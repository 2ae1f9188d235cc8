package io.raftactors.core;

import io.raftactors.core.EntryData.Configuration;
import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import io.raftactors.core.RaftMessage.InstallSnapshot;
import io.raftactors.core.RaftMessage.InstallSnapshotResponse;
import io.raftactors.core.RaftMessage.PreVote;
import io.raftactors.core.RaftMessage.PreVoteResponse;
import io.raftactors.core.RaftMessage.ReadIndexRequest;
import io.raftactors.core.RaftMessage.ReadIndexResponse;
import io.raftactors.core.RaftMessage.RequestVote;
import io.raftactors.core.RaftMessage.RequestVoteResponse;
import io.raftactors.core.RaftMessage.TimeoutNow;
import io.raftactors.core.ReadTracker.PendingRead;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * One Raft node as a pure, deterministic state machine: no threads, no clock, no I/O, no
 * randomness of its own. Inputs are {@link #tick()}, {@link #step(RaftMessage)},
 * {@link #propose(EntryData, long)} and {@link #persisted(long, long)}; all effects are collected
 * and handed out by {@link #ready()}. A driver (the actor shell, or the simulation in tests) calls
 * an input, then {@code ready()}, and carries out the result as {@link Ready} describes.
 *
 * <h2>How it is organised</h2>
 *
 * <ul>
 *   <li>{@link #step} applies the term rules of paper 5.1 to every message (a higher term demotes,
 *       a lower one is refused), handles the requests every role answers alike (votes, pre-votes),
 *       then hands the message to the step function of the current role: {@link #stepFollower},
 *       {@link #stepCandidate} (pre-candidates too) or {@link #stepLeader}. {@link #tick} likewise
 *       calls {@link #tickElection} or {@link #tickHeartbeat}. Each {@code become...} method sets
 *       both, so a role's rules are in one place.
 *   <li>{@link ProgressTracker} holds the active configuration, its {@link Quorum} and each other
 *       member's {@link Progress}; elections, commitment, read rounds and check-quorum all count
 *       through it.
 *   <li>{@link ReadTracker} holds the bookkeeping of ReadIndex and lease reads.
 *   <li>{@link #status()} reports the node's state as one value; that is how it is read. The few
 *       accessors kept besides it are those a driver reads on every message (role, term, leader,
 *       the commit, applied, last and snapshot indexes, the configuration) and a read-only view of
 *       the log, so they cost no allocation.
 * </ul>
 *
 * <p>Rules are named after the paper ("P5.3") or the thesis ("T9.6") where they are implemented.
 */
public final class RaftCore {
  private final String id;
  private final RaftConfig settings;
  private final RandomSource random;
  private final RaftLog log;

  // Persistent state (Figure 2), durable before anything that depends on it leaves.
  private long term;
  private String votedFor;

  // Volatile state.
  private Role role = Role.FOLLOWER;
  private Consumer<RaftMessage> stepRole = this::stepFollower;
  private Runnable tickRole = this::tickElection;
  private String leaderId;
  private long commitIndex;
  private long lastApplied;
  /** Highest index known durable in this node's storage (input from {@link #persisted}). */
  private long stableIndex;
  private long now;
  private int electionElapsed;
  private int randomizedElectionTimeout;
  private int heartbeatElapsed;
  private final ProgressTracker tracker;
  /** Index of the entry that holds the active configuration (the snapshot index if the snapshot's). */
  private long configIndex;
  /** The membership change this leader prepares (catching members up, or waiting to append), or null. */
  private PendingChange change;
  /** The leadership transfer under way on this leader, or null (thesis 3.10). */
  private Transfer transfer;
  /**
   * This leader has sent TimeoutNow in its term. The election it starts passes the guards a lease
   * counts on (T4.2.3, T6.4.1) whenever it happens, also after the transfer was aborted (a late
   * TimeoutNow, a target slow to persist its vote): so no lease for the rest of the term.
   */
  private boolean sentTimeoutNow;
  /** The configuration as of the log's start (the snapshot point). */
  private ClusterConfig snapshotConfig;
  /** The latest snapshot this node holds (null if it has none with data). */
  private Snapshot snapshot;
  /** A snapshot being received from the leader, chunk by chunk; never persisted until complete. */
  private SnapshotMeta incomingMeta;
  private byte[] incoming;
  private int incomingSize;

  private final ReadTracker reads = new ReadTracker();

  // Counts since this core was created, for metrics: never persisted, never reset.
  private long preVoteRounds;
  private long electionsStarted;
  private long electionsWon;

  /** A proposal made on this node while it led: the term it was appended in and who waits for it. */
  private record PendingProposal(long term, long correlationId) {}

  /** A leadership transfer: to whom, who asked, the tick it began, and whether the target was told to campaign. */
  private record Transfer(String target, long correlationId, long startedAt, boolean timeoutNowSent) {}

  /** How far the leader has brought a new voter: what {@link #movedOn} compares. */
  private record Position(long matchIndex, long nextIndex, long snapshotOffset, boolean probing) {}

  /**
   * A membership change on its way into the log: the configuration to append, and the members that
   * must catch up first (thesis 4.2.1), counted in rounds: a round ends when they all hold what the
   * leader held when it began.
   */
  private static final class PendingChange {
    final long correlationId;
    final ClusterConfig target;
    final java.util.Set<String> catching;
    int round = 1;
    long roundEnd;
    long roundStart;
    long progressMark = -1;
    /** Where each new voter stood when last looked at. */
    final java.util.Map<String, Position> position = new java.util.HashMap<>();
    long lastProgress;
    long startedAt;

    PendingChange(long correlationId, ClusterConfig target, java.util.Set<String> catching) {
      this.correlationId = correlationId;
      this.target = target;
      this.catching = catching;
    }
  }

  /** Proposals made on this node while leader, by log index. */
  private final TreeMap<Long, PendingProposal> proposals = new TreeMap<>();

  // Output accumulated until the next ready().
  private boolean hardStateDirty;
  private Snapshot snapshotToWrite;
  private Snapshot snapshotToRestore;
  /** Lowest index changed since the last ready(); entries from here on are handed out for writing. */
  private long unstableFrom;
  /** Last index handed to storage (written or in flight). */
  private long handedOutLast;
  private final List<Outbound> messages = new ArrayList<>();
  private final List<Outbound> messagesAfterPersist = new ArrayList<>();
  private final List<ProposalOutcome> outcomes = new ArrayList<>();
  private final List<String> violations = new ArrayList<>();

  public RaftCore(String id, RaftConfig settings, RandomSource random, DurableState state) {
    this.id = Objects.requireNonNull(id, "id");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.random = Objects.requireNonNull(random, "random");
    this.log = new RaftLog(state.snapshot(), state.entries());
    this.term = state.hardState().term();
    this.votedFor = state.hardState().votedFor();
    this.commitIndex = state.snapshot().lastIncludedIndex();
    this.lastApplied = commitIndex;
    this.stableIndex = log.lastIndex();
    this.handedOutLast = log.lastIndex();
    this.unstableFrom = log.lastIndex() + 1;
    this.snapshotConfig = state.snapshot().config();
    if (state.snapshotData() != null) this.snapshot = new Snapshot(state.snapshot(), state.snapshotData());
    this.tracker = new ProgressTracker(id, snapshotConfig);
    refreshConfig();
    resetElectionTimer(); // P5.1-08: start as a follower with a random timeout armed
  }

  // ---------------------------------------------------------------- inputs

  /** One unit of logical time. */
  public void tick() {
    now++;
    tickRole.run();
  }

  /** Handles a message from a peer. */
  public void step(RaftMessage m) {
    if (m.from() == null || m.from().equals(id)) return;
    if (m.term() > term) {
      if (!adoptHigherTerm(m)) return;
    } else if (m.term() < term) {
      refuseStale(m);
      return;
    }
    // The same term from here on. Every role answers (pre-)votes alike; the rest depends on the role.
    if (m instanceof RequestVote rv) {
      handleRequestVote(rv);
    } else if (m instanceof PreVote pv) {
      handlePreVote(pv);
    } else if (m instanceof ReadIndexResponse rr) {
      onReadIndexResponse(rr);
    } else {
      stepRole.accept(m);
    }
  }

  /**
   * P5.1-04, P5.1-05: a message of a higher term. Returns true if this node has adopted the term
   * and the message is to be handled in it; false if it was handled (or ignored) here.
   */
  private boolean adoptHigherTerm(RaftMessage m) {
    if (m instanceof PreVote pv) {
      handlePreVote(pv); // never changes our term (T9.6-02)
      return false;
    }
    if (m instanceof PreVoteResponse r && r.granted()) {
      // A grant carries the proposed term; it is not a newer term to adopt.
      if (role == Role.PRE_CANDIDATE && r.term() == term + 1) onPreVoteResponse(r);
      return false;
    }
    boolean transferVote = m instanceof RequestVote rv && rv.transfer();
    if (m instanceof RequestVote && !transferVote && ignoresDisruptiveCandidates()) {
      // T4.2.3: a node that heard from a live leader within the minimum election timeout ignores
      // a candidate's higher term; otherwise a removed or partitioned server disrupts it.
      return false;
    }
    boolean fromLeader = m instanceof AppendEntries || m instanceof InstallSnapshot || m instanceof TimeoutNow;
    if (settings.leaseTicks() > 0 && role == Role.FOLLOWER && heardFromLeaderRecently() && !fromLeader && !transferVote) {
      // T6.4.1: the leader's lease counts on this follower to stay out of any election for an
      // election timeout after its last contact. Adopting a higher term from anything but a
      // leader (a late pre-vote rejection, a stray response) would drop the leader and free the
      // vote of the new term; so with lease reads on it waits until the lease is over.
      return false;
    }
    // T4.2.3-04, T3.10-05: a transfer election passes both guards above; the leader that asked for
    // it cancelled its lease before it sent TimeoutNow. Once the target was told to campaign, a
    // higher term is most likely its election even when another voter brings it first (its vote
    // request to this leader may come later); the driver confirms by seeing the target lead.
    if (role == Role.LEADER && transfer != null && (transfer.target().equals(m.from()) || transfer.timeoutNowSent())) {
      outcomes.add(new ProposalOutcome.Transferred(transfer.correlationId(), transfer.target()));
      transfer = null;
    }
    // A denial is not a reset (P5.4.1-02): a follower keeps its election deadline unless the
    // message comes from a leader.
    becomeFollower(m.term(), fromLeader ? m.from() : null, role != Role.FOLLOWER);
    return true;
  }

  /** P5.1-02, P5.1-03: stale requests are answered with our term; stale responses are ignored. */
  private void refuseStale(RaftMessage m) {
    if (m instanceof AppendEntries ae) {
      replyAfterPersist(ae.from(), AppendEntriesResponse.reject(term, id, ae.prevLogIndex(), 0, 0));
    } else if (m instanceof RequestVote rv) {
      replyAfterPersist(rv.from(), new RequestVoteResponse(term, id, false));
    } else if (m instanceof PreVote pv) {
      send(pv.from(), new PreVoteResponse(term, id, false), true);
    } else if (m instanceof ReadIndexRequest rr) {
      replyAfterPersist(rr.from(), new ReadIndexResponse(term, id, rr.requestId(), -1));
    } else if (m instanceof InstallSnapshot is) {
      replyAfterPersist(is.from(), new InstallSnapshotResponse(term, id, is.lastIncludedIndex(), 0, false));
    }
  }

  /** A follower: the leader's replication, and reads to forward or refuse. */
  private void stepFollower(RaftMessage m) {
    if (m instanceof AppendEntries ae) {
      handleAppendEntries(ae);
    } else if (m instanceof InstallSnapshot is) {
      handleInstallSnapshot(is);
    } else if (m instanceof ReadIndexRequest rr) {
      refuseRead(rr);
    } else if (m instanceof TimeoutNow tn) {
      // T3.10-01: this term's leader hands over: campaign at once, without pre-vote (T3.10-05).
      if (tracker.isVoter(id) && (leaderId == null || leaderId.equals(tn.from()))) becomeCandidate(true);
    }
  }

  /** A pre-candidate or candidate: votes, and any sign of this term's leader (P5.2-06). */
  private void stepCandidate(RaftMessage m) {
    if (m instanceof AppendEntries ae) {
      becomeFollower(term, ae.from(), true);
      handleAppendEntries(ae);
    } else if (m instanceof InstallSnapshot is) {
      becomeFollower(term, is.from(), true);
      handleInstallSnapshot(is);
    } else if (m instanceof RequestVoteResponse r) {
      if (role == Role.CANDIDATE) onVoteResponse(r);
    } else if (m instanceof PreVoteResponse r) {
      // A grant for this round carries term + 1 (handled with the higher terms); here only rejections count.
      if (role == Role.PRE_CANDIDATE && !r.granted()) tracker.recordVote(r.from(), false);
    } else if (m instanceof ReadIndexRequest rr) {
      refuseRead(rr);
    }
  }

  /** The leader: acknowledgements of its replication, and reads forwarded to it. */
  private void stepLeader(RaftMessage m) {
    if (m instanceof AppendEntries || m instanceof InstallSnapshot) {
      violation("two leaders in term " + term + ": " + id + " and " + m.from());
    } else if (m instanceof AppendEntriesResponse r) {
      onAppendResponse(r);
    } else if (m instanceof InstallSnapshotResponse r) {
      onInstallSnapshotResponse(r);
    } else if (m instanceof ReadIndexRequest rr) {
      leaderRead(new PendingRead(rr.requestId(), rr.from(), 0, 0, now));
    }
  }

  /** Followers, pre-candidates and candidates: time runs towards the next election. */
  private void tickElection() {
    if (reads.anyForwarded()) expireForwardedReads();
    electionElapsed++;
    if (electionElapsed >= randomizedElectionTimeout && mayCampaign()) {
      campaign();
    }
  }

  /**
   * A voter campaigns. So does a member that the latest configuration in its log removes while that
   * configuration is not known committed here, if it was a voter before (thesis 4.2.2): it may hold
   * the configuration entry that the new voters lack (a removed leader that stepped down before the
   * entry committed, and the old voters it reached), and the new voters cannot win the outgoing
   * majority of a joint configuration without the votes of those that hold a longer log. Such a
   * candidate counts the votes of its latest configuration only, and as leader it commits that
   * configuration without counting itself, then steps down.
   */
  private boolean mayCampaign() {
    if (tracker.isVoter(id)) return true;
    return configIndex > commitIndex && configurationBefore().isVoter(id);
  }

  /** The configuration in force before the latest configuration entry of the log. */
  private ClusterConfig configurationBefore() {
    LogEntry previous = log.latestConfigEntry(configIndex - 1);
    return previous != null ? ((Configuration) previous.data()).config() : snapshotConfig;
  }

  /** The leader: check-quorum, expired reads and heartbeats. */
  private void tickHeartbeat() {
    heartbeatElapsed++;
    if (settings.checkQuorum() && now - quorumContact() >= settings.electionTimeoutMin()) {
      // T6.2-02: no majority heard from within one (minimum) election timeout: step down, same term.
      becomeFollower(term, null, true);
      return;
    }
    if (reads.leaderReadsWaiting()) expireLeaderReads();
    if (transfer != null && now - transfer.startedAt() >= settings.electionTimeoutMax()) {
      // T3.10-04: the target did not take over within an election timeout; carry on leading.
      outcomes.add(new ProposalOutcome.Rejected(transfer.correlationId(), ProposalOutcome.Rejection.TRANSFER_TIMED_OUT, "leadership transfer to " + transfer.target()
          + " did not complete within an election timeout (" + settings.electionTimeoutMax() + " ticks)"));
      transfer = null;
    }
    if (change != null) advanceChange();
    if (heartbeatElapsed >= settings.heartbeatInterval()) {
      heartbeatElapsed = 0;
      startRound(false);
      for (Map.Entry<String, Progress> e : tracker.allProgress().entrySet()) heartbeat(e.getKey(), e.getValue());
    }
  }

  /**
   * Proposes a new entry. On the leader it is appended at once (replicated on the next
   * {@link #ready()}) and its index is returned; elsewhere the caller is told {@link
   * ProposalOutcome.NotLeader} and -1 is returned, with nothing appended (T6.2-01).
   */
  public long propose(EntryData data, long correlationId) {
    if (role != Role.LEADER || transfer != null) {
      // T3.10-03: during a transfer the leader appends nothing; the caller is sent to the target.
      outcomes.add(new ProposalOutcome.NotLeader(correlationId, transfer != null ? transfer.target() : leaderId));
      return -1;
    }
    if (data instanceof Configuration) {
      outcomes.add(new ProposalOutcome.Rejected(correlationId, ProposalOutcome.Rejection.INVALID_REQUEST,
          "a configuration is changed with changeMembership, not proposed"));
      return -1;
    }
    if (!tracker.isVoter(id)) {
      // T4.2.2: this leader appended the configuration that removes it and leads only until that
      // commits. An entry proposed now could outlive its leadership with an unknown outcome; the
      // caller is sent to the voter most likely to lead next.
      outcomes.add(new ProposalOutcome.NotLeader(correlationId, mostUpToDateVoter()));
      return -1;
    }
    long index = appendAsLeader(data);
    if (correlationId >= 0) proposals.put(index, new PendingProposal(term, correlationId));
    return index;
  }

  /**
   * Asks for a linearizable read (thesis 6.4). When it may be served, a {@link ReadState} with this
   * {@code correlationId} comes out of {@link #ready()}; the driver answers the read once its state
   * machine has applied that index. On the leader the read index is the commit index when the read
   * arrives (after the leader's first commit in its term), confirmed by a heartbeat round; a
   * follower asks the leader for it. A node that knows no leader, or loses it, reports
   * {@link ProposalOutcome.NotLeader}. Reads never touch the log.
   */
  public void readIndex(long correlationId) {
    if (role == Role.LEADER) {
      leaderRead(new PendingRead(correlationId, null, 0, 0, now));
    } else if (role == Role.FOLLOWER && leaderId != null) {
      reads.forward(correlationId, now);
      // After persist: the term may have been adopted from the leader a moment ago (T3.8-01).
      send(leaderId, new ReadIndexRequest(term, id, correlationId), true);
    } else {
      outcomes.add(new ProposalOutcome.NotLeader(correlationId, leaderId));
    }
  }

  /**
   * A lease read (thesis 6.4.1): served at once by a leader whose lease holds (a heartbeat round
   * confirmed by a majority was sent less than the lease ago); otherwise, and on followers, a
   * {@link #readIndex} read. Needs lease reads enabled ({@link RaftConfig#leaseTicks()}).
   */
  public void leaseRead(long correlationId) {
    if (role == Role.LEADER && settings.leaseTicks() > 0 && committedInTerm() && reads.leaseHolds(now)) {
      reads.confirmed(new ReadState(correlationId, commitIndex));
      return;
    }
    readIndex(correlationId);
  }

  /**
   * Asks the leader to change the group's members (thesis chapter 4). Members that become voters
   * first catch up outside the configuration (4.2.1); then, once this leader has committed an entry
   * of its own term (the 2015 correction to 4.1), one configuration entry is appended: the new
   * configuration if at most one voter changes (4.1), else a joint one (4.3), which the leader
   * leaves by itself once it commits. The caller's {@link Committed} is the entry of the final
   * configuration; a change that cannot be made ends in {@link ProposalOutcome.Rejected} with
   * nothing appended (another change in progress, a member unknown or already present, the last
   * voter removed, a new member that does not catch up), or {@link ProposalOutcome.NotLeader}.
   */
  public void changeMembership(List<MembershipChange> changes, long correlationId) {
    if (role != Role.LEADER || transfer != null) {
      outcomes.add(new ProposalOutcome.NotLeader(correlationId, transfer != null ? transfer.target() : leaderId));
      return;
    }
    // T4.1-04: one change at a time; a leader's log never holds two uncommitted configurations. A
    // configuration entry of an earlier term that this leader does not know committed yet is no
    // reason to refuse: the change waits for this term's first commit (T4.1-06), which covers it.
    boolean ownUncommitted = configIndex > commitIndex && log.term(configIndex) == term;
    if (change != null || ownUncommitted || tracker.config().joint()) {
      outcomes.add(new ProposalOutcome.Rejected(correlationId, ProposalOutcome.Rejection.CHANGE_IN_PROGRESS, "a membership change is in progress"));
      return;
    }
    ClusterConfig target;
    try {
      target = MembershipChange.apply(tracker.config(), changes);
    } catch (MembershipChange.Invalid e) {
      outcomes.add(new ProposalOutcome.Rejected(correlationId, e.rejection(), e.getMessage()));
      return;
    }
    java.util.Set<String> catching = new java.util.TreeSet<>();
    for (String v : target.voters()) if (!tracker.config().isVoter(v)) catching.add(v);
    change = new PendingChange(correlationId, target, catching);
    change.roundEnd = log.lastIndex();
    change.roundStart = now;
    change.lastProgress = now;
    change.startedAt = now;
    for (String v : catching) tracker.stage(v, log.lastIndex() + 1, now);
    advanceChange();
  }

  /**
   * Asks the leader to hand its leadership to {@code target} (null: the most up-to-date other
   * voter), thesis 3.10. The leader stops accepting proposals and lease reads, brings the target up
   * to date, and sends it {@link TimeoutNow}; the target campaigns at once. Ends in {@link
   * ProposalOutcome.Transferred} when the leader steps down for the target's election, {@link
   * ProposalOutcome.Rejected} if the target is not another voter or the transfer does not finish
   * within an election timeout (the leader then carries on), or {@link ProposalOutcome.NotLeader}.
   */
  public void transferLeadership(String target, long correlationId) {
    if (role != Role.LEADER) {
      outcomes.add(new ProposalOutcome.NotLeader(correlationId, leaderId));
      return;
    }
    if (transfer != null) {
      outcomes.add(new ProposalOutcome.Rejected(correlationId, ProposalOutcome.Rejection.TRANSFER_IN_PROGRESS,
          "a leadership transfer to " + transfer.target() + " is in progress"));
      return;
    }
    String to = target != null ? target : mostUpToDateVoter();
    String problem = null;
    if (to == null) problem = "there is no other voter to transfer leadership to";
    else if (to.equals(id)) problem = id + " is the leader already";
    else if (tracker.config().isLearner(to)) problem = to + " is a learner; leadership goes only to a voter";
    else if (!tracker.config().voters().contains(to)) problem = to + " is not a voter of the group";
    if (problem != null) {
      outcomes.add(new ProposalOutcome.Rejected(correlationId, ProposalOutcome.Rejection.NOT_A_VOTER, problem)); // T3.10-06
      return;
    }
    transfer = new Transfer(to, correlationId, now, false);
    reads.cancelLease(); // T6.4.1-03: the target may lead before this lease would have run out
    // If the target lacks entries, or they are not known committed yet, an acknowledgement sends it later.
    maybeSendTimeoutNow();
  }

  /**
   * T3.10-02: the transfer target is told to campaign once it holds the whole log, and once this
   * leader knows the whole log committed. Proposals are paused during a transfer, so the log no
   * longer grows. Without the second condition a target that got the last entries before a majority
   * did (or before this leader's own write was durable) could win while they were not known
   * committed here: this leader would step down and tell their callers "unknown" although they
   * commit.
   */
  private void maybeSendTimeoutNow() {
    if (role != Role.LEADER || transfer == null) return;
    Progress pr = tracker.progress(transfer.target());
    if (pr != null && pr.matchIndex == log.lastIndex() && commitIndex == log.lastIndex()) {
      sendTimeoutNow(transfer.target());
      transfer = new Transfer(transfer.target(), transfer.correlationId(), transfer.startedAt(), true);
    }
  }

  /** Tells {@code to} to campaign at once (thesis 3.10); this leader takes no lease for the rest of its term. */
  private void sendTimeoutNow(String to) {
    sentTimeoutNow = true;
    send(to, new TimeoutNow(term, id), false);
  }

  /** The other voter (of the new configuration) with the highest match index, or null. */
  private String mostUpToDateVoter() {
    String best = null;
    long bestMatch = -1;
    for (String v : tracker.config().voters()) {
      Progress pr = tracker.progress(v);
      if (v.equals(id) || pr == null) continue;
      if (pr.matchIndex > bestMatch) {
        best = v;
        bestMatch = pr.matchIndex;
      }
    }
    return best;
  }

  /**
   * Storage reports that everything up to {@code index} (whose entry has {@code term}) is durable.
   * Ignored if this node's log no longer holds that entry (it was truncated meanwhile): by Log
   * Matching, an equal (index, term) means the durable prefix equals ours.
   */
  public void persisted(long index, long term) {
    if (index <= stableIndex || log.term(index) != term) return;
    stableIndex = Math.min(index, log.lastIndex());
    if (role == Role.LEADER) {
      long before = commitIndex;
      maybeCommit(); // T10.2.1: the leader counts itself once durable
      if (commitIndex > before) maybeSendTimeoutNow(); // T3.10-02: the whole log may be committed now
    }
  }

  /**
   * The state machine has taken a snapshot of its state as of applied index {@code index}
   * (T5.1-01: at most lastApplied). The log up to there is discarded and the snapshot handed out
   * for writing; storage drops the entries it covers once it is durable.
   */
  public void compact(long index, byte[] data) {
    compact(index, data, 0, 0);
  }

  /**
   * As {@link #compact(long, byte[])}, but the last entries the snapshot covers stay in the
   * in-memory log, at most {@code keepEntries} of them and at most {@code keepBytes} bytes (by
   * {@link LogEntry#sizeInBytes}): a follower that is only a little behind, as one with requests
   * in flight always is, then catches up from the log instead of receiving the whole snapshot.
   * They go with the next snapshot (or a snapshot installed). Storage still drops all it covers.
   */
  public void compact(long index, byte[] data, int keepEntries, long keepBytes) {
    if (index > lastApplied) {
      throw new IllegalArgumentException("cannot snapshot at " + index + ": only " + lastApplied + " is applied");
    }
    if (index <= log.snapshotIndex()) return;
    SnapshotMeta meta = new SnapshotMeta(index, log.term(index), configAt(index));
    long keepFrom = index + 1;
    long kept = 0;
    while (keepFrom - 1 > log.startIndex() && index + 1 - keepFrom < keepEntries) {
      long size = log.entry(keepFrom - 1).sizeInBytes();
      if (kept + size > keepBytes) break;
      kept += size;
      keepFrom--;
    }
    log.snapshotAt(index, meta.lastIncludedTerm(), keepFrom);
    snapshotConfig = meta.config();
    snapshot = new Snapshot(meta, data);
    snapshotToWrite = snapshot;
  }

  /** The configuration in force at {@code index}: the latest configuration entry at or before it. */
  private ClusterConfig configAt(long index) {
    LogEntry e = log.latestConfigEntry(index);
    return e != null ? ((Configuration) e.data()).config() : snapshotConfig;
  }

  /** Hands out everything accumulated since the last call. */
  public Ready ready() {
    if (role == Role.LEADER) {
      if (reads.roundRequested()) startRound(true);
      for (Map.Entry<String, Progress> e : tracker.allProgress().entrySet()) sendAppend(e.getKey(), e.getValue());
    }
    HardState hs = hardStateDirty ? new HardState(term, votedFor) : null;
    hardStateDirty = false;
    Snapshot toWrite = snapshotToWrite;
    Snapshot toRestore = snapshotToRestore;
    snapshotToWrite = null;
    snapshotToRestore = null;
    long truncateFrom = unstableFrom <= handedOutLast ? unstableFrom : 0;
    List<LogEntry> toWriteEntries = log.entriesFrom(Math.max(unstableFrom, log.firstIndex()));
    handedOutLast = log.lastIndex();
    unstableFrom = handedOutLast + 1;

    List<Committed> toApply = new ArrayList<>();
    // T5.1-03, T10.2.1: a committed entry is applied whether or not this node's own copy is durable
    // yet: it is durable on a majority and no leader can ever replace it (Leader Completeness), and
    // this node's log holds it (a follower's commitIndex never passes the prefix it checked, P5.3-15).
    // A leader whose own write lags its followers' (a snapshot being written, a slow disk) still
    // applies and answers what they committed.
    long applyTo = commitIndex;
    while (lastApplied < applyTo) {
      LogEntry e = log.entry(++lastApplied);
      PendingProposal p = proposals.remove(e.index());
      boolean ours = p != null && p.term() == e.term();
      if (p != null && !ours) {
        // P5.3-19: another leader's entry took this slot; the outcome is decided by the applied entry.
        outcomes.add(new ProposalOutcome.Unknown(p.correlationId(), "entry " + e.index() + " was replaced by term " + e.term()));
      }
      toApply.add(new Committed(e, ours ? p.correlationId() : -1));
    }
    // T6.4-04: a read is served only once the state machine has applied its read index; the
    // driver applies this round's committed entries before it serves this round's reads.
    List<ReadState> servable = reads.takeServable(lastApplied);
    Ready r = new Ready(hs, toWrite, truncateFrom, toWriteEntries, List.copyOf(messages),
        List.copyOf(messagesAfterPersist), toRestore, toApply, List.copyOf(outcomes), List.copyOf(servable),
        List.copyOf(violations));
    messages.clear();
    messagesAfterPersist.clear();
    outcomes.clear();
    violations.clear();
    return r;
  }

  // ---------------------------------------------------------------- elections (P5.2, T9.6)

  private void campaign() {
    if (settings.preVote()) becomePreCandidate();
    else becomeCandidate(false);
  }

  private void becomePreCandidate() {
    setRole(Role.PRE_CANDIDATE);
    preVoteRounds++;
    failForwardedReads(null);
    leaderId = null;
    tracker.resetVotes();
    resetElectionTimer();
    if (tracker.tally() == Quorum.VoteResult.WON) {
      becomeCandidate(false);
      return;
    }
    // T9.6-01: nothing is persisted; the request carries the term we would campaign in.
    for (String peer : tracker.otherVoters()) send(peer, new PreVote(term + 1, id, log.lastIndex(), log.lastTerm()), false);
  }

  /** {@code transfer}: campaigning because the leader asked (TimeoutNow, thesis 3.10). */
  private void becomeCandidate(boolean transfer) {
    setRole(Role.CANDIDATE);
    electionsStarted++;
    failForwardedReads(null);
    term++;
    votedFor = id;
    hardStateDirty = true; // P5.2-01, P5.2-13: term and self-vote durable before RequestVote leaves
    leaderId = null;
    tracker.resetVotes();
    resetElectionTimer();
    if (tracker.tally() == Quorum.VoteResult.WON) {
      becomeLeader(); // P5.2-14: a single voter elects itself without a message
      return;
    }
    for (String peer : tracker.otherVoters()) {
      send(peer, new RequestVote(term, id, log.lastIndex(), log.lastTerm(), transfer), true);
    }
  }

  private void handlePreVote(PreVote pv) {
    // T9.6-02: grant only to an up-to-date log, and only if no leader was heard from lately.
    boolean grant = pv.term() > term
        && role != Role.LEADER
        && !heardFromLeaderRecently()
        && isUpToDate(pv.lastLogTerm(), pv.lastLogIndex());
    send(pv.from(), new PreVoteResponse(grant ? pv.term() : term, id, grant), true);
  }

  private void onPreVoteResponse(PreVoteResponse r) {
    tracker.recordVote(r.from(), r.granted());
    if (tracker.tally() == Quorum.VoteResult.WON) becomeCandidate(false); // T9.6-03
  }

  private void handleRequestVote(RequestVote rv) {
    // P5.2-10: one vote per term, idempotent for the same candidate; P5.4.1-01: up-to-date check.
    boolean canVote = rv.from().equals(votedFor) || (votedFor == null && leaderId == null);
    boolean grant = canVote && isUpToDate(rv.lastLogTerm(), rv.lastLogIndex());
    if (grant) {
      if (!rv.from().equals(votedFor)) {
        votedFor = rv.from();
        hardStateDirty = true; // P5.2-11: durable before the grant leaves
      }
      resetElectionTimer(); // P5.2-02 (b)
      if (role == Role.PRE_CANDIDATE) {
        setRole(Role.FOLLOWER); // it backs another candidate of this term; its own pre-vote round ends
        tracker.clearVotes();
      }
    }
    replyAfterPersist(rv.from(), new RequestVoteResponse(term, id, grant));
  }

  private void onVoteResponse(RequestVoteResponse r) {
    tracker.recordVote(r.from(), r.granted()); // P5.2-04: a set of voters, a duplicate counts once
    // P5.2-03; P5.2-05: denials never end the election early, only the timer does.
    if (tracker.tally() == Quorum.VoteResult.WON) becomeLeader();
  }

  /** P5.4.1: the candidate's log is at least as up to date: last term first, then last index. */
  private boolean isUpToDate(long lastTerm, long lastIndex) {
    return lastTerm > log.lastTerm() || (lastTerm == log.lastTerm() && lastIndex >= log.lastIndex());
  }

  private boolean heardFromLeaderRecently() {
    // T6.4.1: with lease reads, this node may have acknowledged a leader's heartbeat round just before
    // it crashed, and that leader's lease counts on it to ignore candidates for an election timeout.
    // After a restart it keeps that promise: it grants no (pre-)vote for its first electionTimeoutMin ticks.
    if (settings.leaseTicks() > 0 && now < settings.electionTimeoutMin()) return true;
    return leaderId != null && electionElapsed < settings.electionTimeoutMin();
  }

  /**
   * T4.2.3 (with check-quorum on): a node that knows a live leader ignores RequestVote of a higher
   * term. A follower knows one if it heard from it within the minimum election timeout; a leader
   * is one if a quorum has answered it within that time.
   */
  private boolean ignoresDisruptiveCandidates() {
    if (!settings.checkQuorum()) return false;
    if (role == Role.LEADER) return now - quorumContact() < settings.electionTimeoutMin();
    return heardFromLeaderRecently();
  }

  // ---------------------------------------------------------------- role changes

  /** Sets the role and with it the role's step and tick functions. */
  private void setRole(Role r) {
    role = r;
    switch (r) {
      case LEADER:
        stepRole = this::stepLeader;
        tickRole = this::tickHeartbeat;
        break;
      case CANDIDATE:
      case PRE_CANDIDATE:
        stepRole = this::stepCandidate;
        tickRole = this::tickElection;
        break;
      default:
        stepRole = this::stepFollower;
        tickRole = this::tickElection;
    }
  }

  private void becomeFollower(long newTerm, String leader, boolean resetTimer) {
    Role old = role;
    if (newTerm > term) {
      term = newTerm;
      votedFor = null;
      hardStateDirty = true; // P5.1-04: persisted before any reply leaves
    }
    setRole(Role.FOLLOWER);
    if (!Objects.equals(leader, leaderId)) failForwardedReads(leader);
    leaderId = leader;
    tracker.clearVotes();
    if (old == Role.LEADER) {
      tracker.stopReplication();
      failProposals("leadership lost in term " + term);
      failLeaderReads(leader);
      if (change != null) {
        outcomes.add(new ProposalOutcome.NotLeader(change.correlationId, leader)); // nothing was appended
        change = null;
      }
      if (transfer != null) {
        outcomes.add(new ProposalOutcome.Unknown(transfer.correlationId(), "leadership was lost in term " + term
            + " before the transfer to " + transfer.target() + " completed"));
        transfer = null;
      }
    }
    if (resetTimer) resetElectionTimer();
  }

  private void becomeLeader() {
    setRole(Role.LEADER);
    electionsWon++;
    leaderId = id;
    tracker.clearVotes();
    heartbeatElapsed = 0;
    tracker.startReplication(log.lastIndex() + 1, now); // P5.2-03
    if (configIndex > commitIndex) {
      // The latest configuration may remove members of the one before: until it commits they still
      // get the log (they never count), so that they learn of it instead of campaigning (mayCampaign).
      for (String m : configurationBefore().members()) {
        if (!m.equals(id) && !tracker.config().isMember(m)) tracker.keepLeaving(m, log.lastIndex() + 1, now);
      }
    }
    reads.startLeadership();
    sentTimeoutNow = false;
    // P5.4.2-04 (paper 8): a no-op of the new term lets earlier entries commit.
    appendAsLeader(new EntryData.Noop(term));
  }

  private void resetElectionTimer() {
    electionElapsed = 0;
    randomizedElectionTimeout = random.between(settings.electionTimeoutMin(), settings.electionTimeoutMax());
  }

  /**
   * Leadership is lost: proposals beyond the commit index may or may not commit through a later
   * leader. Those at or below it are committed and keep their callers: this node applies them.
   */
  private void failProposals(String reason) {
    java.util.SortedMap<Long, PendingProposal> open = proposals.tailMap(commitIndex + 1);
    for (PendingProposal p : open.values()) outcomes.add(new ProposalOutcome.Unknown(p.correlationId(), reason));
    open.clear();
  }
  // ---------------------------------------------------------------- follower: AppendEntries (P5.3)

  private void handleAppendEntries(AppendEntries ae) {
    if (!ae.from().equals(leaderId)) failForwardedReads(ae.from());
    leaderId = ae.from(); // P5.3-22
    resetElectionTimer(); // P5.2-02 (a): even if the consistency check fails

    long prev = ae.prevLogIndex();
    List<LogEntry> entries = ae.entries();
    if (prev < log.snapshotIndex()) {
      // T5.1-05: the request overlaps our snapshot; entries it covers are committed and equal.
      int skip = (int) Math.min(entries.size(), log.snapshotIndex() - prev);
      entries = entries.subList(skip, entries.size());
      prev = log.snapshotIndex();
      if (ae.lastIndex() < prev) {
        replyAfterPersist(ae.from(), AppendEntriesResponse.success(term, id, prev).withRound(ae.round()));
        return;
      }
    } else if (!log.matches(prev, ae.prevLogTerm())) {
      // P5.3-03, P5.3-04: reject and truncate nothing; the hint lets the leader skip a term at a time.
      long hintIndex;
      long hintTerm;
      if (prev > log.lastIndex()) {
        hintIndex = log.lastIndex() + 1;
        hintTerm = 0;
      } else {
        hintTerm = log.term(prev);
        hintIndex = log.firstIndexOfTermAt(prev);
      }
      replyAfterPersist(ae.from(), AppendEntriesResponse.reject(term, id, prev, hintIndex, hintTerm).withRound(ae.round()));
      return;
    }

    // Find the first entry we do not already hold (P5.3-06, P5.3-07: no truncation without a conflict).
    int firstNew = entries.size();
    for (int i = 0; i < entries.size(); i++) {
      LogEntry e = entries.get(i);
      if (log.term(e.index()) != e.term()) {
        if (e.index() <= log.lastIndex() && e.index() <= commitIndex) {
          // P5.3-08: a correct leader never sends this; refuse rather than lose a committed entry.
          violation("AppendEntries from " + ae.from() + " in term " + term + " conflicts at index " + e.index()
              + " at or below commitIndex " + commitIndex + "; refused");
          return;
        }
        firstNew = i;
        break;
      }
    }
    if (firstNew < entries.size()) {
      long from = entries.get(firstNew).index();
      if (from <= log.lastIndex()) truncate(from); // P5.3-05
      for (int i = firstNew; i < entries.size(); i++) appendEntry(entries.get(i));
    }
    long lastNew = prev + entries.size();
    // P5.3-15: commit only what the checked prefix covers; P5.3-14: never decreases.
    long newCommit = Math.min(ae.leaderCommit(), lastNew);
    if (newCommit > commitIndex) commitIndex = newCommit;
    replyAfterPersist(ae.from(), AppendEntriesResponse.success(term, id, lastNew).withRound(ae.round())); // P5.3-02
  }

  /** Follower side of InstallSnapshot (paper Figure 13, thesis 5). */
  private void handleInstallSnapshot(InstallSnapshot is) {
    leaderId = is.from();
    resetElectionTimer(); // T5.1-13: every valid chunk is leader contact
    long idx = is.lastIncludedIndex();
    if (idx <= commitIndex || idx <= log.snapshotIndex()) {
      // T5.1-11: we already hold everything it covers; never roll back. Let the leader move on.
      incoming = null;
      replyAfterPersist(is.from(), new InstallSnapshotResponse(term, id, idx, is.totalBytes(), true));
      return;
    }
    SnapshotMeta meta = new SnapshotMeta(idx, is.lastIncludedTerm(), is.config());
    if (is.data().length == 0 && !is.done()) {
      // An empty chunk that does not finish the transfer asks where it stands (the leader heard
      // nothing since its last chunk): answer the offset expected next, and change nothing.
      long expected = incoming != null && meta.equals(incomingMeta) ? incomingSize : 0;
      replyAfterPersist(is.from(), new InstallSnapshotResponse(term, id, idx, expected, false));
      return;
    }
    if (is.offset() == 0) {
      // T5.1-12: a new transfer replaces any partial one.
      incomingMeta = meta;
      incoming = new byte[(int) Math.min(Integer.MAX_VALUE - 8, Math.max(0, is.totalBytes()))];
      incomingSize = 0;
    } else if (incoming == null || !meta.equals(incomingMeta) || is.offset() != incomingSize) {
      // T5.1-08: a gap, a duplicate or a chunk of another transfer: say which offset we expect.
      long expected = incoming != null && meta.equals(incomingMeta) ? incomingSize : 0;
      replyAfterPersist(is.from(), new InstallSnapshotResponse(term, id, idx, expected, false));
      return;
    }
    if (incomingSize + is.data().length > incoming.length) {
      violation("InstallSnapshot chunk past the announced size " + is.totalBytes() + "; transfer restarted");
      incoming = null;
      replyAfterPersist(is.from(), new InstallSnapshotResponse(term, id, idx, 0, false));
      return;
    }
    System.arraycopy(is.data(), 0, incoming, incomingSize, is.data().length);
    incomingSize += is.data().length;
    if (!is.done()) {
      replyAfterPersist(is.from(), new InstallSnapshotResponse(term, id, idx, incomingSize, false));
      return;
    }
    byte[] data = incomingSize == incoming.length ? incoming : java.util.Arrays.copyOf(incoming, incomingSize);
    incoming = null;
    installSnapshot(new Snapshot(meta, data));
    replyAfterPersist(is.from(), new InstallSnapshotResponse(term, id, idx, data.length, true));
  }

  private void installSnapshot(Snapshot s) {
    long idx = s.index();
    if (log.matches(idx, s.term())) {
      // T5.1-09: our log agrees up to the snapshot point: keep the suffix after it.
      log.compactTo(idx, s.term());
    } else {
      // T5.1-10: the log does not match: discard all of it.
      if (log.lastIndex() > idx) {
        log.truncateFrom(Math.max(idx + 1, log.firstIndex()));
      }
      log.compactTo(idx, s.term());
      unstableFrom = Math.min(unstableFrom, idx + 1);
      stableIndex = Math.min(stableIndex, idx);
    }
    snapshotConfig = s.meta().config();
    refreshConfig();
    snapshot = s;
    snapshotToWrite = s;
    // Only reached with idx > commitIndex >= lastApplied (T5.1-11 handles the rest), so the state
    // machine always jumps forward to the snapshot; the entries it skips are in it.
    snapshotToRestore = s;
    lastApplied = idx;
    commitIndex = idx;
  }

  private void truncate(long from) {
    log.truncateFrom(from);
    unstableFrom = Math.min(unstableFrom, from);
    stableIndex = Math.min(stableIndex, from - 1);
    refreshConfig();
  }

  private void appendEntry(LogEntry e) {
    log.append(e);
    unstableFrom = Math.min(unstableFrom, e.index());
    if (e.data() instanceof Configuration c) {
      useConfig(c.config()); // T4.1-01, T4.1-02: in force once appended, committed or not
      configIndex = e.index();
    }
  }

  /** The active configuration is the latest one in the log, else the snapshot's. */
  private void refreshConfig() {
    LogEntry latest = log.latestConfigEntry(log.lastIndex());
    useConfig(latest != null ? ((Configuration) latest.data()).config() : snapshotConfig); // T4.1-03
    configIndex = latest != null ? latest.index() : log.snapshotIndex();
  }

  /** Makes {@code c} the active configuration; a leader starts or stops replicating to the members it adds or drops. */
  private void useConfig(ClusterConfig c) {
    if (c.equals(tracker.config())) return;
    tracker.setConfig(c);
    if (role == Role.LEADER) tracker.syncProgress(log.lastIndex() + 1, now, true);
  }

  // ---------------------------------------------------------------- leader: replication (P5.3, T10.2)

  private long appendAsLeader(EntryData data) {
    LogEntry e = new LogEntry(log.lastIndex() + 1, term, data);
    appendEntry(e);
    maybeCommit(); // a single voter whose write is already durable cannot commit yet: stableIndex lags
    return e.index();
  }

  /** P5.3-16, P5.5-01: contact every follower at least once per heartbeat interval, forever. */
  private void heartbeat(String peer, Progress pr) {
    if (pr.mode == Progress.Mode.SNAPSHOT) {
      // T5.1-08: a chunk (or its reply) lost for a heartbeat interval is resent from the acknowledged offset.
      if (now - pr.lastSent >= settings.heartbeatInterval()) {
        pr.probeSent = false;
        sendAppend(peer, pr);
      }
      return;
    }
    if (pr.mode == Progress.Mode.PROBE) {
      pr.probeSent = false; // retry the probe: the previous one or its reply may be lost
      sendAppend(peer, pr);
      return;
    }
    Progress.Inflight oldest = pr.inflight.peekFirst();
    if (oldest != null && now - oldest.sentAt() >= 2L * settings.heartbeatInterval()) {
      // T10.2.2-04: a request or its reply is lost; probe again from the last acknowledged index.
      pr.becomeProbe(pr.matchIndex + 1);
      sendAppend(peer, pr);
      return;
    }
    // Anything sent in an earlier tick may be a full interval old by the next heartbeat tick: only
    // a message of this very tick makes the heartbeat redundant (P5.5-01: at least once per interval).
    if (now > pr.lastSent) sendHeartbeat(peer, pr);
  }

  /**
   * An empty AppendEntries with the commit index and the current read round. prevLogIndex =
   * matchIndex is known to match, so a heartbeat never disturbs the pipeline.
   */
  private void sendHeartbeat(String peer, Progress pr) {
    // Not the snapshot point: a follower catching up from entries kept behind it does not hold that yet.
    long prev = Math.max(pr.matchIndex, log.startIndex());
    send(peer, new AppendEntries(term, id, prev, log.term(prev), List.of(), commitIndex, reads.round()), false);
    pr.lastSent = now;
  }

  /** A heartbeat to every member now, but those receiving a snapshot (it would disturb the transfer). */
  private void broadcastHeartbeats() {
    for (Map.Entry<String, Progress> e : tracker.allProgress().entrySet()) {
      if (e.getValue().mode != Progress.Mode.SNAPSHOT) sendHeartbeat(e.getKey(), e.getValue());
    }
  }

  /** Sends what the follower's mode and window allow: one probe, or a window of pipelined requests. */
  private void sendAppend(String peer, Progress pr) {
    if (pr.mode == Progress.Mode.SNAPSHOT || pr.nextIndex <= log.startIndex()) {
      sendSnapshotChunk(peer, pr); // T5.1-06: the entries it needs are compacted
      return;
    }
    if (pr.mode == Progress.Mode.PROBE) {
      if (pr.probeSent) return; // one probe at a time; the heartbeat retries a lost one
      // A follower silent since entries last left for it gets an empty probe: its answer, not the
      // heartbeat, lets the next entries leave, so a stopped follower is not sent a batch per interval.
      List<LogEntry> batch = pr.nextIndex <= log.lastIndex() && !pr.silent()
          ? log.slice(pr.nextIndex, log.lastIndex(), settings.maxEntriesPerAppend(), settings.maxBytesPerAppend())
          : List.of();
      sendAppendEntries(peer, pr, pr.nextIndex - 1, batch);
      pr.probeSent = true;
      return;
    }
    // T10.2.2: pipelining with an optimistic nextIndex, at most maxInflightAppends outstanding;
    // of those, at most maxInflightPartialAppends with a partial batch (Nagle-like: while replies
    // are awaited, new entries gather into one larger message instead of many small ones).
    while (pr.inflight.size() < settings.maxInflightAppends() && pr.nextIndex <= log.lastIndex()) {
      List<LogEntry> batch =
          log.slice(pr.nextIndex, log.lastIndex(), settings.maxEntriesPerAppend(), settings.maxBytesPerAppend());
      boolean partial = batch.get(batch.size() - 1).index() == log.lastIndex()
          && batch.size() < settings.maxEntriesPerAppend();
      if (partial && partialWindowFull(pr)) break;
      sendAppendEntries(peer, pr, pr.nextIndex - 1, batch);
      long last = batch.get(batch.size() - 1).index();
      pr.inflight.addLast(new Progress.Inflight(last, now, partial));
      pr.nextIndex = last + 1;
    }
  }

  /**
   * Whether this leader may hold entry {@code index} back from its own storage write for now: no
   * follower has been sent it yet, and at least one will be as soon as the partial batch in flight
   * to it is answered (T10.2.1: the leader writes in parallel with replication). The driver then
   * starts the write when the entries leave for the followers, so the leader writes in batches of
   * the size its followers write, instead of once per write it completes; its write still overlaps
   * the round trip. Never true for a leader without followers, or for one whose followers are all
   * probing, stalled or receiving snapshots: then nothing is coming to release the write.
   */
  public boolean writeMayWaitForSend(long index) {
    if (role != Role.LEADER) return false;
    boolean gathering = false;
    for (Progress pr : tracker.allProgress().values()) {
      if (pr.nextIndex > index) return false; // already sent to someone: write it now
      if (pr.mode == Progress.Mode.REPLICATE && partialWindowFull(pr)) gathering = true;
    }
    return gathering;
  }

  /** Partial batches in flight to {@code pr} are at their limit: new entries gather for the next one. */
  private boolean partialWindowFull(Progress pr) {
    int n = 0;
    for (Progress.Inflight i : pr.inflight) if (i.partial()) n++;
    return n >= settings.maxInflightPartialAppends();
  }

  /** T5.1-07: one chunk at a time, in offset order, resumed from the offset the follower asks for. */
  private void sendSnapshotChunk(String peer, Progress pr) {
    if (snapshot == null) return; // the snapshot's data is not loaded; cannot happen in a node that compacted
    if (pr.mode != Progress.Mode.SNAPSHOT) pr.becomeSnapshot(snapshot);
    if (pr.probeSent) return;
    // T5.1-14: a transfer keeps the snapshot it started with, even if a newer one is taken; but one
    // the follower has acknowledged nothing of yet (a silent follower's, above all) takes the newest:
    // it costs nothing, and the leader does not hold an old snapshot for a follower that cannot take it.
    if (pr.snapshotOffset == 0 && pr.sending != snapshot) pr.sending = snapshot;
    Snapshot s = pr.sending;
    int from = (int) pr.snapshotOffset;
    // A follower silent since the last chunk left is asked where the transfer stands (an empty chunk
    // that does not finish it) instead of being sent the chunk again: chunks to a stopped follower
    // would wait in the transport's queue, one per heartbeat interval, for as long as it stays stopped.
    boolean ask = pr.silent() && from < s.data().length;
    int len = ask ? 0 : Math.min(settings.snapshotChunkBytes(), s.data().length - from);
    byte[] chunk = java.util.Arrays.copyOfRange(s.data(), from, from + len);
    boolean done = !ask && from + len == s.data().length;
    send(peer, new InstallSnapshot(term, id, s.index(), s.term(), s.meta().config(), from, chunk, done, s.data().length), false);
    pr.snapshotInFlightEnd = from + len;
    pr.probeSent = true;
    pr.lastSent = now;
    if (len > 0) pr.dataSent();
  }

  private void onInstallSnapshotResponse(InstallSnapshotResponse r) {
    Progress pr = tracker.progress(r.from());
    if (pr == null) return;
    pr.heardFrom(now);
    if (r.installed()) {
      if (pr.acknowledge(r.lastIncludedIndex())) maybeCommit();
      if (role != Role.LEADER) return;
      if (pr.mode == Progress.Mode.SNAPSHOT) pr.becomeProbe(pr.matchIndex + 1);
      return;
    }
    if (pr.mode != Progress.Mode.SNAPSHOT || r.lastIncludedIndex() != pr.sending.index()) return; // stale
    long next = Math.min(r.nextOffset(), pr.sending.data().length);
    boolean asking = pr.snapshotInFlightEnd == pr.snapshotOffset; // an empty chunk is in flight (sendSnapshotChunk)
    if (pr.probeSent && (next == pr.snapshotInFlightEnd || asking)) {
      // The chunk in flight arrived, or the follower answered where it stands: the next chunk leaves
      // at once, from where it says (T5.1-07: one at a time).
      pr.snapshotOffset = next;
      pr.probeSent = false;
      return;
    }
    // Any other answer (a duplicate, a late one, a gap the follower reports) only moves where the
    // next resend starts; the resend waits for the heartbeat, and the follower's answer to it says
    // where it really is. Letting every such answer send a chunk at once made duplicated answers
    // multiply the chunks in flight.
    pr.snapshotOffset = next;
  }

  private void sendAppendEntries(String peer, Progress pr, long prev, List<LogEntry> batch) {
    send(peer, new AppendEntries(term, id, prev, log.term(prev), batch, commitIndex, reads.round()), false);
    pr.lastSent = now;
    if (!batch.isEmpty()) pr.dataSent();
  }

  private void onAppendResponse(AppendEntriesResponse r) {
    Progress pr = tracker.progress(r.from());
    if (pr == null) return;
    pr.heardFrom(now); // T6.2-02: any reply of the current term is contact
    if (r.round() > pr.ackedRound) {
      pr.ackedRound = r.round();
      confirmRounds();
    }
    if (r.success()) {
      boolean moved = pr.acknowledge(r.matchIndex()); // P5.3-12: matchIndex only grows
      if (pr.mode == Progress.Mode.PROBE && (moved || pr.matchIndex + 1 >= pr.nextIndex)) {
        pr.becomeReplicate();
      }
      if (moved) maybeCommit();
      if (role != Role.LEADER) return; // the commit may have removed this leader
      // T3.10-02: the target may hold the whole log now, or this answer may have committed it.
      if (transfer != null && (moved || transfer.target().equals(r.from()))) maybeSendTimeoutNow();
      if (moved && change != null) advanceChange();
      return;
    }
    // A rejection. Stale ones (T10.2.2-05) are ignored: in PROBE only the current probe counts;
    // in REPLICATE anything below the acknowledged match is old news. A rejection at exactly
    // matchIndex is a reordering gap since filled: the entries after it were not taken, so resend.
    if (r.rejectedIndex() < pr.matchIndex) return;
    if (pr.mode == Progress.Mode.PROBE && r.rejectedIndex() != pr.nextIndex - 1) return;
    long next;
    if (!settings.conflictHint()) {
      next = r.rejectedIndex(); // P5.3-09: back up by exactly one
    } else if (r.hintTerm() == 0) {
      next = r.hintIndex(); // P5.3-10: the follower's log ends before prevLogIndex
    } else {
      long lastOfTerm = log.lastIndexOfTerm(r.hintTerm(), r.rejectedIndex());
      next = lastOfTerm > 0 ? lastOfTerm + 1 : r.hintIndex();
    }
    next = Math.max(1, Math.min(next, r.rejectedIndex()));
    pr.becomeProbe(next);
  }

  /** P5.3-13, P5.4.2: commit the highest index on a majority whose entry is of the current term. */
  private void maybeCommit() {
    if (role != Role.LEADER) return;
    // T10.2.1-02: the leader counts its own durable index, not its last index.
    long candidate = tracker.agreed(stableIndex, pr -> pr.matchIndex, 0);
    if (candidate > commitIndex && log.term(candidate) == term) {
      long before = commitIndex;
      commitIndex = candidate;
      for (PendingRead r : reads.takeAwaitingCommit()) leaderRead(r);
      // Only when this commit covers the active configuration for the first time, or a joint one
      // committed under an earlier leader still waits to be left: not on every commit.
      if (configIndex <= commitIndex && (configIndex > before || tracker.config().joint())) configurationCommitted();
      if (change != null && role == Role.LEADER) advanceChange();
    }
  }

  // ---------------------------------------------------------------- membership (thesis chapter 4)

  /** The leader's active configuration has committed: finish a joint change, or leave if removed. */
  private void configurationCommitted() {
    ClusterConfig c = tracker.config();
    // Members it removes get a last heartbeat that matches at the configuration entry and carries
    // the commit index: one that holds the entry learns that the change committed, and stops taking
    // part (mayCampaign); one that does not refuses it. Then they get nothing more.
    if (configIndex > log.snapshotIndex()) {
      for (String peer : tracker.leaving()) {
        send(peer, new AppendEntries(term, id, configIndex, log.term(configIndex), List.of(), commitIndex, reads.round()), false);
      }
    }
    tracker.syncProgress(log.lastIndex() + 1, now, false);
    if (c.joint()) {
      // T4.3-02: C_old,new is committed; C_new follows at once. The caller waits for it.
      long jointIndex = configIndex;
      long index = appendAsLeader(new Configuration(c.leaveJoint()));
      PendingProposal p = proposals.remove(jointIndex);
      if (p != null) proposals.put(index, new PendingProposal(term, p.correlationId()));
      return;
    }
    if (!c.isVoter(id) && role == Role.LEADER) {
      // T4.2.2-02: the configuration that removed this leader is committed without it. It steps
      // down and tells the most up-to-date voter to campaign at once, so that the group does not
      // wait an election timeout for its next leader.
      // Its last heartbeat carries the commit index, so the members learn that the change committed.
      broadcastHeartbeats();
      String successor = mostUpToDateVoter();
      Progress pr = successor == null ? null : tracker.progress(successor);
      if (pr != null && pr.matchIndex == log.lastIndex()) sendTimeoutNow(successor);
      becomeFollower(term, null, true);
    }
  }

  /**
   * Moves the pending membership change on: counts catch-up rounds of its new voters (T4.2.1-02),
   * fails it if they do not catch up (T4.2.1-03), and appends its configuration once they have
   * and an entry of this term has committed (T4.1-06).
   */
  private void advanceChange() {
    PendingChange c = change;
    if (!c.catching.isEmpty()) {
      long least = Long.MAX_VALUE;
      boolean moved = false;
      for (String m : c.catching) {
        Progress pr = tracker.progress(m);
        least = Math.min(least, pr == null ? 0 : pr.matchIndex);
        if (pr != null) moved |= movedOn(c, m, pr);
      }
      if (least > c.progressMark || moved) {
        c.progressMark = least;
        c.lastProgress = now;
      }
      if (least < c.roundEnd) {
        // A member that has not answered at all yet may still be starting (a new process): it gets
        // catch-up-rounds election timeouts for its first answer. Once all have answered, an
        // election timeout without progress fails the change (T4.2.1-03).
        boolean allAnswered = true;
        for (String m : c.catching) {
          Progress pr = tracker.progress(m);
          if (pr == null || pr.lastContact <= c.startedAt) allAnswered = false;
        }
        long allowed = allAnswered ? settings.electionTimeoutMax() : (long) settings.electionTimeoutMax() * settings.catchUpRounds();
        if (now - c.lastProgress >= allowed) {
          failChange("new voter(s) " + c.catching + (allAnswered ? " made no progress for an election timeout ("
              + allowed + " ticks)" : " did not answer within " + allowed + " ticks") + "; the configuration is unchanged");
        }
        return;
      }
      if (now - c.roundStart >= settings.electionTimeoutMin()) {
        // The round took an election timeout or more: the member is still too far behind to vote.
        if (c.round >= settings.catchUpRounds()) {
          failChange("new voter(s) " + c.catching + " did not catch up within " + settings.catchUpRounds()
              + " rounds (the last one must take less than an election timeout); the configuration is unchanged");
          return;
        }
        c.round++;
        c.roundEnd = log.lastIndex();
        c.roundStart = now;
        return;
      }
      c.catching.clear();
    }
    if (!committedInTerm()) return; // T4.1-06: first an entry of this leader's term commits
    change = null;
    long index = appendAsLeader(new Configuration(c.target));
    proposals.put(index, new PendingProposal(term, c.correlationId));
    for (String m : c.target.voters()) tracker.unstage(m);
  }

  /**
   * Whether a new voter got further since last looked at: a higher match index, a probe one step
   * closer to where its log matches (without the conflict hint a leader backs up one index per
   * round trip, P5.3-09), or more of a snapshot acknowledged. Each is bounded, so a member that
   * answers without ever getting anywhere still fails the change.
   */
  private static boolean movedOn(PendingChange c, String m, Progress pr) {
    Position is = new Position(pr.matchIndex, pr.nextIndex, pr.snapshotOffset, pr.mode == Progress.Mode.PROBE);
    Position was = c.position.put(m, is);
    if (was == null) return false;
    boolean probedCloser = was.probing() && is.probing() && is.matchIndex() == was.matchIndex() && is.nextIndex() < was.nextIndex();
    return is.matchIndex() > was.matchIndex() || probedCloser || is.snapshotOffset() > was.snapshotOffset();
  }

  private void failChange(String reason) {
    outcomes.add(new ProposalOutcome.Rejected(change.correlationId, ProposalOutcome.Rejection.CATCH_UP_FAILED, reason));
    for (String m : change.target.voters()) if (!tracker.config().isMember(m)) tracker.unstage(m);
    change = null;
  }

  // ---------------------------------------------------------------- reads (T6.4)

  private boolean committedInTerm() {
    return commitIndex >= log.snapshotIndex() && log.term(commitIndex) == term;
  }

  private void leaderRead(PendingRead r) {
    if (!committedInTerm()) {
      reads.awaitCommit(r); // T6.4-01: our commit index may still be behind the last leader's
      return;
    }
    reads.awaitRound(r, commitIndex);
  }

  /** Starts a new heartbeat round; {@code broadcast}: send it to every follower now. */
  private void startRound(boolean broadcast) {
    reads.startRound(now, broadcast);
    if (broadcast) broadcastHeartbeats();
    confirmRounds(); // a single voter confirms its own round
  }

  /** The highest round a quorum (this leader included) has acknowledged: serve what it confirms. */
  private void confirmRounds() {
    long agreed = tracker.agreed(reads.round(), pr -> pr.ackedRound, 0);
    // T6.4.1-03: a leader handing over its leadership, or that told a member to campaign in this
    // term, takes no new lease.
    for (PendingRead r : reads.confirm(agreed, transfer != null || sentTimeoutNow ? 0 : settings.leaseTicks())) {
      if (r.from() == null) reads.confirmed(new ReadState(r.correlationId(), r.index()));
      else send(r.from(), new ReadIndexResponse(term, id, r.correlationId(), r.index()), false);
    }
  }

  /** T6.4-08: a leader that steps down serves none of its pending reads. */
  private void failLeaderReads(String newLeader) {
    for (PendingRead r : reads.endLeadership()) failRead(r, newLeader, true); // a refusal is stamped with the new term
  }

  /**
   * A leader that cannot confirm a round (or commit in its term) within an election timeout is cut
   * off, or soon no leader; its reads fail so that their callers can retry elsewhere, and nothing
   * waits forever when check-quorum is off.
   */
  private void expireLeaderReads() {
    for (PendingRead r : reads.expireLeaderReads(now - settings.electionTimeoutMax())) {
      failRead(r, null, false); // a leader's term is durable
    }
  }

  /** Fails a leader read: a local one as not-leader, a forwarded one with a refusal to its follower. */
  private void failRead(PendingRead r, String leaderHint, boolean afterPersist) {
    if (r.from() == null) outcomes.add(new ProposalOutcome.NotLeader(r.correlationId(), leaderHint));
    else send(r.from(), new ReadIndexResponse(term, id, r.correlationId(), -1), afterPersist);
  }

  /** A node that does not lead refuses a read forwarded to it; the follower asks elsewhere. */
  private void refuseRead(ReadIndexRequest rr) {
    replyAfterPersist(rr.from(), new ReadIndexResponse(term, id, rr.requestId(), -1)); // our term may be new
  }

  /** The leader's answer to a read this node forwarded (T6.4-09). */
  private void onReadIndexResponse(ReadIndexResponse rr) {
    if (!reads.answered(rr.requestId())) return;
    if (rr.readIndex() >= 0) reads.confirmed(new ReadState(rr.requestId(), rr.readIndex()));
    else outcomes.add(new ProposalOutcome.NotLeader(rr.requestId(), role == Role.FOLLOWER ? leaderId : null));
  }

  /** Reads forwarded to a leader we no longer follow will never be answered by it: fail them now. */
  private void failForwardedReads(String newLeader) {
    for (long corr : reads.dropForwarded()) outcomes.add(new ProposalOutcome.NotLeader(corr, newLeader));
  }

  /** A forwarded read whose answer was lost fails after an election timeout; its caller may retry. */
  private void expireForwardedReads() {
    for (long corr : reads.expireForwarded(now - settings.electionTimeoutMax())) {
      outcomes.add(new ProposalOutcome.NotLeader(corr, leaderId));
    }
  }

  /** The latest tick by which a quorum (counting this leader now) had been heard from. */
  private long quorumContact() {
    return tracker.agreed(now, pr -> pr.lastContact, Long.MIN_VALUE / 2);
  }

  // ---------------------------------------------------------------- helpers

  private void send(String to, RaftMessage m, boolean afterPersist) {
    (afterPersist ? messagesAfterPersist : messages).add(new Outbound(to, m));
  }

  private void replyAfterPersist(String to, RaftMessage m) {
    send(to, m, true);
  }

  private void violation(String what) {
    violations.add(id + ": " + what);
  }

  // ---------------------------------------------------------------- observers

  // The state of a node is read as one value, through status(). The few accessors kept besides it
  // are those a driver reads on every message (role, term, leader, the commit, applied, last and
  // snapshot indexes, the configuration), a read-only view of the log and the counts of campaigns
  // (for metrics): they cost no allocation.

  /** The node's state now, as one value. */
  public CoreStatus status() {
    Map<String, CoreStatus.PeerProgress> peers = Map.of();
    if (role == Role.LEADER) {
      peers = new LinkedHashMap<>();
      for (Map.Entry<String, Progress> e : tracker.allProgress().entrySet()) {
        Progress pr = e.getValue();
        peers.put(e.getKey(), new CoreStatus.PeerProgress(pr.matchIndex, pr.nextIndex, pr.inflight.size(), pr.mode.name()));
      }
      peers = java.util.Collections.unmodifiableMap(peers);
    }
    return new CoreStatus(id, role, term, votedFor, leaderId, commitIndex, lastApplied, stableIndex, log.firstIndex(),
        log.lastIndex(), log.lastTerm(), log.snapshotIndex(), tracker.config(), now, electionElapsed,
        randomizedElectionTimeout, proposals.size(),
        role == Role.PRE_CANDIDATE || role == Role.CANDIDATE ? tracker.granted() : java.util.Set.of(), peers,
        change == null ? null : new CoreStatus.ChangeStatus(change.target, List.copyOf(change.catching), change.round),
        transfer == null ? null : transfer.target());
  }

  public String id() {
    return id;
  }

  /** The settings this node runs with. */
  public RaftConfig settings() {
    return settings;
  }

  public Role role() {
    return role;
  }

  public long term() {
    return term;
  }

  /** The leader of the current term as far as this node knows, or null. */
  public String leaderId() {
    return leaderId;
  }

  public long commitIndex() {
    return commitIndex;
  }

  public long lastApplied() {
    return lastApplied;
  }

  public long lastIndex() {
    return log.lastIndex();
  }

  public long snapshotIndex() {
    return log.snapshotIndex();
  }

  /** The active configuration: the latest in the log, committed or not. */
  public ClusterConfig config() {
    return tracker.config();
  }

  /**
   * Pre-vote rounds (thesis 9.6) this node started since this core was created; a round that ends
   * in an election is counted here and in {@link #electionsStarted()}.
   */
  public long preVoteRounds() {
    return preVoteRounds;
  }

  /** Elections this node started as a candidate (in a new term) since this core was created, transfers included. */
  public long electionsStarted() {
    return electionsStarted;
  }

  /** Elections this node won (it became leader) since this core was created. */
  public long electionsWon() {
    return electionsWon;
  }

  // The log, read-only.

  /** The term of entry {@code index}, or -1 if not held. */
  public long termAt(long index) {
    return log.term(index);
  }

  public LogEntry entry(long index) {
    return log.entry(index);
  }

  /** The entries from {@code from} to the end of the log. */
  public List<LogEntry> entriesFrom(long from) {
    return log.entriesFrom(Math.max(from, log.firstIndex()));
  }

  /** The latest snapshot this node holds, or null. */
  public Snapshot snapshot() {
    return snapshot;
  }

  @Override
  public String toString() {
    return "RaftCore{" + id + " " + role + " term=" + term + " vote=" + votedFor + " leader=" + leaderId
        + " last=" + log.lastIndex() + "/" + log.lastTerm() + " commit=" + commitIndex + " applied=" + lastApplied
        + " stable=" + stableIndex + "}";
  }
}
