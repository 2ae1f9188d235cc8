package io.raftactors.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.core.EntryData.Command;
import io.raftactors.core.EntryData.SessionCommand;
import io.raftactors.core.SessionTable.Apply;
import io.raftactors.core.SessionTable.Decision;
import io.raftactors.core.SessionTable.Duplicate;
import io.raftactors.core.SessionTable.Expired;
import io.raftactors.core.SessionTable.Response;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The replicated session table (thesis 6.3) is a deterministic function of the committed entries:
 * these tests feed it entries the way every replica's node does.
 */
class SessionTableTest {
  private static final long TIMEOUT = 10_000;

  private static Command text(String s) {
    return new Command(20, "", s.getBytes(StandardCharsets.UTF_8));
  }

  private static SessionCommand cmd(long session, long seq, long lowestUnacked, long time) {
    return new SessionCommand(session, seq, lowestUnacked, time, text("c" + seq));
  }

  /** Applies a command as a node does: Apply -> run and cache; otherwise no effect. */
  private static Decision run(SessionTable t, SessionCommand c, long index, List<Long> effects) {
    Decision d = t.begin(c);
    if (d instanceof Apply) {
      effects.add(c.seq());
      t.complete(c, new Response(index, text("r" + c.seq())));
    }
    return d;
  }

  @Test
  void sessions_T6_3_01_aSessionIsNamedByTheIndexOfItsEntryOnEveryReplica() {
    SessionTable a = new SessionTable(TIMEOUT);
    SessionTable b = new SessionTable(TIMEOUT);
    assertEquals(17, a.open(17, 1_000));
    assertEquals(17, b.open(17, 1_000));
    assertTrue(a.isOpen(17) && b.isOpen(17));
    assertFalse(a.isOpen(16));
    assertArrayEquals(a.toBytes(), b.toBytes());
  }

  @Test
  void sessions_T6_3_02_aCommittedDuplicateIsAppliedOnceAndAnsweredFromTheCache() {
    SessionTable t = new SessionTable(TIMEOUT);
    long s = t.open(1, 0);
    List<Long> effects = new ArrayList<>();
    assertInstanceOf(Apply.class, run(t, cmd(s, 5, 1, 10), 40, effects));
    // The same command committed again (the client retried after a leader change).
    Duplicate dup = assertInstanceOf(Duplicate.class, run(t, cmd(s, 5, 1, 20), 41, effects));
    assertEquals(List.of(5L), effects);
    assertEquals(new Response(40, text("r5")), dup.response(), "the first answer, with its index");
  }

  @Test
  void sessions_T6_3_04_answersBelowTheLowestUnackedAreDroppedAndOlderRequestsAreRefused() {
    SessionTable t = new SessionTable(TIMEOUT);
    long s = t.open(1, 0);
    List<Long> effects = new ArrayList<>();
    for (long seq = 3; seq <= 7; seq++) run(t, cmd(s, seq, 3, seq), 10 + seq, effects);
    assertTrue(t.cached(s, 4) != null && t.cached(s, 6) != null);
    // (c, 8) reports 7 as its lowest unanswered number: the answers to 3..6 are gone everywhere.
    assertInstanceOf(Apply.class, run(t, cmd(s, 8, 7, 20), 30, effects));
    for (long seq = 3; seq <= 6; seq++) assertNull(t.cached(s, seq), "answer " + seq + " is kept");
    assertTrue(t.cached(s, 7) != null, "7 is not acknowledged yet, its answer stays");
    // A late (c, 4) is not executed: its answer is gone and it cannot be told apart from a retry.
    Expired e = assertInstanceOf(Expired.class, run(t, cmd(s, 4, 3, 21), 31, effects));
    assertTrue(e.reason().contains("older than its lowest unanswered 7"), e.reason());
    assertEquals(List.of(3L, 4L, 5L, 6L, 7L, 8L), effects);
  }

  @Test
  void sessions_T6_3_05_idleSessionsExpireAtTheSameLogIndexOnEveryReplica() {
    // Two replicas apply the same entries; the times are the leaders' clocks as logged, never local ones.
    SplittableRandom rnd = new SplittableRandom(42);
    List<Object> entries = new ArrayList<>();
    long time = 0;
    for (int i = 0; i < 400; i++) {
      time += rnd.nextInt(0, 400);
      if (i % 40 == 0) entries.add(new EntryData.OpenSession(time));
      else entries.add(cmd(1 + 40 * rnd.nextInt(0, 1 + i / 40), i, 0, time));
    }
    List<String> first = replay(entries);
    List<String> second = replay(entries);
    assertEquals(first, second);
    assertTrue(first.stream().anyMatch(s -> s.contains("expired")), "the run expires some sessions: " + first);
  }

  /** What one replica decides for each entry of {@code entries} (index = position + 1). */
  private static List<String> replay(List<Object> entries) {
    SessionTable t = new SessionTable(TIMEOUT);
    List<String> out = new ArrayList<>();
    for (int i = 0; i < entries.size(); i++) {
      long index = i + 1;
      Object e = entries.get(i);
      if (e instanceof EntryData.OpenSession o) {
        out.add(index + " open " + t.open(index, o.time()));
      } else {
        SessionCommand c = (SessionCommand) e;
        Decision d = run(t, c, index, new ArrayList<>());
        out.add(index + " " + (d instanceof Expired ? "expired" : d.getClass().getSimpleName()) + " sessions=" + t.size());
      }
    }
    return out;
  }

  @Test
  void sessions_T6_3_05_theSessionExpiresExactlyWhenLoggedTimePassesTheTimeout() {
    SessionTable t = new SessionTable(TIMEOUT);
    long s = t.open(1, 1_000);
    long other = t.open(2, 1_000);
    List<Long> effects = new ArrayList<>();
    run(t, cmd(other, 1, 1, 1_000 + TIMEOUT), 3, effects); // logged time reaches exactly the timeout: s lives
    assertInstanceOf(Apply.class, run(t, cmd(s, 1, 1, 1_000 + TIMEOUT), 4, effects));
    run(t, cmd(other, 2, 2, 1_000 + 2 * TIMEOUT + 1), 5, effects); // s idle for TIMEOUT + 1
    assertInstanceOf(Expired.class, run(t, cmd(s, 2, 2, 1_000 + 2 * TIMEOUT + 1), 6, effects));
  }

  @Test
  void sessions_T6_3_06_aCommandOfAnExpiredSessionIsNotAppliedAnywhere() {
    List<Long> effectsA = new ArrayList<>();
    List<Long> effectsB = new ArrayList<>();
    for (List<Long> effects : List.of(effectsA, effectsB)) {
      SessionTable t = new SessionTable(TIMEOUT);
      long s = t.open(1, 0);
      run(t, cmd(s, 1, 1, 100), 2, effects);
      long keeper = t.open(3, 100 + TIMEOUT + 1); // another client's entry moves logged time on
      Decision d = run(t, cmd(s, 2, 2, 100 + TIMEOUT + 2), 4, effects);
      assertInstanceOf(Expired.class, d);
      assertFalse(t.isOpen(s));
      assertTrue(t.isOpen(keeper));
      // An unknown session is refused the same way.
      assertInstanceOf(Expired.class, run(t, cmd(99, 1, 1, 100 + TIMEOUT + 3), 5, effects));
    }
    assertEquals(List.of(1L), effectsA);
    assertEquals(effectsA, effectsB);
  }

  @Test
  void sessions_T6_3_07_loggedTimeNeverRunsBackwards() {
    SessionTable t = new SessionTable(TIMEOUT);
    long s = t.open(1, 50_000);
    List<Long> effects = new ArrayList<>();
    run(t, cmd(s, 1, 1, 60_000), 2, effects);
    // A new leader whose clock is 10 s behind the previous one: time stays at 60 s ...
    run(t, cmd(s, 2, 2, 50_000), 3, effects);
    assertEquals(60_000, t.time());
    // ... so the session's idle time is measured from 60 s, not from the earlier clock: it neither
    // expires early nor comes back later.
    assertInstanceOf(Apply.class, run(t, cmd(s, 3, 3, 60_000 + TIMEOUT), 4, effects));
    SessionTable u = new SessionTable(TIMEOUT);
    long v = u.open(1, 50_000);
    run(u, cmd(v, 1, 1, 61_000), 2, new ArrayList<>());
    run(u, cmd(v, 2, 2, 40_000), 3, new ArrayList<>()); // backwards: ignored
    assertInstanceOf(Expired.class, run(u, cmd(v, 3, 3, 61_000 + TIMEOUT + 1), 4, new ArrayList<>()));
  }

  @Test
  void sessions_T5_1_15_theTableSurvivesASnapshotExactly() {
    SessionTable t = new SessionTable(TIMEOUT);
    long s = t.open(1, 0);
    List<Long> effects = new ArrayList<>();
    run(t, cmd(s, 1, 1, 10), 2, effects);
    run(t, cmd(s, 2, 1, 20), 3, effects);
    SessionTable copy = new SessionTable(TIMEOUT);
    copy.restore(t.toBytes());
    assertArrayEquals(t.toBytes(), copy.toBytes());
    assertEquals(20, copy.time());
    Duplicate d = assertInstanceOf(Duplicate.class, copy.begin(cmd(s, 2, 1, 30)));
    assertEquals(new Response(3, text("r2")), d.response());
  }

  @Test
  void sessions_T6_3_08_keepAlivesExtendTheSessionIdenticallyOnEveryReplica() {
    List<String> outcomes = new ArrayList<>();
    for (int replica = 0; replica < 2; replica++) {
      SessionTable t = new SessionTable(TIMEOUT);
      long kept = t.open(1, 0);
      long idle = t.open(2, 0);
      StringBuilder b = new StringBuilder();
      // The client of session 1 sends a keep-alive every 40% of the timeout, as logged by leaders.
      for (long time = 4_000; time <= 3 * TIMEOUT; time += 4_000) {
        b.append(t.keepAlive(new EntryData.KeepAlive(kept, time))).append(' ');
      }
      b.append(t.begin(cmd(kept, 1, 1, 3 * TIMEOUT + 1)).getClass().getSimpleName()).append(' ');
      b.append(t.begin(cmd(idle, 1, 1, 3 * TIMEOUT + 1)).getClass().getSimpleName()).append(' ');
      b.append(t.keepAlive(new EntryData.KeepAlive(idle, 3 * TIMEOUT + 2)));
      outcomes.add(b.toString());
    }
    assertEquals(outcomes.get(0), outcomes.get(1));
    assertTrue(outcomes.get(0).endsWith("true Apply Expired false"), outcomes.get(0));
    assertFalse(outcomes.get(0).contains("false true"), "every keep-alive of the live session succeeded: " + outcomes.get(0));
  }

  // ------------------------------------------------------------------ idempotency keys

  private static EntryData.KeyedCommand keyed(String key, long time, String command) {
    return new EntryData.KeyedCommand(key, time, text(command));
  }

  /** Applies a keyed command as a node does. */
  private static Decision run(SessionTable t, EntryData.KeyedCommand c, long index, List<String> effects) {
    Decision d = t.begin(c);
    if (d instanceof Apply) {
      effects.add(c.key());
      t.complete(c, new Response(index, text("r" + index)));
    }
    return d;
  }

  @Test
  void idempotencyKeys_aKeyedCommandIsAppliedOnceAndItsCopiesGetTheFirstAnswer() {
    SessionTable t = new SessionTable(TIMEOUT);
    List<String> effects = new ArrayList<>();
    assertInstanceOf(Apply.class, run(t, keyed("k", 10, "put a"), 7, effects));
    Duplicate d = assertInstanceOf(Duplicate.class, run(t, keyed("k", 20, "put a"), 9, effects));
    assertEquals(new Response(7, text("r7")), d.response());
    assertEquals(new Response(7, text("r7")), t.cached("k", text("put a")));
    assertNull(t.cached("k", text("put b")), "no answer for another command under the key");
    assertInstanceOf(Apply.class, run(t, keyed("other", 20, "put a"), 10, effects), "keys are independent");
    assertEquals(List.of("k", "other"), effects);
    assertEquals(2, t.keyCount());
    assertTrue(t.keyBytes() > 0);
  }

  @Test
  void idempotencyKeys_aKeyReusedForAnotherCommandIsRefused() {
    SessionTable t = new SessionTable(TIMEOUT);
    List<String> effects = new ArrayList<>();
    run(t, keyed("k", 10, "put a"), 7, effects);
    assertInstanceOf(SessionTable.KeyReused.class, run(t, keyed("k", 11, "delete a"), 8, effects));
    assertEquals(List.of("k"), effects);
  }

  @Test
  void idempotencyKeys_expireOnLoggedTimeLikeSessionsAndFreeTheirBytes() {
    SessionTable t = new SessionTable(TIMEOUT);
    List<String> effects = new ArrayList<>();
    run(t, keyed("k", 0, "put a"), 1, effects);
    // A retry within the timeout of logged time is a duplicate, and keeps the key alive.
    assertInstanceOf(Duplicate.class, run(t, keyed("k", TIMEOUT, "put a"), 2, effects));
    assertInstanceOf(Duplicate.class, run(t, keyed("k", 2 * TIMEOUT, "put a"), 3, effects));
    // Past the timeout since it was last used, the key is gone: the command is new again.
    assertInstanceOf(Apply.class, run(t, keyed("k", 3 * TIMEOUT + 1, "put a"), 4, effects));
    assertEquals(List.of("k", "k"), effects);
    // Swept with the other sessions once logged time moves on, whatever key comes next.
    t.open(5, 5 * TIMEOUT);
    assertEquals(0, t.keyCount());
    assertEquals(0, t.keyBytes());
  }

  @Test
  void idempotencyKeys_travelWithSnapshotsAndOldSnapshotsStillRestore() {
    SessionTable t = new SessionTable(TIMEOUT);
    long s = t.open(1, 0);
    List<String> effects = new ArrayList<>();
    t.begin(cmd(s, 1, 1, 5));
    t.complete(cmd(s, 1, 1, 5), new Response(2, text("r1")));
    run(t, keyed("k", 6, "put a"), 3, effects);
    SessionTable copy = new SessionTable(TIMEOUT);
    copy.restore(t.toBytes());
    assertArrayEquals(t.toBytes(), copy.toBytes());
    assertEquals(t.keyBytes(), copy.keyBytes());
    assertEquals(new Response(3, text("r3")),
        assertInstanceOf(Duplicate.class, copy.begin(keyed("k", 7, "put a"))).response());
    assertInstanceOf(SessionTable.KeyReused.class, copy.begin(keyed("k", 7, "put b")));

    // A table written before idempotency keys existed ends after its numbered sessions.
    SessionTable plain = new SessionTable(TIMEOUT);
    long p = plain.open(1, 0);
    plain.complete(cmd(p, 1, 1, 5), new Response(2, text("r1")));
    byte[] withKeys = plain.toBytes();
    byte[] old = java.util.Arrays.copyOf(withKeys, withKeys.length - 4); // without the key count (0)
    SessionTable restored = new SessionTable(TIMEOUT);
    restored.restore(old);
    assertArrayEquals(withKeys, restored.toBytes());
  }

  @Test
  void keepAlive_T6_3_08_decideKeepsAnActiveSessionAlive_andRefusesAnUnknownOrExpiredOne() {
    SessionTable t = new SessionTable(TIMEOUT);
    long session = ((SessionTable.Opened) t.decide(5, new EntryData.OpenSession(1_000))).session();
    assertEquals(new SessionTable.KeptAlive(session), t.decide(6, new EntryData.KeepAlive(session, 1_000 + TIMEOUT)));
    assertInstanceOf(Expired.class, t.decide(7, new EntryData.KeepAlive(session + 1, 1_000 + TIMEOUT)), "unknown");
    assertInstanceOf(Expired.class, t.decide(8, new EntryData.KeepAlive(session, 2_001 + 2 * TIMEOUT)), "idle too long");
    assertFalse(t.isOpen(session));
  }
}
