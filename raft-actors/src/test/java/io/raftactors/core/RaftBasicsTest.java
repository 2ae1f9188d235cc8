package io.raftactors.core;

import static io.raftactors.core.CoreFixture.*;
import static org.junit.jupiter.api.Assertions.*;

import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import io.raftactors.core.RaftMessage.PreVote;
import io.raftactors.core.RaftMessage.PreVoteResponse;
import io.raftactors.core.RaftMessage.RequestVote;
import io.raftactors.core.RaftMessage.RequestVoteResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Raft basics (paper 5.1, thesis 3.3): terms, stale messages, step-down on a higher term, and how a
 * node starts. Unit tests of the pure core; the subject is always n1 of {n1, n2, n3}.
 *
 * <p>The basic rules must hold with the optional features off as well as with the defaults
 * (pre-vote and check-quorum on), so most tests run under both settings.
 */
class RaftBasicsTest {
  static final ClusterConfig THREE = members(3);

  /** Both optional election features off, or both on (the defaults). */
  static Stream<Arguments> featureSettings() {
    return Stream.of(Arguments.of(false, false), Arguments.of(true, true));
  }

  static RaftConfig cfg(boolean preVote, boolean checkQuorum) {
    return settings().withPreVote(preVote).withCheckQuorum(checkQuorum);
  }

  // ------------------------------------------------------------------ helpers shared with LeaderElectionTest

  /**
   * A tiny storage double: it carries out the writes a Ready asks for (hard state, truncation,
   * appends) and reports them durable at once. A "restart" builds a new core from what it holds.
   */
  static final class Disk {
    private final ClusterConfig members;
    HardState hard;
    final List<LogEntry> log = new ArrayList<>();

    Disk(ClusterConfig members, long term, String votedFor, List<LogEntry> entries) {
      this.members = members;
      this.hard = new HardState(term, votedFor);
      this.log.addAll(entries);
    }

    /** Collects the core's output and completes its write. */
    Ready ready(RaftCore core) {
      Ready r = core.ready();
      if (r.hardState() != null) hard = r.hardState();
      if (r.truncateFrom() > 0) log.removeIf(e -> e.index() >= r.truncateFrom());
      log.addAll(r.entries());
      persist(core, r);
      return r;
    }

    DurableState state() {
      return new DurableState(hard, SnapshotMeta.initial(members), log);
    }

    /** Builds a fresh core from the durable state only, as a process restart would. */
    RaftCore restart(String id, RaftConfig cfg, RandomSource rnd) {
      return new RaftCore(id, cfg, rnd, state());
    }
  }

  /** A random source that remembers how often it was asked and what it answered last. */
  static final class CountingRandom implements RandomSource {
    private final RandomSource inner;
    int draws;
    int last = -1;

    CountingRandom(RandomSource inner) {
      this.inner = inner;
    }

    @Override
    public int between(int min, int max) {
      draws++;
      last = inner.between(min, max);
      return last;
    }
  }

  /**
   * Ticks a follower until its election timer fires and, if it ran pre-vote, grants it one pre-vote
   * (enough in a 3-node cluster). Returns the Ready that made it Candidate, with its writes done.
   */
  static Ready makeCandidate(RaftCore n) {
    for (int i = 0; i < 1000 && n.role() == Role.FOLLOWER; i++) {
      n.tick();
      if (n.role() == Role.FOLLOWER) n.ready();
    }
    if (n.role() == Role.PRE_CANDIDATE) {
      for (String v : n.config().voters()) {
        if (n.role() != Role.PRE_CANDIDATE) break;
        if (!v.equals(n.id())) n.step(new PreVoteResponse(n.term() + 1, v, true));
      }
    }
    assertEquals(Role.CANDIDATE, n.role(), "setup: " + n);
    Ready r = n.ready();
    persist(n, r);
    return r;
  }

  // ------------------------------------------------------------------ P5.1-01

  /** The four messages of P5.1-01: an AppendEntries or a RequestVote stamped with the given term. */
  static RaftMessage stamped(String kind, long term, String from) {
    if (kind.equals("AppendEntries")) return new AppendEntries(term, from, 0, 0, List.of(), 0);
    return new RequestVote(term, from, 0, 0);
  }

  static Stream<Arguments> termKinds() {
    List<Arguments> out = new ArrayList<>();
    for (String kind : List.of("AppendEntries", "RequestVote")) {
      out.add(Arguments.of(kind, false, false));
      out.add(Arguments.of(kind, true, true));
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0}, preVote={1}, checkQuorum={2}")
  @MethodSource("termKinds")
  void basics_P5_1_01_termIsMonotonicAndSurvivesRestart(String kind, boolean preVote, boolean checkQuorum) {
    RaftConfig cfg = cfg(preVote, checkQuorum);
    Disk disk = new Disk(THREE, 0, null, List.of());
    RaftCore n = disk.restart("n1", cfg, fixed(20));

    long[] stamps = {3, 1, 5, 2};
    String[] senders = {"n2", "n3", "n3", "n2"};
    long[] expected = {3, 3, 5, 5};
    long highestOutput = 0;
    long highestWritten = 0;
    for (int i = 0; i < stamps.length; i++) {
      n.step(stamped(kind, stamps[i], senders[i]));
      Ready r = disk.ready(n);
      assertEquals(expected[i], n.term(), "currentTerm after the message stamped " + stamps[i]);
      // Every message answers the sender; none may carry a term below an earlier output.
      assertFalse(allMessages(r).isEmpty(), "each message is answered");
      for (Outbound o : allMessages(r)) {
        assertTrue(o.message().term() >= highestOutput, "output term went back: " + o);
        assertEquals(n.term(), o.message().term(), "a reply carries the current term: " + o);
        highestOutput = o.message().term();
      }
      if (r.hardState() != null) {
        assertTrue(r.hardState().term() >= highestWritten, "persisted term went back: " + r.hardState());
        highestWritten = r.hardState().term();
      }
    }
    assertEquals(5, highestWritten, "the highest term seen was persisted");

    // Restart from storage alone.
    RaftCore restarted = disk.restart("n1", cfg, fixed(20));
    assertEquals(5, restarted.term(), "currentTerm after the restart");
    restarted.step(stamped(kind, 4, "n2"));
    Ready r = restarted.ready();
    assertEquals(5, restarted.term());
    for (Outbound o : allMessages(r)) assertEquals(5, o.message().term(), "no output below term 5: " + o);
  }

  // ------------------------------------------------------------------ P5.1-02

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void basics_P5_1_02_staleAppendEntriesRejectedWithoutSideEffects(boolean preVote, boolean checkQuorum) {
    // Draws: 12 at start, 15 when the leader's heartbeat resets the timer, 19 if anything reset it again.
    RaftCore f = node("n1", THREE, 5, "n2", sequence(12, 15, 19), cfg(preVote, checkQuorum), 1, 1, 2, 2);
    f.step(new AppendEntries(5, "n2", 4, 2, List.of(), 2)); // the term-5 leader n2, commit 2
    f.ready();
    assertEquals(2, f.commitIndex(), "setup");
    assertEquals("n2", f.leaderId(), "setup");
    tick(f, 3);

    AppendEntries stale = new AppendEntries(4, "n3", 4, 2, entriesFrom(5, 4), 4);
    Ready r = step(f, stale);

    List<AppendEntriesResponse> replies = sentTo(r, "n3", AppendEntriesResponse.class);
    assertEquals(1, replies.size(), "exactly one reply: " + r);
    assertEquals(5, replies.get(0).term());
    assertFalse(replies.get(0).success());
    assertEquals(1, allMessages(r).size(), "nothing else is sent: " + r);

    assertFalse(r.hasWrite(), "nothing is written: " + r);
    assertEquals(4, f.lastIndex(), "log unchanged");
    assertEquals(List.of(1L, 1L, 2L, 2L), List.of(f.termAt(1), f.termAt(2), f.termAt(3), f.termAt(4)));
    assertEquals(2, f.commitIndex(), "commitIndex unchanged");
    assertTrue(r.committed().isEmpty(), "nothing newly applied");
    assertEquals(5, f.term());
    assertEquals("n2", f.status().votedFor(), "votedFor unchanged");
    assertEquals("n2", f.leaderId(), "known leader unchanged");
    assertEquals(Role.FOLLOWER, f.role());

    // The timer was not reset: it fires 15 ticks after the real leader's heartbeat, i.e. 12 more.
    CoreStatus st = f.status();
    assertEquals(3, st.electionElapsed());
    assertEquals(15, st.randomizedElectionTimeout());
    int ticks = tickUntil(f, 100, () -> f.role() != Role.FOLLOWER);
    assertEquals(12, ticks, "the election timer fires at its original tick");
  }

  // ------------------------------------------------------------------ P5.1-03

  static Stream<Arguments> rolesAtTerm5() {
    List<Arguments> out = new ArrayList<>();
    for (Role role : List.of(Role.FOLLOWER, Role.PRE_CANDIDATE, Role.CANDIDATE, Role.LEADER)) {
      for (Arguments s : featureSettings().toList()) {
        boolean preVote = (boolean) s.get()[0];
        if (role == Role.PRE_CANDIDATE && !preVote) continue;
        out.add(Arguments.of(role, preVote, s.get()[1]));
      }
    }
    return out.stream();
  }

  /**
   * n1 at term 5, log [1,1], in the given role; its output so far is collected and written. The
   * election timeout is 10 ticks at every draw, and it has ticked twice since the last reset.
   */
  static RaftCore nodeAtTerm5(Role role, RaftConfig cfg) {
    RaftCore n;
    switch (role) {
      case FOLLOWER -> n = node("n1", THREE, 5, "n2", fixed(10), cfg, 1, 1);
      case PRE_CANDIDATE -> {
        n = node("n1", THREE, 5, null, fixed(10), cfg, 1, 1);
        tickUntil(n, 100, () -> n.role() != Role.FOLLOWER);
      }
      case CANDIDATE -> {
        n = node("n1", THREE, 4, null, fixed(10), cfg, 1, 1);
        makeCandidate(n);
      }
      default -> {
        n = node("n1", THREE, 4, null, fixed(10), cfg, 1, 1);
        elect(n);
      }
    }
    assertEquals(role, n.role(), "setup");
    assertEquals(5, n.term(), "setup");
    persistAll(n);
    n.ready();
    tick(n, 2);
    if (role == Role.LEADER) ackAll(n, n.ready());
    return n;
  }

  @ParameterizedTest(name = "{0}, preVote={1}, checkQuorum={2}")
  @MethodSource("rolesAtTerm5")
  void basics_P5_1_03_staleRequestVoteAndPreVoteRejected(Role role, boolean preVote, boolean checkQuorum) {
    // Stale InstallSnapshot has a test of its own (SnapshotTest); a stale TimeoutNow is dropped below.
    RaftCore n = nodeAtTerm5(role, cfg(preVote, checkQuorum));
    CoreStatus before = n.status();

    // The candidate's log [.., 4 at index 9] is better than n1's [1,1,...], but its term is stale.
    Ready rv = step(n, new RequestVote(4, "n3", 9, 4));
    assertEquals(List.of(new RequestVoteResponse(5, "n1", false)), sent(rv, RequestVoteResponse.class));
    assertNull(rv.hardState(), "nothing to persist");

    Ready pv = step(n, new PreVote(4, "n2", 9, 4));
    List<PreVoteResponse> pvr = sent(pv, PreVoteResponse.class);
    assertEquals(1, pvr.size());
    assertFalse(pvr.get(0).granted());
    assertEquals(5, pvr.get(0).term(), "a rejection carries the voter's term");
    assertNull(pv.hardState(), "nothing to persist");

    Ready tn = step(n, new RaftMessage.TimeoutNow(4, "n2"));
    assertTrue(tn.isEmpty(), "a stale TimeoutNow starts no election and needs no answer: " + tn);

    assertEquals(5, n.term());
    assertEquals(role, n.role(), "role unchanged");
    CoreStatus after = n.status();
    assertEquals(before.votedFor(), after.votedFor(), "votedFor unchanged");
    if (role != Role.LEADER) {
      assertEquals(before.electionElapsed(), after.electionElapsed(), "timer not reset");
      assertEquals(before.randomizedElectionTimeout(), after.randomizedElectionTimeout(), "timer not reset");
    }
  }

  // ------------------------------------------------------------------ P5.1-04

  enum Request {
    APPEND_ENTRIES,
    /** A RequestVote from a candidate whose log is at least as up to date: granted. */
    REQUEST_VOTE_UP_TO_DATE,
    /** A RequestVote from a candidate with an empty log: denied. */
    REQUEST_VOTE_BEHIND
  }

  static Stream<Arguments> stepDownMatrix() {
    List<Arguments> out = new ArrayList<>();
    for (Arguments a : rolesAtTerm5().toList()) {
      for (Request req : Request.values()) {
        Role role = (Role) a.get()[0];
        boolean checkQuorum = (boolean) a.get()[2];
        // With check-quorum on, a leader always holds its lease (it steps down as soon as it would
        // not), so it ignores a higher-term RequestVote: that is T4.2.3-03, tested below.
        if (role == Role.LEADER && checkQuorum && req != Request.APPEND_ENTRIES) continue;
        out.add(Arguments.of(role, req, a.get()[1], checkQuorum));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} gets {1}, preVote={2}, checkQuorum={3}")
  @MethodSource("stepDownMatrix")
  void basics_P5_1_04_higherTermInRequestForcesStepDown(
      Role role, Request req, boolean preVote, boolean checkQuorum) {
    // Roles {Follower, PreCandidate, Candidate, Leader} x requests {AppendEntries, RequestVote}.
    // The InstallSnapshot column arrives with snapshots. The follower has no recent leader contact.
    RaftCore n = nodeAtTerm5(role, cfg(preVote, checkQuorum));
    RaftMessage m = switch (req) {
      case APPEND_ENTRIES -> new AppendEntries(7, "n3", 0, 0, List.of(), 0);
      case REQUEST_VOTE_UP_TO_DATE -> new RequestVote(7, "n3", 9, 6);
      case REQUEST_VOTE_BEHIND -> new RequestVote(7, "n3", 0, 0);
    };
    Ready r = step(n, m);

    String expectedVote = req == Request.REQUEST_VOTE_UP_TO_DATE ? "n3" : null;
    assertEquals(Role.FOLLOWER, n.role());
    assertEquals(7, n.term());
    assertEquals(expectedVote, n.status().votedFor(), "votedFor cleared unless this vote is granted");
    assertEquals(req == Request.APPEND_ENTRIES ? "n3" : null, n.leaderId());

    // The new term is written in this round, and the reply waits for that write.
    assertEquals(new HardState(7, expectedVote), r.hardState());
    assertTrue(r.messages().isEmpty(), "nothing leaves before the write: " + r.messages());
    assertEquals(1, r.messagesAfterPersist().size(), "one reply: " + r);
    Outbound reply = r.messagesAfterPersist().get(0);
    assertEquals("n3", reply.to());
    assertEquals(7, reply.message().term());
    if (req == Request.APPEND_ENTRIES) {
      assertTrue(((AppendEntriesResponse) reply.message()).success());
    } else {
      assertEquals(expectedVote != null, ((RequestVoteResponse) reply.message()).granted());
    }

    // A former leader stops sending heartbeats (7 ticks: several heartbeat intervals, before any
    // election timer fires).
    persist(n, r);
    List<Ready> later = tick(n, 7);
    assertTrue(sent(later, AppendEntries.class).isEmpty(), "no AppendEntries after stepping down");
    assertEquals(Role.FOLLOWER, n.role());
  }

  // ------------------------------------------------------------------ P5.1-05

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void basics_P5_1_05_leaderStepsDownOnHigherTermResponseAndPendingProposalsAreUnknown(
      boolean preVote, boolean checkQuorum) {
    RaftCore l = node("n1", THREE, 4, null, fixed(10), cfg(preVote, checkQuorum), 1, 1);
    elect(l);
    assertEquals(5, l.term(), "setup");
    l.propose(cmd("a"), 11);
    long i2 = l.propose(cmd("b"), 12);
    persist(l, l.ready()); // the leader's own write is durable; no follower has acknowledged
    assertEquals(2, l.status().pendingProposals(), "setup");

    // n2 is already at term 7 and rejects.
    Ready r = step(l, AppendEntriesResponse.reject(7, "n2", 2, 3, 0));

    assertEquals(Role.FOLLOWER, l.role());
    assertEquals(7, l.term());
    assertNull(l.status().votedFor());
    assertEquals(new HardState(7, null), r.hardState(), "the new term is persisted");
    Set<Long> unknown = r.outcomes().stream()
        .filter(o -> o instanceof ProposalOutcome.Unknown)
        .map(ProposalOutcome::correlationId)
        .collect(Collectors.toSet());
    assertEquals(Set.of(11L, 12L), unknown, "both proposals complete as Unknown: " + r.outcomes());
    assertEquals(2, r.outcomes().size(), "exactly one outcome per proposal: " + r.outcomes());
    assertEquals(0, l.status().pendingProposals());

    // Even when the entries later commit through another leader, they are never reported as
    // this node's callers' success.
    List<Committed> applied = new ArrayList<>(r.committed());
    l.step(new AppendEntries(7, "n3", i2, 5, List.of(), i2));
    Ready after = l.ready();
    applied.addAll(after.committed());
    assertEquals(i2, l.lastApplied(), "setup: the entries are applied on this node");
    for (Committed c : applied) assertFalse(c.hasCaller(), "no caller is told success: " + c);
    assertTrue(after.outcomes().isEmpty(), "no second outcome: " + after.outcomes());
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void basics_P5_1_05_candidateStepsDownOnHigherTermVoteResponse(boolean preVote, boolean checkQuorum) {
    RaftCore c = node("n1", THREE, 4, null, fixed(10), cfg(preVote, checkQuorum), 1, 1);
    makeCandidate(c);
    assertEquals(5, c.term(), "setup");

    Ready r = step(c, new RequestVoteResponse(7, "n2", false));

    assertEquals(Role.FOLLOWER, c.role());
    assertEquals(7, c.term());
    assertNull(c.status().votedFor(), "the self-vote belonged to term 5");
    assertEquals(new HardState(7, null), r.hardState(), "the new term is persisted");
  }

  // ------------------------------------------------------------------ P5.1-06

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void basics_P5_1_06_staleVoteGrantIsNotCounted(boolean preVote, boolean checkQuorum) {
    RaftCore c = node("n1", THREE, 5, null, fixed(10), cfg(preVote, checkQuorum), 1, 1);
    makeCandidate(c);
    assertEquals(6, c.term(), "setup");

    // A grant left over from the term-5 election; one real grant would be a majority of 3.
    step(c, new RequestVoteResponse(5, "n2", true));

    assertEquals(Role.CANDIDATE, c.role(), "a stale grant must not elect");
    assertEquals(6, c.term());
    assertEquals(Set.of("n1"), c.status().votesGranted());
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void basics_P5_1_06_staleAppendEntriesResponsesAreIgnored(boolean preVote, boolean checkQuorum) {
    RaftCore l = node("n1", THREE, 5, null, fixed(10), cfg(preVote, checkQuorum), 1, 1);
    elect(l); // term 6, no-op at index 3, written
    assertEquals(6, l.term(), "setup");
    CoreStatus st = l.status();
    long next = st.nextIndex("n2");
    long match = st.matchIndex("n2");
    assertEquals(3, next, "setup");

    // A success stamped term 5 for index 3: counted, it would make index 3 committed (n1 + n2).
    step(l, AppendEntriesResponse.success(5, "n2", 3));
    st = l.status();
    assertEquals(match, st.matchIndex("n2"), "matchIndex unchanged");
    assertEquals(next, st.nextIndex("n2"), "nextIndex unchanged");
    assertEquals(0, l.commitIndex(), "nothing commits on a stale ack");

    // A rejection stamped term 5 for the current probe: counted, it would move nextIndex back to 1.
    step(l, AppendEntriesResponse.reject(5, "n2", 2, 1, 0));
    st = l.status();
    assertEquals(match, st.matchIndex("n2"), "matchIndex unchanged");
    assertEquals(next, st.nextIndex("n2"), "nextIndex unchanged");
    assertEquals(Role.LEADER, l.role());
    assertEquals(6, l.term());
  }

  // ------------------------------------------------------------------ P5.1-08

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void basics_P5_1_08_freshNodeStartsAsFollowerWithRandomTimeout(boolean preVote, boolean checkQuorum) {
    CountingRandom rnd = new CountingRandom(RandomSource.seeded(7, "n1"));
    RaftConfig cfg = cfg(preVote, checkQuorum);
    RaftCore n = new RaftCore("n1", cfg, rnd, DurableState.empty(THREE));

    assertEquals(Role.FOLLOWER, n.role());
    assertNull(n.leaderId(), "no known leader");
    assertEquals(1, rnd.draws, "the election timer is armed with a drawn timeout");
    int timeout = n.status().randomizedElectionTimeout();
    assertEquals(rnd.last, timeout);
    assertTrue(timeout >= 10 && timeout <= 20);
    assertTrue(n.ready().isEmpty(), "nothing to send or write at start");
    assertSilentUntilTimeout(n);
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void basics_P5_1_08_restartedLeaderStartsAsFollower(boolean preVote, boolean checkQuorum) {
    RaftConfig cfg = cfg(preVote, checkQuorum);
    Disk disk = new Disk(THREE, 0, null, List.of());
    RaftCore l = disk.restart("n1", cfg, fixed(10));
    electWithDisk(l, disk);
    l.propose(cmd("x"), 1);
    disk.ready(l);
    assertEquals(Role.LEADER, l.role(), "setup");

    CountingRandom rnd = new CountingRandom(RandomSource.seeded(7, "n1"));
    RaftCore n = disk.restart("n1", cfg, rnd);

    assertEquals(Role.FOLLOWER, n.role(), "roles are not persisted");
    assertNull(n.leaderId(), "no known leader, not even itself");
    assertEquals(l.term(), n.term(), "setup: the term was recovered");
    assertEquals(l.lastIndex(), n.lastIndex(), "setup: the log was recovered");
    assertEquals(1, rnd.draws, "the election timer is armed with a drawn timeout");
    assertEquals(rnd.last, n.status().randomizedElectionTimeout());
    assertTrue(n.ready().isEmpty(), "nothing to send or write at start");
    assertSilentUntilTimeout(n);
  }

  /** No message at all (so no heartbeat) until the drawn timeout, and a campaign exactly then. */
  private static void assertSilentUntilTimeout(RaftCore n) {
    int timeout = n.status().randomizedElectionTimeout();
    List<Ready> quiet = tick(n, timeout - 1);
    for (Ready q : quiet) assertTrue(allMessages(q).isEmpty(), "silent before the timeout: " + q);
    assertEquals(Role.FOLLOWER, n.role());
    n.tick();
    assertNotEquals(Role.FOLLOWER, n.role(), "the armed timer fires at the drawn timeout");
  }

  /** Elects n1 with every write going through {@code disk}. */
  static void electWithDisk(RaftCore n, Disk disk) {
    for (int i = 0; i < 1000 && n.role() == Role.FOLLOWER; i++) {
      n.tick();
      disk.ready(n);
    }
    for (String v : n.config().voters()) {
      if (n.role() != Role.PRE_CANDIDATE) break;
      if (!v.equals(n.id())) n.step(new PreVoteResponse(n.term() + 1, v, true));
    }
    disk.ready(n);
    for (String v : n.config().voters()) {
      if (n.role() != Role.CANDIDATE) break;
      if (!v.equals(n.id())) n.step(new RequestVoteResponse(n.term(), v, true));
    }
    disk.ready(n);
    assertEquals(Role.LEADER, n.role(), "setup: " + n);
  }

  // ------------------------------------------------------------------ T4.2.3 (core part)

  @ParameterizedTest(name = "preVote={0}")
  @ValueSource(booleans = {false, true})
  void disruption_T4_2_3_01_followerThatHeardFromLeaderIgnoresHigherTermRequestVote(boolean preVote) {
    RaftCore f = node("n1", THREE, 5, null, fixed(20), cfg(preVote, true), 1, 1);
    step(f, new AppendEntries(5, "n2", 2, 1, List.of(), 2)); // contact from the live leader n2
    tick(f, 9); // still less than electionTimeoutMin (10) since that contact

    Ready r = step(f, new RequestVote(6, "n3", 9, 5)); // a better log, a higher term

    assertEquals(5, f.term(), "the term is not adopted");
    assertNull(f.status().votedFor(), "no vote");
    assertNull(r.hardState(), "nothing written");
    assertTrue(sent(r, RequestVoteResponse.class).stream().noneMatch(RequestVoteResponse::granted));
    assertEquals(Role.FOLLOWER, f.role());
    assertEquals("n2", f.leaderId(), "the leader is still known");
  }

  @ParameterizedTest(name = "preVote={0}")
  @ValueSource(booleans = {false, true})
  void disruption_T4_2_3_02_afterElectionTimeoutMinWithoutLeaderTheRequestIsHandled(boolean preVote) {
    RaftCore f = node("n1", THREE, 5, null, fixed(20), cfg(preVote, true), 1, 1);
    step(f, new AppendEntries(5, "n2", 2, 1, List.of(), 2));
    tick(f, 10); // exactly electionTimeoutMin without contact; the timer (20) has not fired

    Ready r = step(f, new RequestVote(6, "n3", 9, 5));

    assertEquals(6, f.term(), "the term is adopted");
    assertEquals("n3", f.status().votedFor(), "the vote is granted to an up-to-date candidate");
    assertEquals(new HardState(6, "n3"), r.hardState());
    assertEquals(List.of(new RequestVoteResponse(6, "n1", true)), sent(r, RequestVoteResponse.class));
  }

  @ParameterizedTest(name = "preVote={0}")
  @ValueSource(booleans = {false, true})
  void disruption_T4_2_3_03_leaderWithRecentMajorityIgnoresHigherTermRequestVote(boolean preVote) {
    RaftCore l = node("n1", THREE, 4, null, fixed(10), cfg(preVote, true), 1, 1);
    elect(l);
    long term = l.term();
    // A majority acknowledges, then a few ticks pass (less than one election timeout).
    ackAll(l, l.ready());
    tick(l, 5);

    Ready r = step(l, new RequestVote(term + 1, "n3", 9, term));

    assertEquals(Role.LEADER, l.role(), "the leader does not step down");
    assertEquals(term, l.term(), "nor change its term");
    assertNull(r.hardState());
    assertTrue(sent(r, RequestVoteResponse.class).stream().noneMatch(RequestVoteResponse::granted));
  }
}
