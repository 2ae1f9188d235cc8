package io.raftactors.persistence;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import io.raftactors.actor.RaftSerializable;
import io.raftactors.core.LogEntry;
import io.raftactors.core.SnapshotMeta;
import java.util.List;

/**
 * The events a node journals. Journal sequence numbers are not log indices: a truncation is an
 * event of its own, and recovery replays appends and truncations in order (thesis 3.8).
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "t")
@JsonSubTypes({
  @JsonSubTypes.Type(value = JournalEvent.Initialized.class, name = "init"),
  @JsonSubTypes.Type(value = JournalEvent.TermAndVoteChanged.class, name = "vote"),
  @JsonSubTypes.Type(value = JournalEvent.EntriesAppended.class, name = "append"),
  @JsonSubTypes.Type(value = JournalEvent.LogTruncated.class, name = "truncate"),
  @JsonSubTypes.Type(value = JournalEvent.SnapshotSaved.class, name = "snapshot")
})
public sealed interface JournalEvent extends RaftSerializable {

  /** The first event of every journal: whose it is. A journal of another group is never used. */
  record Initialized(String groupId, String memberId) implements JournalEvent {}

  /** Term and vote change together, in one event, so a vote can never belong to another term. */
  record TermAndVoteChanged(long term, String votedFor) implements JournalEvent {}

  record EntriesAppended(List<LogEntry> entries) implements JournalEvent {
    public EntriesAppended {
      entries = List.copyOf(entries);
    }
  }

  /** Removes the entries from {@code fromIndex} on. */
  record LogTruncated(long fromIndex) implements JournalEvent {}

  /**
   * A state machine snapshot that replaces every entry up to {@code meta.lastIncludedIndex()}. The
   * data travels in the event, so recovery never finds a snapshot point without its state.
   */
  record SnapshotSaved(SnapshotMeta meta, byte[] data) implements JournalEvent {}
}
