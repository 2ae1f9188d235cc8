package io.raftactors.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The process handling of {@link KvProcessCluster} that the fault suite relies on, with stub members. */
class KvProcessClusterTest {
  @TempDir Path dir;

  /** A stub member: n1 exits at once with code 3, the others run until they are killed. */
  public static final class StubMember {
    public static void main(String[] args) throws InterruptedException {
      if (List.of(args).contains("n1")) System.exit(3);
      new CountDownLatch(1).await();
    }
  }

  @Test
  void aMemberThatExitsOnItsOwnIsReportedOnceAndAKilledOneIsNot() throws Exception {
    try (KvProcessCluster cluster = new KvProcessCluster(dir, StubMember.class, "")) {
      cluster.startAll();
      List<String> exits = new ArrayList<>();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (exits.isEmpty() && System.nanoTime() < deadline) {
        exits.addAll(cluster.unexpectedExits());
        TimeUnit.MILLISECONDS.sleep(20); // polling a condition with a deadline
      }
      assertEquals(1, exits.size(), exits::toString);
      assertTrue(exits.get(0).startsWith("n1 exited on its own with code 3"), exits::toString);
      assertEquals(List.of(), cluster.unexpectedExits(), "reported once");

      cluster.freeze("n2");
      assertTrue(cluster.isFrozen("n2"));
      cluster.kill("n2"); // SIGKILL works on a frozen process too
      assertTrue(!cluster.isRunning("n2") && !cluster.isFrozen("n2"));
      assertEquals(List.of(), cluster.unexpectedExits(), "n2 was killed on purpose; n3 still runs");
      assertTrue(cluster.isRunning("n3"));

      cluster.start("n2");
      cluster.freeze("n3"); // close() continues it before destroying it
    }
  }
}
