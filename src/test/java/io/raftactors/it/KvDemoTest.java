package io.raftactors.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.examples.kv.KvDemo;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's demo, run from the root application.conf (on free ports instead of 2551-2553). */
class KvDemoTest {
  @TempDir Path data;

  @Test
  void theDemoReplicatesSurvivesLosingItsLeaderAndEndsWithIdenticalReplicas() throws Exception {
    File conf = new File("../application.conf");
    assertTrue(conf.isFile(), "the root application.conf is missing");
    StringBuilder members = new StringBuilder();
    for (String id : new String[] {"n1", "n2", "n3"}) {
      members.append("raft.members.").append(id).append(" = \"akka://raft@127.0.0.1:").append(freePort()).append("\"\n");
    }
    Config config = ConfigFactory.parseString(members.toString())
        .withFallback(ConfigFactory.parseFile(conf))
        .withFallback(ConfigFactory.load())
        .resolve();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int exit = KvDemo.run(config, 200, data.toFile(), new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertEquals(0, exit, out);
    assertTrue(out.contains("demo finished: all replicas agree"), out);
    assertTrue(out.contains("founding a new group, journaled in " + data.toFile().getPath()), out);
    checkReplicaLines(out);
    // Each node kept its log in segment files (the default storage) in its own directory, its member's directory beside them.
    for (String id : new String[] {"n1", "n2", "n3"}) {
      File[] segments = new File(data.toFile(), id + "/log").listFiles((d, n) -> n.startsWith("segment-") && n.endsWith(".log"));
      assertTrue(segments != null && segments.length > 0, "no segment files for " + id);
      assertTrue(new File(data.toFile(), id + "/log/kv/" + id).isDirectory(), "no member directory for " + id);
      assertTrue(!new File(data.toFile(), id + "/journal").exists(), "a LevelDB journal for " + id);
    }
  }

  /**
   * After the failover the demo names the new leader with its applied index, and each other
   * surviving member as a replica at that same index with the same data; the leader is no replica.
   */
  static void checkReplicaLines(String out) {
    java.util.regex.Matcher leader = java.util.regex.Pattern.compile("(?m)^leader (n\\d): (\\d+) keys, applied index (\\d+)$").matcher(out);
    assertTrue(leader.find(), out);
    java.util.regex.Matcher replica = java.util.regex.Pattern.compile("(?m)^replica (n\\d): (\\d+) keys, applied index (\\d+), (.*)$").matcher(out);
    int replicas = 0;
    while (replica.find()) {
      replicas++;
      assertTrue(!replica.group(1).equals(leader.group(1)), "the leader is listed as a replica: " + out);
      assertEquals(leader.group(2), replica.group(2), out);
      assertEquals(leader.group(3), replica.group(3), "a replica said to agree at another applied index: " + out);
      assertEquals("the same keys and values as the leader at that index", replica.group(4), out);
    }
    assertEquals(1, replicas, "one surviving follower: " + out);
  }

  /** Ports handed out in this JVM: a port is given to one member only, even if the OS offers it again. */
  private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** A port free now and never handed out before by this JVM. */
  static int freePort() throws IOException {
    while (true) {
      try (ServerSocket s = new ServerSocket(0)) {
        if (HANDED_OUT.add(s.getLocalPort())) return s.getLocalPort();
      }
    }
  }
}
