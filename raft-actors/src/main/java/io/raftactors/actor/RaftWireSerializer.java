package io.raftactors.actor;

import akka.actor.ExtendedActorSystem;
import akka.serialization.ByteBufferSerializer;
import akka.serialization.SerializerWithStringManifest;
import io.raftactors.core.BinaryIn;
import io.raftactors.core.BinaryOut;
import io.raftactors.core.EntryCodec;
import io.raftactors.core.LogEntry;
import io.raftactors.core.RaftMessage;
import java.io.DataOutput;
import java.io.IOException;
import java.io.NotSerializableException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The binary wire form of the Raft peer protocol ({@link RaftNode.PeerEnvelope}): a tag byte per
 * message and its fields in order, entries in {@link EntryCodec}'s form, so a user command's bytes
 * cross the wire as they were serialized at propose time. It replaces Jackson CBOR on the hot path
 * (AppendEntries and its response), where CBOR's field names and reflection cost most of the CPU a
 * node spends on messages; client messages stay on CBOR.
 */
public final class RaftWireSerializer extends SerializerWithStringManifest implements ByteBufferSerializer {
  /** This serializer's id in Akka Serialization; fixed, since peers must agree on it. */
  public static final int IDENTIFIER = 7_217_001;
  private static final String ENVELOPE = "e";

  private static final byte APPEND = 1;
  private static final byte APPEND_RESPONSE = 2;
  private static final byte REQUEST_VOTE = 3;
  private static final byte REQUEST_VOTE_RESPONSE = 4;
  private static final byte PRE_VOTE = 5;
  private static final byte PRE_VOTE_RESPONSE = 6;
  private static final byte INSTALL_SNAPSHOT = 7;
  private static final byte INSTALL_SNAPSHOT_RESPONSE = 8;
  private static final byte READ_INDEX = 9;
  private static final byte READ_INDEX_RESPONSE = 10;
  private static final byte TIMEOUT_NOW = 11;

  public RaftWireSerializer(ExtendedActorSystem system) {}

  @Override
  public int identifier() {
    return IDENTIFIER;
  }

  @Override
  public String manifest(Object o) {
    if (o instanceof RaftNode.PeerEnvelope) return ENVELOPE;
    throw new IllegalArgumentException("not a peer message: " + o.getClass().getName());
  }

  @Override
  public byte[] toBinary(Object o) {
    RaftNode.PeerEnvelope env = envelope(o);
    BinaryOut out = BinaryOut.growable(sizeHint(env.message()));
    write(out, env);
    return out.toByteArray();
  }

  /** Artery's path: straight into the envelope's buffer, without an intermediate array. */
  @Override
  public void toBinary(Object o, ByteBuffer buf) {
    write(BinaryOut.into(buf), envelope(o));
  }

  @Override
  public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
    return fromBinary(ByteBuffer.wrap(bytes), manifest);
  }

  /** Artery's path: straight from the envelope's buffer. */
  @Override
  public Object fromBinary(ByteBuffer buf, String manifest) throws NotSerializableException {
    if (!ENVELOPE.equals(manifest)) throw new NotSerializableException("unknown raft wire manifest '" + manifest + "'");
    try {
      BinaryIn in = new BinaryIn(buf);
      String group = in.readUTF();
      String to = in.readUTF();
      RaftMessage m = read(in);
      if (in.remaining() > 0) throw new IOException(in.remaining() + " bytes left over");
      return new RaftNode.PeerEnvelope(group, to, m);
    } catch (IOException | RuntimeException e) {
      NotSerializableException n = new NotSerializableException("corrupt raft peer message: " + e.getMessage());
      n.initCause(e);
      throw n;
    }
  }

  private static RaftNode.PeerEnvelope envelope(Object o) {
    if (o instanceof RaftNode.PeerEnvelope env) return env;
    throw new IllegalArgumentException("not a peer message: " + o.getClass().getName());
  }

  private static void write(BinaryOut out, RaftNode.PeerEnvelope env) {
    try {
      out.writeUTF(env.groupId());
      out.writeUTF(env.to());
      write(out, env.message());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static int sizeHint(RaftMessage m) {
    if (m instanceof RaftMessage.AppendEntries a) {
      int n = 96;
      for (LogEntry e : a.entries()) n += 24 + e.data().sizeInBytes();
      return n;
    }
    if (m instanceof RaftMessage.InstallSnapshot s) return 256 + s.data().length;
    return 96;
  }

  private static void write(DataOutput out, RaftMessage m) throws IOException {
    if (m instanceof RaftMessage.AppendEntries a) {
      out.writeByte(APPEND);
      head(out, a);
      out.writeLong(a.prevLogIndex());
      out.writeLong(a.prevLogTerm());
      out.writeLong(a.leaderCommit());
      out.writeLong(a.round());
      out.writeInt(a.entries().size());
      for (LogEntry e : a.entries()) EntryCodec.writeEntry(out, e);
    } else if (m instanceof RaftMessage.AppendEntriesResponse r) {
      out.writeByte(APPEND_RESPONSE);
      head(out, r);
      out.writeBoolean(r.success());
      out.writeLong(r.matchIndex());
      out.writeLong(r.rejectedIndex());
      out.writeLong(r.hintIndex());
      out.writeLong(r.hintTerm());
      out.writeLong(r.round());
    } else if (m instanceof RaftMessage.RequestVote v) {
      out.writeByte(REQUEST_VOTE);
      head(out, v);
      out.writeLong(v.lastLogIndex());
      out.writeLong(v.lastLogTerm());
      out.writeBoolean(v.transfer());
    } else if (m instanceof RaftMessage.RequestVoteResponse v) {
      out.writeByte(REQUEST_VOTE_RESPONSE);
      head(out, v);
      out.writeBoolean(v.granted());
    } else if (m instanceof RaftMessage.PreVote v) {
      out.writeByte(PRE_VOTE);
      head(out, v);
      out.writeLong(v.lastLogIndex());
      out.writeLong(v.lastLogTerm());
    } else if (m instanceof RaftMessage.PreVoteResponse v) {
      out.writeByte(PRE_VOTE_RESPONSE);
      head(out, v);
      out.writeBoolean(v.granted());
    } else if (m instanceof RaftMessage.InstallSnapshot s) {
      out.writeByte(INSTALL_SNAPSHOT);
      head(out, s);
      out.writeLong(s.lastIncludedIndex());
      out.writeLong(s.lastIncludedTerm());
      EntryCodec.writeConfig(out, s.config());
      out.writeLong(s.offset());
      out.writeInt(s.data().length);
      out.write(s.data());
      out.writeBoolean(s.done());
      out.writeLong(s.totalBytes());
    } else if (m instanceof RaftMessage.InstallSnapshotResponse r) {
      out.writeByte(INSTALL_SNAPSHOT_RESPONSE);
      head(out, r);
      out.writeLong(r.lastIncludedIndex());
      out.writeLong(r.nextOffset());
      out.writeBoolean(r.installed());
    } else if (m instanceof RaftMessage.ReadIndexRequest r) {
      out.writeByte(READ_INDEX);
      head(out, r);
      out.writeLong(r.requestId());
    } else if (m instanceof RaftMessage.ReadIndexResponse r) {
      out.writeByte(READ_INDEX_RESPONSE);
      head(out, r);
      out.writeLong(r.requestId());
      out.writeLong(r.readIndex());
    } else if (m instanceof RaftMessage.TimeoutNow t) {
      out.writeByte(TIMEOUT_NOW);
      head(out, t);
    } else {
      throw new IllegalArgumentException("no wire form for " + m);
    }
  }

  private static void head(DataOutput out, RaftMessage m) throws IOException {
    out.writeLong(m.term());
    out.writeUTF(m.from());
  }

  private static RaftMessage read(BinaryIn in) throws IOException {
    byte tag = in.readByte();
    long term = in.readLong();
    String from = in.readUTF();
    switch (tag) {
      case APPEND: {
        long prevIndex = in.readLong();
        long prevTerm = in.readLong();
        long commit = in.readLong();
        long round = in.readLong();
        int n = in.readInt();
        if (n < 0) throw new IOException("negative entry count " + n);
        List<LogEntry> entries = new ArrayList<>(n);
        for (int i = 0; i < n; i++) entries.add(EntryCodec.readEntry(in));
        return new RaftMessage.AppendEntries(term, from, prevIndex, prevTerm, entries, commit, round);
      }
      case APPEND_RESPONSE:
        return new RaftMessage.AppendEntriesResponse(term, from, in.readBoolean(), in.readLong(), in.readLong(), in.readLong(),
            in.readLong(), in.readLong());
      case REQUEST_VOTE:
        return new RaftMessage.RequestVote(term, from, in.readLong(), in.readLong(), in.readBoolean());
      case REQUEST_VOTE_RESPONSE:
        return new RaftMessage.RequestVoteResponse(term, from, in.readBoolean());
      case PRE_VOTE:
        return new RaftMessage.PreVote(term, from, in.readLong(), in.readLong());
      case PRE_VOTE_RESPONSE:
        return new RaftMessage.PreVoteResponse(term, from, in.readBoolean());
      case INSTALL_SNAPSHOT: {
        long index = in.readLong();
        long snapTerm = in.readLong();
        io.raftactors.core.ClusterConfig config = EntryCodec.readConfig(in);
        long offset = in.readLong();
        int n = in.readInt();
        if (n < 0 || n > in.remaining()) throw new IOException("bad snapshot chunk length " + n + " (" + in.remaining() + " bytes left)");
        byte[] data = new byte[n];
        in.readFully(data);
        return new RaftMessage.InstallSnapshot(term, from, index, snapTerm, config, offset, data, in.readBoolean(), in.readLong());
      }
      case INSTALL_SNAPSHOT_RESPONSE:
        return new RaftMessage.InstallSnapshotResponse(term, from, in.readLong(), in.readLong(), in.readBoolean());
      case READ_INDEX:
        return new RaftMessage.ReadIndexRequest(term, from, in.readLong());
      case READ_INDEX_RESPONSE:
        return new RaftMessage.ReadIndexResponse(term, from, in.readLong(), in.readLong());
      case TIMEOUT_NOW:
        return new RaftMessage.TimeoutNow(term, from);
      default:
        throw new IOException("unknown peer message tag " + tag);
    }
  }
}
