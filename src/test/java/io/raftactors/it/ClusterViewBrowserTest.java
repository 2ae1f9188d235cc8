package io.raftactors.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.raftactors.examples.kv.KvNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The live cluster view (raft-http's ClusterView at /ui) in a real headless browser, in front of
 * three KV members in JVMs of their own: the page, opened on a follower, names the leader; the
 * leader's JVM is killed, and the page, still up on the survivor, names the new leader soon after
 * the survivors' /status does. Saves a screenshot of the page at the end
 * ({@code integration-tests/target/cluster-view.png}). Skipped where no Chromium is found.
 */
class ClusterViewBrowserTest {
  /** The longest the page may lag behind the survivors' /status in naming the new leader (the aim is a second). */
  private static final Duration PAGE_LAG_LIMIT = Duration.ofSeconds(3);
  private static final String SHOWN_LEADER = "document.getElementById('leader').dataset.leader";

  @TempDir Path dir;
  private KvProcessCluster cluster;
  private HeadlessChromium browser;

  @AfterEach
  void stop() {
    if (browser != null) browser.close();
    if (cluster != null) cluster.close();
  }

  @Test
  void thePageOnASurvivorShowsTheNewLeaderAfterTheLeadersJvmIsKilled() throws Exception {
    Optional<Path> chromium = HeadlessChromium.find();
    if (chromium.isEmpty()) System.out.println("ClusterViewBrowserTest skipped: " + HeadlessChromium.HOW_TO_GET_IT);
    Assumptions.assumeTrue(chromium.isPresent(), HeadlessChromium.HOW_TO_GET_IT);
    long started = System.nanoTime();
    cluster = new KvProcessCluster(dir, KvNode.class, "");
    cluster.startAll();
    // The browser starts while the members do.
    Path profile = Files.createDirectories(dir.resolve("chromium-profile"));
    CompletableFuture<HeadlessChromium> launching = CompletableFuture.supplyAsync(() -> {
      try {
        return HeadlessChromium.launch(chromium.get(), profile, Duration.ofSeconds(60));
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    try {
      for (String id : KvProcessCluster.IDS) cluster.awaitHttp(id, Duration.ofSeconds(120));
      cluster.awaitConverged(Duration.ofSeconds(60));
    } finally {
      browser = launching.handle((b, failure) -> b).get(90, TimeUnit.SECONDS); // closed after the test either way
    }
    if (browser == null) launching.join(); // throws why it did not start
    String leader = cluster.leader().orElseThrow();
    List<String> survivors = KvProcessCluster.IDS.stream().filter(id -> !id.equals(leader)).toList();
    String viewer = survivors.get(0);
    String page = browser.open("http://" + cluster.httpAddresses().get(viewer) + "/ui", 1280, 760);
    try {
      awaitPage(page, SHOWN_LEADER, leader, Duration.ofSeconds(20));
      long upAt = System.nanoTime();

      cluster.kill(leader);
      long killedAt = System.nanoTime();
      long statusAt = 0;
      long pageAt = 0;
      String byStatus = null;
      String byPage = null;
      long deadline = killedAt + TimeUnit.SECONDS.toNanos(30);
      while ((statusAt == 0 || pageAt == 0) && System.nanoTime() < deadline) {
        if (statusAt == 0) {
          for (String id : survivors) {
            if (cluster.status(id, Duration.ofMillis(500)).map(KvProcessCluster.Status::isLeader).orElse(false)) {
              statusAt = System.nanoTime();
              byStatus = id;
            }
          }
        }
        if (pageAt == 0) {
          String shown = browser.evaluate(page, SHOWN_LEADER).asText();
          if (survivors.contains(shown)) {
            pageAt = System.nanoTime();
            byPage = shown;
          }
        }
        TimeUnit.MILLISECONDS.sleep(10); // polling both with a deadline
      }
      assertTrue(statusAt != 0, "no survivor reported leading within 30 s of the kill: " + cluster.statuses(survivors, Duration.ofSeconds(1)));
      assertTrue(pageAt != 0, "the page did not name a survivor as leader within 30 s of the kill; it shows '"
          + browser.evaluate(page, SHOWN_LEADER).asText() + "'");
      assertEquals(byStatus, byPage, "the page names the leader the survivors name");
      String newLeader = byPage;
      Map<String, KvProcessCluster.Status> now = cluster.statuses(survivors, Duration.ofSeconds(2));
      for (String id : survivors) {
        assertEquals(newLeader, now.get(id) == null ? null : now.get(id).leader(), id + "'s /status: " + now);
      }
      long pageLagMs = Math.max(0, (pageAt - statusAt) / 1_000_000);
      System.out.printf("cluster view: %s killed; /status named %s %d ms after the kill, the page %d ms after the kill "
              + "(%d ms after /status); page first named %s %d ms after the start%n", leader, newLeader,
          (statusAt - killedAt) / 1_000_000, (pageAt - killedAt) / 1_000_000, pageLagMs, leader, (upAt - started) / 1_000_000);
      assertTrue(pageLagMs <= PAGE_LAG_LIMIT.toMillis(), "the page named the new leader " + pageLagMs
          + " ms after the survivors' /status did (limit " + PAGE_LAG_LIMIT.toMillis() + " ms)");

      // The page says what happened: the killed member is down, the new leader took over.
      awaitPage(page, "document.querySelector('tr[data-member=\"" + leader + "\"]').dataset.up", "false", Duration.ofSeconds(5));
      awaitPage(page, "[...document.querySelectorAll('#history li[data-kind=\"leader\"]')]"
          + ".some(li => li.textContent.includes('" + newLeader + " leads')) ? 'yes' : 'no'", "yes", Duration.ofSeconds(5));
      awaitPage(page, "document.querySelector('tr[data-member=\"" + newLeader + "\"]').dataset.role", "LEADER", Duration.ofSeconds(5));
    } finally {
      saveScreenshot(page);
    }
  }

  /** Saves what the page shows now, also after a failure; a screenshot that fails does not hide the test's outcome. */
  private void saveScreenshot(String page) {
    String p = System.getProperty("raft.ui.screenshot"); // the build folder of this module, from its pom
    Path shot = Path.of(p == null || p.isBlank() ? "target/cluster-view.png" : p).toAbsolutePath().normalize();
    try {
      Files.createDirectories(shot.getParent());
      Files.write(shot, browser.screenshot(page));
      System.out.println("cluster view: screenshot in " + shot);
    } catch (Exception e) {
      System.out.println("cluster view: no screenshot: " + e);
    }
  }

  /** Polls {@code expression} in the page until it evaluates to {@code expected}, or fails after {@code within}. */
  private void awaitPage(String page, String expression, String expected, Duration within) throws Exception {
    long deadline = System.nanoTime() + within.toNanos();
    String last = null;
    while (System.nanoTime() < deadline) {
      try {
        last = browser.evaluate(page, expression).asText();
      } catch (java.io.IOException e) {
        last = e.getMessage(); // the page is still loading
      }
      if (expected.equals(last)) return;
      TimeUnit.MILLISECONDS.sleep(20); // polling a condition with a deadline
    }
    throw new AssertionError("the page did not show " + expected + " for " + expression + " within " + within
        + "; it showed " + last + "; members: " + cluster.statuses(Duration.ofSeconds(1)));
  }
}
