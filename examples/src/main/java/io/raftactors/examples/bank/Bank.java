package io.raftactors.examples.bank;

import io.raftactors.actor.RaftSerializable;
import io.raftactors.entity.ReplicatedEntity;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.TreeMap;

/**
 * Bank accounts as a replicated entity: accounts are opened, credited, debited and money moves
 * between them, never below zero. The command handler checks each command against the state left
 * by every command before it in the log, so the rules hold under any concurrency and any leader
 * change; a refused command changes nothing.
 */
public final class Bank extends ReplicatedEntity<Bank.Command, Bank.Event, Bank.Accounts> {

  /** Commands (replicated). */
  public sealed interface Command extends RaftSerializable {}

  public record Open(String account) implements Command {}

  public record Deposit(String account, long amount) implements Command {}

  public record Withdraw(String account, long amount) implements Command {}

  public record Transfer(String from, String to, long amount) implements Command {}

  /** Queries. */
  public record Balance(String account) implements RaftSerializable {}

  /** The sum of all balances. */
  public record Total() implements RaftSerializable {}

  /** Answers. */
  public sealed interface Reply extends RaftSerializable {}

  /** Done; {@code balance} of the account the command was about (the source of a transfer). */
  public record Done(long balance) implements Reply {}

  /** Refused, with nothing changed. */
  public record Refused(String reason) implements Reply {}

  /** Events (applied on every replica). */
  public sealed interface Event {}

  public record Opened(String account) implements Event {}

  public record Credited(String account, long amount) implements Event {}

  public record Debited(String account, long amount) implements Event {}

  /** The state: balance per account. Changed in place by events, on the node's thread only. */
  public static final class Accounts {
    final TreeMap<String, Long> balances = new TreeMap<>();

    public Long balance(String account) {
      return balances.get(account);
    }

    public long total() {
      return balances.values().stream().mapToLong(Long::longValue).sum();
    }

    public Map<String, Long> asMap() {
      return new TreeMap<>(balances);
    }
  }

  @Override
  protected Accounts emptyState() {
    return new Accounts();
  }

  @Override
  protected Effect<Event, Accounts> onCommand(Accounts s, Command command) {
    if (command instanceof Open o) {
      if (s.balances.containsKey(o.account())) return Effect.reply(new Refused("account " + o.account() + " exists"));
      return Effect.<Event, Accounts>persist(new Opened(o.account())).thenReply(st -> new Done(0));
    }
    if (command instanceof Deposit d) {
      String bad = check(s, d.amount(), d.account());
      if (bad != null) return Effect.reply(new Refused(bad));
      return Effect.<Event, Accounts>persist(new Credited(d.account(), d.amount()))
          .thenReply(st -> new Done(st.balance(d.account())));
    }
    if (command instanceof Withdraw w) {
      String bad = check(s, w.amount(), w.account());
      if (bad == null && s.balance(w.account()) < w.amount()) bad = "insufficient funds in " + w.account();
      if (bad != null) return Effect.reply(new Refused(bad));
      return Effect.<Event, Accounts>persist(new Debited(w.account(), w.amount()))
          .thenReply(st -> new Done(st.balance(w.account())));
    }
    Transfer t = (Transfer) command;
    String bad = check(s, t.amount(), t.from(), t.to());
    if (bad == null && t.from().equals(t.to())) bad = "transfer to the same account";
    if (bad == null && s.balance(t.from()) < t.amount()) bad = "insufficient funds in " + t.from();
    if (bad != null) return Effect.reply(new Refused(bad));
    return Effect.<Event, Accounts>persist(new Debited(t.from(), t.amount()), new Credited(t.to(), t.amount()))
        .thenReply(st -> new Done(st.balance(t.from())));
  }

  private static String check(Accounts s, long amount, String... accounts) {
    if (amount <= 0) return "amount must be positive, was " + amount;
    for (String a : accounts) if (!s.balances.containsKey(a)) return "no account " + a;
    return null;
  }

  @Override
  protected Accounts onEvent(Accounts s, Event event) {
    if (event instanceof Opened o) s.balances.put(o.account(), 0L);
    else if (event instanceof Credited c) s.balances.merge(c.account(), c.amount(), Long::sum);
    else if (event instanceof Debited d) s.balances.merge(d.account(), -d.amount(), Long::sum);
    return s;
  }

  @Override
  protected Object onQuery(Accounts s, Object query) {
    if (query instanceof Balance b) return s.balance(b.account());
    if (query instanceof Total) return s.total();
    throw new IllegalArgumentException("unknown query " + query);
  }

  @Override
  protected byte[] stateToBytes(Accounts s) {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      DataOutputStream out = new DataOutputStream(bytes);
      out.writeInt(s.balances.size());
      for (Map.Entry<String, Long> e : s.balances.entrySet()) {
        out.writeUTF(e.getKey());
        out.writeLong(e.getValue());
      }
      out.flush();
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  protected Accounts stateFromBytes(byte[] bytes) {
    try {
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes));
      Accounts s = new Accounts();
      for (int i = in.readInt(); i > 0; i--) s.balances.put(in.readUTF(), in.readLong());
      return s;
    } catch (IOException e) {
      throw new UncheckedIOException("corrupt bank snapshot", e);
    }
  }
}
