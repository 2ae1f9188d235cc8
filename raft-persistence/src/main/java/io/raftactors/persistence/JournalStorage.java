package io.raftactors.persistence;

import akka.Done;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Props;
import akka.actor.typed.Terminated;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.AskPattern;
import com.typesafe.config.Config;
import io.raftactors.actor.RaftSettings;
import io.raftactors.actor.RaftStorage;
import io.raftactors.actor.Stages;
import io.raftactors.core.DurableState;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Durable Raft storage through Akka Persistence. The journal and snapshot plugins come from
 * {@code raft.persistence} (LevelDB with fsync by default, see reference.conf), so another Akka
 * Persistence plugin (JDBC, Cassandra) is a configuration change.
 */
public final class JournalStorage implements RaftStorage, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(JournalStorage.class);
  private static final java.util.concurrent.atomic.AtomicLong INCARNATIONS = new java.util.concurrent.atomic.AtomicLong();
  private final ActorSystem<?> system;
  private final RaftSettings settings;
  private final Config config;
  private final Duration timeout;
  private final Duration recoveryTimeout;

  /** The journal actor in use; replaced by a new one when it has stopped (a journal failure stops it). */
  private Journal journal;
  private boolean closed;

  /** One journal actor and whether it has stopped. */
  private record Journal(ActorRef<RaftJournal.Command> ref, AtomicBoolean stopped) {}

  private JournalStorage(ActorSystem<?> system, RaftSettings settings, Config config, Duration timeout) {
    this.system = system;
    this.settings = settings;
    this.config = config;
    this.timeout = timeout;
    this.recoveryTimeout = settings.recoveryTimeout();
  }

  /**
   * Starts the journal of the node described by {@code settings} in {@code system}. For the LevelDB
   * plugin the journal directory is created first; if it cannot be, this fails with an error that
   * names the directory. Refuses to start (IllegalStateException) if this member's log is in segment
   * files ({@link StorageGuard}).
   */
  public static JournalStorage start(ActorSystem<?> system, RaftSettings settings) {
    Config config = system.settings().config();
    StorageGuard.checkNoSegmentData(config, settings); // not an empty journal over a log kept in segment files
    String journalPlugin = config.getString("raft.persistence.journal-plugin");
    Duration timeout = config.getDuration("raft.persistence.write-timeout");
    int snapshotEvery = config.getInt("raft.persistence.journal-snapshot-every");
    if (snapshotEvery <= 0) {
      throw new IllegalArgumentException("raft.persistence.journal-snapshot-every must be positive, was " + snapshotEvery);
    }
    if (config.hasPath(journalPlugin + ".dir") && config.hasPath(journalPlugin + ".native")) {
      ensureDirectory(new File(config.getString(journalPlugin + ".dir")), journalPlugin + ".dir");
    }
    JournalStorage storage = new JournalStorage(system, settings, config, timeout);
    synchronized (storage) {
      storage.journal = storage.startJournal(); // starts reading the journal before the node asks for it
    }
    return storage;
  }

  /**
   * Starts a journal actor, and a watcher that marks it stopped when it stops. A journal actor stops
   * for good when the journal plugin fails (a failed write, a recovery that failed or timed out):
   * such an actor is never asked again.
   */
  private Journal startJournal() {
    int snapshotEvery = config.getInt("raft.persistence.journal-snapshot-every");
    long incarnation = INCARNATIONS.incrementAndGet();
    String name = "raft-journal-" + settings.groupId() + "-" + settings.memberId() + "-" + incarnation;
    ActorRef<RaftJournal.Command> ref = system.systemActorOf(
        RaftJournal.create(settings.groupId(), settings.memberId(), settings.bootstrapConfig(),
            config.getString("raft.persistence.journal-plugin"), config.getString("raft.persistence.snapshot-plugin"),
            snapshotEvery),
        name, Props.empty());
    AtomicBoolean stopped = new AtomicBoolean();
    system.systemActorOf(Behaviors.<Void>setup(ctx -> {
      ctx.watch(ref);
      return Behaviors.receiveSignal((c, signal) -> {
        if (!(signal instanceof Terminated)) return Behaviors.same();
        stopped.set(true);
        if (akka.actor.CoordinatedShutdown.get(system).getShutdownReason().isPresent()) {
          // The ActorSystem is shutting down and stops its actors: no fault.
          LOG.debug("The journal actor {} of raft node {} stopped with its ActorSystem", name, settings.memberId());
        } else if (!isClosed()) {
          LOG.error("The journal actor {} of raft node {} has stopped (its cause is logged above); the node's next "
              + "recovery starts a new one", name, settings.memberId());
        }
        return Behaviors.stopped();
      });
    }), "raft-journal-watcher-" + settings.groupId() + "-" + settings.memberId() + "-" + incarnation, Props.empty());
    return new Journal(ref, stopped);
  }

  private synchronized boolean isClosed() {
    return closed;
  }

  /** The journal actor to ask: the current one, or a new one if the current one has stopped. */
  private synchronized Journal liveJournal(boolean replaceStopped) {
    if (replaceStopped && journal.stopped().get() && !closed) {
      LOG.info("Raft node {}: starting a new journal actor in place of the stopped one", settings.memberId());
      journal = startJournal();
    }
    return journal;
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
    Journal j;
    synchronized (this) {
      closed = true;
      j = journal;
    }
    j.ref().tell(RaftJournal.Stop.INSTANCE);
  }

  /**
   * Answers with the journal's state once the journal actor has read it, within
   * raft.recovery-timeout. A journal actor that has stopped is replaced by a new one, which reads
   * the journal again; one that is still reading is asked again, and answers when it is done.
   */
  @Override
  public CompletionStage<DurableState> recover() {
    Journal j = liveJournal(true);
    return Stages.direct(AskPattern.askWithStatus(j.ref(), RaftJournal.Recover::new, recoveryTimeout, system.scheduler()));
  }

  /** Fails at once if the journal actor has stopped: the node must recover (with a new one) first. */
  @Override
  public CompletionStage<Void> write(Write write) {
    Journal j = liveJournal(false);
    if (j.stopped().get()) {
      return CompletableFuture.failedFuture(new IllegalStateException("the journal actor of raft node " + settings.memberId()
          + " has stopped; the node must recover before it writes again"));
    }
    CompletionStage<Done> done = AskPattern.askWithStatus(j.ref(), r -> new RaftJournal.Write(write, r), timeout, system.scheduler());
    return Stages.direct(done).thenApply(d -> null);
  }
}
