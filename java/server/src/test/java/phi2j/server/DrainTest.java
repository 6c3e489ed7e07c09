package phi2j.server;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.TestModels;

import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** What an orchestrator sees: readiness apart from liveness, a drain on SIGTERM (close), a runner that dies. */
class DrainTest {
    final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    final ServerFaultsTest faults = new ServerFaultsTest();
    Phi2Server server;

    Phi2Server start(Duration drain) throws Exception {
        server = Phi2Server.start(new Phi2Server.Config("127.0.0.1", 0, ServerFaultsTest.KEY, "phi-2", 8, 1 << 20, Duration.ofSeconds(60),
                drain), () -> Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(4 * 2048).withParallel(4)));
        faults.server = server;
        Health.awaitReady(server.port(), Duration.ofSeconds(60));
        return server;
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    HttpResponse<String> get(String path) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static String rest(Socket s) throws Exception {
        s.setSoTimeout(60_000);
        InputStream in = s.getInputStream();
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }

    @Test
    void aDrainFailsReadinessAtOnceRefusesNewRequestsAndLetsTheStreamsInFlightFinish() throws Exception {
        start(Duration.ofSeconds(60));
        List<Socket> streams = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            streams.add(faults.openStream(1500, 2));
        }
        long t0 = System.nanoTime();
        CompletableFuture<Void> closing = CompletableFuture.runAsync(server::close);
        long turned = -1;
        while (System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5)) {
            if (get("/ready").statusCode() == 503) {
                turned = System.nanoTime() - t0;
                break;
            }
        }
        assertTrue(turned >= 0 && turned < TimeUnit.MILLISECONDS.toNanos(100), "/ready turned 503 after " + turned / 1e6 + " ms");
        HttpResponse<String> live = get("/health");
        assertEquals(200, live.statusCode(), "still alive while draining");
        assertTrue(live.body().contains("draining"), live.body());
        HttpResponse<String> refused = faults.chat(ServerFaultsTest.ask(2, false));
        assertEquals(503, refused.statusCode(), refused.body());
        assertEquals("1", refused.headers().firstValue("Retry-After").orElse(""));
        for (Socket s : streams) {
            String tail = rest(s);
            assertTrue(tail.contains("\"finish_reason\":\"length\"") && tail.contains("data: [DONE]"), "the stream finished whole: " + tail.substring(Math.max(0, tail.length() - 300)));
            assertFalse(tail.contains("shutting_down"), "not cut");
        }
        closing.get(60, TimeUnit.SECONDS);
        server = null;
    }

    @Test
    void streamsStillRunningAtTheDrainTimeoutEndWithAnErrorChunkAndTheEnd() throws Exception {
        start(Duration.ZERO);
        List<Socket> streams = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            streams.add(faults.openStream(1900, 2));
        }
        long t0 = System.nanoTime();
        server.close();
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10), "the drain did not wait past its timeout");
        for (Socket s : streams) {
            String tail = rest(s);
            assertTrue(tail.contains("\"code\":\"shutting_down\"") && tail.contains("drain timeout") && tail.contains("data: [DONE]"),
                    "cut with an error chunk, then the end: " + tail.substring(Math.max(0, tail.length() - 400)));
        }
        server = null;
    }

    @Test
    void aRunnerKilledMidStreamMakesReadinessFailUntilTheModelIsBack() throws Exception {
        start(Duration.ofSeconds(2));
        Socket stream = faults.openStream(1900, 2);
        ProcessHandle.of(server.runnerPid()).orElseThrow().destroyForcibly();
        boolean sawNotReady = false;
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < end) {
            int status = get("/ready").statusCode();
            if (status == 503) {
                sawNotReady = true;
                assertEquals(200, get("/health").statusCode(), "alive while the model comes back");
            } else if (sawNotReady) {
                break;
            }
            Thread.sleep(5);
        }
        assertTrue(sawNotReady, "/ready was 503 while the runner was gone");
        assertEquals(200, get("/ready").statusCode(), "ready again once the model is back");
        assertEquals(200, faults.chat(ServerFaultsTest.ask(2, false)).statusCode());
        stream.close();
    }
}
