package io.raftactors.persistence;

import akka.Done;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.AskPattern;
import com.typesafe.config.Config;
import io.raftactors.actor.RaftSettings;
import io.raftactors.actor.RaftStorage;
import io.raftactors.core.DurableState;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.concurrent.CompletionStage;

/**
 * Durable Raft storage through Akka Persistence. The journal and snapshot plugins come from
 * {@code raft.persistence} (LevelDB with fsync by default, see reference.conf), so another Akka
 * Persistence plugin (JDBC, Cassandra) is a configuration change.
 */
public final class JournalStorage implements RaftStorage, AutoCloseable {
  private static final java.util.concurrent.atomic.AtomicLong INCARNATIONS = new java.util.concurrent.atomic.AtomicLong();
  private final ActorSystem<?> system;
  private final ActorRef<RaftJournal.Command> journal;
  private final Duration timeout;

  private JournalStorage(ActorSystem<?> system, ActorRef<RaftJournal.Command> journal, Duration timeout) {
    this.system = system;
    this.journal = journal;
    this.timeout = timeout;
  }

  /**
   * Starts the journal of the node described by {@code settings} in {@code system}. For the LevelDB
   * plugin the journal directory is created first; if it cannot be, this fails with an error that
   * names the directory.
   */
  public static JournalStorage start(ActorSystem<?> system, RaftSettings settings) {
    Config config = system.settings().config();
    String journalPlugin = config.getString("raft.persistence.journal-plugin");
    String snapshotPlugin = config.getString("raft.persistence.snapshot-plugin");
    Duration timeout = config.getDuration("raft.persistence.write-timeout");
    int snapshotEvery = config.getInt("raft.persistence.journal-snapshot-every");
    if (snapshotEvery <= 0) {
      throw new IllegalArgumentException("raft.persistence.journal-snapshot-every must be positive, was " + snapshotEvery);
    }
    if (config.hasPath(journalPlugin + ".dir") && config.hasPath(journalPlugin + ".native")) {
      ensureDirectory(new File(config.getString(journalPlugin + ".dir")), journalPlugin + ".dir");
    }
    ActorRef<RaftJournal.Command> journal = system.systemActorOf(
        RaftJournal.create(settings.groupId(), settings.memberId(), settings.bootstrapConfig(), journalPlugin, snapshotPlugin,
            snapshotEvery),
        "raft-journal-" + settings.groupId() + "-" + settings.memberId() + "-" + INCARNATIONS.incrementAndGet(), Props.empty());
    return new JournalStorage(system, journal, timeout);
  }

  /** Creates {@code dir} if needed and checks it is a writable directory. */
  static void ensureDirectory(File dir, String setting) {
    try {
      Files.createDirectories(dir.toPath());
    } catch (IOException | SecurityException e) {
      throw new IllegalStateException("cannot create the journal directory " + dir.getAbsolutePath() + " (" + setting + "): " + e, e);
    }
    if (!dir.isDirectory() || !dir.canWrite() || !dir.canRead()) {
      throw new IllegalStateException("the journal directory " + dir.getAbsolutePath() + " (" + setting + ") is not a readable and writable directory");
    }
  }

  /**
   * Stops the journal actor after the writes already sent to it. A storage started again with
   * {@link #start} for the same member recovers everything from the journal plugin.
   */
  @Override
  public void close() {
    journal.tell(RaftJournal.Stop.INSTANCE);
  }

  @Override
  public CompletionStage<DurableState> recover() {
    return AskPattern.askWithStatus(journal, RaftJournal.Recover::new, timeout, system.scheduler());
  }

  @Override
  public CompletionStage<Void> write(Write write) {
    CompletionStage<Done> done = AskPattern.askWithStatus(journal, r -> new RaftJournal.Write(write, r), timeout, system.scheduler());
    return done.thenApply(d -> null);
  }
}
