package io.raftactors.examples.bench;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.RaftSettings;
import io.raftactors.actor.RaftStorage;
import io.raftactors.actor.StateMachine;
import io.raftactors.core.RaftConfig;
import io.raftactors.examples.kv.KvCommand;
import io.raftactors.examples.kv.KvStateMachine;
import io.raftactors.persistence.JournalStorage;
import io.raftactors.persistence.SegmentStorage;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The leader's heap while one follower of a 3-member KV group is frozen under full load, and how
 * long that follower takes to catch up once it runs again.
 *
 * <p>Each member runs in a JVM of its own (Artery on 127.0.0.1, durable storage: segment files, or
 * the LevelDB journal with {@code --storage leveldb}), so the leader's heap is the leader's alone.
 * Client threads in the leader's JVM put 100-byte ASCII values to random keys of 1,000 through the
 * leader's node actor, each waiting for its put to be applied (KvBenchmark's workload). After a
 * warm phase one follower's JVM is stopped with SIGSTOP for {@code --freeze} seconds: its
 * connections stay open and the leader hears nothing, as with a long GC pause or a stopped VM. Then
 * it gets SIGCONT.
 *
 * <p>Every second it prints the leader's heap in use after a full GC (the leader's JVM runs {@code
 * System.gc()} and reads its MemoryMXBean), the puts applied per second and the commit index of the
 * leader and the followers; then the baseline (warm phase), the largest heap during the freeze and
 * after it, the flow-control settings and what they let the leader buffer for the frozen follower,
 * and how long the follower took to apply the leader's commit index of the moment it resumed.
 *
 * <pre>java -cp examples/target/raft-kv.jar io.raftactors.examples.bench.FrozenFollowerBenchmark [--freeze S] [--warmup S] [--after S] [--clients N] [--storage segments|leveldb] [--heap SIZE] [--set raft.key=value]...</pre>
 *
 * <p>Needs {@code kill} (a POSIX system) to stop and continue the follower's JVM.
 */
public final class FrozenFollowerBenchmark {
  private static final List<String> IDS = List.of("n1", "n2", "n3");
  /** Marks the lines a member's JVM writes in answer to the benchmark; any other line is its log. */
  private static final String REPLY = "@@ ";
  private static final double MIB = 1024.0 * 1024.0;

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("--member")) {
      Member.run(args);
      return;
    }
    int freeze = 60;
    int warmup = 20;
    int after = 20;
    int clients = 32;
    String storage = "segments";
    String heap = "1g";
    List<String> overrides = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--freeze" -> freeze = Integer.parseInt(args[++i]);
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        case "--after" -> after = Integer.parseInt(args[++i]);
        case "--clients" -> clients = Integer.parseInt(args[++i]);
        case "--storage" -> storage = args[++i];
        case "--heap" -> heap = args[++i];
        case "--set" -> overrides.add(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]
            + "; [--freeze S] [--warmup S] [--after S] [--clients N] [--storage segments|leveldb] [--heap SIZE] [--set raft.key=value]");
      }
    }
    if (!List.of("segments", "leveldb").contains(storage)) throw new IllegalArgumentException("--storage segments|leveldb");
    new FrozenFollowerBenchmark(freeze, warmup, after, clients, storage, heap, overrides).run();
  }

  // ------------------------------------------------------------------ the benchmark (coordinator)

  private final int freezeSeconds;
  private final int warmupSeconds;
  private final int afterSeconds;
  private final int clients;
  private final String storage;
  private final String heap;
  private final List<String> overrides;
  private final Map<String, MemberProcess> members = new LinkedHashMap<>();

  private FrozenFollowerBenchmark(int freeze, int warmup, int after, int clients, String storage, String heap,
      List<String> overrides) {
    this.freezeSeconds = freeze;
    this.warmupSeconds = warmup;
    this.afterSeconds = after;
    this.clients = clients;
    this.storage = storage;
    this.heap = heap;
    this.overrides = overrides;
  }

  /** One member's JVM: commands go to its stdin, answers come back on its stdout; everything else it prints goes to its log. */
  private static final class MemberProcess {
    final String id;
    final Process process;
    final BlockingQueue<String> replies = new LinkedBlockingQueue<>();

    MemberProcess(String id, Process process, Path log) throws IOException {
      this.id = id;
      this.process = process;
      BufferedWriter logFile = Files.newBufferedWriter(log, StandardCharsets.UTF_8);
      Thread reader = new Thread(() -> {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            logFile) {
          for (String line; (line = in.readLine()) != null; ) {
            if (line.startsWith(REPLY)) {
              replies.add(line.substring(REPLY.length()));
            } else {
              logFile.write(line);
              logFile.newLine();
              logFile.flush();
            }
          }
        } catch (IOException e) {
          // the member's JVM ended
        }
      }, "member-" + id + "-stdout");
      reader.setDaemon(true);
      reader.start();
    }

    /** Sends {@code command} and waits for its answer. */
    synchronized String ask(String command, Duration timeout) throws Exception {
      replies.clear();
      BufferedWriter out = new BufferedWriter(new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8));
      out.write(command);
      out.newLine();
      out.flush();
      String reply = replies.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (reply == null) throw new IllegalStateException(id + " did not answer '" + command + "' within " + timeout);
      return reply;
    }

    Status status() throws Exception {
      return Status.parse(ask("status", Duration.ofSeconds(10)));
    }

    void signal(String signal) throws Exception {
      int rc = new ProcessBuilder("kill", "-" + signal, String.valueOf(process.pid())).inheritIO().start().waitFor();
      if (rc != 0) throw new IllegalStateException("kill -" + signal + " " + process.pid() + " failed: " + rc);
    }
  }

  /** A member's answer to "status". */
  record Status(String role, long term, long commit, long applied, long last, long snapshotBytes, int restores,
      long puts, long failed) {
    static Status parse(String line) {
      String[] f = line.split(" ");
      return new Status(f[0], Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]), Long.parseLong(f[4]),
          Long.parseLong(f[5]), Integer.parseInt(f[6]), Long.parseLong(f[7]), Long.parseLong(f[8]));
    }
  }

  /** One line of the per-second table. */
  record Sample(double seconds, String phase, double heapMiB, double putsPerSecond) {}

  private void run() throws Exception {
    Path dir = Files.createTempDirectory("frozen-follower-bench");
    Runtime.getRuntime().addShutdownHook(new Thread(this::stopMembers));
    StringBuilder spec = new StringBuilder();
    for (String id : IDS) {
      try (ServerSocket s = new ServerSocket(0)) {
        spec.append(spec.length() == 0 ? "" : ",").append(id).append('=').append(s.getLocalPort());
      }
    }
    Path data = dir.resolve("data");
    Config config = memberConfig("n1", spec.toString(), data, overrides);
    RaftSettings settings = RaftSettings.fromConfig(config);
    String java = ProcessHandle.current().info().command().orElse("java");
    for (String id : IDS) {
      List<String> cmd = new ArrayList<>(List.of(java, "-Xms" + heap, "-Xmx" + heap, "-cp", System.getProperty("java.class.path"),
          FrozenFollowerBenchmark.class.getName(), "--member", id, spec.toString(), data.toString(), storage));
      cmd.addAll(overrides);
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      members.put(id, new MemberProcess(id, p, dir.resolve(id + "-output.txt")));
    }
    try {
      measure(settings, config);
    } finally {
      stopMembers();
      Bench.deleteTree(data); // the members' storage (the logs of their JVMs stay)
      System.out.println("member logs: " + dir);
    }
  }

  private void measure(RaftSettings settings, Config artery) throws Exception {
    String leaderId = awaitLeader();
    MemberProcess leader = members.get(leaderId);
    List<String> followers = IDS.stream().filter(id -> !id.equals(leaderId)).toList();
    MemberProcess frozen = members.get(followers.get(0));
    MemberProcess other = members.get(followers.get(1));
    RaftConfig core = settings.core();
    System.out.printf(Locale.ROOT, "3 members, one JVM each (-Xmx%s), storage %s; %d client threads on leader %s; %s frozen "
        + "(SIGSTOP) for %d s after %d s%n", heap, storage, clients, leaderId, frozen.id, freezeSeconds, warmupSeconds);
    leader.ask("load " + clients, Duration.ofSeconds(10));

    List<Sample> samples = new ArrayList<>();
    System.out.println("     s  phase     leader-heap-MiB  puts/s   leader-commit  " + other.id + "-applied  " + frozen.id + "-applied");
    long start = System.nanoTime();
    Status[] last = {leader.status()};
    long[] lastNanos = {System.nanoTime()};
    // One sample: the leader's heap after a full GC, puts applied per second since the previous one, commit indexes.
    java.util.function.BiFunction<String, Boolean, Sample> sample = (phase, frozenNow) -> {
      try {
        double heapMiB = Long.parseLong(leader.ask("heap", Duration.ofSeconds(30))) / MIB;
        Status l = leader.status();
        long now = System.nanoTime();
        double rate = (l.puts() - last[0].puts()) / ((now - lastNanos[0]) / 1e9);
        last[0] = l;
        lastNanos[0] = now;
        Sample s = new Sample((now - start) / 1e9, phase, heapMiB, rate);
        System.out.printf(Locale.ROOT, "%6.1f  %-8s  %15.1f  %6.0f  %14d  %10d  %10s%n", s.seconds(), phase, heapMiB, rate,
            l.commit(), other.status().applied(), frozenNow ? "frozen" : String.valueOf(frozen.status().applied()));
        return s;
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    };
    for (int i = 0; i < warmupSeconds; i++) {
      sleepUntil(start, i + 1);
      samples.add(sample.apply("warm", false));
    }
    Status beforeFreeze = leader.status();
    int restoresBefore = frozen.status().restores();
    frozen.signal("STOP");
    long frozenAt = System.nanoTime();
    for (int i = 0; i < freezeSeconds; i++) {
      sleepUntil(frozenAt, i + 1);
      samples.add(sample.apply("frozen", true));
    }
    Status atResume = leader.status();
    frozen.signal("CONT");
    long resumedAt = System.nanoTime();
    double catchUp = -1;
    int restoresAtCatchUp = 0;
    int seconds = 0;
    while (seconds < afterSeconds || catchUp < 0) {
      if (catchUp < 0) {
        Status f = frozen.status();
        if (f.applied() >= atResume.commit()) {
          catchUp = (System.nanoTime() - resumedAt) / 1e9;
          restoresAtCatchUp = f.restores();
        }
      }
      if (System.nanoTime() - resumedAt >= TimeUnit.SECONDS.toNanos(seconds + 1)) {
        seconds++;
        samples.add(sample.apply(catchUp < 0 ? "catch-up" : "after", false));
      }
      if (seconds > afterSeconds + 300) throw new IllegalStateException(frozen.id + " did not catch up within 300 s");
      TimeUnit.MILLISECONDS.sleep(20);
    }
    Status end = leader.status();
    Status frozenEnd = frozen.status();

    double[] warmHeap = samples.stream().filter(s -> s.phase().equals("warm")).skip(warmupSeconds / 2).mapToDouble(Sample::heapMiB).toArray();
    double baseline = median(warmHeap);
    double warmMax = java.util.Arrays.stream(warmHeap).max().orElse(0);
    double freezeMax = samples.stream().filter(s -> s.phase().equals("frozen")).mapToDouble(Sample::heapMiB).max().orElse(0);
    double freezeLast = samples.stream().filter(s -> s.phase().equals("frozen")).mapToDouble(Sample::heapMiB).reduce((a, b) -> b).orElse(0);
    double afterMax = samples.stream().filter(s -> !s.phase().equals("warm") && !s.phase().equals("frozen")).mapToDouble(Sample::heapMiB).max().orElse(0);
    double afterLast = samples.get(samples.size() - 1).heapMiB();
    double warmRate = median(samples.stream().filter(s -> s.phase().equals("warm")).skip(warmupSeconds / 2).mapToDouble(Sample::putsPerSecond).toArray());
    double frozenRate = (atResume.puts() - beforeFreeze.puts()) / ((resumedAt - frozenAt) / 1e9);

    System.out.println();
    System.out.printf(Locale.ROOT, "leader heap after full GC: baseline %.1f MiB (median of the second half of the warm phase, "
        + "largest %.1f); frozen: largest %.1f MiB (+%.1f over the baseline), last %.1f MiB (+%.1f); after resuming: largest "
        + "%.1f MiB, last %.1f MiB%n", baseline, warmMax, freezeMax, freezeMax - baseline, freezeLast, freezeLast - baseline,
        afterMax, afterLast);
    System.out.printf(Locale.ROOT, "puts/s: warm %.0f (median), frozen %.0f (mean over the freeze); %d puts failed; the "
        + "group committed %d entries during the freeze%n", warmRate, frozenRate, end.failed(), atResume.commit() - beforeFreeze.commit());
    if (!end.role().equals("LEADER") || end.term() != beforeFreeze.term()) {
      System.out.printf(Locale.ROOT, "%s did not lead throughout: term %d before the freeze, %d and %s at the end (an election "
          + "on the way: the puts of that time failed)%n", leaderId, beforeFreeze.term(), end.term(), end.role());
    }
    System.out.printf(Locale.ROOT, "catch-up: %s applied the leader's commit index at resumption (%d) %.2f s after SIGCONT; "
        + "snapshots it installed to get there: %d (before the freeze: %d, until the end: %d); leader's last snapshot %d KiB%n",
        frozen.id, atResume.commit(), catchUp, restoresAtCatchUp - restoresBefore, restoresBefore,
        frozenEnd.restores() - restoresBefore, end.snapshotBytes() / 1024);
    long window = (long) (core.maxInflightAppends() + 1) * core.maxBytesPerAppend() + core.snapshotChunkBytes();
    System.out.printf(Locale.ROOT, "flow control: max-inflight-appends=%d max-inflight-partial-appends=%d max-entries-per-append=%d "
            + "max-bytes-per-append=%d snapshot.chunk-size=%d snapshot.after-entries=%d snapshot.after-bytes=%d "
            + "flow-control.max-pending-proposals=%d flow-control.max-pending-bytes=%d%n",
        core.maxInflightAppends(), core.maxInflightPartialAppends(), core.maxEntriesPerAppend(), core.maxBytesPerAppend(),
        core.snapshotChunkBytes(), settings.snapshotAfterEntries(), settings.snapshotAfterBytes(), settings.maxPendingProposals(),
        settings.maxPendingBytes());
    int queue = artery.getInt("akka.remote.artery.advanced.outbound-message-queue-size");
    System.out.printf(Locale.ROOT, "bound for the frozen follower: (max-inflight-appends + 1) x max-bytes-per-append + "
            + "snapshot.chunk-size = %.2f MiB of entries and snapshot handed to the transport, then only empty messages, "
            + "one per heartbeat interval (at most %d during this freeze; Artery queues up to %d, "
            + "outbound-message-queue-size, and drops the rest); the leader's log stays within snapshot.after-entries / "
            + "after-bytes past its newest snapshot (%d KiB here) whatever the follower, and that snapshot is the one a "
            + "lagging follower is sent%n",
        window / MIB, freezeSeconds * 1000L / (settings.tickInterval().toMillis() * core.heartbeatInterval()), queue,
        end.snapshotBytes() / 1024);
  }

  private static void sleepUntil(long startNanos, int seconds) throws InterruptedException {
    long wait = startNanos + TimeUnit.SECONDS.toNanos(seconds) - System.nanoTime();
    if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
  }

  private static double median(double[] values) {
    if (values.length == 0) return 0;
    double[] v = values.clone();
    java.util.Arrays.sort(v);
    return v[v.length / 2];
  }

  private String awaitLeader() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < deadline) {
      for (MemberProcess m : members.values()) {
        try {
          if (m.status().role().equals("LEADER")) return m.id;
        } catch (IllegalStateException starting) {
          // still starting
        }
      }
      TimeUnit.MILLISECONDS.sleep(200);
    }
    throw new IllegalStateException("no leader within 120 s; see the member logs");
  }

  private void stopMembers() {
    for (MemberProcess m : members.values()) {
      if (!m.process.isAlive()) continue;
      try {
        m.signal("CONT"); // a frozen member could not quit
      } catch (Exception ignored) {
        // it may have ended meanwhile
      }
      m.process.destroy();
    }
    for (MemberProcess m : members.values()) {
      try {
        if (!m.process.waitFor(30, TimeUnit.SECONDS)) m.process.destroyForcibly();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Member {@code id}'s configuration: the group of {@code spec} ("n1=port,..."), its storage under {@code dir}, and {@code overrides}. */
  static Config memberConfig(String id, String spec, Path dir, List<String> overrides) {
    StringBuilder c = new StringBuilder();
    for (String m : spec.split(",")) {
      String[] kv = m.split("=");
      c.append("raft.members.").append(kv[0]).append(" = \"akka://bench@127.0.0.1:").append(kv[1]).append("\"\n");
      if (kv[0].equals(id)) c.append("akka.remote.artery.canonical.port = ").append(kv[1]).append('\n');
    }
    for (String o : overrides) c.append(o).append('\n');
    String data = dir.resolve(id).toString().replace("\\", "/");
    c.append(String.join("\n",
        "raft.member-id = " + id,
        "raft.group-id = bench",
        "raft.membership.transfer-leadership-on-shutdown = off",
        "raft.persistence.leveldb-journal.dir = \"" + data + "/journal\"",
        "raft.persistence.segments.dir = \"" + data + "/log\"",
        "raft.persistence.local-snapshots.dir = \"" + data + "/snapshots\"",
        "akka.loglevel = WARNING",
        "akka.actor.provider = remote",
        "akka.remote.warn-about-direct-use = off",
        "akka.remote.artery.canonical.hostname = 127.0.0.1"));
    return ConfigFactory.parseString(c.toString()).withFallback(ConfigFactory.load()).resolve();
  }

  // ------------------------------------------------------------------ one member's JVM

  /**
   * A member in a JVM of its own, driven through stdin: {@code status}, {@code heap} (a full GC, then
   * the heap in use), {@code load N} (N client threads putting through this node), {@code quit}.
   * Answers are single lines starting with {@link #REPLY} on stdout.
   */
  static final class Member {
    /** The KV state machine, counting snapshots installed and remembering the size of the last one taken. */
    static final class CountingKv implements StateMachine {
      final KvStateMachine kv = new KvStateMachine();
      volatile int restores;
      volatile long lastSnapshotBytes;

      @Override
      public Object apply(long index, Object command) {
        return kv.apply(index, command);
      }

      @Override
      public Object query(Object query) {
        return kv.query(query);
      }

      @Override
      public byte[] takeSnapshot() {
        byte[] s = kv.takeSnapshot();
        lastSnapshotBytes = s.length;
        return s;
      }

      @Override
      public void restoreSnapshot(byte[] snapshot) {
        kv.restoreSnapshot(snapshot);
        restores++;
      }
    }

    static void run(String[] args) throws Exception {
      String id = args[1];
      String spec = args[2];
      Path dir = Path.of(args[3]);
      String storageKind = args[4];
      List<String> overrides = List.of(args).subList(5, args.length);
      Config config = memberConfig(id, spec, dir, overrides);
      RaftSettings s = RaftSettings.fromConfig(config);
      ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "bench", config);
      RaftStorage storage = storageKind.equals("leveldb") ? JournalStorage.start(system, s) : SegmentStorage.start(system, s);
      CountingKv sm = new CountingKv();
      ActorRef<RaftNode.Command> node = RaftNode.start(system, s, storage, sm);
      AtomicLong puts = new AtomicLong();
      AtomicLong failed = new AtomicLong();
      PrintStream out = System.out;
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      for (String line; (line = in.readLine()) != null; ) {
        String[] cmd = line.trim().split(" ");
        switch (cmd[0]) {
          case "status" -> {
            RaftNode.Status st = AskPattern.<RaftNode.Command, RaftNode.Status>ask(node, RaftNode.GetStatus::new,
                Duration.ofSeconds(5), system.scheduler()).toCompletableFuture().get();
            out.println(REPLY + st.role() + " " + st.term() + " " + st.commitIndex() + " " + st.lastApplied() + " "
                + st.lastIndex() + " " + sm.lastSnapshotBytes + " " + sm.restores + " " + puts.get() + " " + failed.get());
          }
          case "heap" -> {
            java.lang.management.MemoryMXBean memory = java.lang.management.ManagementFactory.getMemoryMXBean();
            memory.gc();
            out.println(REPLY + memory.getHeapMemoryUsage().getUsed());
          }
          case "load" -> {
            startClients(Integer.parseInt(cmd[1]), node, system, puts, failed);
            out.println(REPLY + "ok");
          }
          case "quit" -> {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
            return;
          }
          default -> out.println(REPLY + "unknown command " + line);
        }
        out.flush();
      }
      system.terminate(); // stdin closed: the benchmark is gone
    }

    /**
     * KvBenchmark's workload: each thread puts a 100-byte ASCII value to a random key of 1,000 and waits until it is
     * applied; after a put that failed (this node stopped leading, or it was overloaded) it waits 10 ms.
     */
    private static void startClients(int n, ActorRef<RaftNode.Command> node, ActorSystem<Void> system, AtomicLong puts,
        AtomicLong failed) {
      for (int t = 0; t < n; t++) {
        final int seed = t;
        Thread th = new Thread(() -> {
          SplittableRandom rnd = new SplittableRandom(seed);
          while (true) {
            KvCommand cmd = new KvCommand.Put("k" + rnd.nextInt(LoadDriver.KEYS), LoadDriver.text(LoadDriver.asciiValue(rnd, 100)));
            try {
              RaftNode.ProposeReply r = AskPattern.<RaftNode.Command, RaftNode.ProposeReply>ask(node,
                  rt -> new RaftNode.Propose(cmd, rt), Duration.ofSeconds(10), system.scheduler()).toCompletableFuture().get();
              if (r instanceof RaftNode.Applied) {
                puts.incrementAndGet();
                continue;
              }
            } catch (Exception e) {
              // counted below
            }
            failed.incrementAndGet();
            try {
              TimeUnit.MILLISECONDS.sleep(10); // as LoadDriver: a node that does not lead now is not flooded
            } catch (InterruptedException e) {
              return;
            }
          }
        }, "client-" + t);
        th.setDaemon(true);
        th.start();
      }
    }
  }
}
