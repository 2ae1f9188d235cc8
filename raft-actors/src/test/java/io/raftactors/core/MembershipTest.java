package io.raftactors.core;

import static io.raftactors.core.CoreFixture.cmd;
import static io.raftactors.core.CoreFixture.fixed;
import static io.raftactors.core.CoreFixture.sent;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.core.MembershipChange.AddLearner;
import io.raftactors.core.MembershipChange.AddVoter;
import io.raftactors.core.MembershipChange.Remove;
import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import io.raftactors.core.RaftMessage.InstallSnapshot;
import io.raftactors.core.RaftMessage.PreVote;
import io.raftactors.core.RaftMessage.PreVoteResponse;
import io.raftactors.core.RaftMessage.RequestVote;
import io.raftactors.core.RaftMessage.RequestVoteResponse;
import io.raftactors.core.RaftMessage.TimeoutNow;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Membership changes (thesis chapter 4): single-server changes, catching new members up as
 * learners, removing the leader, and joint consensus. Multi-node rules run on {@link CoreCluster}
 * (durable writes at once, messages delivered until the network is quiet, or one hop per tick).
 */
class MembershipTest {
  static final ClusterConfig THREE = ClusterConfig.of("n1", "n2", "n3");
  static final RaftConfig DEFAULTS = RaftConfig.defaults();

  /** True if an AppendEntries carries a configuration entry other than the founding one (entry 1). */
  static boolean carriesConfig(RaftMessage m) {
    if (!(m instanceof AppendEntries ae)) return false;
    for (LogEntry e : ae.entries()) if (e.index() > 1 && e.data() instanceof EntryData.Configuration) return true;
    return false;
  }

  /** The founding log of THREE, the first leader's no-op (term 1), then {@code next} appended and not committed. */
  static List<LogEntry> foundedThenUncommitted(ClusterConfig next) {
    return List.of(new LogEntry(1, 0, new EntryData.Configuration(THREE)), new LogEntry(2, 1, new EntryData.Noop(1)),
        new LogEntry(3, 1, new EntryData.Configuration(next)));
  }

  /** Index of the latest configuration entry in {@code n}'s log, or 0. */
  static long configIndex(RaftCore n) {
    long found = 0;
    for (LogEntry e : n.entriesFrom(n.status().firstIndex())) if (e.data() instanceof EntryData.Configuration) found = e.index();
    return found;
  }

  static ClusterConfig configEntry(RaftCore n, long index) {
    return ((EntryData.Configuration) n.entry(index).data()).config();
  }

  /** A leader of {n1,n2,n3} with 3 commands committed everywhere, plus an empty n4 that knows the group. */
  static CoreCluster threeAndNewcomer() {
    CoreCluster c = CoreCluster.founded(THREE, DEFAULTS);
    c.elect();
    c.write(3);
    c.addEmpty("n4", THREE);
    return c;
  }

  // ------------------------------------------------------------------ T4.1: one server at a time

  @Test
  void membership_T4_1_01_newConfigurationCountsFromAppendForItsOwnEntryToo() {
    CoreCluster c = threeAndNewcomer();
    RaftCore l = c.node("n1");
    // n3 and n4 never receive the configuration entry: only n1 and n2 hold it.
    c.dropIf((to, m) -> (to.equals("n3") || to.equals("n4")) && carriesConfig(m));
    l.changeMembership(List.of(new AddVoter("n4", null)), 1);
    c.settle();
    long ci = configIndex(l);
    assertTrue(ci > 4, "the configuration entry is appended once n4 caught up");
    assertEquals(List.of("n1", "n2", "n3", "n4"), l.config().voters(), "in force on the leader once appended");
    assertEquals(ci, c.node("n2").lastIndex(), "n2 holds it");
    assertTrue(l.commitIndex() < ci, "2 of 4 do not commit it, although 2 of the old 3 would");

    c.dropIf((to, m) -> false);
    c.tick(2 * DEFAULTS.heartbeatInterval() + 2); // the lost requests are probed again
    assertTrue(l.commitIndex() >= ci, "3 of 4 commit it");
  }

  @Test
  void membership_T4_1_02_followerSwitchesOnAppendAndCountsElectionsOverTheNewConfiguration() {
    RaftCore f = CoreFixture.node("n2", THREE, 1, null, fixed(10), DEFAULTS, 1);
    ClusterConfig four = ClusterConfig.of("n1", "n2", "n3", "n4");
    f.step(new AppendEntries(1, "n1", 1, 1,
        List.of(new LogEntry(2, 1, cmd("x")), new LogEntry(3, 1, new EntryData.Configuration(four))), 1, 0));
    f.ready();
    assertEquals(four, f.config(), "the latest configuration in the log is active, committed or not");
    assertEquals(1, f.commitIndex(), "entry 3 is not committed");

    // Its next election counts over the 4 voters: one grant besides its own is not enough.
    List<Ready> rs = CoreFixture.tick(f, 30);
    List<String> asked = new ArrayList<>();
    for (Ready r : rs) for (Outbound o : r.messages()) if (o.message() instanceof PreVote) asked.add(o.to());
    assertTrue(asked.containsAll(List.of("n1", "n3", "n4")), "pre-votes go to every voter of the new configuration: " + asked);
    f.step(new PreVoteResponse(2, "n1", true));
    assertEquals(Role.PRE_CANDIDATE, f.role(), "2 of 4 is no majority");
    f.step(new PreVoteResponse(2, "n4", true));
    assertEquals(Role.CANDIDATE, f.role(), "3 of 4 is");
  }

  @Test
  void membership_T4_1_03_truncatedConfigurationEntryRevertsToThePreviousOne() {
    RaftCore f = CoreFixture.node("n2", THREE, 1, null, fixed(10), DEFAULTS, 1);
    ClusterConfig four = ClusterConfig.of("n1", "n2", "n3", "n4");
    f.step(new AppendEntries(1, "n1", 1, 1, List.of(new LogEntry(2, 1, new EntryData.Configuration(four))), 1, 0));
    assertEquals(four, f.config());
    // A leader of term 2 that never had entry 2 overwrites it.
    f.step(new AppendEntries(2, "n3", 1, 1, List.of(new LogEntry(2, 2, new EntryData.Noop(2))), 1, 0));
    assertEquals(THREE, f.config(), "back to the configuration of the snapshot");

    // The same with an earlier configuration entry in the log.
    ClusterConfig five = ClusterConfig.of("n1", "n2", "n3", "n4", "n5");
    f.step(new AppendEntries(2, "n3", 2, 2,
        List.of(new LogEntry(3, 2, new EntryData.Configuration(four)), new LogEntry(4, 2, new EntryData.Configuration(five))), 1, 0));
    assertEquals(five, f.config());
    f.step(new AppendEntries(3, "n1", 3, 2, List.of(new LogEntry(4, 3, new EntryData.Noop(3))), 1, 0));
    assertEquals(four, f.config(), "back to entry 3's configuration");
  }

  @Test
  void membership_T4_1_04_oneChangeAtATime() {
    CoreCluster c = threeAndNewcomer();
    RaftCore l = c.node("n1");
    c.addEmpty("n5", THREE);
    c.dropIf((to, m) -> carriesConfig(m)); // the entry stays uncommitted
    l.changeMembership(List.of(new AddVoter("n4", null)), 1);
    c.settle();
    long ci = configIndex(l);
    assertTrue(ci > 1 && l.commitIndex() < ci, "setup: a configuration entry is appended and uncommitted");
    long last = l.lastIndex();

    l.changeMembership(List.of(new AddVoter("n5", null)), 2);
    c.settle();
    assertEquals(List.of(new ProposalOutcome.Rejected(2, ProposalOutcome.Rejection.CHANGE_IN_PROGRESS, "a membership change is in progress")), c.outcomesOf("n1", 2));
    assertEquals(last, l.lastIndex(), "nothing appended");
    int configs = 0;
    for (LogEntry e : l.entriesFrom(l.commitIndex() + 1)) if (e.data() instanceof EntryData.Configuration) configs++;
    assertEquals(1, configs, "never two uncommitted configuration entries");
  }

  @Test
  void membership_T4_1_04_aChangeBeingPreparedAlsoBlocksTheNext() {
    CoreCluster c = threeAndNewcomer();
    RaftCore l = c.node("n1");
    c.down("n4"); // n4 cannot catch up: the change stays in preparation
    l.changeMembership(List.of(new AddVoter("n4", null)), 1);
    c.settle();
    assertNotNull(l.status().change(), "setup: the change is being prepared");
    l.changeMembership(List.of(new Remove("n3")), 2);
    c.settle();
    assertEquals(List.of(new ProposalOutcome.Rejected(2, ProposalOutcome.Rejection.CHANGE_IN_PROGRESS, "a membership change is in progress")), c.outcomesOf("n1", 2));
  }

  @Test
  void membership_T4_1_05_theCallerHearsOnlyOnceTheNewConfigurationCommits() {
    CoreCluster c = threeAndNewcomer();
    RaftCore l = c.node("n1");
    c.dropIf((to, m) -> carriesConfig(m));
    l.changeMembership(List.of(new Remove("n3")), 1);
    c.settle();
    long ci = configIndex(l);
    assertTrue(ci > 1 && l.commitIndex() < ci, "setup: appended, not committed");
    assertFalse(c.committedWith("n1", 1), "no answer before it commits");
    assertTrue(c.outcomesOf("n1", 1).isEmpty());
    l.changeMembership(List.of(new AddLearner("n4", null)), 2);
    c.settle();
    assertEquals(1, c.outcomesOf("n1", 2).size(), "the next change is refused meanwhile");

    c.dropIf((to, m) -> false);
    c.tick(2 * DEFAULTS.heartbeatInterval() + 2);
    assertTrue(l.commitIndex() >= ci);
    assertTrue(c.committedWith("n1", 1), "answered once committed");
    l.changeMembership(List.of(new AddLearner("n4", null)), 3);
    c.settle();
    assertTrue(c.committedWith("n1", 3), "and the next change is accepted from then on");
    assertEquals(List.of("n4"), l.config().learners());
  }

  @Test
  void membership_T4_1_06_aNewLeaderFirstCommitsAnEntryOfItsTerm() {
    RaftCore l = CoreFixture.node("n1", THREE, 1, null, fixed(10), DEFAULTS, 1, 1);
    Ready won = CoreFixture.elect(l);
    long noop = l.lastIndex();
    assertTrue(l.commitIndex() < noop, "setup: the no-op of term " + l.term() + " is not committed");
    l.changeMembership(List.of(new Remove("n3")), 1);
    Ready r = l.ready();
    assertEquals(noop, l.lastIndex(), "the change waits for the no-op to commit");
    CoreFixture.ackAll(l, won);
    CoreFixture.ackAll(l, r);
    assertEquals(noop, l.commitIndex(), "setup: the no-op commits");
    assertEquals(noop + 1, l.lastIndex(), "then the configuration is appended");
    assertEquals(ClusterConfig.of("n1", "n2"), configEntry(l, noop + 1));
  }

  @Test
  void membership_T4_1_07_theCorrectionKeepsAnOldLeaderFromOverwritingACommittedConfiguration() {
    ClusterConfig c0 = ClusterConfig.of("s1", "s2", "s3", "s4");
    // Without check-quorum: s2 must stay leader while it cannot reach s4 (the thesis's scenario has no such rule).
    CoreCluster c = CoreCluster.founded(c0, DEFAULTS.withCheckQuorum(false));
    RaftCore s1 = c.elect();
    assertEquals("s1", s1.id());
    c.addEmpty("s5", c0);
    // s1 appends C1 = C0 + s5 and sends it only to s5, then goes down.
    c.dropIf((to, m) -> carriesConfig(m) && !to.equals("s5"));
    s1.changeMembership(List.of(new AddVoter("s5", null)), 1);
    c.settle();
    long c1 = configIndex(s1);
    assertEquals(5, configEntry(s1, c1).voters().size(), "setup: s1 appended C1");
    assertEquals(c1, configIndex(c.node("s5")), "setup: s5 holds C1");
    c.down("s1");
    c.down("s5"); // it only keeps C1 for later
    // s2 wins term 2 with s3 and s4; its entries do not reach s4 for now.
    c.dropIf((to, m) -> to.equals("s4") && m instanceof AppendEntries && m.from().equals("s2"));
    RaftCore s2 = null;
    for (int i = 0; i < 200 && (s2 == null || !s2.id().equals("s2")); i++) {
      c.tick(1);
      s2 = c.leader();
    }
    assertNotNull(s2);
    assertEquals("s2", s2.id(), "setup: s2 leads");
    s2.changeMembership(List.of(new Remove("s4")), 2);
    c.tick(5);
    assertEquals(0, configIndexAbove(s2, c1), "without s4 the term-2 no-op cannot commit on C0, so C2 waits");

    c.dropIf((to, m) -> false);
    c.tick(5);
    long c2 = configIndexAbove(s2, c1);
    assertTrue(c2 > 0, "once s4 holds the no-op, C2 is appended: " + s2.status() + " " + c.outcomes + " s4=" + c.node("s4").status());
    assertTrue(s2.commitIndex() >= c2, "and committed");
    assertEquals(ClusterConfig.of("s1", "s2", "s3"), configEntry(s2, c2));
    assertTrue(c.node("s4").status().lastTerm() >= 2, "s4 holds an entry of term 2");

    // s1 returns, cut off from s2 and s3: with s4 and s5 it cannot win under C1.
    c.up("s5");
    c.dropIf((to, m) -> (to.equals("s1") && (m.from().equals("s2") || m.from().equals("s3")))
        || ((to.equals("s2") || to.equals("s3")) && m.from().equals("s1")));
    c.up("s1");
    c.tick(200);
    assertTrue(c.node("s1").role() != Role.LEADER, "s4 denies s1: its last term 2 beats 1");
    assertEquals(ClusterConfig.of("s1", "s2", "s3"), configEntry(c.node("s2"), c2), "C2 is still there");
    assertTrue(c.violations.isEmpty(), c.violations.toString());
  }

  private static long configIndexAbove(RaftCore n, long above) {
    long ci = configIndex(n);
    return ci > above ? ci : 0;
  }

  @Test
  void membership_T4_1_08_aNewServerAcceptsALeaderFromOutsideItsConfiguration() {
    RaftCore s4 = new RaftCore("n4", DEFAULTS, fixed(10), DurableState.empty(THREE));
    Ready r = CoreFixture.step(s4, new AppendEntries(2, "n1", 0, 0,
        List.of(new LogEntry(1, 0, new EntryData.Configuration(THREE)), new LogEntry(2, 2, cmd("a"))), 2, 0));
    assertEquals(2, s4.lastIndex(), "it appends");
    assertEquals("n1", s4.leaderId());
    List<AppendEntriesResponse> acks = CoreFixture.sent(r, AppendEntriesResponse.class);
    assertTrue(acks.get(0).success());

    // The leader itself need not be in the receiver's configuration either: n5 leads a group that
    // n4 still knows as {n1,n2,n3}; the entry that lists n5 is among those it sends.
    RaftCore n4 = new RaftCore("n4", DEFAULTS, fixed(10), DurableState.empty(THREE));
    ClusterConfig withN5 = ClusterConfig.of("n2", "n3", "n5");
    Ready fromN5 = CoreFixture.step(n4, new AppendEntries(3, "n5", 0, 0, List.of(new LogEntry(1, 0, new EntryData.Configuration(THREE)),
        new LogEntry(2, 2, new EntryData.Configuration(withN5)), new LogEntry(3, 3, cmd("b"))), 3, 0));
    assertEquals(3, n4.lastIndex(), "it appends what n5 sends");
    assertEquals("n5", n4.leaderId());
    assertEquals(withN5, n4.config());
    List<AppendEntriesResponse> toN5 = CoreFixture.sentTo(fromN5, "n5", AppendEntriesResponse.class);
    assertTrue(toN5.size() == 1 && toN5.get(0).success() && toN5.get(0).matchIndex() == 3, toN5.toString());
  }

  @Test
  void membership_T4_1_09_aServerVotesForACandidateFromOutsideItsConfiguration() {
    RaftCore n1 = CoreFixture.node("n1", THREE, 1, null, fixed(10), DEFAULTS.withCheckQuorum(false), 1);
    Ready r = CoreFixture.step(n1, new RequestVote(2, "n9", 1, 1));
    List<RequestVoteResponse> votes = CoreFixture.sent(r, RequestVoteResponse.class);
    assertTrue(votes.get(0).granted(), "granted to n9, which n1's configuration does not list");
    assertEquals("n9", n1.status().votedFor());
  }

  @Test
  void membership_T4_1_10_aChangeOfTwoVotersGoesThroughAJointConfiguration() {
    CoreCluster c = threeAndNewcomer();
    RaftCore l = c.node("n1");
    c.addEmpty("n5", THREE);
    l.changeMembership(List.of(new AddVoter("n4", null), new AddVoter("n5", null)), 1);
    c.tick(3);
    assertTrue(c.committedWith("n1", 1), c.outcomes.toString());
    // Every configuration entry differs from the one before it by at most one voter, unless one of
    // the two is joint.
    ClusterConfig prev = THREE;
    boolean sawJoint = false;
    for (LogEntry e : l.entriesFrom(1)) {
      if (!(e.data() instanceof EntryData.Configuration cfg)) continue;
      ClusterConfig now = cfg.config();
      sawJoint |= now.joint();
      if (!now.joint() && !prev.joint()) {
        int changed = 0;
        for (String v : prev.voters()) if (!now.voters().contains(v)) changed++;
        for (String v : now.voters()) if (!prev.voters().contains(v)) changed++;
        assertTrue(changed <= 1, "entry " + e.index() + " changes " + changed + " voters at once: " + prev + " -> " + now);
      }
      prev = now;
    }
    assertTrue(sawJoint, "the change went through C_old,new");
    assertEquals(List.of("n1", "n2", "n3", "n4", "n5"), l.config().voters());
    assertFalse(l.config().joint());
  }

  @Test
  void membership_T4_1_11_quorumsCountVotersOnly() {
    ClusterConfig withLearners = new ClusterConfig(List.of("n1", "n2", "n3"), List.of("l1", "l2"), List.of(), Map.of());
    RaftCore l = new RaftCore("n1", DEFAULTS, fixed(10), DurableState.bootstrap(withLearners));
    CoreFixture.tick(l, 10);
    Ready pre = l.ready();
    l.step(new PreVoteResponse(1, "l1", true));
    l.step(new PreVoteResponse(1, "l2", true));
    assertEquals(Role.PRE_CANDIDATE, l.role(), "learner grants never count");
    l.step(new PreVoteResponse(1, "n2", true));
    assertEquals(Role.CANDIDATE, l.role());
    Ready cand = l.ready();
    CoreFixture.persist(l, cand);
    List<String> asked = new ArrayList<>();
    for (Outbound o : cand.messagesAfterPersist()) if (o.message() instanceof RequestVote) asked.add(o.to());
    assertEquals(List.of("n2", "n3"), asked, "only voters are asked");
    l.step(new RequestVoteResponse(l.term(), "l1", true));
    l.step(new RequestVoteResponse(l.term(), "l2", true));
    assertEquals(Role.CANDIDATE, l.role(), "learner votes are ignored");
    l.step(new RequestVoteResponse(l.term(), "n3", true));
    assertEquals(Role.LEADER, l.role(), "2 of the 3 voters");
    Ready lead = l.ready();
    CoreFixture.persist(l, lead);
    long noop = l.lastIndex();
    l.step(AppendEntriesResponse.success(l.term(), "l1", noop));
    l.step(AppendEntriesResponse.success(l.term(), "l2", noop));
    assertTrue(l.commitIndex() < noop, "learner acks never commit");
    l.step(AppendEntriesResponse.success(l.term(), "n2", noop));
    assertEquals(noop, l.commitIndex(), "the leader and one voter are 2 of 3");
    assertTrue(l.status().progress().containsKey("l1"), "learners are replicated to");
    assertNull(pre.hardState() == null ? null : pre.hardState().votedFor());

    // A learner does not count itself a voter either: it never stands for election, not on its
    // timer and not when the leader hands over to it.
    RaftCore learner = new RaftCore("l1", DEFAULTS, fixed(10), DurableState.bootstrap(withLearners));
    List<Ready> quiet = CoreFixture.tick(learner, 100);
    quiet.add(CoreFixture.step(learner, new TimeoutNow(5, "n1")));
    assertTrue(sent(quiet, PreVote.class).isEmpty() && sent(quiet, RequestVote.class).isEmpty(), "the learner campaigned");
    assertEquals(Role.FOLLOWER, learner.role());
  }

  // ------------------------------------------------------------------ T4.2.1: catching up

  @Test
  void membership_T4_2_1_01_learnersReceiveEntriesButNeverVoteNorCount() {
    CoreCluster c = CoreCluster.founded(THREE, DEFAULTS);
    RaftCore l = c.elect();
    c.addEmpty("n4", THREE);
    l.changeMembership(List.of(new AddLearner("n4", null)), 1);
    c.settle();
    assertTrue(c.committedWith("n1", 1));
    c.write(5);
    RaftCore n4 = c.node("n4");
    assertEquals(l.lastIndex(), n4.lastIndex(), "the learner has every entry");
    assertEquals(List.of("n4"), n4.config().learners());
    // Its acknowledgements never commit anything: with n2 and n3 down nothing commits.
    c.down("n2");
    c.down("n3");
    l.propose(cmd("only-n4-acks"), -1);
    c.settle();
    assertEquals(l.lastIndex(), n4.lastIndex(), "n4 holds the new entry");
    assertTrue(l.commitIndex() < l.lastIndex(), "n1 + learner n4 commit nothing");
    // Cut off from the leader, it never campaigns.
    c.up("n2");
    c.up("n3");
    c.down("n1");
    int before = c.delivered.size();
    c.tick(200);
    for (Outbound o : c.delivered.subList(before, c.delivered.size())) {
      assertFalse(o.message().from().equals("n4") && (o.message() instanceof PreVote || o.message() instanceof RequestVote),
          "the learner campaigned: " + o);
    }
    assertEquals(Role.FOLLOWER, n4.role());
    assertNotNull(c.leader(), "n2 or n3 took over");
  }

  @Test
  void membership_T4_2_1_02_aNewVoterJoinsAfterARoundShorterThanAnElectionTimeout() {
    RaftConfig slow = DEFAULTS.withBatching(10, 1 << 20, 1);
    CoreCluster c = CoreCluster.founded(THREE, slow);
    RaftCore l = c.elect();
    c.write(1000);
    c.addEmpty("n4", THREE);
    l.changeMembership(List.of(new AddVoter("n4", null)), 1);
    RaftCore n4 = c.node("n4");
    long firstRoundEnd = l.lastIndex();
    int ticks = 0;
    int lastRound = 1;
    long roundStartTick = 0;
    while (configIndex(l) <= 1 && ticks < 2000) {
      c.tickHops(1);
      ticks++;
      CoreStatus.ChangeStatus ch = l.status().change();
      if (ch != null && ch.round() != lastRound) {
        assertEquals(lastRound + 1, ch.round(), "rounds count up one at a time");
        assertTrue(n4.lastIndex() >= firstRoundEnd, "a round ends only when n4 holds what the leader held when it began");
        lastRound = ch.round();
        roundStartTick = ticks;
      }
      if (ticks % 3 == 0 && l.status().change() != null) l.propose(cmd("more" + ticks), -1); // the leader keeps appending
    }
    long ci = configIndex(l);
    assertTrue(ci > 1, "n4 was promoted within " + ticks + " ticks");
    assertTrue(lastRound >= 2, "the first round took longer than an election timeout: " + lastRound);
    assertTrue(lastRound <= slow.catchUpRounds(), "within the round limit");
    assertTrue(ticks - roundStartTick < slow.electionTimeoutMin() + 2, "the last round was shorter than an election timeout");
    assertTrue(configEntry(l, ci).isVoter("n4"));
    c.tick(5);
    assertTrue(c.committedWith("n1", 1), c.outcomes.toString());
  }

  @Test
  void membership_T4_2_1_03_aNewServerThatNeverAnswersFailsTheChangeAndLeavesTheConfigurationAlone() {
    CoreCluster c = threeAndNewcomer();
    RaftCore l = c.node("n1");
    c.down("n4");
    long last = l.lastIndex();
    l.changeMembership(List.of(new AddVoter("n4", null)), 1);
    // A new process may take a while to answer for the first time: it gets catch-up-rounds election timeouts.
    int allowed = DEFAULTS.electionTimeoutMax() * DEFAULTS.catchUpRounds();
    c.tick(allowed - 1);
    assertTrue(c.outcomesOf("n1", 1).isEmpty(), "not before its first answer is overdue");
    c.tick(2);
    List<ProposalOutcome> out = c.outcomesOf("n1", 1);
    assertEquals(1, out.size());
    assertTrue(out.get(0) instanceof ProposalOutcome.Rejected r && r.reason().contains("did not answer"), out.toString());
    assertEquals(THREE, l.config(), "the configuration is unchanged");
    assertEquals(last, l.lastIndex(), "no configuration entry");
    assertNull(l.status().change());
    assertFalse(l.status().progress().containsKey("n4"), "n4 is no longer replicated to");
  }

  @Test
  void membership_T4_2_1_03_aNewServerThatStopsRespondingFailsAfterAnElectionTimeoutWithoutProgress() {
    RaftConfig slow = DEFAULTS.withBatching(5, 1 << 20, 1);
    CoreCluster c = CoreCluster.founded(THREE, slow);
    RaftCore l = c.elect();
    c.write(500);
    c.addEmpty("n4", THREE);
    long last = l.lastIndex();
    l.changeMembership(List.of(new AddVoter("n4", null)), 1);
    c.tickHops(20);
    assertTrue(c.node("n4").lastIndex() > 0 && c.node("n4").lastIndex() < last, "setup: n4 answered and is catching up");
    c.down("n4");
    c.tickHops(slow.electionTimeoutMax() - 2);
    assertTrue(c.outcomesOf("n1", 1).isEmpty(), "not before an election timeout without progress");
    c.tickHops(4);
    List<ProposalOutcome> out = c.outcomesOf("n1", 1);
    assertEquals(1, out.size());
    assertTrue(out.get(0) instanceof ProposalOutcome.Rejected r && r.reason().contains("no progress"), out.toString());
    assertEquals(THREE, l.config(), "the configuration is unchanged");
    assertEquals(last, l.lastIndex(), "no configuration entry");
  }

  /**
   * Without the conflict hint the leader finds where a new member's log matches one index per
   * round trip (P5.3-09): 300 entries take far longer than an election timeout, but every answer
   * brings the probe one index closer. That is progress, and the member becomes a voter.
   */
  @Test
  void membership_T4_2_1_03_probingBackOneIndexAtATimeIsProgress() {
    RaftConfig noHint = DEFAULTS.withConflictHint(false);
    CoreCluster c = CoreCluster.founded(THREE, noHint);
    RaftCore l = c.elect();
    c.write(300);
    c.addEmpty("n4", THREE);
    l.changeMembership(List.of(new AddVoter("n4", null)), 1);
    int ticks = hopUntilAnswered(c, 5000);
    assertTrue(ticks > 10 * noHint.electionTimeoutMax(), "the probe took many election timeouts: " + ticks);
    assertTrue(c.committedWith("n1", 1), c.outcomesOf("n1", 1).toString());
    assertTrue(l.config().isVoter("n4"));
  }

  /**
   * A snapshot sent in chunks of 16 bytes takes many round trips before the member's match index
   * moves; each acknowledged chunk is progress, so the change does not fail on the way.
   */
  @Test
  void membership_T4_2_1_03_snapshotChunksAcknowledgedAreProgress() {
    RaftConfig tiny = DEFAULTS.withSnapshotChunkBytes(16);
    CoreCluster c = CoreCluster.founded(THREE, tiny);
    RaftCore l = c.elect();
    c.write(50);
    l.compact(l.lastApplied(), "x".repeat(2000).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    c.settle();
    c.addEmpty("n4", THREE);
    l.changeMembership(List.of(new AddVoter("n4", null)), 1);
    int ticks = hopUntilAnswered(c, 5000);
    assertTrue(c.deliveredTo("n4", InstallSnapshot.class).size() >= 125, "n4 got the snapshot in 125 chunks");
    assertTrue(ticks > 2 * tiny.electionTimeoutMax(), "the transfer took election timeouts: " + ticks);
    assertTrue(c.committedWith("n1", 1), c.outcomesOf("n1", 1).toString());
    assertTrue(l.config().isVoter("n4"));
  }

  /** One tick and one message hop at a time until n1 answered change 1; returns the ticks taken. */
  private static int hopUntilAnswered(CoreCluster c, int max) {
    for (int i = 1; i <= max; i++) {
      c.tickHops(1);
      if (!c.outcomesOf("n1", 1).isEmpty() || c.committedWith("n1", 1)) return i;
    }
    throw new AssertionError("change 1 not answered within " + max + " ticks");
  }

  @Test
  void membership_T4_2_1_03_aServerSlowerThanTheLeaderFailsAfterTheRoundLimit() {
    RaftConfig slow = DEFAULTS.withBatching(2, 1 << 20, 1).withCatchUpRounds(3);
    CoreCluster c = CoreCluster.founded(THREE, slow);
    RaftCore l = c.elect();
    c.write(200);
    c.addEmpty("n4", THREE);
    l.changeMembership(List.of(new AddVoter("n4", null)), 1);
    int ticks = 0;
    while (c.outcomesOf("n1", 1).isEmpty() && ticks++ < 5000) {
      for (int i = 0; i < 3; i++) l.propose(cmd("t" + ticks + "-" + i), -1); // faster than n4 can follow
      c.tickHops(1);
    }
    List<ProposalOutcome> out = c.outcomesOf("n1", 1);
    assertTrue(out.size() == 1 && out.get(0) instanceof ProposalOutcome.Rejected r && r.reason().contains("3 rounds"),
        out.toString());
    assertEquals(THREE, l.config());
    assertEquals(0, configIndexAbove(l, 1));
  }

  @Test
  void membership_T4_2_1_04_commitsContinueWhileANewServerCatchesUp() {
    RaftConfig slow = DEFAULTS.withBatching(10, 1 << 20, 1);
    CoreCluster c = CoreCluster.founded(THREE, slow);
    RaftCore l = c.elect();
    c.write(300);
    c.down("n3");
    c.addEmpty("n4", THREE);
    l.changeMembership(List.of(new AddVoter("n4", null)), 1);
    RaftCore n4 = c.node("n4");
    for (int t = 0; t < 400; t++) {
      long before = l.commitIndex();
      l.propose(cmd("w" + t), -1);
      c.tickHops(4);
      assertTrue(l.commitIndex() > before, "commits continue at tick " + t);
      if (l.config().isVoter("n4")) {
        assertTrue(l.lastIndex() - n4.lastIndex() <= 10 * slow.electionTimeoutMin(),
            "n4 became a voter only once it had caught up: " + n4.lastIndex() + " of " + l.lastIndex());
      }
    }
    assertTrue(l.config().isVoter("n4"));
  }

  @Test
  void membership_T4_2_1_05_aNewServerCatchesUpThroughASnapshot() {
    CoreCluster c = CoreCluster.founded(THREE, DEFAULTS.withSnapshotChunkBytes(16));
    RaftCore l = c.elect();
    c.write(50);
    l.compact(l.lastApplied(), "state-as-of-the-snapshot".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    c.settle();
    c.write(5);
    c.addEmpty("n4", THREE);
    l.changeMembership(List.of(new AddVoter("n4", null)), 1);
    c.tick(10);
    assertTrue(c.committedWith("n1", 1), c.outcomes.toString());
    List<InstallSnapshot> chunks = c.deliveredTo("n4", InstallSnapshot.class);
    assertTrue(chunks.size() > 1, "n4 received the snapshot in chunks");
    int firstSnapshot = -1;
    int firstAppendAfter = -1;
    for (int i = 0; i < c.delivered.size(); i++) {
      Outbound o = c.delivered.get(i);
      if (!o.to().equals("n4")) continue;
      if (o.message() instanceof InstallSnapshot && firstSnapshot < 0) firstSnapshot = i;
      if (o.message() instanceof AppendEntries ae && firstSnapshot >= 0 && !ae.entries().isEmpty()) {
        firstAppendAfter = i;
        break;
      }
    }
    assertTrue(firstSnapshot >= 0 && firstAppendAfter > firstSnapshot, "the snapshot, then entries");
    assertTrue(l.config().isVoter("n4"));
    assertEquals(l.lastIndex(), c.node("n4").lastIndex());
  }

  // ------------------------------------------------------------------ T4.2.2: removing the leader

  @Test
  void membership_T4_2_2_01_aRemovedLeaderKeepsLeadingWithoutCountingItself() {
    CoreCluster c = CoreCluster.founded(THREE, DEFAULTS);
    RaftCore l = c.elect();
    c.write(2);
    c.dropIf((to, m) -> to.equals("n3") && carriesConfig(m));
    l.changeMembership(List.of(new Remove("n1")), 1);
    c.settle();
    long ci = configIndex(l);
    assertEquals(ClusterConfig.of("n2", "n3"), l.config(), "setup: C_new without n1 is in force");
    assertTrue(l.commitIndex() < ci, "n1 and n2 hold C_new, but n1 does not count: n3 is missing");
    assertEquals(Role.LEADER, l.role());
    int before = c.deliveredTo("n2", AppendEntries.class).size();
    c.tick(3 * DEFAULTS.heartbeatInterval());
    assertEquals(Role.LEADER, l.role());
    assertTrue(c.deliveredTo("n2", AppendEntries.class).size() > before, "it keeps replicating meanwhile");
    assertEquals(l.lastIndex(), c.node("n2").lastIndex());
    long last = l.lastIndex();
    l.propose(cmd("refused"), 9);
    c.settle();
    assertEquals(last, l.lastIndex(), "it appends no new proposal it may not see through");
    assertTrue(c.outcomesOf("n1", 9).get(0) instanceof ProposalOutcome.NotLeader nl && "n2".equals(nl.leaderHint()),
        c.outcomesOf("n1", 9).toString());

    c.dropIf((to, m) -> false);
    c.tick(2 * DEFAULTS.heartbeatInterval() + 2);
    assertTrue(c.node("n2").commitIndex() >= ci, "committed once n2 and n3 hold it");
    assertTrue(c.committedWith("n1", 1), "the caller hears it applied");
  }

  @Test
  void membership_T4_2_2_02_aRemovedLeaderStepsDownOnCommitAndNeverCampaigns() {
    CoreCluster c = CoreCluster.founded(THREE, DEFAULTS);
    RaftCore l = c.elect();
    long term = l.term();
    l.changeMembership(List.of(new Remove("n1")), 1);
    c.settle();
    assertEquals(Role.FOLLOWER, l.role(), "stepped down once C_new committed");
    assertTrue(c.deliveredTo("n2", TimeoutNow.class).size() + c.deliveredTo("n3", TimeoutNow.class).size() > 0,
        "it told a caught-up voter to campaign");
    RaftCore next = c.leader();
    assertNotNull(next, "a new leader without waiting an election timeout");
    assertEquals(term + 1, next.term());
    int before = c.delivered.size();
    c.down(next.id());
    c.tick(300);
    for (Outbound o : c.delivered.subList(before, c.delivered.size())) {
      assertFalse(o.message().from().equals("n1") && (o.message() instanceof PreVote || o.message() instanceof RequestVote),
          "the removed member campaigned: " + o);
    }
  }

  /**
   * n1 replaces n1 and n2 by n4 and n5 (a joint change). C_old,new commits; C_new = {n3, n4, n5}
   * reaches only n2 before n1 crashes. n3, n4 and n5 hold only the joint configuration, and its
   * outgoing half {n1, n2, n3} needs n2's vote, which n2 refuses them (its log is longer). n2, whose
   * log removes it, must campaign itself: it wins the new voters' votes, commits C_new without
   * counting itself, and hands over. Without that the group never elects a leader again.
   */
  @Test
  void membership_T4_2_2_aMemberTheUncommittedConfigurationRemovesCampaignsToFinishTheChange() {
    CoreCluster c = CoreCluster.founded(THREE, DEFAULTS);
    RaftCore l = c.elect();
    assertEquals("n1", l.id());
    c.addEmpty("n4", THREE);
    c.addEmpty("n5", THREE);
    ClusterConfig cNew = ClusterConfig.of("n3", "n4", "n5");
    // C_new leaves n1 for n2 only.
    c.dropIf((to, m) -> !to.equals("n2") && m instanceof AppendEntries ae && ae.entries().stream()
        .anyMatch(e -> e.data() instanceof EntryData.Configuration cfg && cfg.config().voters().equals(cNew.voters())
            && !cfg.config().joint()));
    l.changeMembership(List.of(new Remove("n1"), new Remove("n2"), new AddVoter("n4", null), new AddVoter("n5", null)), 1);
    c.tickUntil(500, () -> c.node("n2").config().equals(cNew));
    for (String id : List.of("n3", "n4", "n5")) assertTrue(c.node(id).config().joint(), id + " " + c.node(id).config());
    c.down("n1");
    c.dropIf((to, m) -> false);
    c.tickUntil(1000, () -> {
      RaftCore x = c.leader();
      return x != null && x.config().equals(cNew) && x.commitIndex() >= configIndex(x) && cNew.isVoter(x.id());
    });
    RaftCore next = c.leader();
    for (String id : List.of("n3", "n4", "n5")) assertEquals(cNew, c.node(id).config());
    assertTrue(c.delivered.stream().anyMatch(o -> o.message().from().equals("n2")
        && (o.message() instanceof PreVote || o.message() instanceof RequestVote)), "n2 campaigned");
    assertNotNull(next);
  }

  @Test
  void aRemovedLeaderTellsTheMembersThatTheChangeCommittedBeforeItStepsDown() {
    CoreCluster c = CoreCluster.founded(THREE, DEFAULTS);
    RaftCore l = c.elect();
    c.dropIf((to, m) -> m instanceof TimeoutNow); // no successor takes over at once
    l.changeMembership(List.of(new Remove("n1")), 1);
    c.settle();
    long ci = configIndex(l);
    assertEquals(Role.FOLLOWER, l.role());
    assertTrue(c.node("n2").commitIndex() >= ci && c.node("n3").commitIndex() >= ci,
        "the members know C_new committed: " + c.node("n2").commitIndex() + ", " + c.node("n3").commitIndex() + " of " + ci);
  }

  @Test
  void membership_T4_2_2_03_aMemberOutsideItsLatestConfigurationStillVotesButNeverCountsItself() {
    // n1 appended C_new = {n2, n3} (entry 3) and restarted before it committed.
    List<LogEntry> log = foundedThenUncommitted(ClusterConfig.of("n2", "n3"));
    RaftCore n1 = new RaftCore("n1", DEFAULTS.withCheckQuorum(false), fixed(10),
        new DurableState(new HardState(1, "n1"), SnapshotMeta.initial(THREE), log));
    assertEquals(ClusterConfig.of("n2", "n3"), n1.config());
    Ready r = CoreFixture.step(n1, new RequestVote(2, "n2", 3, 1));
    assertTrue(CoreFixture.sent(r, RequestVoteResponse.class).get(0).granted(), "it still grants votes");
    // Until C_new is known committed it may still be needed to finish the change (it may hold the
    // entry the new voters lack): it campaigns, asking C_new's voters, and never counts itself.
    List<Ready> later = CoreFixture.tick(n1, 100);
    List<PreVote> asked = sent(later, PreVote.class);
    assertFalse(asked.isEmpty(), "it may start elections");
    assertTrue(n1.status().votesGranted().isEmpty() || !n1.status().votesGranted().contains("n1"),
        "it never counts its own vote: " + n1.status().votesGranted());
    Ready won = CoreFixture.step(n1, new PreVoteResponse(3, "n2", true));
    assertTrue(sent(won, RequestVote.class).isEmpty(), "one grant of {n2, n3} is not a majority without itself");
    assertEquals(Role.PRE_CANDIDATE, n1.role());
  }

  /**
   * Every member holds C_new = {n1, n2} uncommitted when n1 is elected. n3, which C_new removes,
   * still gets the log from the new leader until C_new commits, then a last heartbeat that tells it
   * so: it never campaigns (had it heard nothing, it would, T4.2.2-03).
   */
  @Test
  void membership_T4_2_2_aNewLeaderKeepsSendingToMembersItsUncommittedConfigurationRemoves() {
    List<LogEntry> log = foundedThenUncommitted(ClusterConfig.of("n1", "n2"));
    CoreCluster c = new CoreCluster(DEFAULTS);
    DurableState st = new DurableState(new HardState(1, null), SnapshotMeta.initial(THREE), log);
    c.add("n1", st, 10);
    c.add("n2", st, 14);
    c.add("n3", st, 18);
    RaftCore l = c.elect();
    assertEquals("n1", l.id());
    int before = c.delivered.size();
    c.tick(200);
    assertTrue(c.node("n3").commitIndex() >= 3, "n3 learned that C_new committed: " + c.node("n3"));
    for (Outbound o : c.delivered.subList(before, c.delivered.size())) {
      assertFalse(o.message().from().equals("n3") && (o.message() instanceof PreVote || o.message() instanceof RequestVote),
          "n3 campaigned: " + o);
    }
  }

  /** Once it knows C_new committed, a member outside it never campaigns again. */
  @Test
  void membership_T4_2_2_03_aMemberThatKnowsItsRemovalCommittedNeverCampaigns() {
    List<LogEntry> log = foundedThenUncommitted(ClusterConfig.of("n2", "n3"));
    RaftCore n1 = new RaftCore("n1", DEFAULTS.withCheckQuorum(false), fixed(10),
        new DurableState(new HardState(1, "n2"), SnapshotMeta.initial(THREE), log));
    CoreFixture.step(n1, new AppendEntries(1, "n2", 3, 1, List.of(), 3)); // the leader says 3 is committed
    assertEquals(3, n1.commitIndex());
    List<Ready> later = CoreFixture.tick(n1, 100);
    assertTrue(sent(later, PreVote.class).isEmpty() && sent(later, RequestVote.class).isEmpty(), "it never campaigns");
  }

  @Test
  void aRemovedFollowerLearnsItWasRemovedAndThenGetsNothingMore() {
    CoreCluster c = CoreCluster.founded(THREE, DEFAULTS);
    RaftCore l = c.elect();
    l.changeMembership(List.of(new Remove("n3")), 1);
    c.settle();
    assertTrue(c.committedWith("n1", 1));
    RaftCore n3 = c.node("n3");
    assertEquals(ClusterConfig.of("n1", "n2"), n3.config(), "n3 received the entry that removed it");
    long last = n3.lastIndex();
    c.write(3);
    c.tick(30);
    assertEquals(last, n3.lastIndex(), "and nothing after it");
    assertEquals(Role.FOLLOWER, n3.role(), "it never campaigns");
  }

  // ------------------------------------------------------------------ T4.3: joint consensus

  /** {n1,n2,n3} -> {n3,n4,n5}, with n4 and n5 caught up; the joint entry is held by old members only. */
  static CoreCluster jointHeldByOldOnly() {
    CoreCluster c = threeAndNewcomer();
    c.addEmpty("n5", THREE);
    c.dropIf((to, m) -> (to.equals("n4") || to.equals("n5")) && carriesConfig(m));
    c.node("n1").changeMembership(
        List.of(new AddVoter("n4", null), new AddVoter("n5", null), new Remove("n1"), new Remove("n2")), 1);
    c.settle();
    return c;
  }

  @Test
  void membership_T4_3_01_jointMajoritiesOfBothConfigurations() {
    CoreCluster c = jointHeldByOldOnly();
    RaftCore l = c.node("n1");
    long ci = configIndex(l);
    ClusterConfig joint = configEntry(l, ci);
    assertTrue(joint.joint(), "C_old,new: " + joint);
    assertEquals(List.of("n3", "n4", "n5"), joint.voters());
    assertEquals(List.of("n1", "n2", "n3"), joint.outgoingVoters());
    assertEquals(ci, c.node("n3").lastIndex() >= ci ? ci : -1, "n1, n2 and n3 hold it");
    assertTrue(l.commitIndex() < ci, "all of C_old but only n3 of C_new: nothing commits");
    l.propose(cmd("after"), -1);
    c.settle();
    assertTrue(l.commitIndex() < ci, "still nothing");

    c.dropIf((to, m) -> false);
    c.tick(2 * DEFAULTS.heartbeatInterval() + 2);
    assertTrue(l.commitIndex() >= ci || l.role() != Role.LEADER, "with n4 and n5 it commits");
  }

  @Test
  void membership_T4_3_01_jointEntryHeldByTheNewMajorityOnlyDoesNotCommit() {
    CoreCluster c = threeAndNewcomer();
    c.addEmpty("n5", THREE);
    RaftCore l = c.node("n1");
    // n2 and n3 never receive the joint entry: of C_old only the leader n1 holds it.
    c.dropIf((to, m) -> (to.equals("n2") || to.equals("n3")) && carriesConfig(m));
    l.changeMembership(List.of(new AddVoter("n4", null), new AddVoter("n5", null), new Remove("n1"), new Remove("n2")), 1);
    c.settle();
    long ci = 0;
    for (LogEntry e : l.entriesFrom(1)) if (e.data() instanceof EntryData.Configuration cfg && cfg.config().joint()) ci = e.index();
    assertTrue(ci > 0, "setup: C_old,new appended");
    assertTrue(c.node("n4").lastIndex() >= ci && c.node("n5").lastIndex() >= ci, "setup: n4 and n5 hold it");
    assertTrue(l.commitIndex() < ci, "a majority of C_new but only n1 of C_old: nothing commits");
    l.propose(cmd("after"), -1);
    c.settle();
    assertTrue(l.commitIndex() < ci, "still nothing");

    c.dropIf((to, m) -> false);
    c.tick(2 * DEFAULTS.heartbeatInterval() + 2);
    assertTrue(l.commitIndex() >= ci || l.role() != Role.LEADER, "with n2 and n3 it commits");
  }

  /** n3 campaigning in C_old,new = {n1,n2,n3} -> {n3,n4,n5}, its self-vote durable. */
  private static RaftCore jointCandidate() {
    ClusterConfig joint = new ClusterConfig(List.of("n3", "n4", "n5"), List.of(), List.of("n1", "n2", "n3"), Map.of());
    List<LogEntry> log = List.of(new LogEntry(1, 0, new EntryData.Configuration(THREE)), new LogEntry(2, 1, new EntryData.Configuration(joint)));
    RaftCore n3 = new RaftCore("n3", DEFAULTS.withPreVote(false), fixed(10), new DurableState(new HardState(1, null), SnapshotMeta.initial(THREE), log));
    CoreFixture.tick(n3, 10);
    assertEquals(Role.CANDIDATE, n3.role());
    n3.ready();
    n3.persisted(2, 1);
    return n3;
  }

  @Test
  void membership_T4_3_01_aCandidateNeedsBothMajorities() {
    RaftCore n3 = jointCandidate();
    n3.step(new RequestVoteResponse(n3.term(), "n1", true));
    n3.step(new RequestVoteResponse(n3.term(), "n2", true));
    assertEquals(Role.CANDIDATE, n3.role(), "all of C_old is not enough");
    n3.step(new RequestVoteResponse(n3.term(), "n4", true));
    assertEquals(Role.LEADER, n3.role(), "majorities of both");

    RaftCore again = jointCandidate();
    again.step(new RequestVoteResponse(again.term(), "n4", true));
    again.step(new RequestVoteResponse(again.term(), "n5", true));
    assertEquals(Role.CANDIDATE, again.role(), "all of C_new is not enough");
    again.step(new RequestVoteResponse(again.term(), "n1", true));
    assertEquals(Role.LEADER, again.role(), "majorities of both");
  }

  @Test
  void membership_T4_3_02_theLeaderLeavesTheJointConfigurationAndALeaderOutsideStepsDown() {
    CoreCluster c = threeAndNewcomer();
    c.addEmpty("n5", THREE);
    RaftCore l = c.node("n1");
    l.changeMembership(List.of(new AddVoter("n4", null), new AddVoter("n5", null), new Remove("n1"), new Remove("n2")), 1);
    c.tick(5);
    List<ClusterConfig> configs = new ArrayList<>();
    RaftCore n3 = c.node("n3");
    for (LogEntry e : n3.entriesFrom(1)) if (e.data() instanceof EntryData.Configuration cfg) configs.add(cfg.config());
    assertEquals(3, configs.size(), "founding, joint, new: " + configs);
    assertTrue(configs.get(1).joint());
    assertEquals(ClusterConfig.of("n3", "n4", "n5"), configs.get(2));
    assertEquals(Role.FOLLOWER, l.role(), "n1, outside C_new, stepped down");
    assertTrue(c.committedWith("n1", 1), "the caller hears once C_new commits");
    for (Committed k : c.committed.get("n1")) {
      if (k.correlationId() != 1) continue;
      assertTrue(k.entry().data() instanceof EntryData.Configuration cfg && cfg.config().equals(ClusterConfig.of("n3", "n4", "n5")),
          "the caller's answer is the entry of C_new, not that of C_old,new: " + k.entry());
    }
    RaftCore next = c.elect();
    assertTrue(List.of("n3", "n4", "n5").contains(next.id()));
  }

  @Test
  void membership_T4_3_03_aLeaderCrashWithAnUncommittedJointEntryLeavesTheConfigurationFollowingTheLog() {
    CoreCluster c = jointHeldByOldOnly();
    c.down("n1");
    c.dropIf((to, m) -> false);
    RaftCore next = c.elect();
    for (String id : List.of("n2", "n3", "n4", "n5")) {
      RaftCore n = c.node(id);
      long ci = configIndex(n);
      assertEquals(ci == 0 ? THREE : configEntry(n, ci), n.config(), id + " follows its log");
    }
    c.tick(10);
    assertFalse(next.config().joint(), "the group does not stay joint: " + next.config());
    assertTrue(c.violations.isEmpty(), c.violations.toString());
  }

  @Test
  void membership_T4_3_03_aNewLeaderCompletesACommittedJointChange() {
    CoreCluster c = threeAndNewcomer();
    c.addEmpty("n5", THREE);
    RaftCore l = c.node("n1");
    // Everything but the final configuration gets through; then the leader goes down.
    c.dropIf((to, m) -> m instanceof AppendEntries ae && ae.entries().stream().anyMatch(
        e -> e.data() instanceof EntryData.Configuration cfg && !cfg.config().joint() && cfg.config().voters().contains("n5")));
    l.changeMembership(List.of(new AddVoter("n4", null), new AddVoter("n5", null), new Remove("n1"), new Remove("n2")), 1);
    c.settle();
    long joint = 0;
    for (LogEntry e : c.node("n4").entriesFrom(1)) if (e.data() instanceof EntryData.Configuration cfg && cfg.config().joint()) joint = e.index();
    assertTrue(joint > 0 && l.commitIndex() >= joint, "setup: the joint entry committed");
    assertTrue(configIndex(c.node("n3")) == joint && configIndex(c.node("n4")) == joint, "setup: C_new reached nobody");
    c.down("n1");
    c.dropIf((to, m) -> false);
    RaftCore next = c.elect();
    c.tick(5);
    assertEquals(ClusterConfig.of("n3", "n4", "n5"), next.config(), next.id() + " appended C_new");
    assertTrue(next.commitIndex() >= configIndex(next));
  }

  // ------------------------------------------------------------------ T3.10: leadership transfer

  /**
   * The target holds the whole log before the others do, and the leader does not know the last
   * entry committed yet (here three of five voters do not receive it for a while). Telling the
   * target to campaign then would end this leadership with the entry's caller told "unknown"
   * although the entry commits; the leader waits until the entry is committed, then hands over.
   */
  @Test
  void transfer_T3_10_02_theTargetCampaignsOnlyOnceTheLeaderKnowsItsWholeLogCommitted() {
    CoreCluster c = CoreCluster.founded(ClusterConfig.of("n1", "n2", "n3", "n4", "n5"), DEFAULTS);
    RaftCore l = c.elect();
    String target = l.id().equals("n1") ? "n2" : "n1";
    List<String> others = new ArrayList<>(List.of("n1", "n2", "n3", "n4", "n5"));
    others.remove(l.id());
    others.remove(target);
    c.dropIf((to, m) -> others.contains(to) && m instanceof AppendEntries);
    l.propose(cmd("last before the transfer"), 7);
    l.transferLeadership(target, 8);
    c.settle();
    assertEquals(l.lastIndex(), c.node(target).lastIndex(), "setup: the target holds the whole log");
    assertTrue(l.commitIndex() < l.lastIndex(), "setup: the leader does not know its last entry committed");
    assertTrue(c.deliveredTo(target, TimeoutNow.class).isEmpty(), "no TimeoutNow before the whole log is committed");
    assertEquals(Role.LEADER, l.role());

    c.dropIf((to, m) -> false);
    c.tickUntil(DEFAULTS.electionTimeoutMin() - 1, () -> c.leader() != null && c.leader().id().equals(target));
    assertTrue(c.committedWith(l.id(), 7), "the caller hears its entry committed");
    assertTrue(c.outcomesOf(l.id(), 7).isEmpty(), "and nothing else: " + c.outcomesOf(l.id(), 7));
    assertEquals(List.of(new ProposalOutcome.Transferred(8, target)), c.outcomesOf(l.id(), 8));
  }

  /**
   * The leader hears of the target's term first from another voter (here nothing from the target
   * reaches it): once it has told the target to campaign, stepping down for a higher term ends the
   * transfer as handed over, not as "unknown" (the driver then waits to see the target lead).
   */
  @Test
  void transfer_T3_10_03_aHigherTermFromAnotherVoterAfterTimeoutNowEndsTheTransferAsHandedOver() {
    CoreCluster c = CoreCluster.founded(THREE, DEFAULTS);
    RaftCore l = c.elect();
    String target = l.id().equals("n1") ? "n2" : "n1";
    c.dropIf((to, m) -> to.equals(l.id()) && m.from().equals(target));
    l.transferLeadership(target, 8);
    c.settle();
    assertEquals(1, c.deliveredTo(target, TimeoutNow.class).size(), "setup: the target was told to campaign");
    c.tickUntil(DEFAULTS.electionTimeoutMin() - 1, () -> l.role() == Role.FOLLOWER);
    assertEquals(l.term(), c.node(target).term(), "setup: it learnt the target's term from the third voter");
    assertEquals(List.of(new ProposalOutcome.Transferred(8, target)), c.outcomesOf(l.id(), 8));
  }
}
