package io.raftactors.entity;

import io.raftactors.actor.StateMachine;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * A replicated entity in the style of Akka's EventSourcedBehavior: a command handler looks at the
 * state and decides which events to apply and what to answer; an event handler applies one event
 * to the state. Use an instance as the {@link StateMachine} of a Raft node.
 *
 * <p>Commands go through the Raft log. Every replica runs the command handler on the same state
 * in the same order, so every replica takes the same decision and applies the same events; the
 * answer reaches the proposer. Checks in the command handler (no overdraft, unique names) are
 * therefore exact even under concurrent commands: each sees the state left by all commands before
 * it in the log. Both handlers must be deterministic: no clock, no randomness, no I/O, no mutable
 * state outside {@code S}.
 *
 * <p>Snapshots: override {@link #stateToBytes} and {@link #stateFromBytes} to let the log be
 * compacted; without them the entity is never snapshotted. Queries: override {@link #onQuery}.
 *
 * @param <C> commands
 * @param <E> events
 * @param <S> state
 */
public abstract class ReplicatedEntity<C, E, S> implements StateMachine {

  /** What a command handler decided: events to apply (possibly none) and the answer. */
  public static final class Effect<E, S> {
    private final List<E> events;
    private final Function<? super S, ?> reply;

    private Effect(List<E> events, Function<? super S, ?> reply) {
      this.events = events;
      this.reply = reply;
    }

    /** Apply {@code events} in order; answer null unless {@link #thenReply} says otherwise. */
    @SafeVarargs
    public static <E, S> Effect<E, S> persist(E... events) {
      return persist(Arrays.asList(events));
    }

    public static <E, S> Effect<E, S> persist(List<E> events) {
      for (E e : events) Objects.requireNonNull(e, "event");
      return new Effect<>(List.copyOf(events), s -> null);
    }

    /** No events; answer {@code answer}. */
    public static <E, S> Effect<E, S> reply(Object answer) {
      return new Effect<>(List.of(), s -> answer);
    }

    /** No events, no answer (the proposer gets null). */
    public static <E, S> Effect<E, S> none() {
      return new Effect<>(List.of(), s -> null);
    }

    /** Answer with a function of the state after the events are applied. */
    public Effect<E, S> thenReply(Function<? super S, ?> answer) {
      return new Effect<>(events, answer);
    }

    public List<E> events() {
      return events;
    }
  }

  private S state;

  protected ReplicatedEntity() {}

  /** The state before any command. */
  protected abstract S emptyState();

  /** Decides what {@code command} does in {@code state}. Must not change {@code state}. */
  protected abstract Effect<E, S> onCommand(S state, C command);

  /** Applies one event; may return a new state or the changed {@code state}. */
  protected abstract S onEvent(S state, E event);

  /** Answers a read-only query; by default the query is not supported. */
  protected Object onQuery(S state, Object query) {
    throw new UnsupportedOperationException(getClass().getName() + " does not answer queries");
  }

  /** The state as bytes for a snapshot, or null (the default) if the entity is not snapshotted. */
  protected byte[] stateToBytes(S state) {
    return null;
  }

  /** The state from {@link #stateToBytes}. */
  protected S stateFromBytes(byte[] bytes) {
    throw new UnsupportedOperationException(getClass().getName() + " does not support snapshots");
  }

  /** The current state of this replica (read it only from the node's thread, or in tests once quiet). */
  public final synchronized S state() {
    return current();
  }

  private S current() {
    if (state == null) state = Objects.requireNonNull(emptyState(), "emptyState()");
    return state;
  }

  @Override
  @SuppressWarnings("unchecked")
  public final synchronized Object apply(long index, Object command) {
    S s = current();
    Effect<E, S> effect = Objects.requireNonNull(onCommand(s, (C) command), "onCommand returned null");
    for (E e : effect.events) s = Objects.requireNonNull(onEvent(s, e), "onEvent returned null");
    state = s;
    return effect.reply.apply(s);
  }

  @Override
  public final synchronized Object query(Object query) {
    return onQuery(current(), query);
  }

  @Override
  public final synchronized byte[] takeSnapshot() {
    return stateToBytes(current());
  }

  @Override
  public final synchronized void restoreSnapshot(byte[] snapshot) {
    state = Objects.requireNonNull(stateFromBytes(snapshot), "stateFromBytes returned null");
  }
}
