package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import io.raftactors.core.EntryData;
import io.raftactors.core.LogEntry;
import io.raftactors.core.RaftMessage;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Logs written by earlier builds of raft-actors hold session entries as user commands of {@link SessionTable}'s
 * records. These are the exact bytes such a build journaled and sent (recorded from it): a node reads them
 * as the session entries they stand for, from its journal and from peers, so an old journal keeps
 * applying its sessions exactly once.
 */
class LegacySessionEntriesTest {
  private static ActorTestKit kit;
  private static Serialization ser;

  /** Akka's jackson-cbor serializer, which those builds bound their records to. */
  private static final int CBOR = 33;

  /** The user command inside the recorded session commands: the string "put k1 v1" (Akka's string serializer, 20). */
  private static final EntryData.Command USER = new EntryData.Command(20, "", "put k1 v1".getBytes(StandardCharsets.UTF_8));

  private static final String OPEN = "bf6474696d651b0000018bcfe5687bff";
  private static final String COMMAND = "bf6773657373696f6e0563736571036d6c6f77657374556e61636b6564026474696d651b0000018bcfe5"
      + "69c867636f6d6d616e64bf6c73657269616c697a6572496414686d616e69666573746065627974657349707574206b31207631ffff";
  private static final String KEYED = "bf636b6579656b65792d316474696d651b0000018bcfe56b1567636f6d6d616e64bf6c7365726961"
      + "6c697a6572496414686d616e69666573746065627974657349707574206b31207631ffff";
  private static final String KEEP_ALIVE = "bf6773657373696f6e056474696d651b0000018bcfe56be8ff";

  @BeforeAll
  static void start() {
    kit = ActorTestKit.create();
    ser = SerializationExtension.get(kit.system().classicSystem());
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  private static LogEntry recorded(long index, String record, String hex) {
    return new LogEntry(index, 2, new EntryData.Command(CBOR, "io.raftactors.actor.SessionTable$" + record, HexFormat.of().parseHex(hex)));
  }

  @Test
  void recordedOldFormSessionEntriesAreReadAsSessionEntries() {
    List<LogEntry> old = List.of(
        new LogEntry(1, 1, new EntryData.Noop(1)),
        recorded(2, "OpenSession", OPEN),
        recorded(3, "SessionCommand", COMMAND),
        new LogEntry(4, 2, USER),
        recorded(5, "KeyedCommand", KEYED),
        recorded(6, "KeepAlive", KEEP_ALIVE));
    List<LogEntry> read = LegacySessionEntries.upgrade(old, ser);
    assertEquals(List.of(
        new LogEntry(1, 1, new EntryData.Noop(1)),
        new LogEntry(2, 2, new EntryData.OpenSession(1_700_000_000_123L)),
        new LogEntry(3, 2, new EntryData.SessionCommand(5, 3, 2, 1_700_000_000_456L, USER)),
        new LogEntry(4, 2, USER),
        new LogEntry(5, 2, new EntryData.KeyedCommand("key-1", 1_700_000_000_789L, USER)),
        new LogEntry(6, 2, new EntryData.KeepAlive(5, 1_700_000_001_000L))), read);

    RaftMessage.AppendEntries ae = new RaftMessage.AppendEntries(2, "n1", 0, 0, old, 6, 3);
    assertEquals(new RaftMessage.AppendEntries(2, "n1", 0, 0, read, 6, 3), LegacySessionEntries.upgrade(ae, ser),
        "entries from a peer that still runs an earlier build");
  }

  @Test
  void entriesWithoutTheOldFormPassUnchanged() {
    List<LogEntry> current = List.of(new LogEntry(1, 1, USER), new LogEntry(2, 1, new EntryData.OpenSession(5)));
    assertSame(current, LegacySessionEntries.upgrade(current, ser));
    RaftMessage heartbeat = new RaftMessage.AppendEntries(2, "n1", 3, 1, List.of(), 3, 4);
    assertSame(heartbeat, LegacySessionEntries.upgrade(heartbeat, ser));
  }

  @Test
  void anUnreadableOldFormEntryHaltsWithItsIndex() {
    List<LogEntry> broken = List.of(recorded(9, "SessionCommand", "00"));
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> LegacySessionEntries.upgrade(broken, ser));
    assertEquals(true, e.getMessage().contains("index 9"), e.getMessage());
  }
}
