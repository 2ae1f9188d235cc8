package io.raftactors.examples.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The jar's command line: its usage names both modes, and a start that cannot work (a bad setting,
 * an address in use) ends with one line that says why, in the demo as in --node mode, before the
 * node has written anything.
 */
class KvCliTest {
  @TempDir Path dir;

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) throws Exception {
    return KvDemo.cli(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  private List<String> errLines() {
    return err.toString(StandardCharsets.UTF_8).lines().toList();
  }

  /** The root application.conf with free ports for n1-n3 and {@code extra} on top, written to a file. */
  private Path config(String extra, int n1Akka, int n1Http) throws IOException {
    StringBuilder over = new StringBuilder(extra).append('\n');
    over.append("raft.members.n1 = \"akka://raft@127.0.0.1:").append(n1Akka).append("\"\n");
    over.append("kv.http.n1 = \"127.0.0.1:").append(n1Http).append("\"\n");
    for (String id : new String[] {"n2", "n3"}) {
      over.append("raft.members.").append(id).append(" = \"akka://raft@127.0.0.1:").append(freePort()).append("\"\n");
      over.append("kv.http.").append(id).append(" = \"127.0.0.1:").append(freePort()).append("\"\n");
    }
    Config c = ConfigFactory.parseString(over.toString()).withFallback(ConfigFactory.parseFile(new File("../application.conf")));
    Path file = dir.resolve("cluster.conf");
    Files.writeString(file, c.root().render(ConfigRenderOptions.concise().setFormatted(true)));
    return file;
  }

  /** A TCP port free on this machine a moment ago. */
  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void theUsageNamesBothModes() throws Exception {
    assertEquals(2, run("--bogus"));
    String e = err.toString(StandardCharsets.UTF_8);
    assertTrue(e.startsWith("unknown argument --bogus"), e);
    assertTrue(e.contains("--node ID") && e.contains("--join") && e.contains("--writes N"), e);
    assertEquals(0, run("--help"));
    assertTrue(out.toString(StandardCharsets.UTF_8).contains("--node ID"));
    assertEquals(2, run("--writes", "many"));
    assertTrue(errLines().contains("--writes needs a number, got 'many'"), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void aBadSettingIsOneLineInDemoMode() throws Exception {
    Path conf = config("raft.heartbeat-interval = 500ms", freePort(), freePort());
    assertEquals(2, run("--config", conf.toString(), "--data-dir", dir.resolve("data").toString(), "--writes", "5"));
    assertEquals(List.of("cannot run the demo: raft.heartbeat-interval (500ms) must be smaller than raft.election-timeout-min (300ms): "
        + "a leader must reach its followers well within their election timeout"), errLines());
  }

  @Test
  void aBadSettingIsOneLineInNodeMode() throws Exception {
    Path conf = config("raft.heartbeat-interval = 500ms", freePort(), freePort());
    assertEquals(2, run("--node", "n1", "--config", conf.toString(), "--data-dir", dir.resolve("data").toString()));
    List<String> lines = errLines();
    assertEquals(1, lines.size(), lines.toString());
    assertTrue(lines.get(0).startsWith("cannot start node n1: raft.heartbeat-interval (500ms) must be smaller"), lines.get(0));
    assertEquals(2, run("--node", "n1", "--config", dir.resolve("missing.conf").toString()));
    assertTrue(errLines().get(1).startsWith("cannot start node n1: configuration file ") && errLines().get(1).endsWith(" not found (use --config FILE)"),
        errLines().toString());
  }

  /** A busy HTTP port stops the start before the Raft node started: nothing is written under the data folder. */
  @Test
  void aBusyHttpPortStopsTheStartBeforeAnyDataIsWritten() throws Exception {
    Path data = dir.resolve("data");
    try (ServerSocket busy = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
      Path conf = config("", freePort(), busy.getLocalPort());
      assertEquals(2, run("--node", "n1", "--config", conf.toString(), "--data-dir", data.toString()));
      List<String> lines = errLines();
      assertEquals(1, lines.size(), lines.toString());
      assertTrue(lines.get(0).startsWith("cannot start node n1: cannot listen on its HTTP address 127.0.0.1:" + busy.getLocalPort()
          + " (kv.http.n1): "), lines.get(0));
    }
    assertEquals(List.of(), contents(data), "nothing written under " + data);
  }

  @Test
  void aBusyAkkaPortIsOneLineToo() throws Exception {
    Path data = dir.resolve("data");
    try (ServerSocket busy = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
      Path conf = config("", busy.getLocalPort(), freePort());
      assertEquals(2, run("--node", "n1", "--config", conf.toString(), "--data-dir", data.toString()));
      List<String> lines = errLines();
      assertEquals(1, lines.size(), lines.toString());
      assertTrue(lines.get(0).startsWith("cannot start node n1: cannot listen on its Akka address akka://raft@127.0.0.1:"
          + busy.getLocalPort() + " (raft.members.n1): "), lines.get(0));
    }
    assertEquals(List.of(), contents(data));
  }

  private static List<Path> contents(Path dir) throws IOException {
    if (!Files.exists(dir)) return List.of();
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(p -> !p.equals(dir)).toList();
    }
  }

  /**
   * The demo and the members of run-cluster.sh journal in different folders by default: a cluster
   * started after the demo founds a group of its own (its first write is index 3) instead of
   * continuing the demo's.
   */
  @Test
  void theDemoAndTheMembersJournalInSeparateFoldersByDefault() {
    for (String id : new String[] {"n1", "n2", "n3"}) {
      Path demo = Path.of(KvDemo.DEFAULT_DATA_DIR, id).normalize();
      Path member = Path.of(KvNode.DEFAULT_DATA_DIR, id).normalize();
      assertTrue(!demo.startsWith(member) && !member.startsWith(demo), demo + " and " + member);
    }
  }
}
