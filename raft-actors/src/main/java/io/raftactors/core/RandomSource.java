package io.raftactors.core;

import java.util.SplittableRandom;

/** Randomness comes from outside the core, so that one seed replays a whole run. */
public interface RandomSource {
  /** A value in {@code [min, max]}, both inclusive. */
  int between(int min, int max);

  /** A deterministic source for one node: the same seed and node id give the same sequence. */
  static RandomSource seeded(long seed, String nodeId) {
    SplittableRandom r = new SplittableRandom(mix(seed, nodeId));
    return (min, max) -> min + r.nextInt(max - min + 1);
  }

  private static long mix(long seed, String nodeId) {
    long h = seed * 0x9E3779B97F4A7C15L;
    for (int i = 0; i < nodeId.length(); i++) {
      h = (h ^ nodeId.charAt(i)) * 0xBF58476D1CE4E5B9L;
      h ^= h >>> 31;
    }
    return h;
  }
}
