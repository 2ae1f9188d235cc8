package io.raftactors.persistence;

import com.typesafe.config.Config;
import io.raftactors.actor.RaftSettings;
import java.io.File;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.iq80.leveldb.DB;
import org.iq80.leveldb.DBFactory;
import org.iq80.leveldb.DBIterator;
import org.iq80.leveldb.Options;

/**
 * Refuses to start a node on one storage while its member's log is in the other one. A node that
 * finds its storage empty starts over (or, with raft.bootstrap = checked, refuses only if another
 * member is already past term 0): after {@code raft.persistence.storage} changed, it would start on
 * empty storage and the log it wrote before would be silently left behind. So before a storage
 * starts, the other one is looked at:
 *
 * <ul>
 *   <li>for {@code segments}: the LevelDB journal ({@code raft.persistence.journal-plugin}, when it
 *       is the LevelDB plugin, and its directory exists) holding events of this member's persistence
 *       id, or the local snapshot store holding snapshots of it;
 *   <li>for {@code journal}: the member's directory ({@code raft.persistence.segments.dir}/group/member)
 *       beside segment files of the node's log, or segment files in it (an earlier version's layout).
 * </ul>
 *
 * Either is an {@link IllegalStateException} naming the data found and the setting that uses it.
 */
final class StorageGuard {
  private StorageGuard() {}

  /** Akka's LevelDB journal: keys are (numeric persistence id, sequence number, mapping id). */
  private static final int MAPPING_KEY_ID = 1;

  /** Before the segment storage of {@code settings} starts: this member's log must not be in the journal. */
  static void checkNoJournalData(Config config, RaftSettings settings) {
    String persistenceId = RaftJournal.persistenceId(settings.memberId()).id();
    List<String> found = new ArrayList<>();
    String journalPlugin = config.getString("raft.persistence.journal-plugin");
    if (isLevelDb(config, journalPlugin)) {
      File dir = new File(config.getString(journalPlugin + ".dir"));
      long events = leveldbHighestSequenceNr(dir, config.getBoolean(journalPlugin + ".native"), persistenceId, settings);
      if (events > 0) {
        found.add("the LevelDB journal in " + dir.getAbsolutePath() + " (" + journalPlugin + ".dir) holds the events of "
            + "persistence id '" + persistenceId + "' (up to sequence number " + events + ")");
      }
    }
    String snapshotPlugin = config.getString("raft.persistence.snapshot-plugin");
    if (config.hasPath(snapshotPlugin + ".dir")) {
      Path dir = Path.of(config.getString(snapshotPlugin + ".dir"));
      String prefix = "snapshot-" + URLEncoder.encode(persistenceId, StandardCharsets.UTF_8) + "-";
      int n = count(dir, prefix + "*");
      if (n > 0) {
        found.add(dir.toAbsolutePath() + " (" + snapshotPlugin + ".dir) holds " + n + " journal snapshot file(s) of '"
            + persistenceId + "'");
      }
    }
    if (found.isEmpty()) return;
    throw new IllegalStateException("raft node " + settings.memberId() + " of group " + settings.groupId()
        + " does not start on segment files (raft.persistence.storage = segments): its log is in the journal: "
        + String.join("; ", found) + ". Starting on empty segment files would leave that log behind. To keep using "
        + "it, set raft.persistence.storage = journal. To start this member on segments without it, move that data "
        + "away first.");
  }

  /** Before the journal storage of {@code settings} starts: this member's log must not be in segment files. */
  static void checkNoSegmentData(Config config, RaftSettings settings) {
    Path dir = SegmentStorage.directory(config, settings);
    Path logDir = Path.of(config.getString("raft.persistence.segments.dir"));
    int own = count(dir, "segment-*.log"); // the per-member layout of an earlier version
    int shared = Files.isDirectory(dir) ? count(logDir, "segment-*.log") : 0; // the member's directory: it has been on the log
    if (own + shared == 0) return;
    String where = own > 0 ? dir.toAbsolutePath() + " (raft.persistence.segments.dir) holds " + own + " segment file(s) of this member. "
        : dir.toAbsolutePath() + " is this member's directory in the segment log of " + logDir.toAbsolutePath()
            + " (raft.persistence.segments.dir), which holds " + shared + " segment file(s). ";
    throw new IllegalStateException("raft node " + settings.memberId() + " of group " + settings.groupId()
        + " does not start on the journal (raft.persistence.storage = journal): its log is in segment files: "
        + where
        + "Starting on an empty journal would leave that log behind. To keep using it, set raft.persistence.storage = "
        + "segments. To start this member on the journal without it, move that directory away first.");
  }

  /**
   * Before the segment storage of {@code settings} starts: segment files in the member's own
   * directory are the per-member layout of an earlier version, which is not read.
   */
  static void checkNotPerMemberLayout(Config config, RaftSettings settings) {
    Path memberDir = SegmentStorage.directory(config, settings);
    int n = count(memberDir, "segment-*.log");
    if (n == 0) return;
    throw new IllegalStateException("raft node " + settings.memberId() + " of group " + settings.groupId()
        + " does not start: " + memberDir.toAbsolutePath() + " holds " + n + " segment file(s) of the "
        + "per-member layout of an earlier version, which this version does not read (every group of a node now "
        + "shares one log in raft.persistence.segments.dir). Move that directory away to start this member empty.");
  }

  /** Whether {@code plugin} is Akka's LevelDB journal (the default), which keeps its files in {@code dir}. */
  private static boolean isLevelDb(Config config, String plugin) {
    return config.hasPath(plugin + ".class") && config.getString(plugin + ".class").contains("leveldb")
        && config.hasPath(plugin + ".dir") && config.hasPath(plugin + ".native");
  }

  /** Files in {@code dir} whose names match {@code glob}; 0 if there is no such directory. */
  private static int count(Path dir, String glob) {
    if (!Files.isDirectory(dir)) return 0;
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, glob)) {
      int n = 0;
      for (Path ignored : files) n++;
      return n;
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + dir.toAbsolutePath() + " to check for data of another storage: " + e, e);
    }
  }

  /**
   * The highest sequence number the LevelDB journal in {@code dir} recorded for {@code persistenceId}
   * (0: none, or no journal there). Reads the ids and counters Akka's LevelDB journal keeps: a
   * mapping from persistence id to a number, and per number the highest sequence number written.
   */
  private static long leveldbHighestSequenceNr(File dir, boolean nativeLib, String persistenceId, RaftSettings settings) {
    if (!new File(dir, "CURRENT").isFile()) return 0;
    DBFactory factory = nativeLib ? org.fusesource.leveldbjni.JniDBFactory.factory
        : org.iq80.leveldb.impl.Iq80DBFactory.factory;
    try (DB db = factory.open(dir, new Options().createIfMissing(false))) {
      Map<String, Integer> ids = new java.util.HashMap<>();
      try (DBIterator it = db.iterator()) {
        for (it.seek(key(MAPPING_KEY_ID, 0, 0)); it.hasNext(); ) {
          Map.Entry<byte[], byte[]> e = it.next();
          ByteBuffer k = ByteBuffer.wrap(e.getKey());
          if (k.remaining() < 16 || k.getInt() != MAPPING_KEY_ID || k.getLong() != 0) break;
          ids.put(new String(e.getValue(), StandardCharsets.UTF_8), k.getInt());
        }
      }
      Integer id = ids.get(persistenceId);
      if (id == null) return 0;
      byte[] counter = db.get(key(id, 0, 0));
      return counter == null || counter.length < 8 ? 0 : ByteBuffer.wrap(counter).getLong();
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException("raft node " + settings.memberId() + " of group " + settings.groupId()
          + " cannot check whether the LevelDB journal in " + dir.getAbsolutePath() + " holds its log (" + e
          + "); it does not start on segment files (raft.persistence.storage = segments) without knowing", e);
    }
  }

  /** A key as Akka's LevelDB journal writes it. */
  private static byte[] key(int persistenceId, long sequenceNr, int mappingId) {
    return ByteBuffer.allocate(20).putInt(persistenceId).putLong(sequenceNr).putInt(mappingId).array();
  }
}
