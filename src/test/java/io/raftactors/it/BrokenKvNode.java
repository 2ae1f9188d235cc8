package io.raftactors.it;

import akka.actor.typed.ActorSystem;
import akka.http.javadsl.Http;
import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpMethods;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.StatusCodes;
import akka.http.javadsl.model.headers.RawHeader;
import akka.http.javadsl.model.headers.RetryAfter;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.raftactors.examples.kv.KvNode;
import java.io.File;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A deliberately broken KV member, for the test that the fault suite catches a store that lies
 * about outcomes: it runs an ordinary {@link KvNode} on an internal port and serves the member's
 * HTTP address itself, passing every request through, except that every 4th PUT the node applied
 * (200) is answered 503 with Retry-After, which promises it was not applied, and every 504
 * ("outcome unknown") becomes such a 503 too.
 *
 * <p>Same arguments as KvNode: {@code --node ID --config FILE --data-dir DIR}.
 */
public final class BrokenKvNode {
  private BrokenKvNode() {}

  public static void main(String[] args) throws Exception {
    String node = null;
    String configFile = null;
    String dataDir = null;
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--node" -> node = args[i + 1];
        case "--config" -> configFile = args[i + 1];
        case "--data-dir" -> dataDir = args[i + 1];
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    Config config = ConfigFactory.parseFile(new File(configFile)).withFallback(ConfigFactory.load()).resolve();
    String[] published = config.getString("kv.http." + node).split(":");
    // The cluster hands out this port with the others, so it cannot be another member's.
    String internal = "127.0.0.1:" + config.getInt("test.spare-port." + node);
    Config inner = ConfigFactory.parseString(String.join("\n",
        "kv.http." + node + " = \"" + internal + "\"",
        "akka.http.host-connection-pool.max-connections = 32",
        "akka.http.host-connection-pool.max-open-requests = 64")).withFallback(config);
    KvNode.Running running = KvNode.start(inner, node, new File(dataDir));
    ActorSystem<Void> system = running.system();
    Http http = Http.get(system);
    AtomicLong appliedPuts = new AtomicLong();
    akka.japi.function.Function<HttpRequest, CompletionStage<HttpResponse>> handler =
        request -> forward(http, internal, request).thenApply(response -> {
          int status = response.status().intValue();
          boolean hide = status == 504
              || (status == 200 && request.method().equals(HttpMethods.PUT) && appliedPuts.incrementAndGet() % 4 == 0);
          if (!hide) return response;
          response.discardEntityBytes(system);
          return HttpResponse.create().withStatus(StatusCodes.SERVICE_UNAVAILABLE).addHeader(RetryAfter.create(1L))
              .withEntity(ContentTypes.APPLICATION_JSON, "{\"error\":\"no leader known; retry shortly\"}");
        });
    http.newServerAt(published[0], Integer.parseInt(published[1])).bind(handler).toCompletableFuture().get(30, TimeUnit.SECONDS);
    System.out.println("broken node " + node + " running: HTTP at " + String.join(":", published) + " in front of " + internal);
    system.getWhenTerminated().toCompletableFuture().get();
  }

  private static CompletionStage<HttpResponse> forward(Http http, String internal, HttpRequest request) {
    HttpRequest out = HttpRequest.create("http://" + internal + request.getUri().toRelative())
        .withMethod(request.method())
        .withEntity(request.entity());
    for (akka.http.javadsl.model.HttpHeader h : request.getHeaders()) {
      if (h.lowercaseName().equals("idempotency-key")) out = out.addHeader(RawHeader.create(h.name(), h.value()));
    }
    return http.singleRequest(out);
  }
}
