package io.raftactors.examples.bench;

import akka.actor.typed.ActorRef;
import com.typesafe.config.ConfigFactory;
import io.raftactors.actor.RaftNode;
import io.raftactors.examples.kv.KvCommand;
import io.raftactors.examples.kv.KvStateMachine;
import io.raftactors.persistence.SegmentStorage;
import io.raftactors.testkit.RaftTestKit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Many Raft groups on three nodes, in one JVM: N groups of three members (member n1 of every group
 * on node 1, and so on), each group in an ActorSystem of its own with local messages, its leader
 * taking puts of 100 bytes from {@code --clients-per-group} clients (one request outstanding each).
 * With {@code --layout shared} the members on one node keep their logs in the node's one segment log
 * (a writer thread and one fdatasync per batch for all its groups, as {@code SegmentStorage.start}
 * does); with {@code separate} every member has a segment log of its own. Prints ops/s, latency
 * percentiles, and syncs per second and writes per sync of all the logs.
 *
 * <pre>java -Xms2g -Xmx2g -cp examples/target/raft-kv.jar io.raftactors.examples.bench.MultiGroupBenchmark [--groups 1,4,16] [--clients-per-group 8] [--layout shared,separate] [--warmup 10] [--measure 10]</pre>
 */
public final class MultiGroupBenchmark {
  private MultiGroupBenchmark() {}

  /** One measurement: a layout and a number of groups. */
  record Result(String layout, int groups, LoadDriver.Measurement load, double syncsPerSecond, double writesPerSync) {
    String line() {
      return String.format(Locale.ROOT,
          "layout=%s groups=%d clients=%d ops/s=%.0f p50=%.2fms p99=%.2fms errors=%d syncs/s=%.0f writes/sync=%.2f",
          layout, groups, load.clients(), load.opsPerSecond(), load.ms(50), load.ms(99), load.errors(), syncsPerSecond,
          writesPerSync);
    }
  }

  public static void main(String[] args) throws Exception {
    List<Integer> groups = List.of(1, 4, 16);
    List<String> layouts = List.of("shared", "separate");
    int perGroup = 8;
    int warmup = 10;
    int measure = 10;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--groups" -> {
          groups = new ArrayList<>();
          for (String g : args[++i].split(",")) groups.add(Integer.parseInt(g.trim()));
        }
        case "--layout" -> layouts = List.of(args[++i].split(","));
        case "--clients-per-group" -> perGroup = Integer.parseInt(args[++i]);
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        case "--measure" -> measure = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i] + "; usage: MultiGroupBenchmark "
            + "[--groups 1,4,16] [--clients-per-group 8] [--layout shared,separate] [--warmup S] [--measure S]");
      }
    }
    for (int g : groups) {
      if (g < 1) throw new IllegalArgumentException("a group count is at least 1, was " + g);
      for (String layout : layouts) {
        if (!layout.equals("shared") && !layout.equals("separate")) {
          throw new IllegalArgumentException("--layout takes shared and/or separate, was " + layout);
        }
        Path data = Files.createTempDirectory("multi-group-bench");
        try {
          System.out.println(run(data, layout, g, new LoadDriver.Load(g * perGroup, warmup, measure, 100, 0)).line());
        } finally {
          Bench.deleteTree(data);
        }
      }
    }
    System.exit(0);
  }

  /** Runs {@code groups} groups with their logs in {@code data}, under {@code load} spread over them. */
  static Result run(Path data, String layout, int groups, LoadDriver.Load load) throws Exception {
    List<SegmentStorage> storages = Collections.synchronizedList(new ArrayList<>());
    List<RaftTestKit> kits = new ArrayList<>();
    try {
      for (int g = 0; g < groups; g++) {
        kits.add(RaftTestKit.builder().members(3).groupId("g" + g)
            .stateMachine(id -> new KvStateMachine())
            .storage((system, s) -> {
              Path dir = layout.equals("shared") ? data.resolve(s.memberId()) : data.resolve(s.groupId()).resolve(s.memberId());
              SegmentStorage storage = new SegmentStorage(dir, 8L << 20, true, s.bootstrapConfig(), s.groupId() + "/" + s.memberId());
              storages.add(storage);
              return storage;
            })
            .config(ConfigFactory.parseString(String.join("\n",
                "akka.loglevel = WARNING",
                KvBenchmark.ONE_DISPATCHER,
                "raft.membership.transfer-leadership-on-shutdown = off")))
            .start());
      }
      AtomicReferenceArray<String> leaders = new AtomicReferenceArray<>(groups);
      List<ReplyActors> replies = new ArrayList<>();
      for (int g = 0; g < groups; g++) {
        leaders.set(g, kits.get(g).awaitLeader());
        replies.add(new ReplyActors(kits.get(g).system(), load.clients()));
      }
      // Client c writes to group c % groups, on the member it last knew to lead.
      LoadDriver.Operation put = (client, key, value) -> {
        int g = client % groups;
        RaftTestKit kit = kits.get(g);
        ActorRef<RaftNode.Command> target = kit.node(leaders.get(g));
        KvCommand cmd = new KvCommand.Put(key, LoadDriver.text(value));
        return replies.get(g).<RaftNode.ProposeReply>send(client, target, rt -> new RaftNode.Propose(cmd, rt)).thenApply(r -> {
          if (r instanceof RaftNode.NotLeader nl && nl.leaderId() != null) leaders.set(g, nl.leaderId());
          if (!(r instanceof RaftNode.Applied)) throw new CompletionException(new IllegalStateException(String.valueOf(r)));
          return r;
        });
      };
      long[][] totals = new long[2][];
      LoadDriver.Measurement m = LoadDriver.run(load, put, new LoadDriver.Phases() {
        @Override
        public void measureStarting() {
          totals[0] = logTotals();
        }

        @Override
        public void measureEnded() {
          totals[1] = logTotals();
        }

        private long[] logTotals() {
          synchronized (storages) {
            return SharedLogBenchmark.logTotals(storages);
          }
        }
      });
      long[] before = totals[0];
      long[] after = totals[1];
      long syncs = after[0] - before[0];
      long writes = after[1] - before[1];
      return new Result(layout, groups, m, syncs / m.seconds(), syncs == 0 ? 0 : (double) writes / syncs);
    } finally {
      for (RaftTestKit k : kits) k.close();
    }
  }

}
