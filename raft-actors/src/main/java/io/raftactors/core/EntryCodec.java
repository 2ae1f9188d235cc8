package io.raftactors.core;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A compact binary form of log entries and the records around them (hard state, snapshot meta),
 * for storage written for Raft logs. A user command's bytes are copied as they were serialized at
 * propose time, never encoded again. The form is versioned by its readers: each kind of entry has
 * a tag byte, and a reader refuses a tag it does not know instead of guessing.
 */
public final class EntryCodec {
  private static final byte COMMAND = 1;
  private static final byte NOOP = 2;
  private static final byte CONFIGURATION = 3;
  private static final byte OPEN_SESSION = 4;
  private static final byte KEEP_ALIVE = 5;
  private static final byte SESSION_COMMAND = 6;
  private static final byte KEYED_COMMAND = 7;

  private EntryCodec() {}

  public static void writeEntry(DataOutput out, LogEntry e) throws IOException {
    out.writeLong(e.index());
    out.writeLong(e.term());
    writeData(out, e.data());
  }

  public static LogEntry readEntry(DataInput in) throws IOException {
    long index = in.readLong();
    long term = in.readLong();
    return new LogEntry(index, term, readData(in));
  }

  public static void writeData(DataOutput out, EntryData d) throws IOException {
    if (d instanceof EntryData.Command c) {
      out.writeByte(COMMAND);
      writeCommand(out, c);
    } else if (d instanceof EntryData.Noop n) {
      out.writeByte(NOOP);
      out.writeLong(n.leaderTerm());
    } else if (d instanceof EntryData.Configuration c) {
      out.writeByte(CONFIGURATION);
      writeConfig(out, c.config());
    } else if (d instanceof EntryData.OpenSession o) {
      out.writeByte(OPEN_SESSION);
      out.writeLong(o.time());
    } else if (d instanceof EntryData.KeepAlive k) {
      out.writeByte(KEEP_ALIVE);
      out.writeLong(k.session());
      out.writeLong(k.time());
    } else if (d instanceof EntryData.SessionCommand s) {
      out.writeByte(SESSION_COMMAND);
      out.writeLong(s.session());
      out.writeLong(s.seq());
      out.writeLong(s.lowestUnacked());
      out.writeLong(s.time());
      writeCommand(out, s.command());
    } else if (d instanceof EntryData.KeyedCommand k) {
      out.writeByte(KEYED_COMMAND);
      out.writeUTF(k.key());
      out.writeLong(k.time());
      writeCommand(out, k.command());
    } else {
      throw new IllegalArgumentException("no binary form for " + d);
    }
  }

  public static EntryData readData(DataInput in) throws IOException {
    byte tag = in.readByte();
    switch (tag) {
      case COMMAND:
        return readCommand(in);
      case NOOP:
        return new EntryData.Noop(in.readLong());
      case CONFIGURATION:
        return new EntryData.Configuration(readConfig(in));
      case OPEN_SESSION:
        return new EntryData.OpenSession(in.readLong());
      case KEEP_ALIVE:
        return new EntryData.KeepAlive(in.readLong(), in.readLong());
      case SESSION_COMMAND:
        return new EntryData.SessionCommand(in.readLong(), in.readLong(), in.readLong(), in.readLong(), readCommand(in));
      case KEYED_COMMAND:
        return new EntryData.KeyedCommand(in.readUTF(), in.readLong(), readCommand(in));
      default:
        throw new IOException("unknown kind of log entry: tag " + tag);
    }
  }

  private static void writeCommand(DataOutput out, EntryData.Command c) throws IOException {
    out.writeInt(c.serializerId());
    out.writeUTF(c.manifest());
    out.writeInt(c.bytes().length);
    out.write(c.bytes());
  }

  private static EntryData.Command readCommand(DataInput in) throws IOException {
    int serializer = in.readInt();
    String manifest = in.readUTF();
    int n = in.readInt();
    if (n < 0 || (in instanceof BinaryIn b && n > b.remaining())) throw new IOException("bad command length " + n);
    byte[] b = new byte[n];
    in.readFully(b);
    return new EntryData.Command(serializer, manifest, b);
  }

  public static void writeConfig(DataOutput out, ClusterConfig c) throws IOException {
    writeIds(out, c.voters());
    writeIds(out, c.learners());
    writeIds(out, c.outgoingVoters());
    out.writeInt(c.addresses().size());
    for (Map.Entry<String, MemberAddress> a : c.addresses().entrySet()) {
      out.writeUTF(a.getKey());
      out.writeUTF(a.getValue().peer());
      out.writeBoolean(a.getValue().client() != null);
      if (a.getValue().client() != null) out.writeUTF(a.getValue().client());
    }
  }

  public static ClusterConfig readConfig(DataInput in) throws IOException {
    List<String> voters = readIds(in);
    List<String> learners = readIds(in);
    List<String> outgoing = readIds(in);
    int n = in.readInt();
    Map<String, MemberAddress> addresses = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      String id = in.readUTF();
      String peer = in.readUTF();
      addresses.put(id, new MemberAddress(peer, in.readBoolean() ? in.readUTF() : null));
    }
    return new ClusterConfig(voters, learners, outgoing, addresses);
  }

  public static void writeSnapshotMeta(DataOutput out, SnapshotMeta m) throws IOException {
    out.writeLong(m.lastIncludedIndex());
    out.writeLong(m.lastIncludedTerm());
    writeConfig(out, m.config());
  }

  public static SnapshotMeta readSnapshotMeta(DataInput in) throws IOException {
    return new SnapshotMeta(in.readLong(), in.readLong(), readConfig(in));
  }

  public static void writeHardState(DataOutput out, HardState h) throws IOException {
    out.writeLong(h.term());
    out.writeBoolean(h.votedFor() != null);
    if (h.votedFor() != null) out.writeUTF(h.votedFor());
  }

  public static HardState readHardState(DataInput in) throws IOException {
    long term = in.readLong();
    return new HardState(term, in.readBoolean() ? in.readUTF() : null);
  }

  private static void writeIds(DataOutput out, List<String> ids) throws IOException {
    out.writeInt(ids.size());
    for (String id : ids) out.writeUTF(id);
  }

  private static List<String> readIds(DataInput in) throws IOException {
    int n = in.readInt();
    if (n < 0) throw new IOException("negative member count " + n);
    List<String> ids = new ArrayList<>(n);
    for (int i = 0; i < n; i++) ids.add(in.readUTF());
    return ids;
  }
}
