package io.raftactors.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.raftactors.actor.InMemoryStorage;
import io.raftactors.actor.RaftStorage;
import io.raftactors.core.ClusterConfig;
import io.raftactors.core.DurableState;
import io.raftactors.core.EntryData;
import io.raftactors.core.HardState;
import io.raftactors.core.LogEntry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SegmentStorage} on a real full disk: a tmpfs of 256 KiB, mounted for the test, then
 * remounted larger to give space back. Mounting needs root (or CAP_SYS_ADMIN) on Linux; elsewhere
 * the test is skipped with the reason, and {@link SegmentStorageFullDiskTest} covers the same
 * faults on an injected full disk everywhere.
 */
class SegmentStorageOnTmpfsTest {
  private static final ClusterConfig THREE = ClusterConfig.of("n1", "n2", "n3");
  private static final int SEGMENT = 64 * 1024;

  @TempDir
  Path base;

  private Path mount;
  private boolean mounted;

  /** Runs a command; returns its output, or null if it failed. */
  private static String run(String... command) throws IOException, InterruptedException {
    Process p;
    try {
      p = new ProcessBuilder(command).redirectErrorStream(true).start();
    } catch (IOException e) {
      return null; // no such command
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return null;
    }
    return p.exitValue() == 0 ? out : null;
  }

  @BeforeEach
  void mountSmallTmpfs() throws Exception {
    assumeTrue(System.getProperty("os.name", "").toLowerCase().contains("linux"), "a tmpfs needs Linux");
    mount = Files.createDirectories(base.resolve("tmpfs"));
    mounted = run("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mount.toString()) != null;
    assumeTrue(mounted, "cannot mount a tmpfs here (it needs root or CAP_SYS_ADMIN); SegmentStorageFullDiskTest "
        + "covers a full disk everywhere");
  }

  @AfterEach
  void unmount() throws Exception {
    if (mounted && run("umount", mount.toString()) == null) {
      fail("could not unmount the test tmpfs at " + mount);
    }
  }

  private static RaftStorage.Write entryWrite(long index) {
    byte[] data = new byte[1000];
    java.util.Arrays.fill(data, (byte) index);
    return new RaftStorage.Write(new HardState(1, "n1"), 0, List.of(new LogEntry(index, 1, new EntryData.Command(33, "kv", data))));
  }

  private static DurableState recover(RaftStorage s) throws Exception {
    return s.recover().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static void write(RaftStorage s, RaftStorage.Write w) throws Exception {
    s.write(w).toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static void assertSameLog(DurableState expected, DurableState actual, String when) {
    assertEquals(expected.hardState(), actual.hardState(), when + ": hard state");
    assertEquals(expected.entries(), actual.entries(), when + ": entries");
  }

  /** The log's files (below it too), but for its lock file. */
  private List<String> files(Path dir) throws IOException {
    try (var f = Files.walk(dir)) {
      List<String> names = new ArrayList<>(f.filter(Files::isRegularFile).map(p -> dir.relativize(p).toString())
          .filter(n -> !n.equals("lock")).toList());
      names.sort(null);
      return names;
    }
  }

  @Test
  void onARealFullDiskWritesFailWithENOSPC_nothingHalfMadeIsLeft_andRecoveryGivesTheAcknowledgedWrites() throws Exception {
    Path dir = mount.resolve("log");
    InMemoryStorage model = new InMemoryStorage(THREE);
    SegmentStorage s = new SegmentStorage(dir, SEGMENT, true, THREE, "tmpfs-n1");
    try {
      recover(s);
      write(s, new RaftStorage.Write(null, 0, DurableState.bootstrap(THREE).entries()));
      long next = 2;
      Throwable cause = null;
      while (cause == null) {
        assertTrue(next < 2000, "256 KiB never filled up");
        try {
          write(s, entryWrite(next));
          model.write(entryWrite(next++));
        } catch (ExecutionException e) {
          cause = e.getCause();
        }
      }
      assertTrue(cause.getMessage().contains("No space left on device"), String.valueOf(cause));
      for (String f : files(dir)) assertTrue(f.matches("segment-\\d{20}\\.log"), "left after the failure: " + files(dir));
      assertSameLog(recover(model), recover(s), "recovered on the full disk");

      assertTrue(run("mount", "-o", "remount,size=1m", mount.toString()) != null, "could not give the tmpfs more space");
      assertSameLog(recover(model), recover(s), "recovered with space again");
      int segments = s.segmentFiles().size();
      for (long end = next + 100; next < end; next++) {
        write(s, entryWrite(next));
        model.write(entryWrite(next));
      }
      assertTrue(s.segmentFiles().size() > segments, "the log went on in new segments");
    } finally {
      s.close();
    }
    try (SegmentStorage again = new SegmentStorage(dir, SEGMENT, true, THREE, "tmpfs-n1")) {
      assertSameLog(recover(model), recover(again), "reopened");
    }
  }
}
