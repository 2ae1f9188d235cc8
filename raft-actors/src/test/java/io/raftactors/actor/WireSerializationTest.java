package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.Serializers;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.EntryData;
import io.raftactors.core.LogEntry;
import io.raftactors.core.RaftMessage;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every peer message crosses the wire through the CBOR-bound marker, never Java serialization. */
class WireSerializationTest {
  private static ActorTestKit kit;

  @BeforeAll
  static void start() {
    kit = ActorTestKit.create();
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  @Test
  void everyPeerMessageRoundTripsThroughJacksonCbor() {
    Serialization ser = SerializationExtension.get(kit.system().classicSystem());
    List<LogEntry> entries = List.of(
        new LogEntry(4, 2, new EntryData.Command(7, "m", new byte[] {1, 2, 3})),
        new LogEntry(5, 2, new EntryData.Noop(2)),
        new LogEntry(6, 3, new EntryData.Configuration(ClusterConfig.of("a", "b", "c"))));
    List<RaftMessage> all = List.of(
        new RaftMessage.AppendEntries(3, "a", 3, 2, entries, 2),
        new RaftMessage.AppendEntries(3, "a", 3, 2, List.of(), 2),
        RaftMessage.AppendEntriesResponse.success(3, "b", 6),
        RaftMessage.AppendEntriesResponse.reject(3, "b", 6, 4, 2),
        new RaftMessage.RequestVote(4, "c", 6, 3),
        new RaftMessage.RequestVoteResponse(4, "a", true),
        new RaftMessage.PreVote(5, "c", 6, 3),
        new RaftMessage.PreVoteResponse(5, "b", false));
    for (RaftMessage m : all) {
      RaftNode.PeerEnvelope env = new RaftNode.PeerEnvelope("g", "b", m);
      Serializer s = ser.findSerializerFor(env);
      assertEquals("akka.serialization.jackson.JacksonCborSerializer", s.getClass().getName());
      byte[] bytes = s.toBinary(env);
      Object back = ser.deserialize(bytes, s.identifier(), Serializers.manifestFor(s, env)).get();
      assertEquals(env, back, "round trip of " + m);
    }
  }
}
