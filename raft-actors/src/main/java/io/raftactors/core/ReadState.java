package io.raftactors.core;

/**
 * A read that may be served (thesis 6.4): once the state machine has applied {@code index}, a query
 * answered from it is linearizable. {@code correlationId} is the id the driver gave the read.
 */
public record ReadState(long correlationId, long index) {}
