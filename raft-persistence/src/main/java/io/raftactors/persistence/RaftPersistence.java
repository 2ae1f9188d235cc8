package io.raftactors.persistence;

import akka.actor.typed.ActorSystem;
import io.raftactors.actor.RaftSettings;
import io.raftactors.actor.RaftStorage;

/** The durable storage a node uses, as {@code raft.persistence.storage} chooses. */
public final class RaftPersistence {
  private RaftPersistence() {}

  /**
   * {@code journal}: {@link JournalStorage} (Akka Persistence plugins); {@code segments}: {@link
   * SegmentStorage}. Anything else is refused with the setting's name. A member whose log is kept by
   * the other storage (the setting changed) is refused with an IllegalStateException that names the
   * data found and the setting that reads it, instead of starting on empty storage.
   */
  public static RaftStorage storage(ActorSystem<?> system, RaftSettings settings) {
    String kind = system.settings().config().getString("raft.persistence.storage");
    switch (kind) {
      case "journal":
        return JournalStorage.start(system, settings);
      case "segments":
        return SegmentStorage.start(system, settings);
      default:
        throw new IllegalArgumentException("raft.persistence.storage must be journal or segments, was '" + kind + "'");
    }
  }
}
