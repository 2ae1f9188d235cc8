package io.raftactors.benchmarks;

import io.raftactors.examples.bench.Bench;
import io.raftactors.examples.bench.BenchResult;
import io.raftactors.examples.bench.Floor;
import io.raftactors.examples.bench.LoadDriver;
import java.io.File;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;

/**
 * KvBenchmark's workload on Apache Ratis: three RaftServers in this JVM talking gRPC on 127.0.0.1,
 * each with the default SegmentedRaftLog in a temporary folder. {@code --config sync} (default)
 * keeps Ratis's defaults, under which a log write is forced to disk ({@code FileChannel.force}) before
 * it counts; {@code nosync} sets {@code raft.server.log.unsafe-flush.enabled} (the force is not
 * waited for). Puts enter in process, through the leader's {@code submitClientRequestAsync} (no
 * client RPC), and complete with the reply, sent once the entry is committed and applied on the
 * leader; reads ({@code --read-ratio}) are read requests with {@code raft.server.read.option =
 * LINEARIZABLE} (ReadIndex). Same options, result line and CSV columns as KvBenchmark (no stage
 * breakdown).
 *
 * <pre>java -cp benchmarks/target/raft-bench.jar io.raftactors.benchmarks.RatisBenchmark [clients...] [--clients 1,32,256] [--warmup S] [--measure S] [--value-bytes N] [--read-ratio R] [--config sync|nosync] [--csv FILE] [--chart DIR]</pre>
 */
public final class RatisBenchmark {
  private RatisBenchmark() {}

  /** The replicated map: applies each put; answers a query with the key's value. */
  static final class KvMachine extends BaseStateMachine {
    final Map<String, byte[]> map = new ConcurrentHashMap<>();

    @Override
    public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
      LogEntryProto entry = trx.getLogEntry();
      PutCodec.apply(entry.getStateMachineLogEntry().getLogData().asReadOnlyByteBuffer(), map);
      updateLastAppliedTermIndex(entry.getTerm(), entry.getIndex());
      return CompletableFuture.completedFuture(Message.EMPTY);
    }

    @Override
    public CompletableFuture<Message> query(Message request) {
      byte[] v = map.get(request.getContent().toString(StandardCharsets.US_ASCII));
      return CompletableFuture.completedFuture(v == null ? Message.EMPTY : Message.valueOf(ByteString.copyFrom(v)));
    }
  }

  public static void main(String[] args) throws Exception {
    Bench.Options o = Bench.parse(args, Map.of("config", "sync"));
    String config = o.extra("config");
    if (!List.of("sync", "nosync").contains(config)) throw new IllegalArgumentException("--config sync|nosync");
    boolean sync = config.equals("sync");
    BenchResult.Setup setup = new BenchResult.Setup("ratis", "ratis/segmented-" + config + "/submit", "segmented", "submit", "grpc", sync,
        o.valueBytes(), o.readRatio());
    int status = 0;
    try {
      Bench.runAll(o, sync, (load, floor) -> run(load, floor, setup, sync));
    } catch (Exception | Error e) {
      e.printStackTrace();
      status = 1;
    }
    System.exit(status); // gRPC and Ratis executors may outlive the servers
  }

  static BenchResult run(LoadDriver.Load load, Floor floor, BenchResult.Setup setup, boolean sync) throws Exception {
    Path data = Files.createTempDirectory("ratis-bench");
    List<RaftServer> servers = new ArrayList<>();
    try {
      List<RaftPeer> peers = new ArrayList<>();
      for (int i = 1; i <= 3; i++) {
        try (ServerSocket s = new ServerSocket(0)) {
          peers.add(RaftPeer.newBuilder().setId("n" + i).setAddress("127.0.0.1:" + s.getLocalPort()).build());
        }
      }
      RaftGroup group = RaftGroup.valueOf(RaftGroupId.randomId(), peers);
      for (RaftPeer peer : peers) {
        RaftProperties p = new RaftProperties();
        RaftServerConfigKeys.setStorageDir(p, List.of(new File(data.toFile(), peer.getId().toString())));
        GrpcConfigKeys.Server.setPort(p, Integer.parseInt(peer.getAddress().substring(peer.getAddress().lastIndexOf(':') + 1)));
        RaftServerConfigKeys.Read.setOption(p, RaftServerConfigKeys.Read.Option.LINEARIZABLE);
        if (!sync) RaftServerConfigKeys.Log.setUnsafeFlushEnabled(p, true);
        servers.add(RaftServer.newBuilder().setServerId(peer.getId()).setGroup(group).setProperties(p).setStateMachine(new KvMachine())
            .setOption(RaftStorage.StartupOption.FORMAT).build());
      }
      for (RaftServer s : servers) s.start();
      // Requests go to the leader found here, or to the one that leads after a request was refused as not the leader's.
      AtomicReference<RaftServer> current = new AtomicReference<>(awaitLeader(servers, group));
      ClientId[] clientIds = new ClientId[load.clients()];
      for (int c = 0; c < clientIds.length; c++) clientIds[c] = ClientId.randomId();
      AtomicLong callIds = new AtomicLong();
      LoadDriver.Operation operation = (client, key, value) -> {
        RaftServer leader = current.get();
        RaftClientRequest request = RaftClientRequest.newBuilder().setClientId(clientIds[client]).setServerId(leader.getId())
            .setGroupId(group.getGroupId()).setCallId(callIds.incrementAndGet())
            .setMessage(Message.valueOf(ByteString.copyFrom(
                value == null ? key.getBytes(StandardCharsets.US_ASCII) : PutCodec.encode(key, value))))
            .setType(value == null ? RaftClientRequest.readRequestType() : RaftClientRequest.writeRequestType()).build();
        return leader.submitClientRequestAsync(request).thenApply(reply -> {
          if (reply.isSuccess()) return reply;
          if (reply.getNotLeaderException() != null || reply.getLeaderNotReadyException() != null) follow(servers, group, current);
          throw new CompletionException(reply.getException());
        });
      };
      LoadDriver.Measurement m = LoadDriver.run(load, operation, new LoadDriver.Phases() {});
      return new BenchResult(setup, m, floor, List.of(), "");
    } finally {
      for (RaftServer s : servers) {
        try {
          s.close();
        } catch (Exception e) {
          System.err.println("[bench] closing " + s.getId() + ": " + e);
        }
      }
      PutCodec.delete(data);
    }
  }

  /** Points {@code current} at the server that leads now, if one does. */
  private static void follow(List<RaftServer> servers, RaftGroup group, AtomicReference<RaftServer> current) {
    for (RaftServer s : servers) {
      try {
        if (s.getDivision(group.getGroupId()).getInfo().isLeader()) current.set(s);
      } catch (java.io.IOException e) {
        // closed: not the leader
      }
    }
  }

  /** The server that leads and is ready, once it has answered a put of its own. */
  private static RaftServer awaitLeader(List<RaftServer> servers, RaftGroup group) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      for (RaftServer s : servers) {
        RaftServer.Division d = s.getDivision(group.getGroupId());
        if (!d.getInfo().isLeader() || !d.getInfo().isLeaderReady()) continue;
        RaftClientRequest probe = RaftClientRequest.newBuilder().setClientId(ClientId.randomId()).setServerId(s.getId())
            .setGroupId(group.getGroupId()).setCallId(0)
            .setMessage(Message.valueOf(ByteString.copyFrom(PutCodec.encode("probe", new byte[1]))))
            .setType(RaftClientRequest.writeRequestType()).build();
        if (s.submitClientRequestAsync(probe).get(10, TimeUnit.SECONDS).isSuccess()) return s;
      }
      TimeUnit.MILLISECONDS.sleep(50);
    }
    throw new IllegalStateException("no Ratis leader within 30 s");
  }
}
