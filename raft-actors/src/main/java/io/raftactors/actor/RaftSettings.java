package io.raftactors.actor;

import akka.actor.Address;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValue;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.RaftConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiFunction;

/**
 * Settings of one Raft node, read from the {@code raft} section of a Config (see reference.conf
 * for every key and its default). Construction validates everything and fails with an
 * {@link IllegalArgumentException} whose message names the offending key.
 */
public final class RaftSettings {
  private final String groupId;
  private final String memberId;
  private final Map<String, Address> members;
  private final java.util.List<String> initialVoters;
  private final boolean transferOnShutdown;
  private final Duration transferTimeout;
  private final Duration tickInterval;
  private final RaftConfig core;
  private final Duration restartBackoffMin;
  private final Duration restartBackoffMax;
  private final Duration recoveryTimeout;
  private final long snapshotAfterEntries;
  private final long snapshotAfterBytes;
  private final int snapshotCatchUpEntries;
  private final long snapshotCatchUpBytes;
  private final boolean bootstrapChecked;
  private final boolean bootstrapJoin;
  private final Duration sessionTimeout;
  private final int maxIdempotencyKeys;
  private final long maxIdempotencyKeyBytes;
  private final int maxPendingProposals;
  private final long maxPendingBytes;
  private final java.util.List<String> unknownKeys;

  private RaftSettings(Config raft) {
    this.unknownKeys = unknownKeys(raft);
    this.groupId = nonBlank(raft, "group-id");
    this.memberId = nonBlank(raft, "member-id");
    this.members = readMembers(raft);
    if (!members.containsKey(memberId)) {
      throw new IllegalArgumentException(
          "raft.member-id '" + memberId + "' is not one of raft.members " + members.keySet());
    }
    java.util.List<String> initial = read(raft, "initial-voters", Config::getStringList);
    if (initial.isEmpty()) initial = new ArrayList<>(members.keySet());
    for (String v : initial) {
      if (!members.containsKey(v)) {
        throw new IllegalArgumentException("raft.initial-voters: '" + v + "' is not one of raft.members " + members.keySet());
      }
    }
    this.initialVoters = java.util.List.copyOf(new java.util.TreeSet<>(initial));
    this.transferOnShutdown = bool(raft, "membership.transfer-leadership-on-shutdown");
    this.transferTimeout = duration(raft, "membership.transfer-timeout");
    this.tickInterval = duration(raft, "tick-interval");
    Duration minTime = duration(raft, "election-timeout-min");
    Duration maxTime = duration(raft, "election-timeout-max");
    Duration heartbeatTime = duration(raft, "heartbeat-interval");
    int min = ticks("election-timeout-min", minTime);
    int max = ticks("election-timeout-max", maxTime);
    int heartbeat = ticks("heartbeat-interval", heartbeatTime);
    // Checked here, in the units they were given in; the core checks the same in ticks.
    if (minTime.compareTo(maxTime) > 0) {
      throw new IllegalArgumentException(key("election-timeout-min") + " (" + text(minTime) + ") must not exceed "
          + key("election-timeout-max") + " (" + text(maxTime) + ")");
    }
    if (heartbeatTime.compareTo(minTime) >= 0 || heartbeat >= min) {
      throw new IllegalArgumentException(key("heartbeat-interval") + " (" + inTicks(heartbeatTime, heartbeat)
          + ") must be smaller than " + key("election-timeout-min") + " (" + inTicks(minTime, min)
          + "): a leader must reach its followers well within their election timeout");
    }
    boolean checkQuorum = bool(raft, "check-quorum");
    int leaseTicks = 0;
    double drift = read(raft, "lease-clock-drift-bound", Config::getDouble);
    if (!(drift >= 1.0) || drift > 2.0) {
      throw new IllegalArgumentException("raft.lease-clock-drift-bound must be within 1.0 and 2.0, was " + drift);
    }
    if (bool(raft, "lease-reads")) {
      if (!checkQuorum) {
        // T6.4.1-04: followers must ignore candidates while they hear from the leader, or a lease means nothing.
        throw new IllegalArgumentException("raft.lease-reads = on requires raft.check-quorum = on");
      }
      leaseTicks = (int) Math.floor(min / drift);
      if (leaseTicks < 1) throw new IllegalArgumentException("raft.lease-reads: the lease would be shorter than one tick");
    }
    this.core = new RaftConfig(min, max, heartbeat,
        bool(raft, "pre-vote"), checkQuorum, bool(raft, "conflict-hint"),
        positiveInt(raft, "max-entries-per-append"), (int) Math.min(Integer.MAX_VALUE, bytes(raft, "max-bytes-per-append")),
        positiveInt(raft, "max-inflight-appends"),
        (int) Math.min(Integer.MAX_VALUE, bytes(raft, "snapshot.chunk-size")), leaseTicks,
        positiveInt(raft, "membership.catch-up-rounds"), positiveInt(raft, "max-inflight-partial-appends"));
    this.sessionTimeout = duration(raft, "sessions.timeout");
    this.maxIdempotencyKeys = positiveInt(raft, "sessions.max-idempotency-keys");
    this.maxIdempotencyKeyBytes = bytes(raft, "sessions.max-idempotency-key-bytes");
    this.maxPendingProposals = positiveInt(raft, "flow-control.max-pending-proposals");
    this.maxPendingBytes = bytes(raft, "flow-control.max-pending-bytes");
    this.snapshotAfterEntries = nonNegative(raft, "snapshot.after-entries", Config::getLong, "off");
    this.snapshotAfterBytes = bytes(raft, "snapshot.after-bytes");
    this.snapshotCatchUpEntries = nonNegative(raft, "snapshot.catch-up-entries", Config::getInt, "none kept");
    this.snapshotCatchUpBytes = nonNegative(raft, "snapshot.catch-up-bytes", Config::getBytes, "none kept");
    this.restartBackoffMin = duration(raft, "restart-backoff.min");
    this.restartBackoffMax = duration(raft, "restart-backoff.max");
    this.recoveryTimeout = duration(raft, "recovery-timeout");
    String bootstrap = read(raft, "bootstrap", Config::getString);
    if (!bootstrap.equals("checked") && !bootstrap.equals("unchecked") && !bootstrap.equals("join")) {
      throw new IllegalArgumentException("raft.bootstrap must be 'checked', 'unchecked' or 'join', was '" + bootstrap + "'");
    }
    if (bootstrap.equals("join") && initialVoters.equals(java.util.List.of(memberId))) {
      throw new IllegalArgumentException("raft.bootstrap = join needs other members to join; a group of one founds itself");
    }
    this.bootstrapChecked = bootstrap.equals("checked");
    // A member that is not a founding voter can only join: founding a group it is not part of makes no sense.
    this.bootstrapJoin = bootstrap.equals("join") || !initialVoters.contains(memberId);
  }

  /**
   * Reads the {@code raft} section of {@code config} (which should include reference.conf). A key
   * under {@code raft} that no reference.conf defines (a typo such as {@code election-timout-min},
   * which would otherwise leave the default in force without a word) is logged at WARN, once per
   * key in this JVM; {@link #unknownKeys} lists them.
   */
  public static RaftSettings fromConfig(Config config) {
    if (!config.hasPath("raft")) throw new IllegalArgumentException("missing configuration section 'raft'");
    Config raft = config.getConfig("raft");
    // Before validating: an unknown key may be the reason why a known one is invalid.
    for (String k : unknownKeys(raft)) {
      if (WARNED.add(k)) LOG.warn("{} is not a raft setting and is ignored{} (every setting is in reference.conf)", k, suggestion(k));
    }
    return new RaftSettings(raft);
  }

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(RaftSettings.class);
  /** Unknown keys already warned about: a node reads its settings more than once. */
  private static final java.util.Set<String> WARNED = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** The known settings: the {@code raft} section of every reference.conf on the classpath. */
  private static Config reference() {
    Config ref = ConfigFactory.defaultReference(RaftSettings.class.getClassLoader());
    return ref.hasPath("raft") ? ref.getConfig("raft") : ConfigFactory.empty();
  }

  /** Keys of {@code raft} that reference.conf does not define; any key under {@code members} is a member. */
  private static java.util.List<String> unknownKeys(Config raft) {
    Config known = reference();
    java.util.List<String> out = new ArrayList<>();
    for (Map.Entry<String, ConfigValue> e : raft.entrySet()) {
      String path = e.getKey();
      if (path.startsWith("members.")) continue;
      boolean isKnown;
      try {
        isKnown = known.hasPathOrNull(path);
      } catch (ConfigException ex) {
        isKnown = false;
      }
      if (!isKnown) out.add(key(path));
    }
    java.util.Collections.sort(out);
    return java.util.List.copyOf(out);
  }

  /** ": did you mean raft.x?" for the known setting nearest to {@code unknown}, if one is near. */
  private static String suggestion(String unknown) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (Map.Entry<String, ConfigValue> e : reference().entrySet()) {
      int d = editDistance(unknown, key(e.getKey()));
      if (d < bestDistance) {
        bestDistance = d;
        best = key(e.getKey());
      }
    }
    return best != null && bestDistance <= 3 ? "; did you mean " + best + "?" : "";
  }

  private static int editDistance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) prev[j] = j;
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitute = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(substitute, Math.min(prev[j] + 1, cur[j - 1] + 1));
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  /** Keys under {@code raft} that no reference.conf defines, such as misspelled settings; they have no effect. */
  public java.util.List<String> unknownKeys() {
    return unknownKeys;
  }

  public String groupId() {
    return groupId;
  }

  public String memberId() {
    return memberId;
  }

  /**
   * Member id -> address of its ActorSystem, sorted by id: every member this node knows how to reach
   * from its settings (members added at run time bring their address in the configuration).
   */
  public Map<String, Address> members() {
    return members;
  }

  /** The voters a new group is founded with: raft.initial-voters, or every member of raft.members. */
  public java.util.List<String> initialVoters() {
    return initialVoters;
  }

  public ClusterConfig bootstrapConfig() {
    return new ClusterConfig(initialVoters);
  }

  /** raft.membership.transfer-leadership-on-shutdown: a leader hands over before its ActorSystem stops. */
  public boolean transferOnShutdown() {
    return transferOnShutdown;
  }

  /** raft.membership.transfer-timeout: how long a transfer on shutdown may take before the node stops anyway. */
  public Duration transferTimeout() {
    return transferTimeout;
  }

  public Duration tickInterval() {
    return tickInterval;
  }

  /** The core's settings, in ticks. */
  public RaftConfig core() {
    return core;
  }

  /** Entries applied since the last snapshot that trigger the next one; 0 turns snapshots off. */
  public long snapshotAfterEntries() {
    return snapshotAfterEntries;
  }

  /** Bytes of entries applied since the last snapshot that trigger the next one. */
  public long snapshotAfterBytes() {
    return snapshotAfterBytes;
  }

  /** At most this many of the entries a snapshot covers stay in memory for followers a little behind; 0: none. */
  public int snapshotCatchUpEntries() {
    return snapshotCatchUpEntries;
  }

  /** ... and at most this many bytes of them. */
  public long snapshotCatchUpBytes() {
    return snapshotCatchUpBytes;
  }

  /**
   * {@code raft.bootstrap = checked}: a node whose storage is empty founds the group only after
   * every other member has answered that it is still in term 0 (it refuses, and stays silent, if
   * one is past it); {@code unchecked}: it founds at once.
   */
  public boolean bootstrapChecked() {
    return bootstrapChecked;
  }

  /** A client session idle this long (in logged time) expires. */
  public Duration sessionTimeout() {
    return sessionTimeout;
  }

  /** The leader refuses proposals with a new idempotency key while it keeps this many keys. */
  public int maxIdempotencyKeys() {
    return maxIdempotencyKeys;
  }

  /** ... or while the keys and their cached answers take this many bytes. */
  public long maxIdempotencyKeyBytes() {
    return maxIdempotencyKeyBytes;
  }

  /** Backpressure: the most proposals a leader holds appended but not yet answered. */
  public int maxPendingProposals() {
    return maxPendingProposals;
  }

  /** Backpressure: the most bytes of such proposals. */
  public long maxPendingBytes() {
    return maxPendingBytes;
  }

  /**
   * {@code raft.bootstrap = join}: on empty storage the node writes nothing and neither campaigns
   * nor counts as a voter until it receives the group's configuration from the leader.
   */
  public boolean bootstrapJoin() {
    return bootstrapJoin;
  }

  /** How a node with empty storage starts: {@code raft.bootstrap} (and {@code raft.initial-voters}) as one value. */
  public io.raftactors.core.Bootstrap.Mode bootstrapMode() {
    if (bootstrapJoin) return io.raftactors.core.Bootstrap.Mode.JOIN;
    return bootstrapChecked ? io.raftactors.core.Bootstrap.Mode.CHECKED : io.raftactors.core.Bootstrap.Mode.UNCHECKED;
  }

  public Duration restartBackoffMin() {
    return restartBackoffMin;
  }

  public Duration restartBackoffMax() {
    return restartBackoffMax;
  }

  /** How long one attempt to read the node's state from storage may take before it fails and is retried. */
  public Duration recoveryTimeout() {
    return recoveryTimeout;
  }

  /** Name of the node actor; the same on every member so peers can address each other. */
  public String actorName() {
    return actorName(groupId, memberId);
  }

  static String actorName(String groupId, String memberId) {
    return "raft-" + groupId + "-" + memberId;
  }

  // ------------------------------------------------------------------ parsing with named errors

  private static String key(String k) {
    return "raft." + k;
  }

  /** Reads one value, turning a missing or mistyped setting into an error that names it. */
  private static <T> T read(Config c, String k, BiFunction<Config, String, T> getter) {
    try {
      return getter.apply(c, k);
    } catch (ConfigException e) {
      throw new IllegalArgumentException(key(k) + ": " + e.getMessage(), e);
    }
  }

  /** A number that may be 0 ({@code zero} says what 0 means) but not negative. */
  private static <T extends Number> T nonNegative(Config c, String k, BiFunction<Config, String, T> getter, String zero) {
    T v = read(c, k, getter);
    if (v.longValue() < 0) throw new IllegalArgumentException(key(k) + " must be 0 (" + zero + ") or positive, was " + v);
    return v;
  }

  private static String nonBlank(Config c, String k) {
    String v = read(c, k, Config::getString);
    if (v.isBlank()) throw new IllegalArgumentException(key(k) + " must be set");
    if (!v.matches("[A-Za-z0-9_-]+")) {
      throw new IllegalArgumentException(key(k) + " '" + v + "' may contain only letters, digits, '-' and '_'");
    }
    return v;
  }

  private static Map<String, Address> readMembers(Config c) {
    Map<String, Address> out = new TreeMap<>();
    Config m = read(c, "members", Config::getConfig);
    for (Map.Entry<String, ConfigValue> e : m.root().entrySet()) {
      String id = e.getKey();
      if (!id.matches("[A-Za-z0-9_-]+")) {
        throw new IllegalArgumentException(key("members") + ": member id '" + id + "' may contain only letters, digits, '-' and '_'");
      }
      Object raw = e.getValue().unwrapped();
      if (!(raw instanceof String s)) {
        throw new IllegalArgumentException(key("members." + id) + " must be an Akka address string such as \"akka://raft@127.0.0.1:2551\"");
      }
      try {
        Address a = NodeAddress.parse(s);
        if (a.host().isEmpty() != a.port().isEmpty()) throw new IllegalArgumentException("host without port or port without host");
        out.put(id, a);
      } catch (IllegalArgumentException ex) {
        throw new IllegalArgumentException(key("members." + id) + ": '" + s + "' is not an Akka address such as \"akka://raft@127.0.0.1:2551\" ("
            + (ex.getCause() != null ? ex.getCause().getMessage() : ex.getMessage()) + ")", ex);
      }
    }
    if (out.isEmpty()) throw new IllegalArgumentException(key("members") + " must list at least one member");
    return out;
  }

  private static Duration duration(Config c, String k) {
    Duration d = read(c, k, Config::getDuration);
    if (d.isZero() || d.isNegative()) throw new IllegalArgumentException(key(k) + " must be positive, was " + d);
    return d;
  }

  private int ticks(String k, Duration d) {
    long t = d.toNanos() / tickInterval.toNanos();
    if (t < 1) {
      throw new IllegalArgumentException(key(k) + " (" + text(d) + ") must be at least raft.tick-interval ("
          + text(tickInterval) + ")");
    }
    return (int) Math.min(Integer.MAX_VALUE, t);
  }

  /** A duration as a setting would give it: "300ms", "250us". */
  private static String text(Duration d) {
    long nanos = d.toNanos();
    if (nanos % 1_000_000 == 0) return (nanos / 1_000_000) + "ms";
    if (nanos % 1_000 == 0) return (nanos / 1_000) + "us";
    return nanos + "ns";
  }

  /** "45ms", and the whole ticks it counts as when that is not exact: "45ms = 4 ticks of 10ms". */
  private String inTicks(Duration d, int ticks) {
    if (d.equals(tickInterval.multipliedBy(ticks))) return text(d);
    return text(d) + " = " + ticks + " ticks of raft.tick-interval " + text(tickInterval);
  }

  private static boolean bool(Config c, String k) {
    return read(c, k, Config::getBoolean);
  }

  private static int positiveInt(Config c, String k) {
    int v = read(c, k, Config::getInt);
    if (v <= 0) throw new IllegalArgumentException(key(k) + " must be positive, was " + v);
    return v;
  }

  private static long bytes(Config c, String k) {
    long v = read(c, k, Config::getBytes);
    if (v <= 0) throw new IllegalArgumentException(key(k) + " must be positive, was " + v);
    return v;
  }

  @Override
  public String toString() {
    return "RaftSettings{group=" + groupId + ", member=" + memberId + ", members=" + members.keySet()
        + ", tick=" + tickInterval.toMillis() + "ms, " + core + "}";
  }
}
