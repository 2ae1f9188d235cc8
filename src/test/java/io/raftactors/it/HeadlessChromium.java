package io.raftactors.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A headless Chromium driven through the Chrome DevTools Protocol over a WebSocket: open a page,
 * evaluate JavaScript in it, capture a screenshot. Just what the browser tests need, on the JDK's
 * HTTP client and Jackson. {@link #close} ends the browser and every process it started.
 */
final class HeadlessChromium implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern LISTENING = Pattern.compile("DevTools listening on (ws://\\S+)");
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(20);
  /** Executables looked for on the PATH, in this order. */
  static final List<String> NAMES = List.of("chromium", "chromium-browser", "google-chrome", "google-chrome-stable");
  /** How to get a browser, for a test that skips without one. */
  static final String HOW_TO_GET_IT = "no Chromium found (looked for the CHROMIUM environment variable, -Dchromium=PATH and "
      + String.join(", ", NAMES) + " on the PATH): install it (Debian: apt-get install chromium; .ci/run does) "
      + "or set CHROMIUM=/path/to/chromium";

  private final Process process;
  private final List<String> output = new CopyOnWriteArrayList<>();
  private final WebSocket socket;
  private final AtomicLong ids = new AtomicLong();
  private final Map<Long, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();

  /**
   * The browser executable: {@code -Dchromium}, else {@code CHROMIUM}, else the first of {@link
   * #NAMES} on the PATH; empty if none is found. A configured path that is no executable is an error.
   */
  static Optional<Path> find() {
    String[][] configured = {{"-Dchromium", System.getProperty("chromium")}, {"CHROMIUM", System.getenv("CHROMIUM")}};
    for (String[] c : configured) {
      if (c[1] != null && !c[1].isBlank()) {
        Path p = Path.of(c[1]);
        if (!Files.isExecutable(p)) throw new IllegalStateException(c[0] + " names " + p + ", which is no executable file");
        return Optional.of(p);
      }
    }
    String path = System.getenv("PATH");
    if (path == null) return Optional.empty();
    for (String name : NAMES) {
      for (String dir : path.split(File.pathSeparator)) {
        Path p = Path.of(dir, name);
        if (!dir.isEmpty() && Files.isExecutable(p)) return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  /**
   * Starts {@code executable} headless with its profile in {@code profile} and connects to it; fails
   * (with the browser's output) if it does not announce its DevTools endpoint within {@code within}.
   */
  static HeadlessChromium launch(Path executable, Path profile, Duration within) throws IOException, InterruptedException {
    List<String> cmd = List.of(executable.toString(), "--headless=new", "--no-sandbox", "--disable-gpu",
        "--disable-dev-shm-usage", "--remote-debugging-port=0", "--user-data-dir=" + profile, "--no-first-run",
        "--no-default-browser-check", "--disable-extensions", "--disable-background-networking", "--disable-sync",
        "--window-size=1280,860", "about:blank");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      return new HeadlessChromium(p, within);
    } catch (IOException | InterruptedException | RuntimeException e) {
      destroyTree(p);
      throw e;
    }
  }

  private HeadlessChromium(Process process, Duration within) throws IOException, InterruptedException {
    this.process = process;
    CompletableFuture<String> endpoint = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = r.readLine(); line != null; line = r.readLine()) {
          if (output.size() < 500) output.add(line);
          Matcher m = LISTENING.matcher(line);
          if (m.find()) endpoint.complete(m.group(1));
        }
      } catch (IOException e) {
        output.add("(reading the browser's output failed: " + e + ")");
      }
      endpoint.completeExceptionally(new IOException("the browser exited (code " + exitCode() + ") without a DevTools endpoint"));
    }, "chromium-output");
    reader.setDaemon(true);
    reader.start();
    String url;
    try {
      url = endpoint.get(within.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new IOException("Chromium did not announce its DevTools endpoint within " + within + ": " + e + "; its output: "
          + String.join("\n", output), e);
    }
    // Generous: a browser starting on a busy machine (the tests start JVMs meanwhile) can be slow to answer.
    socket = HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(within)
        .buildAsync(URI.create(url), new Listener()).join();
  }

  private String exitCode() {
    return process.isAlive() ? "none yet" : String.valueOf(process.exitValue());
  }

  /** Opens {@code url} in a new tab of {@code width} x {@code height} CSS pixels; returns the session to address it. */
  String open(String url, int width, int height) throws IOException {
    String target = call(null, "Target.createTarget", params().put("url", "about:blank")).get("targetId").asText();
    String session = call(null, "Target.attachToTarget", params().put("targetId", target).put("flatten", true))
        .get("sessionId").asText();
    call(session, "Emulation.setDeviceMetricsOverride", params().put("width", width).put("height", height)
        .put("deviceScaleFactor", 1).put("mobile", false));
    call(session, "Page.navigate", params().put("url", url));
    return session;
  }

  /** Evaluates {@code expression} in the page of {@code session}; its value (a JSON value), or fails with the page's exception. */
  JsonNode evaluate(String session, String expression) throws IOException {
    JsonNode r = call(session, "Runtime.evaluate", params().put("expression", expression).put("returnByValue", true));
    if (r.has("exceptionDetails")) throw new IOException("the page threw: " + r.get("exceptionDetails"));
    return r.path("result").path("value");
  }

  /** A PNG of what the page of {@code session} shows. */
  byte[] screenshot(String session) throws IOException {
    return Base64.getDecoder().decode(call(session, "Page.captureScreenshot", params().put("format", "png")).get("data").asText());
  }

  /** The browser's output so far (its first 500 lines), for failure messages. */
  List<String> output() {
    return new ArrayList<>(output);
  }

  private static ObjectNode params() {
    return JSON.createObjectNode();
  }

  /** Sends one command (to the browser if {@code session} is null) and waits for its result. */
  private JsonNode call(String session, String method, ObjectNode params) throws IOException {
    long id = ids.incrementAndGet();
    ObjectNode msg = JSON.createObjectNode().put("id", id).put("method", method);
    msg.set("params", params);
    if (session != null) msg.put("sessionId", session);
    CompletableFuture<JsonNode> answer = new CompletableFuture<>();
    pending.put(id, answer);
    try {
      socket.sendText(msg.toString(), true).get(COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      JsonNode reply = answer.get(COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      if (reply.has("error")) throw new IOException(method + " failed: " + reply.get("error"));
      return reply.path("result");
    } catch (ExecutionException | TimeoutException e) {
      throw new IOException(method + " got no answer within " + COMMAND_TIMEOUT + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted waiting for " + method, e);
    } finally {
      pending.remove(id);
    }
  }

  /** Collects each message (which may come in parts) and hands answers to their commands; events are ignored. */
  private final class Listener implements WebSocket.Listener {
    private final StringBuilder text = new StringBuilder();

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      text.append(data);
      if (last) {
        try {
          JsonNode msg = JSON.readTree(text.toString());
          CompletableFuture<JsonNode> waiting = msg.has("id") ? pending.get(msg.get("id").asLong()) : null;
          if (waiting != null) waiting.complete(msg);
        } catch (IOException e) {
          output.add("(a DevTools message that is no JSON: " + e + ")");
        }
        text.setLength(0);
      }
      ws.request(1);
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      pending.values().forEach(f -> f.completeExceptionally(error));
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
      pending.values().forEach(f -> f.completeExceptionally(new IOException("the browser closed the connection: " + reason)));
      return null;
    }
  }

  /** Closes the browser, and kills it and its helper processes if they are still there. */
  @Override
  public void close() {
    try {
      call(null, "Browser.close", params());
    } catch (IOException | RuntimeException e) {
      // killed below
    }
    try {
      process.waitFor(3, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    destroyTree(process);
  }

  private static void destroyTree(Process p) {
    List<ProcessHandle> tree = new ArrayList<>(p.descendants().toList());
    tree.add(p.toHandle());
    tree.forEach(ProcessHandle::destroyForcibly);
    for (ProcessHandle h : tree) {
      try {
        h.onExit().get(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (ExecutionException | TimeoutException e) {
        // a process that does not go away is left to the operating system
      }
    }
  }
}
