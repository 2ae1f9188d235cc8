package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

/**
 * Every peer message crosses the wire in the peer protocol's binary form, every client message
 * through the CBOR-bound marker; never Java serialization.
 */
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
        new LogEntry(6, 3, new EntryData.Configuration(ClusterConfig.of("a", "b", "c"))),
        new LogEntry(7, 3, new EntryData.Configuration(new ClusterConfig(List.of("a", "b", "d"), List.of("e"), List.of("a", "b", "c"),
            java.util.Map.of("d", new io.raftactors.core.MemberAddress("akka://raft@127.0.0.1:2554", "127.0.0.1:8084"),
                "e", new io.raftactors.core.MemberAddress("akka://raft@127.0.0.1:2555", null))))),
        new LogEntry(8, 3, new EntryData.OpenSession(1_700_000_000_123L)),
        new LogEntry(9, 3, new EntryData.SessionCommand(8, 1, 1, 1_700_000_000_124L, new EntryData.Command(20, "", new byte[] {9}))),
        new LogEntry(10, 3, new EntryData.KeyedCommand("key-1", 1_700_000_000_125L, new EntryData.Command(33, "x.Y", new byte[] {8}))),
        new LogEntry(11, 3, new EntryData.KeepAlive(8, 1_700_000_000_126L)));
    List<RaftMessage> all = List.of(
        new RaftMessage.AppendEntries(3, "a", 3, 2, entries, 2),
        new RaftMessage.AppendEntries(3, "a", 3, 2, List.of(), 2, 17),
        RaftMessage.AppendEntriesResponse.success(3, "b", 6),
        RaftMessage.AppendEntriesResponse.success(3, "b", 6).withRound(17),
        new RaftMessage.ReadIndexRequest(3, "b", 99),
        new RaftMessage.ReadIndexResponse(3, "a", 99, 41),
        RaftMessage.AppendEntriesResponse.reject(3, "b", 6, 4, 2),
        new RaftMessage.RequestVote(4, "c", 6, 3),
        new RaftMessage.RequestVote(4, "c", 6, 3, true),
        new RaftMessage.TimeoutNow(3, "a"),
        new RaftMessage.RequestVoteResponse(4, "a", true),
        new RaftMessage.PreVote(5, "c", 6, 3),
        new RaftMessage.PreVoteResponse(5, "b", false),
        new RaftMessage.InstallSnapshot(6, "a", 40, 5, ClusterConfig.of("a", "b", "c"), 1024, new byte[] {5, 6, 7}, true, 1027),
        new RaftMessage.InstallSnapshotResponse(6, "b", 40, 1027, true));
    java.util.Set<Class<?>> covered = new java.util.HashSet<>();
    for (RaftMessage m : all) {
      RaftNode.PeerEnvelope env = new RaftNode.PeerEnvelope("g", "b", m);
      Serializer s = ser.findSerializerFor(env);
      assertEquals(RaftWireSerializer.class, s.getClass(), "the peer protocol's own binary form");
      byte[] bytes = s.toBinary(env);
      Object back = ser.deserialize(bytes, s.identifier(), Serializers.manifestFor(s, env)).get();
      assertEquals(env, back, "round trip of " + m);
      covered.add(m.getClass());
    }
    assertEquals(java.util.Set.of(RaftMessage.class.getPermittedSubclasses()), covered, "every kind of peer message");
  }

  @Test
  void aCorruptPeerMessageIsRefusedNotMisread() {
    Serialization ser = SerializationExtension.get(kit.system().classicSystem());
    RaftNode.PeerEnvelope env = new RaftNode.PeerEnvelope("g", "b", new RaftMessage.AppendEntries(3, "a", 3, 2,
        List.of(new LogEntry(4, 2, new EntryData.Noop(2))), 2, 17));
    byte[] bytes = ser.serialize(env).get();
    byte[] cut = java.util.Arrays.copyOf(bytes, bytes.length - 3);
    assertTrue(ser.deserialize(cut, RaftWireSerializer.IDENTIFIER, "e").isFailure(), "a truncated message");
    byte[] longer = java.util.Arrays.copyOf(bytes, bytes.length + 2);
    assertTrue(ser.deserialize(longer, RaftWireSerializer.IDENTIFIER, "e").isFailure(), "bytes left over");
  }

  @Test
  void everyClientProtocolMessageRoundTripsThroughJacksonCbor() {
    Serialization ser = SerializationExtension.get(kit.system().classicSystem());
    akka.actor.typed.ActorRef<RaftNode.ClientReply> replyTo = kit.<RaftNode.ClientReply>createTestProbe().ref();
    Payload p = new Payload(20, "", new byte[] {104, 105});
    List<Object> all = List.of(
        new RaftNode.OpenClientSession(1, replyTo),
        new RaftNode.ClientCommand(7, 3, 2, p, replyTo),
        new RaftNode.ClientQuery(9, ReadConsistency.LEASE, p, replyTo),
        new RaftNode.ClientResult(3, 40, p),
        new RaftNode.ClientResult(3, 40, null),
        new RaftNode.ClientNotLeader(3, "n2"),
        new RaftNode.ClientRejected(3, "malformed"),
        new RaftNode.ClientSessionExpired(3, "gone"),
        new RaftNode.ClientOutcomeUnknown(3, "lost leadership"),
        new RaftNode.ClientOverloaded(3, "overloaded: 10000 proposals wait"),
        new SessionTable.KeyedCommand("8e03978e-key", 123_458L, p),
        new RaftNode.ClientSessionOpened(1, 12),
        new SessionTable.SessionCommand(7, 3, 2, 123_456L, p),
        new SessionTable.OpenSession(123_456L),
        new SessionTable.KeepAlive(7, 123_457L),
        new RaftNode.ClientKeepAlive(5, 7, replyTo),
        new RaftNode.ClientAdmin(11, new RaftNode.ChangeMembersRequest(List.of(
            new io.raftactors.core.MembershipChange.AddVoter("n4", new io.raftactors.core.MemberAddress("akka://raft@h:2554", "h:8084")),
            new io.raftactors.core.MembershipChange.AddLearner("n5", null),
            new io.raftactors.core.MembershipChange.Promote("n6"),
            new io.raftactors.core.MembershipChange.Remove("n1"))), replyTo),
        new RaftNode.ClientAdmin(12, new RaftNode.TransferRequest("n2"), replyTo),
        new RaftNode.ClientAdmin(13, new RaftNode.TransferRequest(null), replyTo),
        new RaftNode.ClientAdmin(14, new RaftNode.MembersRequest(), replyTo),
        new RaftNode.ClientMembers(14, 40, ClusterConfig.of("n1", "n2"), "n1"),
        // A status page asks every member for its status, across the network.
        new RaftNode.GetStatus(kit.<RaftNode.Status>createTestProbe().ref()),
        new RaftNode.Status("n1", io.raftactors.core.Role.LEADER, 7, "n1", 40, 39, 41, null, RaftNode.Phase.RUNNING,
            new ClusterConfig(List.of("n1", "n2"), List.of("n3"), List.of(),
                java.util.Map.of("n3", new io.raftactors.core.MemberAddress("akka://raft@h:2553", "h:8083"))),
            java.util.Map.of("n2", 41L, "n3", 12L)),
        new RaftNode.Status("n2", io.raftactors.core.Role.FOLLOWER, 0, null, 0, 0, 0, "recovering", RaftNode.Phase.RECOVERING));
    for (Object m : all) {
      Serializer s = ser.findSerializerFor(m);
      assertEquals("akka.serialization.jackson.JacksonCborSerializer", s.getClass().getName(), m.toString());
      // serialize() provides the ActorSystem that actor references need, as remoting does.
      Object back = ser.deserialize(ser.serialize(m).get(), s.identifier(), Serializers.manifestFor(s, m)).get();
      assertEquals(m, back, "round trip of " + m);
    }
  }
}
