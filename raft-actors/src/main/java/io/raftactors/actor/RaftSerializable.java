package io.raftactors.actor;

/**
 * Marker for everything raft-actors sends between nodes. It is bound to Akka's {@code jackson-cbor}
 * serializer in reference.conf; Java serialization is never used. User commands may implement it
 * too to get CBOR without any further configuration.
 */
public interface RaftSerializable {}
