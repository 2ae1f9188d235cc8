package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** P5.6-01: invalid settings fail at start with an error that names the setting. */
class RaftSettingsTest {
  private static Config valid() {
    return ConfigFactory.parseString(String.join("\n",
            "raft.group-id = g",
            "raft.member-id = n1",
            "raft.members { n1 = \"akka://raft@127.0.0.1:2551\", n2 = \"akka://raft@127.0.0.1:2552\", n3 = \"akka://raft@127.0.0.1:2553\" }"))
        .withFallback(ConfigFactory.load());
  }

  @Test
  void validSettingsAreConvertedToTicks() {
    RaftSettings s = RaftSettings.fromConfig(valid());
    assertEquals(30, s.core().electionTimeoutMin());
    assertEquals(60, s.core().electionTimeoutMax());
    assertEquals(5, s.core().heartbeatInterval());
    assertTrue(s.core().preVote() && s.core().checkQuorum());
    assertEquals(3, s.bootstrapConfig().voters().size());
  }

  @Test
  void initialVotersFoundTheGroupAndEveryOtherMemberJoins() {
    Config c = ConfigFactory.parseString("raft.initial-voters = [n1, n2]").withFallback(valid());
    RaftSettings founder = RaftSettings.fromConfig(c);
    assertEquals(java.util.List.of("n1", "n2"), founder.bootstrapConfig().voters());
    assertTrue(!founder.bootstrapJoin(), "a founding voter founds");
    RaftSettings other = RaftSettings.fromConfig(ConfigFactory.parseString("raft.member-id = n3").withFallback(c));
    assertTrue(other.bootstrapJoin(), "a member outside raft.initial-voters joins");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RaftSettings.fromConfig(ConfigFactory.parseString("raft.initial-voters = [n1, n9]").withFallback(valid())));
    assertTrue(e.getMessage().contains("raft.initial-voters") && e.getMessage().contains("n9"), e.getMessage());
  }

  @ParameterizedTest(name = "{0} = {1}")
  @CsvSource(delimiter = '|', value = {
      "raft.heartbeat-interval | 300ms | raft.heartbeat-interval",
      "raft.heartbeat-interval | 500ms | raft.heartbeat-interval",
      "raft.election-timeout-min | 700ms | raft.election-timeout-min",
      "raft.election-timeout-min | 0ms | raft.election-timeout-min",
      "raft.heartbeat-interval | 0s | raft.heartbeat-interval",
      "raft.tick-interval | 0ms | raft.tick-interval",
      "raft.election-timeout-max | 5ms | raft.election-timeout-max",
      "raft.max-inflight-appends | 0 | raft.max-inflight-appends",
      "raft.max-entries-per-append | -1 | raft.max-entries-per-append",
      "raft.max-bytes-per-append | 0 | raft.max-bytes-per-append",
      "raft.pre-vote | maybe | raft.pre-vote",
      "raft.member-id | n7 | raft.member-id",
      "raft.group-id | '' | raft.group-id",
      "raft.group-id | 'a/b' | raft.group-id",
      "raft.members.n2 | not-an-address | raft.members.n2",
      "raft.snapshot.chunk-size | 0 | raft.snapshot.chunk-size",
      "raft.snapshot.after-entries | -5 | raft.snapshot.after-entries",
      "raft.snapshot.after-bytes | 0 | raft.snapshot.after-bytes",
      "raft.snapshot.catch-up-entries | -1 | raft.snapshot.catch-up-entries",
      "raft.snapshot.catch-up-bytes | -1 | raft.snapshot.catch-up-bytes",
      "raft.snapshot.catch-up-entries | many | raft.snapshot.catch-up-entries",
      "raft.bootstrap | maybe | raft.bootstrap",
      "raft.sessions.timeout | 0s | raft.sessions.timeout",
      "raft.lease-clock-drift-bound | 0.5 | raft.lease-clock-drift-bound",
      "raft.membership.catch-up-rounds | 0 | raft.membership.catch-up-rounds",
      "raft.membership.transfer-timeout | 0s | raft.membership.transfer-timeout",
      "raft.membership.transfer-leadership-on-shutdown | maybe | raft.membership.transfer-leadership-on-shutdown",
  })
  void timing_P5_6_01_invalidSettingsFailNamingTheSetting(String key, String value, String named) {
    Config bad = ConfigFactory.parseString(key + " = \"" + value.replace("'", "") + "\"").withFallback(valid());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RaftSettings.fromConfig(bad));
    assertTrue(e.getMessage().contains(named), "error does not name " + named + ": " + e.getMessage());
  }

  @Test
  void aMissingRaftSectionIsReported() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RaftSettings.fromConfig(ConfigFactory.empty()));
    assertTrue(e.getMessage().contains("raft"));
  }

  @Test
  void reads_T6_4_1_04_leaseReadsWithoutCheckQuorumAreRejected() {
    Config bad = ConfigFactory.parseString("raft.lease-reads = on\nraft.check-quorum = off").withFallback(valid());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RaftSettings.fromConfig(bad));
    assertTrue(e.getMessage().contains("raft.check-quorum"), e.getMessage());
  }

  @Test
  void reads_T6_4_1_01_theLeaseIsTheElectionTimeoutDividedByTheDriftBound() {
    Config on = ConfigFactory.parseString("raft.lease-reads = on\nraft.lease-clock-drift-bound = 1.5").withFallback(valid());
    RaftSettings s = RaftSettings.fromConfig(on);
    assertEquals(s.core().electionTimeoutMin() * 2 / 3, s.core().leaseTicks());
    assertEquals(0, RaftSettings.fromConfig(valid()).core().leaseTicks(), "off by default");
  }

  /** Settings given in ms are reported in ms, not in ticks. */
  @Test
  void timing_P5_6_01_errorsShowTheUnitsTheSettingsWereGivenIn() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RaftSettings.fromConfig(ConfigFactory.parseString(
        "raft.tick-interval = 1ms\nraft.heartbeat-interval = 50ms\nraft.election-timeout-min = 30ms").withFallback(valid())));
    assertTrue(e.getMessage().startsWith("raft.heartbeat-interval (50ms) must be smaller than raft.election-timeout-min (30ms)"),
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> RaftSettings.fromConfig(ConfigFactory.parseString(
        "raft.election-timeout-min = 700ms").withFallback(valid())));
    assertEquals("raft.election-timeout-min (700ms) must not exceed raft.election-timeout-max (600ms)", e.getMessage());
    // Different durations that round to the same number of ticks: the message says so.
    e = assertThrows(IllegalArgumentException.class, () -> RaftSettings.fromConfig(ConfigFactory.parseString(
        "raft.heartbeat-interval = 45ms\nraft.election-timeout-min = 49ms\nraft.election-timeout-max = 90ms").withFallback(valid())));
    assertTrue(e.getMessage().startsWith("raft.heartbeat-interval (45ms = 4 ticks of raft.tick-interval 10ms) must be smaller than "
        + "raft.election-timeout-min (49ms = 4 ticks of raft.tick-interval 10ms)"), e.getMessage());
  }

  /** A misspelled setting would leave the default in force without a word: it is named in a warning. */
  @Test
  void unknownKeysUnderRaftAreWarnedAboutByName() {
    ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(RaftSettings.class);
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> events = new ch.qos.logback.core.read.ListAppender<>();
    events.start();
    logger.addAppender(events);
    try {
      RaftSettings s = RaftSettings.fromConfig(ConfigFactory.parseString(String.join("\n",
          "raft.election-timout-min = 100ms",
          "raft.snapshot.after-entrys = 5",
          "raft.members.n4 = \"akka://raft@127.0.0.1:2554\"")).withFallback(valid()));
      assertEquals(java.util.List.of("raft.election-timout-min", "raft.snapshot.after-entrys"), s.unknownKeys());
      assertEquals(30, s.core().electionTimeoutMin(), "the default stays in force");
      java.util.List<String> warnings = events.list.stream().filter(ev -> ev.getLevel() == ch.qos.logback.classic.Level.WARN)
          .map(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage).toList();
      assertEquals(2, warnings.size(), warnings.toString());
      assertTrue(warnings.get(0).startsWith("raft.election-timout-min is not a raft setting")
          && warnings.get(0).contains("did you mean raft.election-timeout-min?"), warnings.get(0));
      assertTrue(warnings.get(1).contains("did you mean raft.snapshot.after-entries?"), warnings.get(1));
      assertEquals(java.util.List.of(), RaftSettings.fromConfig(valid()).unknownKeys(), "members and known keys are no typos");
    } finally {
      logger.detachAppender(events);
    }
  }
}
