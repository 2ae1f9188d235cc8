package io.raftactors.benchmarks;

import com.alipay.sofa.jraft.Iterator;
import com.alipay.sofa.jraft.Node;
import com.alipay.sofa.jraft.RaftGroupService;
import com.alipay.sofa.jraft.Status;
import com.alipay.sofa.jraft.closure.ReadIndexClosure;
import com.alipay.sofa.jraft.conf.Configuration;
import com.alipay.sofa.jraft.core.StateMachineAdapter;
import com.alipay.sofa.jraft.entity.PeerId;
import com.alipay.sofa.jraft.entity.Task;
import com.alipay.sofa.jraft.option.NodeOptions;
import com.alipay.sofa.jraft.option.RaftOptions;
import io.raftactors.examples.bench.Bench;
import io.raftactors.examples.bench.BenchResult;
import io.raftactors.examples.bench.Floor;
import io.raftactors.examples.bench.LoadDriver;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * KvBenchmark's workload on SOFAJRaft: three nodes in this JVM, each with its own Bolt RPC server on
 * 127.0.0.1 and a RocksDB log in a temporary folder. {@code --config sync} (default) syncs every
 * log write before it counts ({@code RaftOptions.sync = true}, SOFAJRaft's default), {@code nosync}
 * does not. Puts enter through {@code Node.apply(Task)} on the leader and complete when the task's
 * closure runs, after the entry is committed and applied on the leader; reads ({@code --read-ratio})
 * are {@code Node.readIndex} (ReadIndex, {@code ReadOnlySafe}) on the leader, then a read of the
 * leader's map. Same options, result line and CSV columns as KvBenchmark (no stage breakdown).
 *
 * <pre>java -cp benchmarks/target/raft-bench.jar io.raftactors.benchmarks.JRaftBenchmark [clients...] [--clients 1,32,256] [--warmup S] [--measure S] [--value-bytes N] [--read-ratio R] [--config sync|nosync] [--csv FILE] [--chart DIR]</pre>
 */
public final class JRaftBenchmark {
  private JRaftBenchmark() {}

  /** The replicated map: applies each put and completes its task. */
  static final class KvMachine extends StateMachineAdapter {
    final Map<String, byte[]> map = new ConcurrentHashMap<>();

    @Override
    public void onApply(Iterator it) {
      while (it.hasNext()) {
        PutCodec.apply(it.getData().slice(), map);
        if (it.done() != null) it.done().run(Status.OK());
        it.next();
      }
    }
  }

  public static void main(String[] args) throws Exception {
    // Bolt (SOFAJRaft's RPC) writes log files of its own under logging.path, by default ~/logs: unless told where,
    // into a temporary folder removed at the end.
    Path boltLogs = null;
    if (System.getProperty("logging.path") == null) {
      boltLogs = Files.createTempDirectory("jraft-bench-logs");
      System.setProperty("logging.path", boltLogs.toString());
    }
    Bench.Options o = Bench.parse(args, Map.of("config", "sync"));
    String config = o.extra("config");
    if (!List.of("sync", "nosync").contains(config)) throw new IllegalArgumentException("--config sync|nosync");
    boolean sync = config.equals("sync");
    BenchResult.Setup setup = new BenchResult.Setup("jraft", "jraft/rocksdb-" + config + "/apply", "rocksdb", "apply", "bolt", sync,
        o.valueBytes(), o.readRatio());
    int status = 0;
    try {
      Bench.runAll(o, sync, (load, floor) -> run(load, floor, setup, sync));
    } catch (Exception | Error e) {
      e.printStackTrace();
      status = 1;
    } finally {
      if (boltLogs != null) PutCodec.delete(boltLogs);
    }
    System.exit(status); // SOFAJRaft leaves non-daemon threads behind
  }

  static BenchResult run(LoadDriver.Load load, Floor floor, BenchResult.Setup setup, boolean sync) throws Exception {
    Path data = Files.createTempDirectory("jraft-bench");
    List<RaftGroupService> services = new ArrayList<>();
    try {
      List<PeerId> peers = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        try (ServerSocket s = new ServerSocket(0)) {
          peers.add(new PeerId("127.0.0.1", s.getLocalPort()));
        }
      }
      Map<Node, KvMachine> machines = new ConcurrentHashMap<>();
      for (PeerId peer : peers) {
        Path dir = data.resolve("n" + peer.getPort());
        Files.createDirectories(dir);
        NodeOptions options = new NodeOptions();
        options.setElectionTimeoutMs(1000);
        options.setInitialConf(new Configuration(peers));
        KvMachine machine = new KvMachine();
        options.setFsm(machine);
        options.setLogUri(dir.resolve("log").toString());
        options.setRaftMetaUri(dir.resolve("meta").toString());
        RaftOptions raft = new RaftOptions();
        raft.setSync(sync);
        options.setRaftOptions(raft);
        RaftGroupService service = new RaftGroupService("bench", peer, options);
        services.add(service);
        machines.put(service.start(), machine);
      }
      // Tasks go to the leader found here, or to the one that leads after a task was refused.
      AtomicReference<Node> current = new AtomicReference<>(awaitLeader(machines.keySet()));
      LoadDriver.Operation operation = (client, key, value) -> {
        CompletableFuture<Object> done = new CompletableFuture<>();
        Node leader = current.get();
        if (value == null) {
          leader.readIndex(new byte[0], new ReadIndexClosure() {
            @Override
            public void run(Status status, long index, byte[] context) {
              if (status.isOk()) {
                done.complete(String.valueOf(machines.get(leader).map.get(key)));
              } else {
                follow(machines.keySet(), current);
                done.completeExceptionally(new IllegalStateException("read: " + status));
              }
            }
          });
        } else {
          leader.apply(new Task(ByteBuffer.wrap(PutCodec.encode(key, value)), status -> {
            if (status.isOk()) {
              done.complete(status);
            } else {
              follow(machines.keySet(), current);
              done.completeExceptionally(new IllegalStateException("put: " + status));
            }
          }));
        }
        return done;
      };
      LoadDriver.Measurement m = LoadDriver.run(load, operation, new LoadDriver.Phases() {});
      return new BenchResult(setup, m, floor, List.of(), "");
    } finally {
      for (RaftGroupService s : services) s.shutdown();
      for (RaftGroupService s : services) s.join();
      PutCodec.delete(data);
    }
  }

  /** Points {@code current} at the node that leads now, if one does. */
  private static void follow(Iterable<Node> nodes, AtomicReference<Node> current) {
    for (Node n : nodes) if (n.isLeader()) current.set(n);
  }

  /** The node that leads once it has applied a put of its own (a new leader refuses tasks until it is ready). */
  private static Node awaitLeader(Iterable<Node> nodes) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    Exception last = null;
    while (System.nanoTime() < deadline) {
      for (Node n : nodes) {
        if (!n.isLeader()) continue;
        CompletableFuture<Status> probe = new CompletableFuture<>();
        n.apply(new Task(ByteBuffer.wrap(PutCodec.encode("probe", new byte[1])), probe::complete));
        try {
          Status st = probe.get(10, TimeUnit.SECONDS);
          if (st.isOk()) return n;
          last = new IllegalStateException(st.toString());
        } catch (java.util.concurrent.TimeoutException e) {
          last = e;
        }
      }
      TimeUnit.MILLISECONDS.sleep(50);
    }
    throw new IllegalStateException("no SOFAJRaft leader within 30 s", last);
  }
}
