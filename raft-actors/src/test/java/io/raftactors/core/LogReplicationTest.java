package io.raftactors.core;

import static io.raftactors.core.CoreFixture.*;
import static org.junit.jupiter.api.Assertions.*;

import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import io.raftactors.core.RaftMessage.PreVoteResponse;
import io.raftactors.core.RaftMessage.RequestVote;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.BiConsumer;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Log replication (paper 5.3, thesis 3.5): unit tests of the pure core. The leader is always n1,
 * elected with {@link CoreFixture#elect}; followers are real cores built with a given log, or the
 * test hands a node an AppendEntries it built itself.
 *
 * <p>The basic rules must hold with the optional election features off as well as with the
 * defaults (pre-vote and check-quorum on), so most tests run under both settings.
 */
class LogReplicationTest {
  static final ClusterConfig THREE = members(3);
  static final ClusterConfig FIVE = members(5);

  /** Both optional election features off, or both on (the defaults). */
  static Stream<Arguments> featureSettings() {
    return Stream.of(Arguments.of(false, false), Arguments.of(true, true));
  }

  static RaftConfig cfg(boolean preVote, boolean checkQuorum) {
    return settings().withPreVote(preVote).withCheckQuorum(checkQuorum);
  }

  /** The terms of a node's whole log, index 1 first. */
  static List<Long> terms(RaftCore n) {
    List<Long> out = new ArrayList<>();
    for (long i = 1; i <= n.lastIndex(); i++) out.add(n.termAt(i));
    return out;
  }

  static List<Long> termList(long... terms) {
    List<Long> out = new ArrayList<>();
    for (long t : terms) out.add(t);
    return out;
  }

  /** The only AppendEntriesResponse in {@code r}, which must wait for the write (messagesAfterPersist). */
  static AppendEntriesResponse onlyReplyAfterPersist(Ready r) {
    assertTrue(r.messages().isEmpty(), "nothing may leave before the write is durable: " + r);
    assertEquals(1, r.messagesAfterPersist().size(), "exactly one reply: " + r);
    return (AppendEntriesResponse) r.messagesAfterPersist().get(0).message();
  }

  // ------------------------------------------------------------------ a small lossless network

  /**
   * Delivers messages among a set of cores: every write completes as soon as it is handed out, and
   * every message is delivered at once, unless {@link #drop} says otherwise or its addressee is not
   * in the set. Records every Ready per node and checks that no core reports an invariant violation.
   */
  static final class Net {
    final Map<String, RaftCore> cores = new LinkedHashMap<>();
    final Map<String, List<Ready>> readies = new HashMap<>();
    Predicate<Outbound> drop = o -> false;
    /** Called after each delivered message, with the message and the core that received it. */
    BiConsumer<Outbound, RaftCore> observer = (o, c) -> {};

    Net(RaftCore... nodes) {
      for (RaftCore c : nodes) {
        cores.put(c.id(), c);
        readies.put(c.id(), new ArrayList<>());
      }
    }

    /** Delivers {@code first}, then everything the cores produce, until no message is left. */
    List<Outbound> drain(List<Outbound> first) {
      List<Outbound> delivered = new ArrayList<>();
      List<Outbound> inFlight = new ArrayList<>(first);
      for (int round = 0; round < 10_000; round++) {
        for (Outbound o : inFlight) {
          RaftCore to = cores.get(o.to());
          if (to == null || drop.test(o)) continue;
          to.step(o.message());
          delivered.add(o);
          observer.accept(o, to);
        }
        inFlight = new ArrayList<>();
        for (RaftCore c : cores.values()) {
          Ready r = c.ready();
          assertEquals(List.of(), r.violations(), c.id() + " reported a violation");
          readies.get(c.id()).add(r);
          persist(c, r);
          inFlight.addAll(allMessages(r));
        }
        if (inFlight.isEmpty()) return delivered;
      }
      throw new AssertionError("messages still flowing after 10000 rounds");
    }

    List<Outbound> drain() {
      return drain(List.of());
    }

    /** One tick on every node, then delivery until quiet. */
    List<Outbound> tick() {
      for (RaftCore c : cores.values()) c.tick();
      return drain();
    }
  }

  // ------------------------------------------------------------------ P5.3-01

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_01_leaderAppendsAndReplicates(boolean preVote, boolean checkQuorum) {
    // Elected in term 2 over log [1,1,1]: its no-op makes the last index 4.
    RaftCore leader = node("n1", THREE, 1, null, fixed(10), cfg(preVote, checkQuorum), 1, 1, 1);
    ackAll(leader, elect(leader)); // both followers hold the no-op: they are past probing
    leader.ready();
    assertEquals(2, leader.term(), "setup");
    assertEquals(4, leader.lastIndex(), "setup");

    long index = leader.propose(cmd("x"), 7);
    Ready r = leader.ready();

    assertEquals(5, index);
    assertEquals(5, leader.lastIndex(), "the leader's log gains one entry");
    LogEntry e = leader.entry(5);
    assertEquals(new LogEntry(5, 2, cmd("x")), e, "{index 5, term 2, command}");
    assertEquals(List.of(e), r.entries(), "the entry is handed to storage");
    for (String f : List.of("n2", "n3")) {
      List<AppendEntries> aes = sentTo(r, f, AppendEntries.class);
      assertEquals(1, aes.size(), "one AppendEntries to " + f + ": " + r);
      AppendEntries ae = aes.get(0);
      assertEquals(2, ae.term());
      assertEquals("n1", ae.from());
      assertEquals(4, ae.prevLogIndex());
      assertEquals(2, ae.prevLogTerm(), "prevLogTerm is the term of entry 4 (the no-op)");
      assertEquals(List.of(e), ae.entries());
      assertEquals(leader.commitIndex(), ae.leaderCommit());
      assertEquals(4, ae.leaderCommit(), "the no-op is committed");
    }
    // The client gets no reply yet: not even once the leader's own write is durable.
    persist(leader, r);
    Ready later = leader.ready();
    for (Ready x : List.of(r, later)) {
      assertTrue(x.committed().isEmpty(), "nothing applied before a follower acknowledges: " + x);
      assertTrue(x.outcomes().isEmpty(), "no outcome for the proposal: " + x);
    }
    assertEquals(4, leader.commitIndex());
    assertEquals(1, leader.status().pendingProposals(), "the caller still waits");
  }

  // ------------------------------------------------------------------ P5.3-02

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_02_followerAcceptsMatchingAppend(boolean preVote, boolean checkQuorum) {
    RaftCore f = node("n2", THREE, 2, null, fixed(10), cfg(preVote, checkQuorum), 1, 1, 2, 2);
    List<LogEntry> newEntries = entriesFrom(5, 2, 2);
    Ready r = step(f, new AppendEntries(2, "n1", 4, 2, newEntries, 4));

    assertEquals(6, f.lastIndex(), "the log ends at 6");
    assertEquals(termList(1, 1, 2, 2, 2, 2), terms(f));
    assertEquals(newEntries, r.entries(), "entries 5-6 are written");
    assertEquals(0, r.truncateFrom(), "nothing is truncated");
    // The reply only leaves once the write is durable.
    AppendEntriesResponse reply = onlyReplyAfterPersist(r);
    assertEquals("n1", r.messagesAfterPersist().get(0).to());
    assertEquals(AppendEntriesResponse.success(2, "n2", 6), reply, "{success true, matchIndex 6}");
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_02_emptyFollowerAcceptsFromIndexZero(boolean preVote, boolean checkQuorum) {
    RaftCore f = node("n2", THREE, 1, null, fixed(10), cfg(preVote, checkQuorum));
    List<LogEntry> newEntries = entriesFrom(1, 1, 1, 1);
    Ready r = step(f, new AppendEntries(1, "n1", 0, 0, newEntries, 0));

    assertEquals(termList(1, 1, 1), terms(f), "index 0 always matches: the follower holds 1-3");
    assertEquals(newEntries, r.entries());
    assertEquals(AppendEntriesResponse.success(1, "n2", 3), onlyReplyAfterPersist(r), "matchIndex 3");
  }

  // ------------------------------------------------------------------ P5.3-03, P5.3-04

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_03_rejectWhenPrevLogIndexPastEnd(boolean preVote, boolean checkQuorum) {
    RaftCore f = node("n2", THREE, 2, null, fixed(10), cfg(preVote, checkQuorum), 1, 1, 2);
    List<LogEntry> before = f.entriesFrom(1);
    Ready r = step(f, new AppendEntries(2, "n1", 5, 2, entriesFrom(6, 2), 5));

    AppendEntriesResponse reply = onlyReplyAfterPersist(r);
    assertFalse(reply.success(), "{success false}");
    assertEquals(2, reply.term());
    assertEquals(5, reply.rejectedIndex(), "the reply names the rejected prevLogIndex");
    // Optional part: the follower's last index is 3 (encoded as hintIndex = last + 1 with hintTerm 0).
    assertEquals(0, reply.hintTerm());
    assertEquals(4, reply.hintIndex());
    assertEquals(before, f.entriesFrom(1), "log unchanged");
    assertEquals(0, r.truncateFrom());
    assertTrue(r.entries().isEmpty(), "nothing written: " + r);
    assertEquals(0, f.commitIndex(), "leaderCommit of a rejected request is not used");
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_04_rejectWhenPrevLogTermDiffersAndTruncateNothing(boolean preVote, boolean checkQuorum) {
    RaftCore f = node("n2", THREE, 3, null, fixed(10), cfg(preVote, checkQuorum), 1, 1, 2, 2);
    List<LogEntry> before = f.entriesFrom(1);
    Ready r = step(f, new AppendEntries(3, "n1", 4, 3, entriesFrom(5, 3), 0));

    AppendEntriesResponse reply = onlyReplyAfterPersist(r);
    assertFalse(reply.success(), "{success false}");
    assertEquals(3, reply.term());
    assertEquals(before, f.entriesFrom(1), "log unchanged, entry 4 included");
    assertEquals(2, f.termAt(4));
    assertEquals(0, r.truncateFrom(), "a rejected request truncates nothing");
    assertTrue(r.entries().isEmpty(), "nothing written: " + r);
  }

  // ------------------------------------------------------------------ P5.3-05, P5.3-06, P5.3-07

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_05_conflictingSuffixTruncatedAndJournalledBeforeReply(boolean preVote, boolean checkQuorum) {
    RaftCore f = node("n2", THREE, 3, null, fixed(10), cfg(preVote, checkQuorum), 1, 1, 2, 2);
    List<LogEntry> sentEntries = entriesFrom(3, 3);
    Ready r = step(f, new AppendEntries(3, "n1", 2, 1, sentEntries, 0));

    assertEquals(termList(1, 1, 3), terms(f), "the log becomes [1,1,3]; the old entry 4 is gone");
    assertEquals(sentEntries.get(0), f.entry(3));
    // The journal part: truncation from 3 and the new entry are one write, and the reply waits for it.
    assertEquals(3, r.truncateFrom(), "storage truncates from the first conflicting index");
    assertEquals(sentEntries, r.entries());
    assertEquals(AppendEntriesResponse.success(3, "n2", 3), onlyReplyAfterPersist(r));
    assertEquals(2, f.status().stableIndex(), "the new entry 3 is not durable until storage says so");
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_06_noTruncationWithoutConflict(boolean preVote, boolean checkQuorum) {
    RaftCore f = node("n2", THREE, 2, null, fixed(10), cfg(preVote, checkQuorum), 1, 1, 2, 2, 2, 2);
    List<LogEntry> before = f.entriesFrom(1);
    // A late request carrying entries 2-3, which the follower already holds.
    Ready r = step(f, new AppendEntries(2, "n1", 1, 1, before.subList(1, 3), 0));

    assertEquals(before, f.entriesFrom(1), "entries 1-6 are all still there");
    assertEquals(0, r.truncateFrom(), "nothing deleted");
    assertTrue(r.entries().isEmpty(), "nothing rewritten: " + r);
    assertEquals(AppendEntriesResponse.success(2, "n2", 3), onlyReplyAfterPersist(r), "matchIndex 3, not 6");
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_07_appendsAreIdempotent(boolean preVote, boolean checkQuorum) {
    RaftCore f = node("n2", THREE, 2, null, fixed(10), cfg(preVote, checkQuorum), 1, 1);
    AppendEntries ae = new AppendEntries(2, "n1", 2, 1, entriesFrom(3, 2, 2), 1);

    Ready first = step(f, ae);
    persist(f, first);
    List<LogEntry> logAfterFirst = f.entriesFrom(1);
    long commitAfterFirst = f.commitIndex();
    Ready second = step(f, ae);

    assertEquals(4, f.lastIndex(), "no duplicate entries");
    assertEquals(logAfterFirst, f.entriesFrom(1), "the log is the same after both deliveries");
    assertEquals(commitAfterFirst, f.commitIndex());
    assertEquals(onlyReplyAfterPersist(first), onlyReplyAfterPersist(second), "the same reply");
    assertTrue(first.hasWrite(), "setup: the first delivery writes the entries");
    assertFalse(second.hasWrite(), "the second delivery writes nothing: " + second);
  }

  // ------------------------------------------------------------------ P5.3-08

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_08_committedEntriesNeverTruncated(boolean preVote, boolean checkQuorum) {
    RaftCore f = node("n2", THREE, 1, null, fixed(10), cfg(preVote, checkQuorum), 1, 1, 1, 1, 1, 1);
    step(f, new AppendEntries(1, "n1", 6, 1, List.of(), 5));
    assertEquals(5, f.commitIndex(), "setup");
    List<LogEntry> before = f.entriesFrom(1);

    // A (faulty) term-2 leader whose entry 4 conflicts with the committed entry 4.
    Ready r = step(f, new AppendEntries(2, "n3", 3, 1, entriesFrom(4, 2, 2), 5));

    assertFalse(r.violations().isEmpty(), "an invariant violation is reported: " + r);
    assertTrue(sent(r, AppendEntriesResponse.class).isEmpty(), "the request is refused, not answered: " + r);
    assertEquals(before, f.entriesFrom(1), "entries 1-6 stay");
    assertEquals(0, r.truncateFrom(), "nothing truncated");
    assertTrue(r.entries().isEmpty(), "nothing appended");
    assertEquals(5, f.commitIndex());
  }

  // ------------------------------------------------------------------ P5.3-09, P5.3-10

  /** One rejection as the leader saw it: the reply, and the leader's nextIndex for that follower after it. */
  record Rejection(AppendEntriesResponse reply, long nextIndexBefore, long nextIndexAfter) {}

  /**
   * Elects {@code leader} and runs it against {@code follower} until no message is left, every write
   * completing at once; the third node stays silent. Returns every rejection the leader handled, in order.
   */
  static List<Rejection> converge(RaftCore leader, RaftCore follower) {
    Ready elected = elect(leader);
    List<Rejection> rejections = new ArrayList<>();
    long[] next = {leader.status().nextIndex(follower.id())};
    Net net = new Net(leader, follower);
    net.observer = (o, to) -> {
      if (to != leader || !(o.message() instanceof AppendEntriesResponse resp)) return;
      long now = leader.status().nextIndex(follower.id());
      if (!resp.success()) rejections.add(new Rejection(resp, next[0], now));
      next[0] = now;
    };
    net.drain(allMessages(elected));
    return rejections;
  }

  static Stream<Arguments> backupCases() {
    List<Arguments> out = new ArrayList<>();
    long[] ones6 = {1, 1, 1, 1, 1, 1};
    long[] ones9 = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    for (boolean features : List.of(false, true)) {
      // The item's setup: the leader holds 1-10 (nine entries plus its no-op), the follower 1-6.
      out.add(Arguments.of("follower 1-6", ones9, ones6, features));
      // An empty follower: nextIndex walks down to 1 and no further.
      out.add(Arguments.of("empty follower", new long[] {1, 1, 1}, new long[] {}, features));
      // A follower with a conflicting suffix of another term.
      out.add(Arguments.of("conflicting suffix", new long[] {1, 1, 1, 1, 1, 1, 2, 2, 2},
          new long[] {1, 1, 1, 1, 1, 1, 3, 3}, features));
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0}, optional features on={3}")
  @MethodSource("backupCases")
  void replication_P5_3_09_leaderBacksUpNextIndexByOne(String name, long[] leaderLog, long[] followerLog,
      boolean features) {
    RaftConfig cfg = cfg(features, features).withConflictHint(false);
    RaftCore leader = node("n1", THREE, 3, null, fixed(10), cfg, leaderLog);
    RaftCore follower = node("n2", THREE, 3, null, fixed(10), cfg, followerLog);
    long leaderLast = leaderLog.length + 1; // plus the no-op of term 4

    List<Rejection> rejections = converge(leader, follower);

    assertFalse(rejections.isEmpty(), "setup: the logs differ, so the first probe is rejected");
    for (Rejection rej : rejections) {
      assertEquals(rej.nextIndexBefore() - 1, rej.nextIndexAfter(), "each rejection lowers nextIndex by exactly 1: " + rej);
      assertTrue(rej.nextIndexAfter() >= 1, "nextIndex never below 1: " + rej);
    }
    // The follower's log matches the leader's up to the common prefix; every rejection beyond it costs one step.
    int common = 0;
    while (common < followerLog.length && common < leaderLog.length && followerLog[common] == leaderLog[common]) common++;
    assertEquals(leaderLast - 1 - common, rejections.size(), "one retry per index above the common prefix");
    if (name.equals("follower 1-6")) assertTrue(rejections.size() <= 4, "at most 4 rejections");
    assertEquals(leader.entriesFrom(1), follower.entriesFrom(1), "the follower's log equals the leader's");
    assertEquals(leaderLast, leader.status().matchIndex("n2"));
  }

  static final long[] FIGURE7_LEADER = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};

  /**
   * The follower logs of the paper's Figure 7 and the rejections the conflict hint must produce, each
   * as {hintTerm, hintIndex, leader's nextIndex after it}. The leader's no-op of term 8 is index 11.
   */
  static Stream<Arguments> figure7() {
    return Stream.of(
        // Log too short: the hint is "my last index is 9", nextIndex becomes 10.
        Arguments.of("a", new long[] {1, 1, 1, 4, 4, 5, 5, 6, 6}, new long[][] {{0, 10, 10}}),
        Arguments.of("b", new long[] {1, 1, 1, 4}, new long[][] {{0, 5, 5}}),
        // Extra entries only: the first probe matches, the extra entries are truncated.
        Arguments.of("c", new long[] {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6}, new long[][] {}),
        Arguments.of("d", new long[] {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7}, new long[][] {}),
        // Second probe at prev 7: follower's term there is 4 (first index 4); the leader has term 4 up to
        // index 5, so nextIndex becomes one past its last term-4 entry: 6.
        Arguments.of("e", new long[] {1, 1, 1, 4, 4, 4, 4}, new long[][] {{0, 8, 8}, {4, 4, 6}}),
        // The leader has no entries of terms 3 or 2: nextIndex jumps to the follower's first index of each.
        Arguments.of("f", new long[] {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3}, new long[][] {{3, 7, 7}, {2, 4, 4}}));
  }

  @ParameterizedTest(name = "Figure 7 ({0})")
  @MethodSource("figure7")
  void replication_P5_3_10_fastBackupWithConflictTerm(String name, long[] followerLog, long[][] expected) {
    RaftConfig cfg = settings().withConflictHint(true);
    RaftCore leader = node("n1", THREE, 7, null, fixed(10), cfg, FIGURE7_LEADER);
    RaftCore follower = node("n2", THREE, 7, null, fixed(10), cfg, followerLog);

    List<Rejection> rejections = converge(leader, follower);

    assertEquals(8, leader.term(), "setup");
    assertEquals(expected.length, rejections.size(), "rejections: " + rejections);
    for (int i = 0; i < expected.length; i++) {
      Rejection rej = rejections.get(i);
      long prev = rej.reply().rejectedIndex();
      assertEquals(expected[i][0], rej.reply().hintTerm(), "conflictTerm = the follower's term at " + prev);
      assertEquals(expected[i][1], rej.reply().hintIndex(), "first index of that term / last index + 1");
      assertEquals(expected[i][2], rej.nextIndexAfter(), "the leader's new nextIndex");
    }
    // At most (number of conflicting terms + 1) rejections: the terms the follower holds past the common prefix.
    int common = 0;
    while (common < followerLog.length && common < FIGURE7_LEADER.length && followerLog[common] == FIGURE7_LEADER[common]) {
      common++;
    }
    TreeSet<Long> conflictingTerms = new TreeSet<>();
    for (int i = common; i < followerLog.length; i++) conflictingTerms.add(followerLog[i]);
    assertTrue(rejections.size() <= conflictingTerms.size() + 1,
        rejections.size() + " rejections for conflicting terms " + conflictingTerms);
    assertEquals(leader.entriesFrom(1), follower.entriesFrom(1), "the logs end equal");
    assertEquals(11, leader.status().matchIndex("n2"));
  }

  // ------------------------------------------------------------------ P5.3-12

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_12_matchIndexOnlyGrows(boolean preVote, boolean checkQuorum) {
    RaftCore leader = node("n1", THREE, 1, null, fixed(10), cfg(preVote, checkQuorum), 1, 1, 1, 1, 1, 1, 1);
    elect(leader); // term 2, no-op at 8
    leader.step(AppendEntriesResponse.success(2, "n2", 8));
    leader.ready();
    assertEquals(8, leader.status().matchIndex("n2"), "setup");
    assertEquals(8, leader.commitIndex(), "setup");

    leader.step(AppendEntriesResponse.success(2, "n2", 5)); // a late reply to an older request
    leader.ready();

    CoreStatus st = leader.status();
    assertEquals(8, st.matchIndex("n2"), "matchIndex stays 8");
    assertTrue(st.nextIndex("n2") >= 9, "nextIndex stays >= 9: " + st.nextIndex("n2"));
    assertEquals(8, leader.commitIndex());
  }

  // ------------------------------------------------------------------ P5.3-13

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_13_commitNeedsMajorityOfDurableCopies(boolean preVote, boolean checkQuorum) {
    RaftCore leader = node("n1", FIVE, 2, null, fixed(10), cfg(preVote, checkQuorum), 1, 1, 1, 2, 2);
    ackAll(leader, elect(leader)); // term 3, no-op at 6 committed
    leader.ready();
    assertEquals(3, leader.term(), "setup");
    assertEquals(6, leader.commitIndex(), "setup");

    assertEquals(7, leader.propose(cmd("x"), 1));
    persist(leader, leader.ready()); // the leader's own copy is durable
    leader.step(AppendEntriesResponse.success(3, "n2", 7));
    assertEquals(6, leader.commitIndex(), "leader + 1 follower: 2 of 5 is no majority");
    leader.step(AppendEntriesResponse.success(3, "n3", 7));
    assertEquals(7, leader.commitIndex(), "leader + 2 followers: 3 of 5 commit index 7");
    leader.step(AppendEntriesResponse.success(3, "n4", 7));
    assertEquals(7, leader.commitIndex());

    // The leader's own copy counts only once durable: two follower acks alone are 2 of 5.
    assertEquals(8, leader.propose(cmd("y"), 2));
    Ready r8 = leader.ready();
    leader.step(AppendEntriesResponse.success(3, "n2", 8));
    leader.step(AppendEntriesResponse.success(3, "n3", 8));
    assertEquals(7, leader.commitIndex(), "the leader's non-durable copy is not counted");
    persist(leader, r8);
    assertEquals(8, leader.commitIndex(), "once durable, the leader makes 3 of 5");

    // In general: the highest N that a majority holds. Matches {11, 11, 10, 7, 6} commit 10.
    leader.propose(cmd("a"), 3);
    leader.propose(cmd("b"), 4);
    leader.propose(cmd("c"), 5);
    persist(leader, leader.ready());
    leader.step(AppendEntriesResponse.success(3, "n2", 11));
    leader.step(AppendEntriesResponse.success(3, "n3", 10));
    assertEquals(10, leader.commitIndex(), "the highest index held by a majority");
  }

  // ------------------------------------------------------------------ P5.3-14

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_14_commitIndexNeverDecreases(boolean preVote, boolean checkQuorum) {
    RaftCore f = node("n2", THREE, 1, null, fixed(10), cfg(preVote, checkQuorum), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    Ready first = step(f, new AppendEntries(1, "n1", 10, 1, List.of(), 9));
    assertEquals(9, f.commitIndex(), "setup");
    assertEquals(9, first.committed().size(), "setup: entries 1-9 applied");
    assertEquals(9, f.lastApplied());

    // A delayed request of the same leader, with an old leaderCommit.
    Ready delayed = step(f, new AppendEntries(1, "n1", 3, 1, f.entriesFrom(4).subList(0, 1), 4));
    assertEquals(9, f.commitIndex(), "commitIndex does not drop to 4");
    assertEquals(9, f.lastApplied(), "lastApplied does not move back");
    assertTrue(delayed.committed().isEmpty(), "nothing is applied again");
    assertEquals(AppendEntriesResponse.success(1, "n2", 4), onlyReplyAfterPersist(delayed));

    // A new leader of term 2 that has not learnt the commit point yet.
    Ready newLeader = step(f, new AppendEntries(2, "n3", 10, 1, List.of(), 2));
    assertEquals(9, f.commitIndex(), "a lower leaderCommit after a leader change does not lower it");
    assertEquals(9, f.lastApplied());
    assertTrue(newLeader.committed().isEmpty());
    step(f, new AppendEntries(2, "n3", 10, 1, List.of(), 10));
    assertEquals(10, f.commitIndex(), "and it still advances");
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_14_commitIndexNeverDecreasesWhileWritesPending(boolean preVote, boolean checkQuorum) {
    // Committed while the follower's write of entries 1-10 is still in progress: applied at once.
    RaftCore f = node("n2", THREE, 1, null, fixed(10), cfg(preVote, checkQuorum));
    Ready write = step(f, new AppendEntries(1, "n1", 0, 0, entriesFrom(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), 9));
    assertEquals(9, f.commitIndex(), "setup");
    List<Long> applied = new ArrayList<>();
    for (Committed c : write.committed()) applied.add(c.entry().index());
    assertEquals(termList(1, 2, 3, 4, 5, 6, 7, 8, 9), applied, "all nine committed entries are applied, once");

    Ready delayed = step(f, new AppendEntries(1, "n1", 3, 1, entriesFrom(4, 1), 4));
    assertEquals(9, f.commitIndex(), "commitIndex does not drop to 4");
    assertEquals(9, f.lastApplied(), "lastApplied does not move back");
    assertTrue(delayed.committed().isEmpty());
    persist(f, write);
    assertTrue(f.ready().committed().isEmpty(), "nothing is applied twice");
    assertEquals(9, f.lastApplied());
  }

  // ------------------------------------------------------------------ P5.3-15

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_15_commitBoundedByCheckedPrefix(boolean preVote, boolean checkQuorum) {
    // Entries 4-6 are stale term-2 entries; the term-4 leader's log is [1,1,2,3,3,3].
    RaftCore f = node("n2", THREE, 3, null, fixed(10), cfg(preVote, checkQuorum), 1, 1, 2, 2, 2, 2);
    Ready r = step(f, new AppendEntries(4, "n1", 3, 2, List.of(), 6));

    assertEquals(AppendEntriesResponse.success(4, "n2", 3), onlyReplyAfterPersist(r));
    assertEquals(3, f.commitIndex(), "min(leaderCommit 6, last new entry 3)");
    List<Long> applied = new ArrayList<>();
    for (Committed c : r.committed()) applied.add(c.entry().index());
    assertEquals(termList(1, 2, 3), applied, "entries 4-6 are not applied");
    assertEquals(3, f.lastApplied());

    // Once the leader's entries 4-6 replace the stale ones, those are what gets applied (the
    // stale ones never are), as soon as they are committed.
    List<LogEntry> leaders = entriesFrom(4, 3, 3, 3);
    Ready fix = step(f, new AppendEntries(4, "n1", 3, 2, leaders, 6));
    assertEquals(4, fix.truncateFrom(), "the stale entries are truncated");
    List<LogEntry> appliedNow = new ArrayList<>();
    for (Committed c : fix.committed()) appliedNow.add(c.entry());
    assertEquals(leaders, appliedNow);
    persist(f, fix);
    assertTrue(f.ready().committed().isEmpty(), "applied once");
  }

  // ------------------------------------------------------------------ P5.3-16

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_16_idleLeaderHeartbeatsAndLaggingCommitCatchesUp(boolean preVote, boolean checkQuorum) {
    RaftConfig cfg = cfg(preVote, checkQuorum);
    int h = cfg.heartbeatInterval();
    RaftCore leader = node("n1", THREE, 1, null, fixed(10), cfg);
    RaftCore n2 = node("n2", THREE, 1, null, fixed(10), cfg);
    RaftCore n3 = node("n3", THREE, 1, null, fixed(10), cfg);
    Net net = new Net(leader, n2, n3);
    net.drain(allMessages(elect(leader)));
    // The followers got the no-op with leaderCommit 0; the leader committed it only afterwards.
    assertEquals(1, leader.commitIndex(), "setup");
    assertEquals(0, n2.commitIndex(), "setup: the follower lags on commit");
    assertEquals(0, n3.commitIndex(), "setup: the follower lags on commit");

    long start = leader.status().now();
    Map<String, Long> lastHeard = new HashMap<>(Map.of("n2", start, "n3", start));
    for (int t = 0; t < 10 * cfg.electionTimeoutMax(); t++) {
      for (Outbound o : net.tick()) {
        if (!(o.message() instanceof AppendEntries ae)) continue;
        assertTrue(ae.entries().isEmpty(), "an idle leader sends only heartbeats: " + ae);
        assertEquals(leader.term(), ae.term());
        assertEquals(1, ae.prevLogIndex(), "prevLogIndex is the follower's match");
        assertEquals(leader.termAt(1), ae.prevLogTerm());
        assertEquals(leader.commitIndex(), ae.leaderCommit());
        lastHeard.put(o.to(), leader.status().now());
      }
      long now = leader.status().now();
      for (String f : List.of("n2", "n3")) {
        assertTrue(now - lastHeard.get(f) <= h, f + " heard nothing for more than " + h + " ticks at tick " + now);
      }
      if (now - start == h) {
        // Heartbeats alone carried the commit point.
        assertEquals(1, n2.commitIndex(), "n2 caught up on commit from a heartbeat");
        assertEquals(1, n3.commitIndex(), "n3 caught up on commit from a heartbeat");
      }
    }
    assertEquals(Role.LEADER, leader.role());
    assertEquals(1, n2.lastApplied(), "the no-op is applied on n2");
    assertEquals(1, n3.lastApplied(), "the no-op is applied on n3");
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_16_noFollowerStartsElectionOver100Timeouts(boolean preVote, boolean checkQuorum) {
    RaftConfig cfg = cfg(preVote, checkQuorum);
    RaftCore leader = node("n1", THREE, 1, null, fixed(10), cfg);
    // Followers draw the shortest timeout, so any gap in heartbeats would show.
    RaftCore n2 = node("n2", THREE, 1, null, fixed(cfg.electionTimeoutMin()), cfg);
    RaftCore n3 = node("n3", THREE, 1, null, fixed(cfg.electionTimeoutMin()), cfg);
    Net net = new Net(leader, n2, n3);
    net.drain(allMessages(elect(leader)));
    long term = leader.term();

    for (int t = 0; t < 100 * cfg.electionTimeoutMax(); t++) {
      net.tick();
      for (RaftCore f : List.of(n2, n3)) {
        assertEquals(Role.FOLLOWER, f.role(), f + " left FOLLOWER at tick " + t);
        assertEquals(term, f.term(), f + " changed term at tick " + t);
      }
    }
    assertEquals(Role.LEADER, leader.role());
    assertEquals(term, leader.term());
  }

  // ------------------------------------------------------------------ P5.3-18

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_18_clientReplyOnlyAfterCommitAndApply(boolean preVote, boolean checkQuorum) {
    RaftCore leader = node("n1", THREE, 1, null, fixed(10), cfg(preVote, checkQuorum));
    ackAll(leader, elect(leader));
    leader.ready();
    final long caller = 42;
    assertEquals(2, leader.propose(cmd("x"), caller));

    // Follower acks are held back: a few ticks pass, the leader's write completes; still no reply.
    List<Ready> held = new ArrayList<>();
    Ready write = leader.ready();
    held.add(write);
    held.addAll(tick(leader, 3));
    persist(leader, write);
    held.add(leader.ready());
    for (Ready r : held) {
      assertTrue(r.committed().isEmpty(), "no reply before commit: " + r);
      assertTrue(r.outcomes().isEmpty(), "no outcome before commit: " + r);
    }
    assertEquals(1, leader.commitIndex());

    // One follower ack commits it (leader + n2); the caller gets exactly one result, for its entry.
    leader.step(AppendEntriesResponse.success(leader.term(), "n2", 2));
    assertEquals(2, leader.commitIndex());
    List<Committed> results = new ArrayList<>();
    Ready applied = leader.ready();
    results.addAll(applied.committed());
    // Later acks, duplicates and ticks must not answer the caller again.
    leader.step(AppendEntriesResponse.success(leader.term(), "n3", 2));
    leader.step(AppendEntriesResponse.success(leader.term(), "n2", 2));
    results.addAll(leader.ready().committed());
    for (Ready r : tick(leader, 3)) results.addAll(r.committed());

    List<Committed> forCaller = new ArrayList<>();
    for (Committed c : results) if (c.correlationId() == caller) forCaller.add(c);
    assertEquals(1, forCaller.size(), "exactly one result for the caller: " + results);
    assertEquals(new LogEntry(2, leader.term(), cmd("x")), forCaller.get(0).entry());
    assertEquals(0, leader.status().pendingProposals());
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_18_committedOnTheFollowersCopiesIsAppliedOnceBeforeTheLeadersOwnWrite(boolean preVote, boolean checkQuorum) {
    RaftCore leader = node("n1", THREE, 1, null, fixed(10), cfg(preVote, checkQuorum));
    ackAll(leader, elect(leader));
    leader.ready();
    leader.propose(cmd("x"), 42);
    Ready write = leader.ready();
    assertTrue(write.committed().isEmpty(), "no reply before commit");
    // Both followers acknowledge before the leader's own write completes: committed on their
    // copies, so applied (and answered) without waiting for the leader's.
    ackAll(leader, write);
    assertEquals(2, leader.commitIndex(), "setup: committed on the followers' copies");
    List<Committed> applied = leader.ready().committed();
    assertEquals(1, applied.size());
    assertEquals(42, applied.get(0).correlationId());
    persist(leader, write);
    assertTrue(leader.ready().committed().isEmpty(), "exactly once");
  }

  // ------------------------------------------------------------------ P5.3-22

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_22_leaderTrackedInItsTermAndClearedAfterTermChange(boolean preVote, boolean checkQuorum) {
    // A long timeout (20), so that past electionTimeoutMin the follower listens to candidates but has not timed out.
    RaftCore f = node("n2", THREE, 2, null, fixed(20), cfg(preVote, checkQuorum), 1, 1);
    assertNull(f.leaderId(), "setup: no leader known yet");
    step(f, new AppendEntries(2, "n1", 2, 1, List.of(), 1));
    assertEquals("n1", f.leaderId(), "L is reported while in L's term");
    tick(f, 12);
    assertEquals(2, f.term(), "setup");
    assertEquals("n1", f.leaderId(), "still L in L's term");
    // A redirect names L.
    f.propose(cmd("x"), 9);
    assertEquals(List.of(new ProposalOutcome.NotLeader(9, "n1")), f.ready().outcomes());

    // The term rises without a new leader: a candidate of term 3 asks for a vote.
    step(f, new RequestVote(3, "n3", 0, 0));
    assertEquals(3, f.term(), "setup: the term changed");
    assertNull(f.leaderId(), "no leader known in the new term");
    f.propose(cmd("y"), 10);
    assertEquals(List.of(new ProposalOutcome.NotLeader(10, null)), f.ready().outcomes());
  }

  @ParameterizedTest(name = "preVote={0}, checkQuorum={1}")
  @MethodSource("featureSettings")
  void replication_P5_3_22_leaderClearedWhenFollowerCampaigns(boolean preVote, boolean checkQuorum) {
    RaftCore f = node("n2", THREE, 2, null, fixed(10), cfg(preVote, checkQuorum), 1, 1);
    step(f, new AppendEntries(2, "n1", 2, 1, List.of(), 1));
    assertEquals("n1", f.leaderId(), "setup");
    tickUntil(f, 100, () -> f.role() != Role.FOLLOWER);
    assertNull(f.leaderId(), "a node that times out no longer reports the old leader");
    if (f.role() == Role.PRE_CANDIDATE) step(f, new PreVoteResponse(3, "n3", true));
    assertEquals(Role.CANDIDATE, f.role(), "setup");
    assertEquals(3, f.term(), "setup: the term changed");
    assertNull(f.leaderId(), "no leader known in the new term");
  }

  // ------------------------------------------------------------------ the basic loop itself

  @Test
  void netDeliversUntilQuiet() {
    // The helper above must really deliver: a proposal reaches every follower and commits everywhere.
    RaftCore leader = node("n1", THREE, 1);
    RaftCore n2 = node("n2", THREE, 1);
    RaftCore n3 = node("n3", THREE, 1);
    Net net = new Net(leader, n2, n3);
    net.drain(allMessages(elect(leader)));
    leader.propose(cmd("x"), 1);
    net.drain();
    for (int i = 0; i < settings().heartbeatInterval(); i++) net.tick();
    for (RaftCore c : List.of(leader, n2, n3)) {
      assertEquals(2, c.lastIndex(), c.toString());
      assertEquals(2, c.commitIndex(), c.toString());
    }
  }
}
