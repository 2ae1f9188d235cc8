package io.raftactors.examples.kv;

import io.raftactors.actor.RaftSerializable;

/** Commands of the replicated key-value store; serialized once when proposed ({@link KvSerializer}). */
public sealed interface KvCommand extends RaftSerializable {
  String key();

  /** Sets {@code key} to {@code value}; the result is the previous value or null. */
  record Put(String key, String value) implements KvCommand {}

  /** Removes {@code key}; the result is the removed value or null. */
  record Delete(String key) implements KvCommand {}

  /**
   * Sets {@code key} to {@code value} if its current value is {@code expected} (null: absent); the
   * result is a {@link CasResult}.
   */
  record Cas(String key, String expected, String value) implements KvCommand {}

  /** Whether a {@link Cas} swapped, and the value the key holds after it (null: absent). */
  record CasResult(boolean swapped, String current) implements RaftSerializable {}

  /** The query for the value of {@code key} (null if absent). */
  record Get(String key) implements RaftSerializable {}
}
