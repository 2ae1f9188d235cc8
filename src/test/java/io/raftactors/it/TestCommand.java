package io.raftactors.it;

import io.raftactors.actor.RaftSerializable;

/** A user command, serialized with CBOR through the RaftSerializable marker. */
public record TestCommand(String client, long seq) implements RaftSerializable {}
