package io.raftactors.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node in its own JVM, on durable storage (the LevelDB journal, and segment files), is killed
 * with SIGKILL in the middle of a write load. Restarted on the same directory, it must hold every
 * write it acknowledged, each exactly once and in order.
 */
class SigkillRecoveryTest {
  @TempDir Path dir;

  private Process launch(String mode, String storage) throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
        SingleNodeWriter.class.getName(), mode, dir.toAbsolutePath().toString(), storage));
    return new ProcessBuilder(cmd).redirectError(new File(dir.toFile(), mode + ".err")).start();
  }

  @ParameterizedTest
  @ValueSource(strings = {"journal", "segments"})
  void everyAcknowledgedWriteSurvivesSigkill(String storage) throws Exception {
    Process writer = launch("write", storage);
    Set<Long> acked = new HashSet<>();
    try (BufferedReader out = new BufferedReader(new InputStreamReader(writer.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while (acked.size() < 2000 && (line = out.readLine()) != null) {
        if (line.startsWith("ACK ")) acked.add(Long.parseLong(line.substring(4)));
      }
      writer.destroyForcibly(); // SIGKILL: no shutdown hook, no flush, writes in flight
      assertTrue(writer.waitFor(30, TimeUnit.SECONDS));
    }
    assertEquals(2000, acked.size(), "the writer did not get going; see writer.err");

    Process verifier = launch("verify", storage);
    List<Long> recovered = new ArrayList<>();
    boolean done = false;
    try (BufferedReader out = new BufferedReader(new InputStreamReader(verifier.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = out.readLine()) != null) {
        if (line.startsWith("APPLIED ")) recovered.add(Long.parseLong(line.substring(8)));
        if (line.equals("DONE")) done = true;
      }
    }
    assertTrue(verifier.waitFor(60, TimeUnit.SECONDS));
    assertTrue(done, "the restarted node did not finish recovery; see verify.err");
    assertTrue(recovered.containsAll(acked), "acknowledged writes were lost: " + missing(acked, recovered));
    assertEquals(recovered.size(), new HashSet<>(recovered).size(), "a command was applied twice");
    for (int i = 1; i < recovered.size(); i++) {
      // Commands were proposed 0, 1, 2, ... and the log keeps proposal order.
      assertTrue(recovered.get(i) > recovered.get(i - 1), "log order broken at " + i);
    }
  }

  private static Set<Long> missing(Set<Long> acked, List<Long> recovered) {
    Set<Long> m = new HashSet<>(acked);
    recovered.forEach(m::remove);
    return m;
  }
}
