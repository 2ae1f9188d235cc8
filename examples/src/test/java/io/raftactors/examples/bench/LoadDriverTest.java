package io.raftactors.examples.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The load driver keeps exactly {@code clients} operations outstanding, one per client, without a
 * thread per client, and measures what completes. No timing is asserted.
 */
class LoadDriverTest {

  /**
   * An operation that only completes once every client has one running (or once the measurement
   * is over): the driver must reach, and never pass, one outstanding operation per client.
   */
  static final class Barrier implements LoadDriver.Operation, LoadDriver.Phases {
    final int clients;
    final List<CompletableFuture<Object>> running = new ArrayList<>();
    final Set<Integer> busy = new HashSet<>();
    final List<String> violations = new ArrayList<>();
    int maxOutstanding;
    boolean released;
    final AtomicLong puts = new AtomicLong();

    Barrier(int clients) {
      this.clients = clients;
    }

    @Override
    public CompletableFuture<Object> start(int client, String key, byte[] value) {
      CompletableFuture<Object> f = new CompletableFuture<>();
      List<CompletableFuture<Object>> done = new ArrayList<>();
      synchronized (this) {
        if (client < 0 || client >= clients) violations.add("client " + client);
        if (!busy.add(client)) violations.add("client " + client + " has two operations running");
        if (!key.matches("k\\d{1,3}")) violations.add("key " + key);
        if (value != null && value.length != 10) violations.add("value of " + value.length + " bytes");
        if (value != null) puts.incrementAndGet();
        running.add(f);
        maxOutstanding = Math.max(maxOutstanding, running.size());
        if (running.size() == clients || released) {
          done.addAll(running);
          running.clear();
          busy.clear();
        }
      }
      for (CompletableFuture<Object> d : done) d.complete("ok");
      return f;
    }

    @Override
    public void measureEnded() {
      List<CompletableFuture<Object>> done;
      synchronized (this) {
        released = true;
        done = new ArrayList<>(running);
        running.clear();
        busy.clear();
      }
      for (CompletableFuture<Object> d : done) d.complete("ok");
    }
  }

  @Test
  void keepsOneOperationOutstandingPerClientAndMixesReadsAndPuts() throws Exception {
    Barrier op = new Barrier(64);
    LoadDriver.Measurement m = LoadDriver.run(new LoadDriver.Load(64, 0, 1, 10, 0.5), op, op);
    synchronized (op) {
      assertEquals(List.of(), op.violations);
      assertEquals(64, op.maxOutstanding, "every client had an operation running at once, and no more");
    }
    assertTrue(m.operations() >= 64, "at least one round of operations completed in the measurement: " + m.operations());
    assertTrue(m.reads() > 0 && m.reads() < m.operations(), "reads and puts: " + m.reads() + " of " + m.operations());
    assertTrue(op.puts.get() > 0);
    assertEquals(0, m.errors());
    assertEquals(1, m.perSecond().size());
    assertEquals(m.operations(), m.latency().getTotalCount());
    assertEquals(m.operations(), m.perSecond().get(0).getTotalCount());
  }

  @Test
  void countsFailuresAsErrorsAndKeepsGoing() throws Exception {
    AtomicLong calls = new AtomicLong();
    LoadDriver.Measurement m = LoadDriver.run(new LoadDriver.Load(2, 0, 1, 10, 0), (client, key, value) -> {
      if (calls.incrementAndGet() % 2 == 0) throw new IllegalStateException("refused");
      return CompletableFuture.completedFuture("ok");
    }, new LoadDriver.Phases() {});
    assertTrue(m.errors() > 0);
    assertTrue(m.operations() > 0, "operations after a failure still run");
  }
}
