package io.raftactors.examples.metrics;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.raftactors.actor.NodeMetrics;
import io.raftactors.actor.RaftMetrics;
import io.raftactors.actor.RaftNode;
import io.raftactors.actor.ReadConsistency;
import io.raftactors.core.Role;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.ToDoubleFunction;

/**
 * A node's {@link RaftMetrics} as Micrometer meters. It keeps the latest snapshot it was given
 * ({@link #accept}; subscribe it with {@link RaftNode#subscribeMetrics}) and its meters read that
 * snapshot whenever the registry is scraped. Every meter is tagged {@code group} and {@code member}.
 *
 * <p>In the Prometheus naming (dots become underscores, counters end in {@code _total}, units are
 * suffixed):
 *
 * <ul>
 *   <li>gauges {@code raft_term}, {@code raft_commit_index}, {@code raft_applied_index}, {@code
 *       raft_log_first_index}, {@code raft_log_last_index}, {@code raft_log_entries}, {@code
 *       raft_snapshot_index}, {@code raft_start_time_seconds};
 *   <li>{@code raft_role{role=...}} and {@code raft_phase{phase=...}}: 1 for the node's role (leader,
 *       follower, pre_candidate, candidate) and phase (running, recovering, ...), 0 for the others;
 *   <li>leaders: {@code raft_follower_match_index{follower=...}} and {@code
 *       raft_follower_lag{follower=...}} (entries the follower lacks) for each member the leader
 *       replicates to; a follower's series appear when it does and go when it does (or when the
 *       node stops leading);
 *   <li>counters {@code raft_pre_vote_rounds_total}, {@code raft_elections_started_total}, {@code
 *       raft_elections_won_total}, {@code raft_leader_changes_total}, {@code raft_restarts_total},
 *       {@code raft_proposals_total{outcome=accepted|not_leader|overloaded|invalid}}, {@code
 *       raft_reads_total{consistency=linearizable|lease|stale}} (reads answered with a result),
 *       {@code raft_reads_not_leader_total}, {@code raft_snapshots_taken_total}, {@code
 *       raft_snapshots_installed_total};
 *   <li>the write path since the node's incarnation started or the last reset ({@code
 *       raft_write_path_start_time_seconds}): {@code raft_stage_latency_seconds{stage,quantile}}
 *       (quantile 0.5, 0.9, 0.99), {@code raft_stage_latency_max_seconds{stage}}, {@code
 *       raft_stage_latency_mean_seconds{stage}}, {@code raft_stage_samples{stage}} for the stages of
 *       {@link NodeMetrics.Stage} (proposed_to_write, write: the storage write and its fsync,
 *       replication_round_trip, proposed_to_applied, apply); {@code raft_batch_size{size,quantile}},
 *       {@code raft_batch_size_max{size}}, {@code raft_batch_size_mean{size}} for entries_per_append,
 *       entries_per_write and bytes_per_write; {@code raft_storage_writes_per_committed_entry}.
 * </ul>
 *
 * <p>Gauges read NaN until the first snapshot arrives, counters 0.
 */
public final class RaftMeterBinder implements MeterBinder, Consumer<RaftMetrics> {
  private static final double[] QUANTILES = {0.5, 0.9, 0.99};

  private final Tags tags;
  private volatile RaftMetrics latest;
  private final List<MeterRegistry> registries = new CopyOnWriteArrayList<>();
  /** The meters of each follower, in every registry; changed only by {@link #accept} and {@link #bindTo}. */
  private final Map<String, List<Meter>> followerMeters = new HashMap<>();

  /** Meters for member {@code memberId} of group {@code groupId}: the values of its tags. */
  public RaftMeterBinder(String groupId, String memberId) {
    this.tags = Tags.of("group", groupId, "member", memberId);
  }

  /** The latest snapshot given, or null. */
  public RaftMetrics latest() {
    return latest;
  }

  /** Keeps {@code m} as the latest snapshot; a follower seen for the first time gets its meters. */
  @Override
  public synchronized void accept(RaftMetrics m) {
    latest = m;
    for (String follower : m.followers().keySet()) {
      if (!followerMeters.containsKey(follower)) {
        List<Meter> meters = new ArrayList<>();
        for (MeterRegistry r : registries) meters.addAll(registerFollower(r, follower));
        followerMeters.put(follower, meters);
      }
    }
    followerMeters.entrySet().removeIf(e -> {
      if (m.followers().containsKey(e.getKey())) return false;
      for (Meter meter : e.getValue()) for (MeterRegistry r : registries) r.remove(meter);
      return true;
    });
  }

  @Override
  public synchronized void bindTo(MeterRegistry registry) {
    registries.add(registry);
    gauge(registry, "raft.term", "The node's current term", null, Tags.empty(), RaftMetrics::term);
    gauge(registry, "raft.commit.index", "Highest log index known committed", null, Tags.empty(),
        RaftMetrics::commitIndex);
    gauge(registry, "raft.applied.index", "Highest log index applied to the state machine", null, Tags.empty(),
        RaftMetrics::lastApplied);
    gauge(registry, "raft.log.first.index", "First index held in memory (after the snapshot, or before it while entries are kept for followers)", null, Tags.empty(),
        RaftMetrics::firstIndex);
    gauge(registry, "raft.log.last.index", "Last index in the log", null, Tags.empty(), RaftMetrics::lastIndex);
    gauge(registry, "raft.log.entries", "Entries held in memory, those kept behind the snapshot included (the snapshot holds the rest)", null, Tags.empty(),
        RaftMetrics::logEntries);
    gauge(registry, "raft.snapshot.index", "Last index covered by the node's snapshot (0: none)", null, Tags.empty(),
        RaftMetrics::snapshotIndex);
    gauge(registry, "raft.start.time", "When the node actor started, since the epoch", "seconds", Tags.empty(),
        m -> m.counters().startedAtMillis() / 1000.0);
    for (Role role : Role.values()) {
      gauge(registry, "raft.role", "1 for the node's role, 0 for the others", null, Tags.of("role", lower(role)),
          m -> m.role() == role ? 1 : 0);
    }
    for (RaftNode.Phase phase : RaftNode.Phase.values()) {
      gauge(registry, "raft.phase", "1 for the node's phase, 0 for the others; only a running node takes part",
          null, Tags.of("phase", lower(phase)), m -> m.phase() == phase ? 1 : 0);
    }

    counter(registry, "raft.pre.vote.rounds", "Pre-vote rounds started", Tags.empty(),
        RaftMetrics.Counters::preVoteRounds);
    counter(registry, "raft.elections.started", "Elections started as a candidate", Tags.empty(),
        RaftMetrics.Counters::electionsStarted);
    counter(registry, "raft.elections.won", "Elections won", Tags.empty(), RaftMetrics.Counters::electionsWon);
    counter(registry, "raft.leader.changes", "Leaders of a newer term learned of", Tags.empty(),
        RaftMetrics.Counters::leaderChanges);
    counter(registry, "raft.restarts", "Restarts after a failed storage write or recovery", Tags.empty(),
        RaftMetrics.Counters::restarts);
    String proposals = "Commands proposed to this node, by outcome";
    counter(registry, "raft.proposals", proposals, Tags.of("outcome", "accepted"),
        RaftMetrics.Counters::proposalsAccepted);
    counter(registry, "raft.proposals", proposals, Tags.of("outcome", "not_leader"),
        RaftMetrics.Counters::proposalsNotLeader);
    counter(registry, "raft.proposals", proposals, Tags.of("outcome", "overloaded"),
        RaftMetrics.Counters::proposalsOverloaded);
    counter(registry, "raft.proposals", proposals, Tags.of("outcome", "invalid"),
        RaftMetrics.Counters::proposalsInvalid);
    for (ReadConsistency c : ReadConsistency.values()) {
      counter(registry, "raft.reads", "Reads answered with a result, by the consistency asked",
          Tags.of("consistency", lower(c)), counters -> counters.readsServed(c));
    }
    counter(registry, "raft.reads.not.leader", "Reads refused: no leader could serve them here", Tags.empty(),
        RaftMetrics.Counters::readsNotLeader);
    counter(registry, "raft.snapshots.taken", "Snapshots of the state machine taken", Tags.empty(),
        RaftMetrics.Counters::snapshotsTaken);
    counter(registry, "raft.snapshots.installed", "Snapshots installed from the leader", Tags.empty(),
        RaftMetrics.Counters::snapshotsInstalled);

    gauge(registry, "raft.write.path.start.time", "Start of the write path measurement, since the epoch", "seconds",
        Tags.empty(), m -> m.writePath().sinceMillis() / 1000.0);
    gauge(registry, "raft.storage.writes.per.committed.entry",
        "Storage writes (each with an fsync) per committed entry", null, Tags.empty(),
        m -> m.writePath().fsyncsPerCommittedEntry());
    for (NodeMetrics.Stage stage : NodeMetrics.Stage.values()) {
      Tags t = Tags.of("stage", lower(stage));
      for (double q : QUANTILES) {
        gauge(registry, "raft.stage.latency", "Latency of a write path stage, by quantile", "seconds",
            t.and("quantile", Double.toString(q)), m -> seconds(quantile(m.writePath().stages().get(stage), q)));
      }
      gauge(registry, "raft.stage.latency.max", "Longest latency of a write path stage", "seconds", t,
          m -> seconds(max(m.writePath().stages().get(stage))));
      gauge(registry, "raft.stage.latency.mean", "Mean latency of a write path stage", "seconds", t,
          m -> seconds(mean(m.writePath().stages().get(stage))));
      gauge(registry, "raft.stage.samples", "Latencies measured of a write path stage", null, t,
          m -> count(m.writePath().stages().get(stage)));
    }
    for (NodeMetrics.Size size : NodeMetrics.Size.values()) {
      Tags t = Tags.of("size", lower(size));
      for (double q : QUANTILES) {
        gauge(registry, "raft.batch.size", "Batch size (entries or bytes), by quantile", null,
            t.and("quantile", Double.toString(q)), m -> quantile(m.writePath().sizes().get(size), q));
      }
      gauge(registry, "raft.batch.size.max", "Largest batch", null, t, m -> max(m.writePath().sizes().get(size)));
      gauge(registry, "raft.batch.size.mean", "Mean batch size", null, t, m -> mean(m.writePath().sizes().get(size)));
    }

    RaftMetrics m = latest;
    if (m != null) {
      for (String follower : m.followers().keySet()) {
        followerMeters.computeIfAbsent(follower, f -> new ArrayList<>()).addAll(registerFollower(registry, follower));
      }
    }
  }

  private List<Meter> registerFollower(MeterRegistry registry, String follower) {
    Tags t = Tags.of("follower", follower);
    return List.of(
        gauge(registry, "raft.follower.match.index", "Leaders: highest index known replicated on the follower", null,
            t, m -> follower(m, follower, RaftMetrics.Follower::matchIndex)),
        gauge(registry, "raft.follower.lag", "Leaders: entries the follower lacks (last index - match index)", null, t,
            m -> follower(m, follower, RaftMetrics.Follower::lag)));
  }

  private static double follower(RaftMetrics m, String id, ToDoubleFunction<RaftMetrics.Follower> value) {
    RaftMetrics.Follower f = m.followers().get(id);
    return f == null ? Double.NaN : value.applyAsDouble(f);
  }

  private Gauge gauge(MeterRegistry registry, String name, String help, String unit, Tags extra,
      ToDoubleFunction<RaftMetrics> value) {
    return Gauge.builder(name, this, b -> {
          RaftMetrics m = b.latest;
          return m == null ? Double.NaN : value.applyAsDouble(m);
        })
        .description(help).baseUnit(unit).tags(tags.and(extra)).strongReference(true).register(registry);
  }

  private void counter(MeterRegistry registry, String name, String help, Tags extra,
      ToDoubleFunction<RaftMetrics.Counters> value) {
    FunctionCounter.builder(name, this, b -> {
          RaftMetrics m = b.latest;
          return m == null ? 0 : value.applyAsDouble(m.counters());
        })
        .description(help).tags(tags.and(extra)).register(registry);
  }

  private static String lower(Enum<?> e) {
    return e.name().toLowerCase(Locale.ROOT);
  }

  private static double seconds(double micros) {
    return micros / 1e6;
  }

  private static double quantile(NodeMetrics.Summary s, double q) {
    if (s == null) return Double.NaN;
    return q == 0.5 ? s.p50() : q == 0.9 ? s.p90() : s.p99();
  }

  private static double max(NodeMetrics.Summary s) {
    return s == null ? Double.NaN : s.max();
  }

  private static double mean(NodeMetrics.Summary s) {
    return s == null ? Double.NaN : s.mean();
  }

  private static double count(NodeMetrics.Summary s) {
    return s == null ? Double.NaN : s.count();
  }
}
