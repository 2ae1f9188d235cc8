package io.raftactors.core;

/**
 * Where a member can be reached, as the driver understands it; the core only carries it in
 * configurations, so that a member added at run time can be reached by every other member without
 * editing their settings.
 *
 * @param peer the address other members send Raft messages to (the actor shell: an Akka address
 *     such as {@code akka://raft@127.0.0.1:2554})
 * @param client where clients reach the member's own API, or null (the KV example: its HTTP
 *     {@code host:port})
 */
public record MemberAddress(String peer, String client) {
  public MemberAddress {
    if (peer == null || peer.isBlank()) throw new IllegalArgumentException("a member address needs a peer address");
  }
}
