package io.raftactors.examples.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.raftactors.actor.NodeMetrics;
import io.raftactors.actor.RaftMetrics;
import io.raftactors.actor.RaftNode;
import io.raftactors.core.Role;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link RaftMeterBinder} in the Prometheus text format: each value of the latest snapshot under its
 * name, tagged with the group and the member; a follower's series appear with the follower and go
 * when it does; gauges are NaN and counters 0 before the first snapshot.
 */
class RaftMeterBinderTest {
  private static final NodeMetrics.Summary WRITE = new NodeMetrics.Summary(4, 750.0, 600, 900, 1500, 1500, 1500);

  static RaftMetrics snapshot(Role role, long commit, Map<String, RaftMetrics.Follower> followers) {
    RaftMetrics.Counters c = new RaftMetrics.Counters(1_700_000_000_000L, 0, 3, 2, 1, 2, 7, 1, 0, 0, 4, 0, 2, 1, 0, 0);
    NodeMetrics.Snapshot w = new NodeMetrics.Snapshot("n1", 1_700_000_000_000L, Map.of(NodeMetrics.Stage.WRITE, WRITE),
        Map.of(), Map.of(), 4, 10, 8);
    return new RaftMetrics("kv", "n1", 1_700_000_001_000L, RaftNode.Phase.RUNNING, role, 5, "n1", commit, commit, 1,
        commit, 0, followers, c, w);
  }

  @Test
  void theLatestSnapshotIsServedUnderItsNamesAndFollowersComeAndGo() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    RaftMeterBinder binder = new RaftMeterBinder("kv", "n1");
    binder.bindTo(registry);
    String before = registry.scrape();
    assertTrue(before.contains("raft_commit_index{group=\"kv\",member=\"n1\"} NaN"), before);
    assertTrue(before.contains("raft_elections_won_total{group=\"kv\",member=\"n1\"} 0.0"), before);

    binder.accept(snapshot(Role.LEADER, 12, Map.of("n2", new RaftMetrics.Follower(12, 13, 0))));
    String s = registry.scrape();
    assertTrue(s.contains("raft_commit_index{group=\"kv\",member=\"n1\"} 12.0"), s);
    assertTrue(s.contains("raft_term{group=\"kv\",member=\"n1\"} 5.0"), s);
    assertTrue(s.contains("raft_log_entries{group=\"kv\",member=\"n1\"} 12.0"), s);
    assertTrue(s.contains("raft_role{group=\"kv\",member=\"n1\",role=\"leader\"} 1.0"), s);
    assertTrue(s.contains("raft_role{group=\"kv\",member=\"n1\",role=\"follower\"} 0.0"), s);
    assertTrue(s.contains("raft_phase{group=\"kv\",member=\"n1\",phase=\"running\"} 1.0"), s);
    assertTrue(s.contains("raft_pre_vote_rounds_total{group=\"kv\",member=\"n1\"} 3.0"), s);
    assertTrue(s.contains("raft_elections_started_total{group=\"kv\",member=\"n1\"} 2.0"), s);
    assertTrue(s.contains("raft_proposals_total{group=\"kv\",member=\"n1\",outcome=\"accepted\"} 7.0"), s);
    assertTrue(s.contains("raft_proposals_total{group=\"kv\",member=\"n1\",outcome=\"not_leader\"} 1.0"), s);
    assertTrue(s.contains("raft_reads_total{consistency=\"linearizable\",group=\"kv\",member=\"n1\"} 4.0"), s);
    assertTrue(s.contains("raft_reads_total{consistency=\"stale\",group=\"kv\",member=\"n1\"} 2.0"), s);
    String p99 = "raft_stage_latency_seconds{group=\"kv\",member=\"n1\",quantile=\"0.99\",stage=\"write\"} 0.0015";
    assertTrue(s.contains(p99), s);
    assertTrue(s.contains("raft_stage_latency_max_seconds{group=\"kv\",member=\"n1\",stage=\"write\"} 0.0015"), s);
    assertTrue(s.contains("raft_storage_writes_per_committed_entry{group=\"kv\",member=\"n1\"} 0.5"), s);
    assertTrue(s.contains("raft_follower_lag{follower=\"n2\",group=\"kv\",member=\"n1\"} 0.0"), s);
    assertTrue(s.contains("raft_follower_match_index{follower=\"n2\",group=\"kv\",member=\"n1\"} 12.0"), s);

    binder.accept(snapshot(Role.LEADER, 20, Map.of("n2", new RaftMetrics.Follower(20, 21, 0),
        "n4", new RaftMetrics.Follower(0, 1, 20))));
    s = registry.scrape();
    assertTrue(s.contains("raft_follower_lag{follower=\"n4\",group=\"kv\",member=\"n1\"} 20.0"), "new follower: " + s);
    assertEquals(2, s.lines().filter(l -> l.startsWith("raft_follower_lag{")).count(), s);

    binder.accept(snapshot(Role.FOLLOWER, 21, Map.of()));
    s = registry.scrape();
    assertFalse(s.contains("raft_follower_lag{"), "not leading: no follower series; " + s);
    assertTrue(s.contains("raft_role{group=\"kv\",member=\"n1\",role=\"follower\"} 1.0"), s);
  }
}
