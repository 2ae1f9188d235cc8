package io.raftactors.core;

/** A message for the peer {@code to}. */
public record Outbound(String to, RaftMessage message) {}
