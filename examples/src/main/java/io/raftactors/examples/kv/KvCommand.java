package io.raftactors.examples.kv;

import io.raftactors.actor.RaftSerializable;

/** Commands of the replicated key-value store; serialized once, with CBOR, when proposed. */
public sealed interface KvCommand extends RaftSerializable {
  String key();

  /** Sets {@code key} to {@code value}; the result is the previous value or null. */
  record Put(String key, String value) implements KvCommand {}

  /** Removes {@code key}; the result is the removed value or null. */
  record Delete(String key) implements KvCommand {}
}
