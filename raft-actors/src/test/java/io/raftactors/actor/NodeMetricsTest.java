package io.raftactors.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.raftactors.actor.NodeMetrics.Size;
import io.raftactors.actor.NodeMetrics.Stage;
import org.junit.jupiter.api.Test;

/** How {@link NodeMetrics} matches the events of the write path into stage times. */
class NodeMetricsTest {
  private static final long MS = 1_000_000;

  @Test
  void aRoundTripIsTimedFromTheAppendEntriesToTheAcknowledgementOfItsLastEntry() {
    NodeMetrics m = new NodeMetrics("n1");
    m.appendSent("n2", 2, 5, 10 * MS);
    m.appendSent("n2", 3, 8, 11 * MS);
    m.appendSent("n3", 3, 8, 11 * MS);
    m.appendAnswered("n2", true, 5, 12 * MS); // 2 ms
    m.appendAnswered("n2", true, 8, 15 * MS); // 4 ms
    m.appendAnswered("n3", true, 8, 12 * MS); // 1 ms
    m.appendAnswered("n3", true, 8, 20 * MS); // a duplicate acknowledgement: nothing left to time
    NodeMetrics.Snapshot s = m.snapshot(false);
    assertEquals(3, s.stages().get(Stage.REPLICATION_ROUND_TRIP).count());
    assertEquals(2, s.roundTripByFollower().get("n2").count());
    assertEquals(4000, s.roundTripByFollower().get("n2").max(), 40);
    assertEquals(1000, s.roundTripByFollower().get("n3").max(), 10);
    assertEquals(3, s.sizes().get(Size.ENTRIES_PER_APPEND).max());
  }

  @Test
  void anAcknowledgementCoversEarlierAppends_aRejectionDropsWhatWasInFlight() {
    NodeMetrics m = new NodeMetrics("n1");
    m.appendSent("n2", 1, 3, 0);
    m.appendSent("n2", 1, 4, MS);
    m.appendAnswered("n2", true, 4, 3 * MS); // acknowledges 3 too, timed once, for 4
    m.appendSent("n2", 1, 5, 4 * MS);
    m.appendAnswered("n2", false, 0, 5 * MS);
    m.appendAnswered("n2", true, 5, 6 * MS); // after the rejection, 5 was not timed any more
    NodeMetrics.Snapshot s = m.snapshot(false);
    assertEquals(1, s.stages().get(Stage.REPLICATION_ROUND_TRIP).count());
    assertEquals(2000, s.stages().get(Stage.REPLICATION_ROUND_TRIP).max(), 20);
  }

  @Test
  void proposalsAreTimedToTheWriteThatHoldsThem_andWritesPerCommittedEntryAreCounted() {
    NodeMetrics m = new NodeMetrics("n1");
    m.committed(2);
    m.proposed(3, 0);
    m.proposed(4, MS);
    m.proposed(5, 2 * MS);
    m.writeStarted(2, 200, 4, 3 * MS); // holds 3 and 4: 3 ms and 2 ms
    m.writeDone(4 * MS);
    m.writeStarted(1, 100, 5, 5 * MS); // holds 5: 3 ms
    m.writeDone(7 * MS);
    m.committed(5);
    NodeMetrics.Snapshot s = m.snapshot(true);
    assertEquals(3, s.stages().get(Stage.PROPOSED_TO_WRITE).count());
    assertEquals(3000, s.stages().get(Stage.PROPOSED_TO_WRITE).max(), 30);
    assertEquals(2, s.stages().get(Stage.WRITE).count());
    assertEquals(2000, s.stages().get(Stage.WRITE).max(), 20);
    assertEquals(3, s.entriesWritten());
    assertEquals(3, s.entriesCommitted());
    assertEquals(2 / 3.0, s.fsyncsPerCommittedEntry(), 1e-9);
    assertEquals(0, m.snapshot(false).writes(), "reset");
  }
}
