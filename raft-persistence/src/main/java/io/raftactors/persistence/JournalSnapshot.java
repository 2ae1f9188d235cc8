package io.raftactors.persistence;

import io.raftactors.actor.RaftSerializable;
import io.raftactors.core.HardState;
import io.raftactors.core.LogEntry;
import io.raftactors.core.SnapshotMeta;
import java.util.List;

/**
 * An immutable copy of a journal's whole state, saved to the Akka snapshot store every
 * {@code raft.persistence.journal-snapshot-every} writes so that the events before it can be
 * deleted. Not to be confused with a state machine snapshot, which it contains.
 */
public record JournalSnapshot(
    String groupId,
    String memberId,
    HardState hardState,
    SnapshotMeta snapshot,
    byte[] snapshotData,
    List<LogEntry> log)
    implements RaftSerializable {
  public JournalSnapshot {
    log = List.copyOf(log);
  }
}
