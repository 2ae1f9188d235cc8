package io.raftactors.actor;

import io.raftactors.core.EntryData;

/**
 * Client session entries in the form earlier builds of raft-actors (0.1.0-SNAPSHOT before
 * December 2026) logged them: user commands of these record
 * types, serialized by Akka's Jackson CBOR serializer, which the node recognised when it applied
 * them. Session entries are now an entry kind of their own ({@link EntryData.SessionEntry}), which
 * the driver applies without looking into user commands. A node still reads the old form, from its
 * journal and from peers, and turns each such entry into the session entry it stands for before
 * the core sees it ({@link LegacySessionEntries}); it never writes the old form. The class keeps
 * its name because the manifests in old logs name it.
 */
final class SessionTable {

  /** The old form of {@link EntryData.SessionCommand}. */
  public record SessionCommand(long session, long seq, long lowestUnacked, long time, Payload command)
      implements RaftSerializable {}

  /** The old form of {@link EntryData.OpenSession}. */
  public record OpenSession(long time) implements RaftSerializable {}

  /** The old form of {@link EntryData.KeepAlive}. */
  public record KeepAlive(long session, long time) implements RaftSerializable {}

  /** The old form of {@link EntryData.KeyedCommand}. */
  public record KeyedCommand(String key, long time, Payload command) implements RaftSerializable {}

  private SessionTable() {}
}
