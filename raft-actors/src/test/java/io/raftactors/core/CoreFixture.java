package io.raftactors.core;

import io.raftactors.core.RaftMessage.AppendEntries;
import io.raftactors.core.RaftMessage.AppendEntriesResponse;
import io.raftactors.core.RaftMessage.PreVoteResponse;
import io.raftactors.core.RaftMessage.RequestVoteResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Helpers for unit tests of the pure core: build a node with a given log, feed it inputs, read
 * what it asked to send or write. Timeouts use the checklist's suggested settings: election
 * timeout 10-20 ticks, heartbeat every 2 ticks.
 */
public final class CoreFixture {
  private CoreFixture() {}

  public static RaftConfig settings() {
    return RaftConfig.defaults();
  }

  /** A random source that always draws {@code value} (clamped into the requested range). */
  public static RandomSource fixed(int value) {
    return (min, max) -> Math.max(min, Math.min(max, value));
  }

  /** A random source that draws the given values in turn (clamped), repeating the last one. */
  public static RandomSource sequence(int... values) {
    int[] i = {0};
    return (min, max) -> {
      int v = values[Math.min(i[0]++, values.length - 1)];
      return Math.max(min, Math.min(max, v));
    };
  }

  /** A command whose bytes are the UTF-8 text {@code s}. */
  public static EntryData.Command cmd(String s) {
    return new EntryData.Command(0, "", s.getBytes(StandardCharsets.UTF_8));
  }

  public static String text(LogEntry e) {
    return e.data() instanceof EntryData.Command c ? new String(c.bytes(), StandardCharsets.UTF_8) : e.data().toString();
  }

  /** Entries 1..n with the given terms; entry i holds the command "i@term". */
  public static List<LogEntry> logOfTerms(long... terms) {
    return entriesFrom(1, terms);
  }

  /** Entries starting at {@code firstIndex} with the given terms. */
  public static List<LogEntry> entriesFrom(long firstIndex, long... terms) {
    List<LogEntry> out = new ArrayList<>();
    for (int i = 0; i < terms.length; i++) {
      long idx = firstIndex + i;
      out.add(new LogEntry(idx, terms[i], cmd(idx + "@" + terms[i])));
    }
    return out;
  }

  /** A node of {@code members} with the given hard state and log (configuration in the snapshot). */
  public static RaftCore node(String id, ClusterConfig members, long term, String votedFor, RandomSource rnd,
      RaftConfig cfg, long... logTerms) {
    DurableState st = new DurableState(new HardState(term, votedFor), SnapshotMeta.initial(members), logOfTerms(logTerms));
    return new RaftCore(id, cfg, rnd, st);
  }

  public static RaftCore node(String id, ClusterConfig members, long term, long... logTerms) {
    return node(id, members, term, null, fixed(10), settings(), logTerms);
  }

  public static ClusterConfig members(int n) {
    List<String> ids = new ArrayList<>();
    for (int i = 1; i <= n; i++) ids.add("n" + i);
    return new ClusterConfig(ids);
  }

  /** Feeds one message and returns the resulting Ready. */
  public static Ready step(RaftCore core, RaftMessage m) {
    core.step(m);
    return core.ready();
  }

  /** Ticks {@code n} times, calling ready() after each tick, and returns all Readies merged in order. */
  public static List<Ready> tick(RaftCore core, int n) {
    List<Ready> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      core.tick();
      out.add(core.ready());
    }
    return out;
  }

  /** Ticks until {@code until} holds (at most {@code max} ticks); returns the number of ticks taken. */
  public static int tickUntil(RaftCore core, int max, java.util.function.BooleanSupplier until) {
    for (int i = 1; i <= max; i++) {
      core.tick();
      core.ready();
      if (until.getAsBoolean()) return i;
    }
    throw new AssertionError("condition not reached within " + max + " ticks: " + core);
  }

  /** Marks everything in {@code r} durable, as a storage would after the write completes. */
  public static void persist(RaftCore core, Ready r) {
    LogEntry last = r.lastEntry();
    if (last != null) core.persisted(last.index(), last.term());
  }

  /** Marks the whole current log durable. */
  public static void persistAll(RaftCore core) {
    CoreStatus st = core.status();
    core.persisted(st.lastIndex(), st.lastTerm());
  }

  /** Every message in the Ready (sent now and after persist), in that order. */
  public static List<Outbound> allMessages(Ready r) {
    List<Outbound> out = new ArrayList<>(r.messages());
    out.addAll(r.messagesAfterPersist());
    return out;
  }

  public static <T extends RaftMessage> List<T> sent(Ready r, Class<T> type) {
    List<T> out = new ArrayList<>();
    for (Outbound o : allMessages(r)) if (type.isInstance(o.message())) out.add(type.cast(o.message()));
    return out;
  }

  public static <T extends RaftMessage> List<T> sent(List<Ready> rs, Class<T> type) {
    List<T> out = new ArrayList<>();
    for (Ready r : rs) out.addAll(sent(r, type));
    return out;
  }

  public static <T extends RaftMessage> List<T> sentTo(Ready r, String to, Class<T> type) {
    List<T> out = new ArrayList<>();
    for (Outbound o : allMessages(r)) {
      if (o.to().equals(to) && type.isInstance(o.message())) out.add(type.cast(o.message()));
    }
    return out;
  }

  /**
   * Makes {@code core} the leader of its configuration: it campaigns (through pre-vote if on), every
   * other voter grants, its writes are marked durable. Returns the Ready that made it leader.
   */
  public static Ready elect(RaftCore core) {
    core.tick();
    Ready r = core.ready();
    int ticks = 0;
    while (core.role() == Role.FOLLOWER && ticks++ < 1000) {
      core.tick();
      r = core.ready();
    }
    if (core.role() == Role.PRE_CANDIDATE) {
      for (String v : core.config().voters()) {
        if (!v.equals(core.id())) core.step(new PreVoteResponse(core.term() + 1, v, true));
        if (core.role() != Role.PRE_CANDIDATE) break;
      }
      r = core.ready();
    }
    persist(core, r);
    if (core.role() == Role.CANDIDATE) {
      for (String v : core.config().voters()) {
        if (!v.equals(core.id())) core.step(new RequestVoteResponse(core.term(), v, true));
        if (core.role() != Role.CANDIDATE) break;
      }
      r = core.ready();
    }
    if (core.role() != Role.LEADER) throw new AssertionError("could not elect " + core);
    persist(core, r);
    return r;
  }

  /** Acknowledges every AppendEntries in {@code r} as a follower that accepted it would. */
  public static void ackAll(RaftCore leader, Ready r) {
    for (Outbound o : allMessages(r)) {
      if (o.message() instanceof AppendEntries ae) {
        leader.step(AppendEntriesResponse.success(ae.term(), o.to(), ae.lastIndex()));
      }
    }
  }
}
