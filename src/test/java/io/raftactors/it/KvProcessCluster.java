package io.raftactors.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import java.io.File;
import java.io.IOException;
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
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Three members of the replicated KV store, each in its own JVM (by default {@link
 * io.raftactors.examples.kv.KvNode}'s main, started with {@code --node nX --config FILE --data-dir
 * DIR}), keeping their logs under one data directory (in the storage raft.persistence.storage
 * chooses, segment files by default), on free ports. A member can be killed
 * with SIGKILL and started again on the same data, or frozen with SIGSTOP and continued with
 * SIGCONT. {@link #close} continues every frozen member and destroys every process.
 *
 * <p>Members that join a running group ({@link #KvProcessCluster(Path, Class, String, List)}) get
 * free ports too and are started with {@code --join}. One that application.conf lists (n4, n5) has
 * its addresses in the configuration every member reads; any other one has them only in a
 * configuration file of its own, so the group learns them when it is added, as a new machine's.
 *
 * <p>Each JVM's output goes to {@code <dir>/<id>.log} (appended across restarts).
 */
final class KvProcessCluster implements AutoCloseable {
  static final List<String> IDS = List.of("n1", "n2", "n3");
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One member's answer to GET /status. */
  record Status(String node, String role, long term, String leader, long commitIndex, long appliedIndex,
      List<String> voters, List<String> learners, boolean joint) {
    boolean isLeader() {
      return "LEADER".equals(role);
    }
  }

  private final Path dir;
  private final Class<?> main;
  private final Path config;
  /** Members that join (started with --join), and the configuration file each runs with. */
  private final Map<String, Path> joiners = new LinkedHashMap<>();
  private final Path logback;
  private final Map<String, String> http = new LinkedHashMap<>();
  private final Map<String, String> akka = new LinkedHashMap<>();
  private final Map<String, Process> processes = new LinkedHashMap<>();
  private final Map<String, Boolean> frozen = new LinkedHashMap<>();
  /** Members killed on purpose and not started again; any other member that is not alive exited on its own. */
  private final java.util.Set<String> killed = new java.util.HashSet<>();
  /** The ports handed out. */
  private final java.util.Set<Integer> ports = new java.util.HashSet<>();
  private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .followRedirects(HttpClient.Redirect.NEVER)
      .connectTimeout(Duration.ofSeconds(1)).build();

  /**
   * Writes the configuration (application.conf of the repository with free ports, lease reads on
   * and {@code extraConfig} on top) into {@code dir}; starts nothing yet.
   */
  KvProcessCluster(Path dir, Class<?> main, String extraConfig) throws IOException {
    this(dir, main, extraConfig, List.of());
  }

  /**
   * As above, with members {@code joining} besides {@link #IDS}: not started by {@link #startAll},
   * and started with {@code --join} (on empty storage they wait until the group adds them).
   */
  KvProcessCluster(Path dir, Class<?> main, String extraConfig, List<String> joining) throws IOException {
    this.dir = dir;
    this.main = main;
    StringBuilder over = new StringBuilder();
    for (String id : IDS) {
      akka.put(id, "akka://raft@127.0.0.1:" + port());
      over.append("raft.members.").append(id).append(" = \"").append(akka.get(id)).append("\"\n");
      String addr = "127.0.0.1:" + port();
      http.put(id, addr);
      over.append("kv.http.").append(id).append(" = \"").append(addr).append("\"\n");
      // A spare port per member, from the same set (a member that needs one more, as BrokenKvNode does,
      // must not probe for it itself: another member may be about to bind the port it finds free).
      over.append("test.spare-port.").append(id).append(" = ").append(port()).append('\n');
      frozen.put(id, false);
    }
    Config base = ConfigFactory.parseFile(new File("../application.conf"));
    Map<String, String> ownConfig = new LinkedHashMap<>();
    for (String id : joining) {
      if (IDS.contains(id)) throw new IllegalArgumentException(id + " founds the group");
      akka.put(id, "akka://raft@127.0.0.1:" + port());
      String entries = "raft.members." + id + " = \"" + akka.get(id) + "\"\n";
      String addr = "127.0.0.1:" + port();
      http.put(id, addr);
      entries += "kv.http." + id + " = \"" + addr + "\"\n";
      if (base.hasPath("raft.members." + id)) over.append(entries);
      else ownConfig.put(id, entries);
      frozen.put(id, false);
    }
    over.append("raft.lease-reads = on\n").append(extraConfig).append('\n');
    Config c = ConfigFactory.parseString(over.toString()).withFallback(base);
    config = dir.resolve("cluster.conf");
    Files.writeString(config, c.root().render(ConfigRenderOptions.concise().setFormatted(true)));
    for (String id : joining) {
      Path own = config;
      if (ownConfig.containsKey(id)) {
        own = dir.resolve("cluster-" + id + ".conf");
        Files.writeString(own, ConfigFactory.parseString(ownConfig.get(id)).withFallback(c).root()
            .render(ConfigRenderOptions.concise().setFormatted(true)));
      }
      joiners.put(id, own);
    }
    // The test classpath's logback-test.xml keeps log events in memory; members log to their file instead.
    logback = dir.resolve("logback-member.xml");
    Files.writeString(logback, """
        <configuration>
          <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
            <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{36} - %msg%n</pattern></encoder>
          </appender>
          <root level="INFO"><appender-ref ref="OUT"/></root>
        </configuration>
        """);
  }

  /** A free port, none handed out twice (the system may offer a port again once it is released). */
  private int port() throws IOException {
    while (true) {
      int p = KvDemoTest.freePort();
      if (ports.add(p)) return p;
    }
  }

  Path dir() {
    return dir;
  }

  /** The main class the member JVMs run. */
  Class<?> mainClass() {
    return main;
  }

  /** Member id -> "host:port" of its HTTP API, joining members included. */
  Map<String, String> httpAddresses() {
    return Map.copyOf(http);
  }

  /** Member id -> the address of its ActorSystem ("akka://raft@host:port"). */
  String akkaAddress(String id) {
    return akka.get(id);
  }

  /** The founding members and then the joining ones. */
  List<String> ids() {
    return List.copyOf(http.keySet());
  }

  synchronized void startAll() throws IOException {
    for (String id : IDS) start(id);
  }

  /**
   * Starts member {@code id}'s JVM on its data directory (it must not be running), a joining member
   * with {@code --join}; returns System.nanoTime() before the start.
   */
  synchronized long start(String id) throws IOException {
    Process old = processes.get(id);
    if (old != null && old.isAlive()) throw new IllegalStateException(id + " is running");
    String java = ProcessHandle.current().info().command().orElse("java");
    // The JVM options of examples/run-cluster.sh: C1 only and the serial GC start faster and need less CPU.
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
        "-Dlogback.configurationFile=" + logback, "-cp", System.getProperty("java.class.path"), main.getName(),
        "--node", id, "--config", joiners.getOrDefault(id, config).toString(), "--data-dir", dir.resolve("data").toString()));
    if (joiners.containsKey(id)) cmd.add("--join");
    long at = System.nanoTime();
    processes.put(id, new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(id + ".log").toFile())).start());
    frozen.put(id, false);
    killed.remove(id);
    return at;
  }

  /** SIGKILL, and waits until the process is gone. */
  void kill(String id) throws IOException, InterruptedException {
    Process p;
    synchronized (this) {
      p = processes.get(id);
      killed.add(id);
    }
    signal(p, "KILL");
    if (!p.waitFor(30, TimeUnit.SECONDS)) throw new IllegalStateException(id + " survived SIGKILL");
    synchronized (this) {
      frozen.put(id, false);
    }
  }

  /**
   * SIGTERM (the JVM runs its coordinated shutdown), and waits until the process is gone; returns
   * System.nanoTime() once it has exited.
   */
  long terminate(String id, Duration within) throws IOException, InterruptedException {
    Process p;
    synchronized (this) {
      p = processes.get(id);
      killed.add(id);
    }
    signal(p, "TERM");
    if (!p.waitFor(within.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new IllegalStateException(id + " did not exit within " + within + " of SIGTERM; see " + dir.resolve(id + ".log"));
    }
    return System.nanoTime();
  }

  /** SIGSTOP. */
  synchronized void freeze(String id) throws IOException, InterruptedException {
    signal(processes.get(id), "STOP");
    frozen.put(id, true);
  }

  /** SIGCONT. */
  synchronized void thaw(String id) throws IOException, InterruptedException {
    signal(processes.get(id), "CONT");
    frozen.put(id, false);
  }

  synchronized boolean isRunning(String id) {
    Process p = processes.get(id);
    return p != null && p.isAlive();
  }

  synchronized boolean isFrozen(String id) {
    return frozen.getOrDefault(id, false);
  }

  /**
   * Members whose JVM exited although nobody killed it, each described once (with its exit code);
   * they stay down until started again.
   */
  synchronized List<String> unexpectedExits() {
    List<String> out = new ArrayList<>();
    for (String id : processes.keySet()) {
      Process p = processes.get(id);
      if (p == null || p.isAlive() || killed.contains(id)) continue;
      out.add(id + " exited on its own with code " + p.exitValue() + "; see " + dir.resolve(id + ".log"));
      killed.add(id); // reported
    }
    return out;
  }

  private static void signal(Process p, String signal) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-" + signal, String.valueOf(p.pid())).redirectErrorStream(true).start();
    String out = new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (kill.waitFor() != 0 && p.isAlive()) throw new IOException("kill -" + signal + " " + p.pid() + ": " + out);
  }

  /** GET /status of {@code id}, or empty if it does not answer within {@code timeout}. */
  Optional<Status> status(String id, Duration timeout) {
    try {
      HttpRequest req = HttpRequest.newBuilder(URI.create("http://" + http.get(id) + "/status")).timeout(timeout).GET().build();
      HttpResponse<String> r = client.send(req, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      if (r.statusCode() != 200) return Optional.empty();
      JsonNode s = JSON.readTree(r.body());
      return Optional.of(new Status(s.get("node").asText(), s.get("role").asText(), s.get("term").asLong(),
          s.get("leader").isNull() ? null : s.get("leader").asText(), s.get("commitIndex").asLong(),
          s.get("appliedIndex").asLong(), texts(s.get("voters")), texts(s.get("learners")), s.has("joint")));
    } catch (IOException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  private static List<String> texts(JsonNode array) {
    List<String> out = new ArrayList<>();
    if (array != null) array.forEach(n -> out.add(n.asText()));
    return List.copyOf(out);
  }

  /** The statuses of the members that answer (frozen and dead members are not asked). */
  Map<String, Status> statuses(Duration timeout) {
    return statuses(IDS, timeout);
  }

  /** The statuses of those of {@code ids} that answer (frozen and dead members are not asked). */
  Map<String, Status> statuses(java.util.Collection<String> ids, Duration timeout) {
    Map<String, Status> out = new LinkedHashMap<>();
    for (String id : ids) {
      if (!isRunning(id) || isFrozen(id)) continue;
      status(id, timeout).ifPresent(s -> out.put(id, s));
    }
    return out;
  }

  /** The member that says it leads in the highest term among those that answer, if any. */
  Optional<String> leader() {
    Status best = null;
    for (Status s : statuses(Duration.ofMillis(500)).values()) {
      if (s.isLeader() && (best == null || s.term() > best.term())) best = s;
    }
    return Optional.ofNullable(best).map(Status::node);
  }

  /** Polls until {@code id} answers GET /status; returns System.nanoTime() of the answer. */
  long awaitHttp(String id, Duration within) throws InterruptedException {
    long deadline = System.nanoTime() + within.toNanos();
    while (System.nanoTime() < deadline) {
      if (!isRunning(id)) throw new IllegalStateException(id + " exited; see " + dir.resolve(id + ".log"));
      if (status(id, Duration.ofMillis(500)).isPresent()) return System.nanoTime();
      TimeUnit.MILLISECONDS.sleep(20); // polling a condition with a deadline
    }
    throw new AssertionError(id + " did not answer HTTP within " + within + "; see " + dir.resolve(id + ".log"));
  }

  /**
   * Polls until every member answers, one of them leads, all agree on it, and every member has
   * applied the same index, which is the leader's commit index. Writes must have stopped.
   */
  long awaitConverged(Duration within) throws InterruptedException {
    return awaitConverged(IDS, within);
  }

  /** As {@link #awaitConverged(Duration)}, for members {@code ids}. */
  long awaitConverged(List<String> ids, Duration within) throws InterruptedException {
    long deadline = System.nanoTime() + within.toNanos();
    Map<String, Status> last = Map.of();
    while (System.nanoTime() < deadline) {
      last = statuses(ids, Duration.ofSeconds(1));
      if (last.size() == ids.size()) {
        Status leader = last.values().stream().filter(Status::isLeader).findFirst().orElse(null);
        if (leader != null && leader.commitIndex() == leader.appliedIndex() && last.values().stream()
            .allMatch(s -> leader.node().equals(s.leader()) && s.appliedIndex() == leader.commitIndex())) {
          return leader.appliedIndex();
        }
      }
      TimeUnit.MILLISECONDS.sleep(50); // polling a condition with a deadline
    }
    throw new AssertionError("members did not converge within " + within + ": " + last + "; logs in " + dir);
  }

  /** Continues every frozen member and destroys every process. */
  @Override
  public synchronized void close() {
    for (String id : processes.keySet()) {
      Process p = processes.get(id);
      if (p == null) continue;
      if (isFrozen(id) && p.isAlive()) {
        try {
          thaw(id);
        } catch (IOException | InterruptedException e) {
          // destroyed below either way
        }
      }
      p.destroyForcibly();
    }
    for (Process p : processes.values()) {
      try {
        p.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
