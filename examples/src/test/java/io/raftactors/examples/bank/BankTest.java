package io.raftactors.examples.bank;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.RaftClient;
import io.raftactors.testkit.RaftTestKit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The bank entity on a 3-node group: its rules, and its invariant under concurrent transfers and faults. */
class BankTest {
  private RaftTestKit group;

  @AfterEach
  void stop() {
    if (group != null) group.close();
  }

  private RaftTestKit start() {
    return RaftTestKit.builder().members(3).stateMachine(id -> new Bank())
        .config(ConfigFactory.parseString("raft.snapshot.after-entries = 50\nraft.client.deadline = 60s")).start();
  }

  private static Object call(RaftClient client, Bank.Command c) throws Exception {
    return client.submit(c).toCompletableFuture().get(20, TimeUnit.SECONDS);
  }

  @Test
  void theRulesHold() throws Exception {
    group = start();
    RaftClient client = group.client();
    assertEquals(new Bank.Done(0), call(client, new Bank.Open("alice")));
    assertInstanceOf(Bank.Refused.class, call(client, new Bank.Open("alice")));
    assertEquals(new Bank.Done(0), call(client, new Bank.Open("bob")));
    assertEquals(new Bank.Done(100), call(client, new Bank.Deposit("alice", 100)));
    assertEquals(new Bank.Refused("insufficient funds in alice"), call(client, new Bank.Withdraw("alice", 101)));
    assertEquals(new Bank.Refused("insufficient funds in alice"), call(client, new Bank.Transfer("alice", "bob", 150)));
    assertInstanceOf(Bank.Refused.class, call(client, new Bank.Transfer("alice", "carol", 10)));
    assertInstanceOf(Bank.Refused.class, call(client, new Bank.Deposit("bob", -5)));
    assertEquals(new Bank.Done(40), call(client, new Bank.Transfer("alice", "bob", 60)));
    assertEquals(60L, client.query(new Bank.Balance("bob")).toCompletableFuture().get(10, TimeUnit.SECONDS));
    assertEquals(100L, client.query(new Bank.Total()).toCompletableFuture().get(10, TimeUnit.SECONDS));
  }

  @Test
  void concurrentTransfersThroughLeaderChangesAndCrashesNeverCreateOrLoseMoneyOrOverdraw() throws Exception {
    group = start();
    RaftClient setup = group.client();
    int accounts = 8;
    Map<String, Long> expected = new TreeMap<>();
    for (int i = 0; i < accounts; i++) {
      call(setup, new Bank.Open("a" + i));
      call(setup, new Bank.Deposit("a" + i, 1_000));
      expected.put("a" + i, 1_000L);
    }
    // Several clients, each with its own session, transfer concurrently; many transfers would
    // overdraw and must be refused.
    int clients = 6;
    int perClient = 60;
    List<RaftClient> all = new ArrayList<>();
    List<List<CompletableFuture<Object>>> results = new ArrayList<>();
    List<List<Bank.Transfer>> sent = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      all.add(RaftClient.create(group.system(), group.settings("n1")));
      results.add(new ArrayList<>());
      sent.add(new ArrayList<>());
    }
    SplittableRandom rnd = new SplittableRandom(7);
    for (int round = 0; round < perClient; round++) {
      if (round == perClient / 3) group.isolate(group.awaitLeader()); // a new leader takes over
      if (round == perClient / 2) {
        group.heal();
        String follower = group.members().stream().filter(id -> !id.equals(group.awaitLeader())).findFirst().orElseThrow();
        group.crash(follower);
        group.restart(follower);
      }
      for (int c = 0; c < clients; c++) {
        int from = rnd.nextInt(accounts);
        int to = (from + 1 + rnd.nextInt(accounts - 1)) % accounts;
        Bank.Transfer t = new Bank.Transfer("a" + from, "a" + to, 1 + rnd.nextInt(600));
        sent.get(c).add(t);
        results.get(c).add(all.get(c).submit(t).toCompletableFuture());
      }
    }
    // Every transfer has a definite answer (sessions make retries safe); replay the accepted ones.
    int done = 0;
    int refused = 0;
    for (int c = 0; c < clients; c++) {
      for (int i = 0; i < perClient; i++) {
        Object r = results.get(c).get(i).get(60, TimeUnit.SECONDS);
        if (r instanceof Bank.Refused) {
          refused++;
          continue;
        }
        assertInstanceOf(Bank.Done.class, r);
        Bank.Transfer t = sent.get(c).get(i);
        expected.merge(t.from(), -t.amount(), Long::sum);
        expected.merge(t.to(), t.amount(), Long::sum);
        done++;
      }
    }
    assertTrue(done > 0 && refused > 0, done + " done, " + refused + " refused");
    long index = group.status(group.awaitLeader()).commitIndex();
    group.awaitApplied(index, Duration.ofSeconds(20));
    for (String id : group.members()) {
      Bank bank = group.stateMachine(id);
      Map<String, Long> balances = bank.state().asMap();
      assertEquals(accounts * 1_000L, bank.state().total(), id + " created or lost money: " + balances);
      assertTrue(balances.values().stream().allMatch(b -> b >= 0), id + " overdrew: " + balances);
      // Equal to replaying each accepted transfer once: none was applied twice or lost.
      assertEquals(expected, balances, id);
    }
    for (RaftClient c : all) c.close();
  }
}
