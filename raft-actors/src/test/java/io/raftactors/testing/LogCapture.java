package io.raftactors.testing;

import akka.actor.testkit.typed.internal.CapturingAppender;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * Prints the log of a test only when it fails: every test starts with an empty capture, and a
 * failure flushes what was captured to stdout (and so into the surefire report). Registered for
 * every test through the JUnit extension service file.
 */
public final class LogCapture implements BeforeEachCallback, TestWatcher {
  @Override
  public void beforeEach(ExtensionContext context) {
    CapturingAppender.get("").clear();
  }

  @Override
  public void testFailed(ExtensionContext context, Throwable cause) {
    System.out.println("--- log of failed test " + context.getDisplayName() + " ---");
    CapturingAppender.get("").flush();
    System.out.println("--- end of log of " + context.getDisplayName() + " ---");
  }
}
