package io.raftactors.core;

import java.util.Arrays;
import java.util.Collection;
import java.util.Set;
import java.util.function.ToLongFunction;

/**
 * Who must agree for a decision: a majority of one set of voters, or (during a joint change, thesis
 * 4.3) separate majorities of two sets. Elections, commitment and read rounds all ask the same
 * quorum, so each counts a member the same way.
 */
sealed interface Quorum permits Quorum.Majority, Quorum.Joint {

  /** How a vote stands. */
  enum VoteResult {
    WON,
    /** Not decided yet: enough members have not answered for either outcome. */
    PENDING,
    LOST
  }

  /** Every member whose agreement counts (both halves of a joint quorum). */
  Set<String> voters();

  /**
   * The highest value that the quorum has reached, where {@code value} gives each voter's value
   * (a match index, an acknowledged round, a tick of last contact). For a majority of n this is the
   * (n/2+1)-th highest value; for a joint quorum the smaller of its two halves.
   */
  long agreed(ToLongFunction<String> value);

  /** The outcome of a vote in which {@code granted} voters said yes and {@code rejected} said no. */
  VoteResult tally(Collection<String> granted, Collection<String> rejected);

  static Quorum of(ClusterConfig config) {
    Majority incoming = new Majority(Set.copyOf(config.voters()));
    return config.joint() ? new Joint(incoming, new Majority(Set.copyOf(config.outgoingVoters()))) : incoming;
  }

  /** A majority of {@code voters}. An empty set agrees to anything (the idle half of a joint quorum). */
  record Majority(Set<String> voters) implements Quorum {
    public Majority {
      voters = Set.copyOf(voters);
    }

    /** The number of voters that make a majority. */
    int size() {
      return voters.size() / 2 + 1;
    }

    @Override
    public long agreed(ToLongFunction<String> value) {
      if (voters.isEmpty()) return Long.MAX_VALUE; // does not constrain the other half of a joint quorum
      long[] values = new long[voters.size()];
      int n = 0;
      for (String v : voters) values[n++] = value.applyAsLong(v);
      Arrays.sort(values);
      return values[values.length - size()];
    }

    @Override
    public VoteResult tally(Collection<String> granted, Collection<String> rejected) {
      if (voters.isEmpty()) return VoteResult.WON;
      int yes = 0;
      int no = 0;
      for (String v : voters) {
        if (granted.contains(v)) yes++;
        else if (rejected.contains(v)) no++;
      }
      if (yes >= size()) return VoteResult.WON;
      if (voters.size() - no < size()) return VoteResult.LOST;
      return VoteResult.PENDING;
    }
  }

  /** Thesis 4.3: C_old,new needs a majority of the new voters and, separately, of the old ones. */
  record Joint(Majority incoming, Majority outgoing) implements Quorum {
    @Override
    public Set<String> voters() {
      java.util.TreeSet<String> all = new java.util.TreeSet<>(incoming.voters());
      all.addAll(outgoing.voters());
      return Set.copyOf(all);
    }

    @Override
    public long agreed(ToLongFunction<String> value) {
      return Math.min(incoming.agreed(value), outgoing.agreed(value));
    }

    @Override
    public VoteResult tally(Collection<String> granted, Collection<String> rejected) {
      VoteResult a = incoming.tally(granted, rejected);
      VoteResult b = outgoing.tally(granted, rejected);
      if (a == VoteResult.LOST || b == VoteResult.LOST) return VoteResult.LOST;
      if (a == VoteResult.WON && b == VoteResult.WON) return VoteResult.WON;
      return VoteResult.PENDING;
    }
  }
}
