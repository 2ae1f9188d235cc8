package io.raftactors.persistence;

import akka.Done;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.pattern.StatusReply;
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.RecoveryCompleted;
import akka.persistence.typed.SnapshotAdapter;
import akka.persistence.typed.javadsl.CommandHandler;
import akka.persistence.typed.javadsl.Effect;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehavior;
import akka.persistence.typed.javadsl.RetentionCriteria;
import akka.persistence.typed.javadsl.SignalHandler;
import io.raftactors.actor.RaftStorage;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.DurableState;
import io.raftactors.core.HardState;
import io.raftactors.core.LogEntry;
import io.raftactors.core.SnapshotMeta;
import java.util.ArrayList;
import java.util.List;

/**
 * The journal of one Raft node, as an event-sourced actor. Each {@link Write} from the node
 * becomes one {@code persistAll} (one atomic batch, one fsync with LevelDB); the node keeps at
 * most one write in flight and batches everything else into the next (group commit).
 */
final class RaftJournal extends EventSourcedBehavior<RaftJournal.Command, JournalEvent, RaftJournal.State> {

  sealed interface Command {}

  /** Answers with the recovered state; a journal of another group answers with an error. */
  record Recover(ActorRef<StatusReply<DurableState>> replyTo) implements Command {}

  record Write(RaftStorage.Write write, ActorRef<StatusReply<Done>> replyTo) implements Command {}

  /** Stops the journal actor once the writes before it are done. */
  enum Stop implements Command {
    INSTANCE
  }

  /** The recovered state. Mutable, owned by this actor alone. */
  static final class State {
    String groupId;
    String memberId;
    HardState hardState = HardState.INITIAL;
    /** The snapshot the log starts after (null: the log starts at index 1). */
    SnapshotMeta snapshot;
    byte[] snapshotData;
    final ArrayList<LogEntry> log = new ArrayList<>();

    long base() {
      return snapshot == null ? 0 : snapshot.lastIncludedIndex();
    }
  }

  private final String groupId;
  private final String memberId;
  private final ClusterConfig bootstrap;
  private final String journalPluginId;
  private final String snapshotPluginId;
  private final int snapshotEvery;
  private final org.slf4j.Logger log;
  /** When this actor started reading the journal. */
  private final long startedNanos = System.nanoTime();

  static Behavior<Command> create(String groupId, String memberId, ClusterConfig bootstrap,
      String journalPluginId, String snapshotPluginId, int snapshotEvery) {
    return Behaviors.setup(ctx -> new RaftJournal(ctx, groupId, memberId, bootstrap, journalPluginId, snapshotPluginId,
        snapshotEvery));
  }

  /**
   * One journal per member id: the group is recorded in the journal's first event rather than in
   * the id, so a node started on a journal of another group finds it and refuses to start.
   */
  static PersistenceId persistenceId(String memberId) {
    return PersistenceId.of("raft", memberId, "|");
  }

  private RaftJournal(ActorContext<Command> ctx, String groupId, String memberId, ClusterConfig bootstrap,
      String journalPluginId, String snapshotPluginId, int snapshotEvery) {
    super(persistenceId(memberId));
    this.snapshotEvery = snapshotEvery;
    this.log = ctx.getLog();
    this.groupId = groupId;
    this.memberId = memberId;
    this.bootstrap = bootstrap;
    this.journalPluginId = journalPluginId;
    this.snapshotPluginId = snapshotPluginId;
  }

  @Override
  public String journalPluginId() {
    return journalPluginId;
  }

  @Override
  public String snapshotPluginId() {
    return snapshotPluginId;
  }

  /**
   * Disk stays bounded: every {@code snapshotEvery} events the whole journal state (the state
   * machine snapshot plus the log after it) goes to the snapshot store, and the events before it,
   * which it covers, are deleted.
   */
  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(snapshotEvery, 2).withDeleteEventsOnSnapshot();
  }

  /** The state is mutable; what goes to the snapshot store is an immutable copy made at once. */
  @Override
  public SnapshotAdapter<State> snapshotAdapter() {
    return new SnapshotAdapter<>() {
      @Override
      public Object toJournal(State s) {
        return new JournalSnapshot(s.groupId, s.memberId, s.hardState, s.snapshot, s.snapshotData, s.log);
      }

      @Override
      public State fromJournal(Object from) {
        JournalSnapshot j = (JournalSnapshot) from;
        State s = new State();
        s.groupId = j.groupId();
        s.memberId = j.memberId();
        s.hardState = j.hardState();
        s.snapshot = j.snapshot();
        s.snapshotData = j.snapshotData();
        s.log.addAll(j.log());
        return s;
      }
    };
  }

  @Override
  public State emptyState() {
    return new State();
  }

  @Override
  public CommandHandler<Command, JournalEvent, State> commandHandler() {
    return newCommandHandlerBuilder()
        .forAnyState()
        .onCommand(Recover.class, this::onRecover)
        .onCommand(Write.class, this::onWrite)
        .onCommand(Stop.class, st -> Effect().stop())
        .build();
  }

  private Effect<JournalEvent, State> onRecover(State state, Recover r) {
    if (state.groupId == null) {
      // A new journal: record whose it is. It is still empty; the node decides whether to found the
      // group (raft.bootstrap) and then writes the founding configuration like any other entry.
      return Effect()
          .persist(new JournalEvent.Initialized(groupId, memberId))
          .thenReply(r.replyTo(), s -> StatusReply.success(toDurable(s)));
    }
    if (!state.groupId.equals(groupId) || !state.memberId.equals(memberId)) {
      return Effect().reply(r.replyTo(), StatusReply.error(new IllegalStateException(
          "the journal " + persistenceId(memberId).id() + " was written by member " + state.memberId
              + " of group " + state.groupId + ", not by member " + memberId + " of group " + groupId
              + "; refusing to start on state that is not ours")));
    }
    return Effect().reply(r.replyTo(), StatusReply.success(toDurable(state)));
  }

  private Effect<JournalEvent, State> onWrite(State state, Write w) {
    if (state.groupId == null) {
      return Effect().reply(w.replyTo(), StatusReply.error("the journal was not recovered before the first write"));
    }
    List<JournalEvent> events = new ArrayList<>(4);
    RaftStorage.Write write = w.write();
    if (write.hardState() != null) {
      events.add(new JournalEvent.TermAndVoteChanged(write.hardState().term(), write.hardState().votedFor()));
    }
    if (write.snapshot() != null) events.add(new JournalEvent.SnapshotSaved(write.snapshot().meta(), write.snapshot().data()));
    if (write.truncateFrom() > 0) events.add(new JournalEvent.LogTruncated(write.truncateFrom()));
    if (!write.entries().isEmpty()) events.add(new JournalEvent.EntriesAppended(write.entries()));
    if (events.isEmpty()) return Effect().reply(w.replyTo(), StatusReply.ack());
    return Effect().persist(events).thenReply(w.replyTo(), s -> StatusReply.ack());
  }

  @Override
  public EventHandler<State, JournalEvent> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onEvent(JournalEvent.Initialized.class, (s, e) -> {
          s.groupId = e.groupId();
          s.memberId = e.memberId();
          return s;
        })
        .onEvent(JournalEvent.TermAndVoteChanged.class, (s, e) -> {
          s.hardState = new HardState(e.term(), e.votedFor());
          return s;
        })
        .onEvent(JournalEvent.SnapshotSaved.class, (s, e) -> {
          long idx = e.meta().lastIncludedIndex();
          if (idx > s.base()) {
            int covered = (int) Math.min(s.log.size(), idx - s.base());
            s.log.subList(0, covered).clear();
            s.snapshot = e.meta();
            s.snapshotData = e.data();
          }
          return s;
        })
        .onEvent(JournalEvent.LogTruncated.class, (s, e) -> {
          int from = (int) (e.fromIndex() - s.base() - 1);
          if (from < s.log.size()) s.log.subList(Math.max(0, from), s.log.size()).clear();
          return s;
        })
        .onEvent(JournalEvent.EntriesAppended.class, (s, e) -> {
          for (LogEntry entry : e.entries()) {
            if (entry.index() <= s.base()) continue; // covered by a snapshot of the same write
            if (entry.index() != s.base() + s.log.size() + 1) {
              throw new IllegalStateException("journal replay found entry " + entry.index() + " after " + (s.base() + s.log.size()));
            }
            s.log.add(entry);
          }
          return s;
        })
        .build();
  }

  @Override
  public SignalHandler<State> signalHandler() {
    return newSignalHandlerBuilder().onSignal(RecoveryCompleted.instance(), s -> log.info(
        "Journal of raft node {} read in {} ms (plugin start, snapshot and events): {} entries after index {}",
        memberId, (System.nanoTime() - startedNanos) / 1_000_000, s.log.size(), s.base())).build();
  }

  private DurableState toDurable(State s) {
    SnapshotMeta meta = s.snapshot != null ? s.snapshot : SnapshotMeta.initial(bootstrap);
    return new DurableState(s.hardState, meta, List.copyOf(s.log), s.snapshotData);
  }
}
