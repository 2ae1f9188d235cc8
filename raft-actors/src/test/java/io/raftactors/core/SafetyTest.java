package io.raftactors.core;

import static io.raftactors.core.CoreFixture.*;
import static io.raftactors.core.RaftBasicsTest.cfg;
import static io.raftactors.core.RaftBasicsTest.makeCandidate;
import static org.junit.jupiter.api.Assertions.*;

import io.raftactors.core.RaftBasicsTest.Disk;
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
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Safety (paper 5.4, thesis 3.6), follower and candidate crashes (paper 5.5, thesis 3.7) and the
 * validation of timing settings (paper 5.6, thesis 3.9): unit tests of the pure core. The basic
 * rules must hold with the optional election features (pre-vote, check-quorum) off as well as on,
 * so most tests run under both settings.
 */
class SafetyTest {
  static final ClusterConfig THREE = members(3);
  static final ClusterConfig FIVE = members(5);

  static Stream<Arguments> featureSettings() {
    return RaftBasicsTest.featureSettings();
  }

  /** Feeds a RequestVote and returns whether the reply granted it (the reply waits for the write). */
  static boolean askVote(RaftCore voter, RequestVote rv) {
    Ready r = step(voter, rv);
    List<RequestVoteResponse> replies = sentTo(r, rv.from(), RequestVoteResponse.class);
    assertEquals(1, replies.size(), "one reply to " + rv + ": " + r);
    assertTrue(r.messages().isEmpty(), "a vote reply leaves only after the write: " + r);
    persist(voter, r);
    RequestVoteResponse reply = replies.get(0);
    assertEquals(rv.term(), reply.term(), "the reply carries the voter's (adopted) term");
    return reply.granted();
  }

  // ------------------------------------------------------------------ P5.4.1-01

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void safety_P5_4_1_01_upToDateComparesLastTermThenLastIndex(boolean preVote, boolean checkQuorum) {
    // The voter's last entry is (index 10, term 3); it has heard from no leader, so every
    // higher-term RequestVote is processed even with check-quorum on.
    RaftCore v = node("n1", THREE, 3, null, fixed(10), cfg(preVote, checkQuorum), 1, 1, 1, 2, 2, 2, 3, 3, 3, 3);
    assertEquals(10, v.lastIndex(), "setup");
    assertEquals(3, v.status().lastTerm(), "setup");

    // (lastLogTerm, lastLogIndex), each candidate in a fresh term.
    assertTrue(askVote(v, new RequestVote(4, "n2", 2, 4)), "(4, 2): a higher last term wins despite a shorter log");
    assertTrue(askVote(v, new RequestVote(5, "n3", 11, 3)), "(3, 11): same last term, longer log");
    assertTrue(askVote(v, new RequestVote(6, "n2", 10, 3)), "(3, 10): same last term, same length");
    assertFalse(askVote(v, new RequestVote(7, "n3", 9, 3)), "(3, 9): same last term, shorter log");
    assertFalse(askVote(v, new RequestVote(8, "n2", 50, 2)), "(2, 50): a lower last term loses despite a longer log");

    // The denials adopted the terms but cast no vote; the log was never touched.
    assertEquals(8, v.term());
    CoreStatus st = v.status();
    assertNull(st.votedFor());
    assertEquals(10, v.lastIndex());
    assertEquals(3, st.lastTerm());
  }

  // ------------------------------------------------------------------ P5.4.1-02

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void safety_P5_4_1_02_followerDenyingOnLogGroundsAdoptsTermAndKeepsDeadline(boolean preVote, boolean checkQuorum) {
    // Draws: 15 at start, 11 at any later reset. A reset would move the deadline to 5 + 11 = 16.
    RaftCore f = node("n1", THREE, 5, null, sequence(15, 11), cfg(preVote, checkQuorum), 1, 1, 2, 2);
    tick(f, 5);
    assertEquals(5, f.status().electionElapsed(), "setup");

    // The candidate's log [1,1,1,1,1] is older: last term 1 < 2.
    f.step(new RequestVote(8, "n2", 5, 1));
    Ready r = f.ready();

    assertEquals(Role.FOLLOWER, f.role());
    assertEquals(8, f.term());
    assertNull(f.status().votedFor(), "votedFor cleared and not given");
    assertEquals(new HardState(8, null), r.hardState(), "the new term is written");
    assertEquals(List.of(new Outbound("n2", new RequestVoteResponse(8, "n1", false))), r.messagesAfterPersist(),
        "denied, after the write");
    assertTrue(r.messages().isEmpty());
    persist(f, r);

    // A denial is not a reset: the timer keeps its original deadline of 15 ticks.
    CoreStatus st = f.status();
    assertEquals(5, st.electionElapsed());
    assertEquals(15, st.randomizedElectionTimeout());
    tick(f, 9);
    assertEquals(Role.FOLLOWER, f.role(), "tick 14: not yet");
    f.tick();
    assertNotEquals(Role.FOLLOWER, f.role(), "tick 15: the original deadline");
  }

  @ParameterizedTest(name = "preVote={0}")
  @ValueSource(booleans = {false, true})
  void safety_P5_4_1_02_leaderDenyingOnLogGroundsStepsDownAndAdoptsTerm(boolean preVote) {
    // Check-quorum is off here: with it on, a leader that heard from a majority lately ignores a
    // disruptive RequestVote altogether (thesis 4.2.3), so the basic rule is tested without it.
    RaftCore l = node("n1", THREE, 4, null, fixed(10), cfg(preVote, false), 1, 1, 2, 2);
    elect(l);
    assertEquals(Role.LEADER, l.role(), "setup");
    assertEquals(5, l.term(), "setup");
    long lastIndex = l.lastIndex();

    // The candidate's last term 2 is older than the leader's no-op of term 5.
    l.step(new RequestVote(8, "n2", 50, 2));
    Ready r = l.ready();

    assertEquals(Role.FOLLOWER, l.role());
    assertEquals(8, l.term());
    assertNull(l.status().votedFor());
    assertNull(l.leaderId());
    assertEquals(new HardState(8, null), r.hardState(), "the new term is written");
    assertEquals(List.of(new RequestVoteResponse(8, "n1", false)), sent(r, RequestVoteResponse.class), "denied");
    assertTrue(sent(r, AppendEntries.class).isEmpty(), "no longer a leader: " + r);
    assertEquals(lastIndex, l.lastIndex(), "the log is kept");
  }

  // ------------------------------------------------------------------ P5.4.1-04

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void safety_P5_4_1_04_upToDateCheckUsesSnapshotPointOfEmptyLog(boolean preVote, boolean checkQuorum) {
    DurableState st = new DurableState(new HardState(7, null), new SnapshotMeta(100, 7, THREE), List.of());
    RaftCore v = new RaftCore("n1", cfg(preVote, checkQuorum), fixed(10), st);
    assertEquals(100, v.lastIndex(), "setup: the log holds no entry, only the snapshot point");
    assertEquals(7, v.status().lastTerm(), "setup");

    assertTrue(askVote(v, new RequestVote(8, "n2", 100, 7)), "(7, 100) is as up to date as the snapshot point");
    assertFalse(askVote(v, new RequestVote(9, "n3", 200, 6)), "(6, 200): last term 6 < 7");
    assertFalse(askVote(v, new RequestVote(10, "n2", 99, 7)), "(7, 99): same term, shorter than index 100");
    assertNull(v.status().votedFor());
  }

  // ------------------------------------------------------------------ P5.4.2-04

  /**
   * A few cores wired together by hand: a message is delivered unless the test holds it, and every
   * node's writes are made durable as soon as it has handled an input.
   */
  static final class Cluster {
    final Map<String, RaftCore> nodes = new LinkedHashMap<>();
    final Map<String, List<LogEntry>> applied = new TreeMap<>();
    final Deque<Outbound> queue = new ArrayDeque<>();
    final List<Outbound> held = new ArrayList<>();

    void add(RaftCore n) {
      nodes.put(n.id(), n);
      applied.put(n.id(), new ArrayList<>());
    }

    /** Takes the output of a Ready the test obtained itself (already made durable). */
    void output(String id, Ready r) {
      queue.addAll(r.messages());
      queue.addAll(r.messagesAfterPersist());
      for (Committed c : r.committed()) applied.get(id).add(c.entry());
    }

    void handled(RaftCore n) {
      Ready r = n.ready();
      persist(n, r);
      output(n.id(), r);
    }

    /** Delivers everything queued (and what that produces) except what {@code hold} keeps back. */
    void run(Predicate<Outbound> hold) {
      for (int delivered = 0; !queue.isEmpty(); delivered++) {
        if (delivered > 10_000) throw new AssertionError("messages keep flowing without ticks: " + nodes.values());
        Outbound o = queue.poll();
        if (hold.test(o)) {
          held.add(o);
          continue;
        }
        deliver(o);
      }
    }

    void deliver(Outbound o) {
      RaftCore to = nodes.get(o.to());
      to.step(o.message());
      handled(to);
    }

    void tick(String id) {
      RaftCore n = nodes.get(id);
      n.tick();
      handled(n);
    }
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void safety_P5_4_2_04_newLeaderCommitsEarlierTermsOnlyThroughItsNoop(boolean preVote, boolean checkQuorum) {
    // One entry per AppendEntries, so the old entries can reach every server before the no-op does.
    RaftConfig c = cfg(preVote, checkQuorum).withBatching(1, 1 << 20, 8);
    RaftCore l = node("n1", THREE, 2, null, fixed(10), c, 1, 1, 2); // nothing committed yet
    Cluster net = new Cluster();
    net.add(l);
    net.add(node("n2", THREE, 2, null, fixed(20), c, 1));
    net.add(node("n3", THREE, 2, null, fixed(20), c, 1));

    Ready won = elect(l);
    assertEquals(3, l.term(), "setup");
    assertEquals(0, l.commitIndex(), "setup");
    // The first entry the new leader appends is a no-op of its own term.
    assertEquals(4, l.lastIndex());
    assertEquals(new LogEntry(4, 3, new EntryData.Noop(3)), l.entry(4));
    assertEquals(List.of(l.entry(4)), won.entries(), "nothing else was appended");
    net.output("n1", won);

    // Everything flows except any AppendEntries that would give a follower the no-op.
    Predicate<Outbound> holdNoop = o -> o.message() instanceof AppendEntries ae
        && ae.lastIndex() >= 4 && !ae.entries().isEmpty()
        && net.nodes.get(o.to()).lastIndex() >= ae.prevLogIndex();
    net.run(holdNoop);
    for (int i = 0; i < 4; i++) { // time passes: heartbeats and retries, the no-op still held
      net.tick("n1");
      net.run(holdNoop);
    }

    for (String f : List.of("n2", "n3")) {
      RaftCore n = net.nodes.get(f);
      assertEquals(List.of(1L, 1L, 2L), List.of(n.termAt(1), n.termAt(2), n.termAt(3)), f + " holds the old entries");
      assertEquals(3, n.lastIndex(), f + " lacks the no-op");
      assertEquals(3, l.status().matchIndex(f), "the leader knows " + f + " holds them");
      assertEquals(0, n.commitIndex(), f);
    }
    assertEquals(Role.LEADER, l.role());
    assertEquals(0, l.commitIndex(), "every server holds index 3 (term 2), yet it is not committed by counting");
    assertTrue(net.applied.values().stream().allMatch(List::isEmpty), "nothing applied anywhere");
    assertFalse(net.held.isEmpty(), "setup: the no-op was sent and held");

    // The no-op reaches one follower: with the leader that is a majority.
    Outbound toN2 = net.held.stream().filter(o -> o.to().equals("n2")).findFirst().orElseThrow();
    net.deliver(toN2);
    net.run(o -> !o.to().equals("n1")); // only n2's reply goes through
    assertEquals(4, l.commitIndex(), "commitIndex jumps to the no-op");
    assertEquals(List.of(1L, 2L, 3L, 4L), net.applied.get("n1").stream().map(LogEntry::index).toList(),
        "every earlier entry is committed and applied, in order, with the no-op");
    assertEquals(new EntryData.Noop(3), net.applied.get("n1").get(3).data());

    // The followers learn the commit index with the next heartbeat and apply the same entries.
    net.queue.clear();
    net.held.clear();
    for (int i = 0; i < 6; i++) { // heartbeats, and the retry of the no-op n3 never got
      net.tick("n1");
      net.run(o -> false);
    }
    for (String f : List.of("n2", "n3")) {
      assertEquals(4, net.nodes.get(f).commitIndex(), f);
      assertEquals(net.applied.get("n1"), net.applied.get(f), f + " applies the same entries");
    }
  }

  // ------------------------------------------------------------------ P5.5-04

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void crash_P5_5_04_restartedCandidateIsFollowerWithPersistedTermAndSelfVote(boolean preVote, boolean checkQuorum) {
    RaftConfig c = cfg(preVote, checkQuorum);
    Disk disk = new Disk(THREE, 4, null, logOfTerms(1, 1, 2));
    RaftCore before = disk.restart("n1", c, fixed(10));
    for (int i = 0; i < 100 && before.role() != Role.CANDIDATE; i++) {
      before.tick();
      if (before.role() == Role.PRE_CANDIDATE) before.step(new PreVoteResponse(5, "n2", true));
      disk.ready(before);
    }
    assertEquals(Role.CANDIDATE, before.role(), "setup");
    assertEquals(new HardState(5, "n1"), disk.hard, "setup: the candidacy is durable");

    // Crash mid-election, restart from storage only. The restart draws a timeout of 13 ticks.
    RaftCore n = disk.restart("n1", c, sequence(13, 17));
    assertEquals(Role.FOLLOWER, n.role());
    assertEquals(5, n.term(), "the persisted term");
    CoreStatus restarted = n.status();
    assertEquals("n1", restarted.votedFor(), "the persisted self-vote");
    assertNull(n.leaderId());
    assertEquals(Set.of(), restarted.votesGranted(), "the old tally is gone");

    // A late grant of the interrupted election does not make a follower leader (3 nodes: one
    // grant plus its own vote would have been a majority for the candidate).
    Ready late = step(n, new RequestVoteResponse(5, "n2", true));
    assertEquals(Role.FOLLOWER, n.role());
    assertTrue(late.isEmpty(), "ignored: " + late);
    // Its self-vote still binds it in term 5.
    Ready denied = step(n, new RequestVote(5, "n3", 10, 5));
    assertEquals(List.of(new RequestVoteResponse(5, "n1", false)), sent(denied, RequestVoteResponse.class));
    assertEquals("n1", n.status().votedFor());

    // No campaign before the freshly drawn timeout fires.
    CoreStatus st = n.status();
    assertEquals(0, st.electionElapsed());
    assertEquals(13, st.randomizedElectionTimeout());
    List<Ready> quiet = tick(n, 12);
    assertEquals(Role.FOLLOWER, n.role());
    assertEquals(5, n.term());
    for (Ready r : quiet) assertTrue(r.isEmpty(), "silent before its timeout: " + r);

    n.tick(); // tick 13
    Ready r = n.ready();
    if (preVote) {
      assertEquals(Role.PRE_CANDIDATE, n.role());
      assertEquals(List.of(6L, 6L), sent(r, PreVote.class).stream().map(PreVote::term).toList(),
          "the pre-vote proposes term + 1");
      n.step(new PreVoteResponse(6, "n2", true));
      r = n.ready();
    }
    assertEquals(Role.CANDIDATE, n.role());
    assertEquals(6, n.term(), "the next election uses term + 1");
    assertEquals(new HardState(6, "n1"), r.hardState());
    assertEquals(List.of(6L, 6L), sent(r, RequestVote.class).stream().map(RequestVote::term).toList());
  }

  // ------------------------------------------------------------------ P5.5-05

  /** Everything observable about a core that a duplicate message could disturb. */
  record Observed(long term, String votedFor, Role role, String leader, List<LogEntry> log, long snapshotIndex,
      long commitIndex, long lastApplied, long stableIndex, int electionElapsed, int electionTimeout,
      Set<String> votes, Map<String, String> progress, int pendingProposals) {

    static Observed of(RaftCore n) {
      CoreStatus st = n.status();
      Map<String, String> progress = new TreeMap<>();
      if (n.role() == Role.LEADER) {
        for (String p : n.config().voters()) {
          if (!p.equals(n.id())) {
            progress.put(p, "match=" + st.matchIndex(p) + " next=" + st.nextIndex(p) + " inflight=" + st.inflight(p));
          }
        }
      }
      return new Observed(n.term(), st.votedFor(), n.role(), n.leaderId(), n.entriesFrom(st.firstIndex()),
          n.snapshotIndex(), n.commitIndex(), n.lastApplied(), st.stableIndex(), st.electionElapsed(),
          st.randomizedElectionTimeout(), st.votesGranted(), progress, st.pendingProposals());
    }
  }

  /** Representative states of n1 in a 5-node group; all start from the log [1,1,2,2] at term 5. */
  static Map<String, Supplier<RaftCore>> states() {
    Map<String, Supplier<RaftCore>> s = new LinkedHashMap<>();
    s.put("follower with a leader", () -> {
      RaftCore n = node("n1", FIVE, 5, "n2", fixed(12), settings(), 1, 1, 2, 2);
      settle(n, new AppendEntries(5, "n2", 4, 2, List.of(), 2)); // leader n2, commitIndex 2
      return n;
    });
    s.put("follower with a forwarded read", () -> {
      // As above, and a client read (correlation id 77) forwarded to the leader n2, not yet answered.
      RaftCore n = node("n1", FIVE, 5, "n2", fixed(12), settings(), 1, 1, 2, 2);
      settle(n, new AppendEntries(5, "n2", 4, 2, List.of(), 2));
      n.readIndex(77);
      n.ready();
      return n;
    });
    s.put("follower without a leader", () -> node("n1", FIVE, 5, null, fixed(12), settings(), 1, 1, 2, 2));
    s.put("pre-candidate", () -> {
      RaftCore n = node("n1", FIVE, 5, null, fixed(12), settings(), 1, 1, 2, 2);
      tickUntil(n, 100, () -> n.role() == Role.PRE_CANDIDATE);
      return n;
    });
    s.put("candidate", () -> {
      RaftCore n = node("n1", FIVE, 5, null, fixed(12), settings(), 1, 1, 2, 2);
      makeCandidate(n);
      return n;
    });
    s.put("leader", () -> leaderState(settings()));
    // Without check-quorum a leader also acts on a higher-term RequestVote instead of ignoring it.
    s.put("leader, check-quorum off", () -> leaderState(settings().withCheckQuorum(false)));
    s.put("leader sending a snapshot", () -> {
      // It compacts through the no-op (index 5); n4 and n5, still probing at index 5, now need
      // the snapshot, which goes out in chunks of 3 bytes.
      RaftCore n = leaderState(settings().withSnapshotChunkBytes(3));
      n.compact(5, bytes("snapshot"));
      n.ready();
      return n;
    });
    return s;
  }

  /** n1 leads term 6: n2 and n3 acknowledged the no-op (committed), n4 and n5 were only probed; two proposals are in flight. */
  static RaftCore leaderState(RaftConfig c) {
    RaftCore n = node("n1", FIVE, 5, null, fixed(12), c, 1, 1, 2, 2);
    Ready won = elect(n);
    for (String p : List.of("n2", "n3")) n.step(AppendEntriesResponse.success(6, p, won.lastEntry().index()));
    n.propose(cmd("a"), 1);
    n.propose(cmd("b"), 2);
    persist(n, n.ready());
    n.ready();
    return n;
  }

  static void settle(RaftCore n, RaftMessage m) {
    n.step(m);
    persist(n, n.ready());
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Every message type the core handles, built for the node it is delivered to ({@code t} is its
   * term). Same-term requests from a leader are not sent to a leader: two leaders in one term cannot
   * exist.
   */
  static Map<String, Function<RaftCore, RaftMessage>> messages() {
    Map<String, Function<RaftCore, RaftMessage>> m = new LinkedHashMap<>();
    m.put("AppendEntries heartbeat", n -> new AppendEntries(n.term(), "n2", n.lastIndex(), n.status().lastTerm(), List.of(), 2));
    m.put("AppendEntries matching append", n -> new AppendEntries(n.term(), "n2", n.lastIndex(), n.status().lastTerm(),
        entriesFrom(n.lastIndex() + 1, n.term(), n.term()), n.lastIndex() + 1));
    // Overwrites the uncommitted suffix after commitIndex with an entry of the current term.
    m.put("AppendEntries conflicting append", n -> new AppendEntries(n.term(), "n2", n.commitIndex(),
        n.termAt(n.commitIndex()), entriesFrom(n.commitIndex() + 1, n.term()), n.commitIndex()));
    m.put("AppendEntries failing the consistency check", n -> new AppendEntries(n.term(), "n2", n.lastIndex() + 3,
        n.term(), entriesFrom(n.lastIndex() + 4, n.term()), 0));
    m.put("AppendEntries of a newer term", n -> new AppendEntries(n.term() + 1, "n3", n.lastIndex(), n.status().lastTerm(),
        entriesFrom(n.lastIndex() + 1, n.term() + 1), n.commitIndex()));
    m.put("AppendEntries of an older term", n -> new AppendEntries(n.term() - 1, "n3", 1, 1, List.of(), 0));
    m.put("RequestVote, newer term, up-to-date", n -> new RequestVote(n.term() + 1, "n3", n.lastIndex() + 1, n.status().lastTerm()));
    m.put("RequestVote, newer term, stale log", n -> new RequestVote(n.term() + 1, "n3", 1, 1));
    m.put("RequestVote, same term", n -> new RequestVote(n.term(), "n3", n.lastIndex() + 1, n.status().lastTerm()));
    m.put("PreVote, up-to-date", n -> new PreVote(n.term() + 1, "n3", n.lastIndex() + 1, n.status().lastTerm()));
    m.put("PreVote, stale log", n -> new PreVote(n.term() + 1, "n3", 1, 1));
    m.put("RequestVoteResponse grant", n -> new RequestVoteResponse(n.term(), "n2", true));
    m.put("RequestVoteResponse denial", n -> new RequestVoteResponse(n.term(), "n3", false));
    m.put("RequestVoteResponse of a newer term", n -> new RequestVoteResponse(n.term() + 2, "n4", false));
    m.put("PreVoteResponse grant", n -> new PreVoteResponse(n.term() + 1, "n2", true));
    m.put("PreVoteResponse denial", n -> new PreVoteResponse(n.term(), "n3", false));
    m.put("PreVoteResponse of a newer term", n -> new PreVoteResponse(n.term() + 3, "n4", false));
    // n4 was probed with (prev 4, [5]); its log [1,1] is too short.
    m.put("AppendEntriesResponse success", n -> AppendEntriesResponse.success(n.term(), "n4", 5));
    m.put("AppendEntriesResponse rejection", n -> AppendEntriesResponse.reject(n.term(), "n4", 4, 3, 0));
    m.put("AppendEntriesResponse of a newer term", n -> AppendEntriesResponse.reject(n.term() + 1, "n4", 4, 3, 0));
    m.put("InstallSnapshot, whole snapshot", n -> new InstallSnapshot(n.term(), "n2", n.lastIndex() + 5, n.term(), FIVE,
        0, bytes("state"), true, 5));
    m.put("InstallSnapshot, first of two chunks", n -> new InstallSnapshot(n.term(), "n2", n.lastIndex() + 5, n.term(),
        FIVE, 0, bytes("sta"), false, 5));
    m.put("InstallSnapshotResponse installed", n -> new InstallSnapshotResponse(n.term(), "n4", 5, 8, true));
    m.put("InstallSnapshotResponse next offset", n -> new InstallSnapshotResponse(n.term(), "n4", 5, 3, false));
    // A follower's read forwarded to the leader, and the leader's answers to read 77 (index 2, or not leader).
    m.put("ReadIndexRequest", n -> new ReadIndexRequest(n.term(), "n3", 31));
    m.put("ReadIndexResponse with a read index", n -> new ReadIndexResponse(n.term(), "n2", 77, 2));
    m.put("ReadIndexResponse not leader", n -> new ReadIndexResponse(n.term(), "n2", 77, -1));
    // Leadership transfer (thesis 3.10): the leader's order to campaign, and the election it starts.
    m.put("TimeoutNow from the leader", n -> new RaftMessage.TimeoutNow(n.term(), "n2"));
    m.put("TimeoutNow of a newer term", n -> new RaftMessage.TimeoutNow(n.term() + 1, "n3"));
    m.put("RequestVote, newer term, transfer election", n -> new RequestVote(n.term() + 1, "n3", n.lastIndex() + 1, n.status().lastTerm(), true));
    return m;
  }

  static Stream<Arguments> stateMessagePairs() {
    List<Arguments> out = new ArrayList<>();
    for (String state : states().keySet()) {
      for (String msg : messages().keySet()) {
        boolean sameTermLeaderRequest = state.startsWith("leader") && !msg.contains("newer term")
            && !msg.contains("older term") && (msg.startsWith("AppendEntries ") || msg.startsWith("InstallSnapshot,"));
        // A leader can answer a read only after a fresh heartbeat round: see the dedicated test below.
        boolean leaderRead = state.startsWith("leader") && msg.equals("ReadIndexRequest");
        if (!sameTermLeaderRequest && !leaderRead) out.add(Arguments.of(state, msg));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} <- {1}")
  @MethodSource("stateMessagePairs")
  void crash_P5_5_05_everyHandlerIsIdempotent(String state, String message) {
    RaftCore once = states().get(state).get();
    RaftCore twice = states().get(state).get();
    assertEquals(Observed.of(once), Observed.of(twice), "setup is deterministic");
    RaftMessage m = messages().get(message).apply(once);
    assertEquals(m, messages().get(message).apply(twice));

    deliver(once, m);

    List<Ready> first = deliver(twice, m);
    List<Ready> second = deliver(twice, m);

    assertEquals(Observed.of(once), Observed.of(twice), "state after two deliveries equals state after one");

    // At most a reply is repeated: no write, no new effect, and only messages the first delivery sent.
    List<Outbound> earlier = new ArrayList<>();
    for (Ready r : first) earlier.addAll(allMessages(r));
    for (Ready r : second) {
      assertNull(r.hardState(), "no new hard state: " + r);
      assertNull(r.snapshot(), "no snapshot write");
      assertEquals(0, r.truncateFrom(), "no truncation");
      assertEquals(List.of(), r.entries(), "no entries written");
      assertNull(r.restore(), "no restore");
      assertEquals(List.of(), r.committed(), "nothing applied");
      assertEquals(List.of(), r.outcomes(), "no proposal or read outcome");
      assertEquals(List.of(), r.reads(), "no read served again");
      assertEquals(List.of(), r.violations());
      for (Outbound o : allMessages(r)) {
        assertTrue(earlier.contains(o), "only a repeat of the first delivery's output, not " + o + "; first: " + earlier);
      }
    }
  }

  /**
   * Delivers {@code m} as a driver would: collect the output, make the writes durable, and collect
   * once more (entries that just became durable may now be applied). Returns both rounds.
   */
  static List<Ready> deliver(RaftCore n, RaftMessage m) {
    n.step(m);
    Ready r1 = n.ready();
    persist(n, r1);
    Ready r2 = n.ready();
    persist(n, r2);
    return List.of(r1, r2);
  }

  /**
   * A duplicated ReadIndexRequest reaching a leader. The leader cannot tell a duplicate from a new
   * read that reuses the id (a restarted follower starts its ids anew), and answering a new read
   * needs a heartbeat round that starts after it arrived (thesis 6.4), so the duplicate costs one
   * more round. Apart from that, "at most a reply is repeated": no write, no change of state, only
   * heartbeats that differ from the first delivery's in their round, and once the rounds are
   * acknowledged the answer is the same reply with the same read index.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"leader", "leader, check-quorum off", "leader sending a snapshot"})
  void crash_P5_5_05_duplicateReadIndexRequestToLeaderOnlyRepeatsTheReply(String state) {
    RaftCore once = states().get(state).get();
    RaftCore twice = states().get(state).get();
    RaftMessage m = new ReadIndexRequest(6, "n3", 31);

    List<Ready> outOnce = deliver(once, m);
    List<Ready> first = deliver(twice, m);
    List<Ready> second = deliver(twice, m);
    assertEquals(Observed.of(once), Observed.of(twice), "state after two deliveries equals state after one");

    List<Outbound> earlier = new ArrayList<>();
    for (Ready r : first) for (Outbound o : allMessages(r)) earlier.add(withoutRound(o));
    List<Outbound> repeated = new ArrayList<>();
    for (Ready r : second) {
      assertFalse(r.hasWrite(), "no write: " + r);
      assertEquals(List.of(), r.committed());
      assertEquals(List.of(), r.outcomes());
      assertEquals(List.of(), r.reads());
      assertEquals(List.of(), r.violations());
      repeated.addAll(allMessages(r));
    }
    assertFalse(repeated.isEmpty(), "setup: the duplicate starts a round");
    for (Outbound o : repeated) {
      AppendEntries hb = o.message() instanceof AppendEntries ae ? ae : null;
      assertNotNull(hb, "only heartbeats: " + o);
      assertTrue(hb.entries().isEmpty(), "a heartbeat carries no entries: " + o);
      assertTrue(earlier.contains(withoutRound(o)), "the first delivery's heartbeat in a new round: " + o);
    }

    // n2 and n3 (with the leader a majority of 5) acknowledge every round; the reply to the read
    // comes out once, or repeated, with the same read index: the commit index when it arrived.
    List<ReadIndexResponse> answerOnce = acknowledgeRounds(once, outOnce);
    List<Ready> all = new ArrayList<>(first);
    all.addAll(second);
    List<ReadIndexResponse> answerTwice = acknowledgeRounds(twice, all);
    assertEquals(List.of(new ReadIndexResponse(6, "n1", 31, 5)), answerOnce);
    assertFalse(answerTwice.isEmpty());
    for (ReadIndexResponse a : answerTwice) assertEquals(answerOnce.get(0), a, "the same reply");
    assertEquals(Observed.of(once), Observed.of(twice));
  }

  /** The message with its heartbeat round cleared (AppendEntries only). */
  static Outbound withoutRound(Outbound o) {
    if (!(o.message() instanceof AppendEntries ae)) return o;
    return new Outbound(o.to(), new AppendEntries(ae.term(), ae.from(), ae.prevLogIndex(), ae.prevLogTerm(),
        ae.entries(), ae.leaderCommit(), 0));
  }

  /** n2 and n3 acknowledge every heartbeat sent to them; returns the ReadIndexResponses to n3 that follow. */
  static List<ReadIndexResponse> acknowledgeRounds(RaftCore leader, List<Ready> out) {
    for (Ready r : out) {
      for (Outbound o : allMessages(r)) {
        if (o.message() instanceof AppendEntries ae && ae.entries().isEmpty() && !o.to().equals("n4")
            && !o.to().equals("n5")) {
          leader.step(AppendEntriesResponse.success(ae.term(), o.to(), ae.prevLogIndex()).withRound(ae.round()));
        }
      }
    }
    return sentTo(leader.ready(), "n3", ReadIndexResponse.class);
  }

  @Test
  void crash_P5_5_05_theStatesAndMessagesAreRepresentative() {
    // Guards the property test against a vacuous setup: each state is what its name says, and
    // every message changes something in at least one state on its first delivery.
    Map<String, Supplier<RaftCore>> s = states();
    assertEquals("n2", s.get("follower with a leader").get().leaderId());
    assertEquals(2, s.get("follower with a leader").get().commitIndex());
    RaftCore reading = s.get("follower with a forwarded read").get();
    assertEquals(List.of(new ReadState(77, 2)), step(reading, new ReadIndexResponse(5, "n2", 77, 2)).reads(),
        "read 77 is waiting for the leader's answer");
    assertEquals(Role.PRE_CANDIDATE, s.get("pre-candidate").get().role());
    assertEquals(Role.CANDIDATE, s.get("candidate").get().role());
    RaftCore l = s.get("leader").get();
    assertEquals(Role.LEADER, l.role());
    assertEquals(5, l.commitIndex());
    assertEquals(0, l.status().matchIndex("n4"));
    RaftCore sending = s.get("leader sending a snapshot").get();
    assertEquals(5, sending.snapshotIndex());
    assertEquals(5, sending.status().nextIndex("n4"));
    for (Map.Entry<String, Function<RaftCore, RaftMessage>> m : messages().entrySet()) {
      // A same-term denial changes nothing observable by design (P5.2-05: denials never end a round early).
      if (m.getKey().endsWith("Response denial")) continue;
      boolean someEffect = false;
      for (Supplier<RaftCore> st : s.values()) {
        RaftCore n = st.get();
        Observed before = Observed.of(n);
        n.step(m.getValue().apply(n));
        Ready r = n.ready();
        if (!before.equals(Observed.of(n)) || !r.isEmpty()) someEffect = true;
      }
      assertTrue(someEffect, m.getKey() + " has no effect in any state");
    }
  }

  // ------------------------------------------------------------------ P5.6-01

  /** A valid base: 10-20 ticks, heartbeat 2, everything else at its default. */
  static RaftConfig with(String key, int value) {
    int min = 10, max = 20, hb = 2, entries = 256, bytes = 1 << 20, inflight = 8, chunk = 256 * 1024;
    switch (key) {
      case "raft.election-timeout-min" -> min = value;
      case "raft.election-timeout-max" -> max = value;
      case "raft.heartbeat-interval" -> hb = value;
      case "raft.max-entries-per-append" -> entries = value;
      case "raft.max-bytes-per-append" -> bytes = value;
      case "raft.max-inflight-appends" -> inflight = value;
      case "raft.snapshot.chunk-size" -> chunk = value;
      default -> throw new IllegalArgumentException(key);
    }
    return new RaftConfig(min, max, hb, true, true, true, entries, bytes, inflight, chunk);
  }

  @ParameterizedTest(name = "{0} = {1}")
  @CsvSource({
      "raft.heartbeat-interval, 10",      // equal to electionTimeoutMin
      "raft.heartbeat-interval, 15",      // larger than electionTimeoutMin
      "raft.election-timeout-min, 21",    // larger than electionTimeoutMax
      "raft.election-timeout-max, 9",     // smaller than electionTimeoutMin
      "raft.election-timeout-min, 0",
      "raft.election-timeout-max, 0",
      "raft.heartbeat-interval, 0",
      "raft.heartbeat-interval, -2",
      "raft.max-entries-per-append, 0",
      "raft.max-bytes-per-append, 0",
      "raft.max-inflight-appends, 0",
      "raft.snapshot.chunk-size, 0",
  })
  void timing_P5_6_01_invalidSettingsAreRejectedNamingTheSetting(String key, int value) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> with(key, value));
    assertTrue(e.getMessage().contains(key), "the error names " + key + ": " + e.getMessage());
  }

  @Test
  void timing_P5_6_01_validSettingsAreAccepted() {
    // The base used above is valid, so each failure there is due to the one bad value.
    RaftConfig c = with("raft.heartbeat-interval", 9);
    assertEquals(9, c.heartbeatInterval());
    assertEquals(RaftConfig.defaults(), with("raft.heartbeat-interval", 2));
  }
}
