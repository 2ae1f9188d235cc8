package io.raftactors.core;

import java.util.ArrayDeque;

/**
 * The leader's view of one follower (paper Figure 2 nextIndex/matchIndex, plus the replication
 * mode). In PROBE mode the leader sends one AppendEntries at a time to find where the logs agree;
 * in REPLICATE mode it pipelines up to a window of requests with an optimistic nextIndex
 * (thesis 10.2.2) and falls back to PROBE after any rejection or a stall.
 */
final class Progress {
  enum Mode {
    PROBE,
    REPLICATE,
    /** Sending a snapshot (T5.1-06): one chunk in flight, resumed from {@code snapshotOffset}. */
    SNAPSHOT
  }

  /** An AppendEntries in flight: its last index, when it left, and whether its batch was partial. */
  record Inflight(long lastIndex, long sentAt, boolean partial) {}

  long matchIndex;
  long nextIndex;
  Mode mode = Mode.PROBE;
  /** In PROBE mode: a probe is outstanding; wait for its reply or the next heartbeat. */
  boolean probeSent;
  /** Tick of the last message from this follower in the current term (check-quorum, thesis 6.2). */
  long lastContact;
  /** Highest heartbeat round this follower has echoed in the current term (reads, leases). */
  long ackedRound;
  /** Tick of the last AppendEntries sent; heartbeats are skipped while traffic flows. */
  long lastSent = Long.MIN_VALUE / 2;
  /** No answer from the follower since entries or snapshot bytes last left for it (see {@link #silent}). */
  private boolean silent;
  final ArrayDeque<Inflight> inflight = new ArrayDeque<>();
  /** In SNAPSHOT mode: the snapshot being sent and the offset the follower has acknowledged. */
  Snapshot sending;
  long snapshotOffset;
  /** In SNAPSHOT mode: where the chunk in flight ends; its acknowledgement names this offset. */
  long snapshotInFlightEnd = -1;

  Progress(long nextIndex, long now) {
    this.nextIndex = nextIndex;
    this.lastContact = now;
  }

  /**
   * The follower has not answered anything since entries or snapshot bytes last left for it: it may
   * be stopped (a paused process, a stalled connection), and whatever the leader sends it now may
   * wait in a queue on the way instead of being lost. While it is silent, probes carry no entries
   * and a snapshot transfer sends no chunk (the follower is asked where it stands instead), and
   * pipelining never has more than its window outstanding: what the leader hands out for a silent
   * follower is bounded by the window, not by how long it stays silent.
   */
  boolean silent() {
    return silent;
  }

  /** An answer from the follower arrived at tick {@code now}. */
  void heardFrom(long now) {
    lastContact = now;
    silent = false;
  }

  /** A message carrying entries or snapshot bytes left for the follower. */
  void dataSent() {
    silent = true;
  }

  void becomeSnapshot(Snapshot s) {
    mode = Mode.SNAPSHOT;
    sending = s;
    snapshotOffset = 0;
    snapshotInFlightEnd = -1;
    probeSent = false;
    inflight.clear();
  }

  void becomeProbe(long next) {
    sending = null;
    mode = Mode.PROBE;
    nextIndex = Math.max(matchIndex + 1, next);
    probeSent = false;
    inflight.clear();
  }

  void becomeReplicate() {
    sending = null;
    mode = Mode.REPLICATE;
    nextIndex = matchIndex + 1;
    probeSent = false;
    inflight.clear();
  }

  /** Records an acknowledged match; returns true if it moved matchIndex forward. */
  boolean acknowledge(long match) {
    if (match <= matchIndex) return false;
    matchIndex = match;
    nextIndex = Math.max(nextIndex, match + 1);
    while (!inflight.isEmpty() && inflight.peekFirst().lastIndex() <= match) inflight.pollFirst();
    return true;
  }

  @Override
  public String toString() {
    return "Progress{match=" + matchIndex + ", next=" + nextIndex + ", " + mode + ", inflight=" + inflight.size() + "}";
  }
}
