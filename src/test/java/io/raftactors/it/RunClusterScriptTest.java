package io.raftactors.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * examples/run-cluster.sh as the README runs it, with the jar of this build, on free ports (its
 * CONFIG and DATA variables): it says "cluster up" only once every member has recovered and knows
 * the leader, a normal stop leaves no WARN in the members' logs, a second start says that it
 * continues the group, and a member that exits is reported, before and after the cluster is up.
 */
class RunClusterScriptTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration START = Duration.ofSeconds(180);
  private static final Path SCRIPT = Path.of("../examples/run-cluster.sh").toAbsolutePath().normalize();
  private static final Path JAR = Path.of("../examples/target/raft-kv.jar").toAbsolutePath().normalize();
  private static final Pattern STARTED = Pattern.compile("^started n1 \\(pid (\\d+)\\), n2 \\(pid (\\d+)\\), n3 \\(pid (\\d+)\\);.*");
  private static final Pattern UP = Pattern.compile("^cluster up: leader (n\\d) in term (\\d+); (.*)$");

  @TempDir Path dir;
  private Path config;
  private Path data;
  private final Map<String, Integer> httpPorts = new LinkedHashMap<>();
  private final List<Script> scripts = new ArrayList<>();
  private final HttpClient client = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
      .connectTimeout(Duration.ofSeconds(2)).build();

  /** One run of the script: its output lines as they come, and the members' pids once printed. */
  private final class Script {
    final Process process;
    final List<String> lines = new CopyOnWriteArrayList<>();
    final Map<String, Long> pids = new LinkedHashMap<>();

    Script() throws IOException {
      ProcessBuilder pb = new ProcessBuilder("bash", SCRIPT.toString()).redirectErrorStream(true);
      pb.environment().put("CONFIG", config.toString());
      pb.environment().put("DATA", data.toString());
      pb.environment().put("JAR", JAR.toString());
      pb.environment().put("JAVA_OPTS", "-Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC");
      process = pb.start();
      scripts.add(this);
      Thread reader = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
          for (String line = r.readLine(); line != null; line = r.readLine()) lines.add(line);
        } catch (IOException e) {
          lines.add("(reading the script's output failed: " + e + ")");
        }
      }, "run-cluster.sh output");
      reader.setDaemon(true);
      reader.start();
    }

    /** The first line matching {@code p}, waiting for it until {@code within} has passed or the script ended. */
    Matcher await(Pattern p, Duration within) throws InterruptedException {
      long deadline = System.nanoTime() + within.toNanos();
      while (true) {
        for (String line : lines) {
          Matcher m = p.matcher(line);
          if (m.matches()) return m;
        }
        if (System.nanoTime() > deadline || (!process.isAlive() && drained())) {
          throw new AssertionError("no line matching " + p + " within " + within + "; the script printed:\n"
              + String.join("\n", lines) + "\n" + logs());
        }
        TimeUnit.MILLISECONDS.sleep(50); // polling the output with a deadline
      }
    }

    /** True once the process ended and its output has been read to the end. */
    private boolean drained() throws InterruptedException {
      TimeUnit.MILLISECONDS.sleep(200); // the reader thread finishes the last lines of an ended process
      return !process.isAlive();
    }

    void readPids() throws InterruptedException {
      Matcher m = await(STARTED, Duration.ofSeconds(60));
      for (int i = 1; i <= 3; i++) pids.put("n" + i, Long.parseLong(m.group(i)));
    }

    boolean printed(Predicate<String> p) {
      return lines.stream().anyMatch(p);
    }

    /**
     * SIGTERM, which the script handles as Ctrl-C; returns its exit code. Sent with kill rather
     * than Process.destroy, which also closes the pipe the script still prints to.
     */
    int stop() throws InterruptedException, IOException {
      assertEquals(0, new ProcessBuilder("kill", "-TERM", String.valueOf(process.pid())).start().waitFor());
      assertTrue(process.waitFor(120, TimeUnit.SECONDS), "the script did not stop; it printed:\n" + String.join("\n", lines));
      return process.exitValue();
    }

    void assertMembersGone() {
      for (Map.Entry<String, Long> e : pids.entrySet()) {
        assertFalse(ProcessHandle.of(e.getValue()).map(ProcessHandle::isAlive).orElse(false), e.getKey() + " still runs");
      }
    }
  }

  @BeforeEach
  void writeConfig() throws IOException {
    assertTrue(Files.isRegularFile(JAR), JAR + " is missing: the examples module packages it before these tests run");
    StringBuilder over = new StringBuilder();
    for (String id : List.of("n1", "n2", "n3")) {
      over.append("raft.members.").append(id).append(" = \"akka://raft@127.0.0.1:").append(KvDemoTest.freePort()).append("\"\n");
      int http = KvDemoTest.freePort();
      httpPorts.put(id, http);
      over.append("kv.http.").append(id).append(" = \"127.0.0.1:").append(http).append("\"\n");
    }
    Config c = ConfigFactory.parseString(over.toString()).withFallback(ConfigFactory.parseFile(new File("../application.conf")));
    config = dir.resolve("cluster.conf");
    Files.writeString(config, c.root().render(ConfigRenderOptions.concise().setFormatted(true)));
    data = dir.resolve("data");
  }

  @AfterEach
  void killWhatRemains() throws InterruptedException {
    for (Script s : scripts) {
      s.process.descendants().forEach(ProcessHandle::destroyForcibly);
      for (long pid : s.pids.values()) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
      s.process.destroyForcibly();
      s.process.waitFor(30, TimeUnit.SECONDS);
    }
  }

  private JsonNode status(String id) throws IOException, InterruptedException {
    HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPorts.get(id) + "/status"))
        .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), id + ": " + r.body());
    return JSON.readTree(r.body());
  }

  /** Lines of the members' logs at WARN or ERROR. */
  private List<String> warnings() throws IOException {
    List<String> out = new ArrayList<>();
    for (String id : httpPorts.keySet()) {
      for (String line : Files.readAllLines(data.resolve(id + ".log"))) {
        if (line.contains(" WARN ") || line.contains(" ERROR ")) out.add(id + ": " + line);
      }
    }
    return out;
  }

  private String logs() {
    StringBuilder b = new StringBuilder();
    for (String id : httpPorts.keySet()) {
      try {
        b.append("--- ").append(id).append(".log\n").append(Files.readString(data.resolve(id + ".log")));
      } catch (IOException e) {
        b.append("--- ").append(id).append(".log: ").append(e).append('\n');
      }
    }
    return b.toString();
  }

  @Test
  void upMeansALeaderIsKnown_aNormalStopLogsNoWarning_andAMemberThatDiesIsReported() throws Exception {
    Script first = new Script();
    first.readPids();
    Matcher up = first.await(UP, START);
    assertEquals("a new group, journaled in " + data + "/", up.group(3));
    // At the moment it says "up", every member has recovered and a leader is known.
    int knowing = 0;
    for (String id : httpPorts.keySet()) {
      JsonNode s = status(id);
      assertEquals("RUNNING", s.get("phase").asText(), id + ": " + s);
      if (!s.get("leader").isNull()) knowing++;
    }
    assertTrue(knowing > 0, "no member knows a leader");
    String leader = up.group(1);
    HttpResponse<String> put = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPorts.get(leader) + "/kv/greeting"))
        .PUT(HttpRequest.BodyPublishers.ofString("hello")).build(), HttpResponse.BodyHandlers.ofString());
    if (put.statusCode() == 307) { // the leadership moved since: follow it once, as curl -L does
      put = client.send(HttpRequest.newBuilder(URI.create(put.headers().firstValue("Location").orElseThrow()))
          .PUT(HttpRequest.BodyPublishers.ofString("hello")).build(), HttpResponse.BodyHandlers.ofString());
    }
    assertEquals(200, put.statusCode(), put.body());
    assertTrue(JSON.readTree(put.body()).get("index").asLong() >= 3, put.body());

    assertEquals(0, first.stop());
    first.assertMembersGone();
    assertEquals(List.of(), warnings(), "a normal start and stop logs no WARN or ERROR");

    Script second = new Script();
    second.readPids();
    up = second.await(UP, START);
    assertTrue(up.group(3).startsWith("continuing the group journaled in " + data + "/ by an earlier run"), up.group(0));
    long pid = second.pids.get("n2");
    assertTrue(ProcessHandle.of(pid).flatMap(h -> h.info().commandLine()).orElse("").contains("--node n2"), "pid " + pid + " is n2");
    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly); // SIGKILL
    second.await(Pattern.compile("^\\d\\d:\\d\\d:\\d\\d member n2 \\(pid " + pid + "\\) exited with code 137; the end of .*n2\\.log:$"),
        Duration.ofSeconds(30));
    assertTrue(second.process.isAlive(), "the others go on");
    assertEquals(0, second.stop());
    second.assertMembersGone();
  }

  @Test
  void aMemberThatCannotStartIsReportedWithItsErrorAndTheOthersAreStopped() throws Exception {
    try (ServerSocket busy = new ServerSocket(httpPorts.get("n3"), 50, InetAddress.getByName("127.0.0.1"))) {
      Script s = new Script();
      s.readPids();
      s.await(Pattern.compile("^\\d\\d:\\d\\d:\\d\\d member n3 \\(pid \\d+\\) exited with code 2; the end of .*n3\\.log:$"), START);
      assertTrue(s.process.waitFor(120, TimeUnit.SECONDS), "the script stops when a member could not start");
      assertEquals(1, s.process.exitValue());
      assertTrue(s.printed(l -> l.contains("cannot start node n3: cannot listen on its HTTP address 127.0.0.1:" + busy.getLocalPort())),
          String.join("\n", s.lines));
      assertFalse(s.printed(l -> l.startsWith("cluster up")), String.join("\n", s.lines));
      s.assertMembersGone();
    }
  }
}
