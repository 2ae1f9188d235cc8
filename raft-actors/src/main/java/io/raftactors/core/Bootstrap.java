package io.raftactors.core;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What a node does when its storage is empty (thesis 3.8, 4.4): a first start, or storage that was
 * lost. A node that lost its storage may have voted and acknowledged entries it no longer
 * remembers; if it simply founded the group again it could vote twice in a term or let an entry
 * commit without a majority. The decision is made here, without I/O, so that the actor shell and
 * the simulation take it the same way:
 *
 * <ul>
 *   <li>storage that is not empty: run on it;
 *   <li>{@link Mode#JOIN}: run on empty state that knows the founders without being one of their
 *       voters; the configuration arrives by replication (T4.4-01);
 *   <li>{@link Mode#UNCHECKED} (or no other founder): found at once, writing the founding
 *       configuration as entry 1;
 *   <li>{@link Mode#CHECKED}: ask every other founder, with a pre-vote for term 1 from an empty log
 *       (it changes nothing on the receiver and is always refused, with the receiver's term); found
 *       once all answered term 0, refuse for good as soon as one shows a later term (T3.8-11). A
 *       node that waits or refuses never votes, never campaigns and never acknowledges entries; it
 *       answers pre-votes only, so that other members that lost their storage learn the term too.
 * </ul>
 */
public final class Bootstrap {

  /** How a node with empty storage starts ({@code raft.bootstrap}). */
  public enum Mode { UNCHECKED, CHECKED, JOIN }

  /** What to do next. */
  public sealed interface Decision {}

  /** Run on this state (recovered, or empty for a member that joins). */
  public record Run(DurableState state) implements Decision {}

  /** Write this founding state (its log), then run on it. */
  public record Found(DurableState founded) implements Decision {}

  /** Keep waiting for the founders that have not answered. */
  public record Wait(Set<String> unanswered) implements Decision {}

  /** Storage was lost: {@code witness} is in {@code groupTerm} already. Take no part, for good. */
  public record Refuse(String witness, long groupTerm) implements Decision {}

  private final String self;
  private final ClusterConfig founders;
  private final Mode mode;
  private final Set<String> unanswered = new LinkedHashSet<>();
  private Decision decision;

  public Bootstrap(String self, ClusterConfig founders, Mode mode) {
    this.self = Objects.requireNonNull(self, "self");
    this.founders = Objects.requireNonNull(founders, "founders");
    this.mode = Objects.requireNonNull(mode, "mode");
  }

  /** No term, no vote, no snapshot, no entry: a first start, or storage that was lost. */
  public static boolean isEmpty(DurableState s) {
    return s.hardState().term() == 0 && s.hardState().votedFor() == null && s.snapshot().lastIncludedIndex() == 0
        && s.entries().isEmpty();
  }

  /** The other founding voters. */
  public List<String> peers() {
    return founders.voters().stream().filter(m -> !m.equals(self)).toList();
  }

  /** The decision on the state read from storage. */
  public Decision recovered(DurableState state) {
    if (!isEmpty(state)) return decision = new Run(state);
    List<String> peers = peers();
    if (mode == Mode.JOIN) return decision = new Run(DurableState.empty(new ClusterConfig(peers)));
    if (mode == Mode.UNCHECKED || peers.isEmpty()) return decision = new Found(DurableState.bootstrap(founders));
    unanswered.addAll(peers);
    return decision = new Wait(Set.copyOf(unanswered));
  }

  /** The probe to send to each founder in {@link Wait#unanswered} (again after a pause, until they answer). */
  public RaftMessage.PreVote probe() {
    return new RaftMessage.PreVote(1, self, 0, 0);
  }

  /** The latest decision. */
  public Decision decision() {
    return decision;
  }

  /**
   * A message from another member while waiting or refusing. Returns the answer to send back
   * (a refused pre-vote with this node's view of the term), or null; {@link #decision()} then
   * says whether to found, refuse or keep waiting.
   */
  public RaftMessage received(RaftMessage m) {
    if (decision instanceof Refuse r) {
      return m instanceof RaftMessage.PreVote ? new RaftMessage.PreVoteResponse(r.groupTerm(), self, false) : null;
    }
    if (!(decision instanceof Wait)) throw new IllegalStateException("not waiting for founders: " + decision);
    RaftMessage reply = null;
    long theirTerm;
    if (m instanceof RaftMessage.PreVote pv) {
      reply = new RaftMessage.PreVoteResponse(0, self, false);
      // A probe (empty log) comes from a member that is itself waiting, in term 0; a real pre-vote
      // proposes the sender's term + 1.
      theirTerm = pv.lastLogIndex() == 0 ? 0 : pv.term() - 1;
    } else if (m instanceof RaftMessage.PreVoteResponse r) {
      theirTerm = r.granted() ? r.term() - 1 : r.term();
    } else {
      theirTerm = m.term(); // votes, appends, snapshots: only ever sent in term 1 or later
    }
    if (theirTerm > 0) {
      decision = new Refuse(m.from(), theirTerm);
      return reply;
    }
    unanswered.remove(m.from());
    decision = unanswered.isEmpty() ? new Found(DurableState.bootstrap(founders)) : new Wait(Set.copyOf(unanswered));
    return reply;
  }
}
