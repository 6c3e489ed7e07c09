package phi2j.server;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.TestModels;

import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * /metrics read as Prometheus reads it: parsed by a parser phi2j did not write (Debian's python3-prometheus-client,
 * through /usr/bin/python3), under load, and in both formats the scraper may ask for.
 */
class MetricsTest {
    static final Path PYTHON = Path.of("/usr/bin/python3");
    /** Parses the exposition on stdin and prints {name: value} of the unlabelled samples, as JSON. */
    static final String PARSE = "import sys, json\n"
            + "from prometheus_client.parser import text_string_to_metric_families\n"
            + "out = {}\n"
            + "for fam in text_string_to_metric_families(sys.stdin.read()):\n"
            + "    for s in fam.samples:\n"
            + "        if not s.labels: out[s.name] = s.value\n"
            + "print(json.dumps(out))\n";

    final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    final ServerFaultsTest faults = new ServerFaultsTest();
    Phi2Server server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    static void needParser() throws Exception {
        boolean present = Files.isExecutable(PYTHON) && new ProcessBuilder(PYTHON.toString(), "-c", "import prometheus_client.parser")
                .redirectErrorStream(true).start().waitFor() == 0;
        if (!present && "true".equals(System.getenv("CI"))) {
            fail("CI=true but Debian's python3-prometheus-client is not installed (.ci/run installs it)");
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(present, "no /usr/bin/python3 with prometheus_client: apt-get install python3-prometheus-client");
    }

    JsonObject parsed() throws Exception {
        String text = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        Process p = new ProcessBuilder(PYTHON.toString(), "-c", PARSE).start();
        p.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, "the parser refused /metrics: " + err + "\n" + text);
        return JsonParser.parseString(out).getAsJsonObject();
    }

    @Test
    void underEightStreamsOnFourSlotsTheGaugesMatchTheEnginesLoadAndTheKvCacheRisesAndFallsBack() throws Exception {
        needParser();
        server = Phi2Server.start(new Phi2Server.Config("127.0.0.1", 0, ServerFaultsTest.KEY, "phi-2", 8, 1 << 20, Duration.ofSeconds(120),
                Duration.ofSeconds(2)), () -> Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(4 * 2048).withParallel(4)));
        faults.server = server;
        Health.awaitReady(server.port(), Duration.ofSeconds(60));
        JsonObject idle = parsed();
        assertEquals(0, idle.get("phi2_requests_running").getAsDouble());
        assertEquals(0, idle.get("phi2_requests_waiting").getAsDouble());
        assertEquals(4, idle.get("phi2_slots").getAsDouble());
        double idleKv = idle.get("phi2_kv_cache_usage_ratio").getAsDouble();
        assertEquals(0, idleKv);

        List<Socket> streams = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            streams.add(faults.openStream(1900, 2)); // the four slots, each generating
        }
        List<Socket> queued = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            queued.add(faults.openStreamNoWait(1900)); // four more wait in the engine's queue
        }
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (server.load().waiting() < 4 && System.nanoTime() < end) {
            Thread.sleep(5);
        }
        // a scrape between two equal readings of the engine's own books (a generation may end in between: try again)
        Phi2Model.Load before;
        Phi2Model.Load after;
        JsonObject busy;
        int tries = 0;
        do {
            before = server.load();
            busy = parsed();
            after = server.load();
        } while (!before.equals(after) && ++tries < 20);
        assertEquals(before, after, "the engine's reading held still around a scrape in " + tries + " tries");
        assertEquals(4, before.running(), "the four slots run: " + before);
        assertEquals(before.running(), busy.get("phi2_requests_running").getAsDouble(), busy.toString());
        assertEquals(before.waiting(), busy.get("phi2_requests_waiting").getAsDouble(), busy.toString());
        assertTrue(busy.get("phi2_kv_cache_usage_ratio").getAsDouble() > idleKv, busy.toString());
        // rising with the contexts: two scrapes while the same four generations run (none ended in between, which
        // would admit a queued one with a short context: then the pair is taken again)
        double kv1 = 0;
        double kv2 = 0;
        boolean sameFour = false;
        for (int i = 0; i < 10 && !sameFour; i++) {
            Phi2Model.Load l0 = server.load();
            kv1 = parsed().get("phi2_kv_cache_usage_ratio").getAsDouble();
            Thread.sleep(100);
            kv2 = parsed().get("phi2_kv_cache_usage_ratio").getAsDouble();
            sameFour = l0.equals(server.load()) && l0.running() == 4 && l0.waiting() == 4;
        }
        assertTrue(sameFour, "no quiet pair of scrapes in 10 tries");
        assertTrue(kv1 > idleKv && kv2 > kv1 && kv2 <= 1, "the KV cache fills as the contexts grow: " + kv1 + " then " + kv2);

        for (Socket s : streams) {
            s.setSoLinger(true, 0);
            s.close();
        }
        for (Socket s : queued) {
            s.setSoLinger(true, 0);
            s.close();
        }
        end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        JsonObject done = parsed();
        while ((done.get("phi2_requests_running").getAsDouble() > 0 || done.get("phi2_requests_waiting").getAsDouble() > 0)
                && System.nanoTime() < end) {
            Thread.sleep(50);
            done = parsed();
        }
        assertEquals(0, done.get("phi2_requests_running").getAsDouble(), done.toString());
        assertEquals(idleKv, done.get("phi2_kv_cache_usage_ratio").getAsDouble(), "back to its idle value: " + done);
        assertTrue(done.get("phi2_generations_abandoned_total").getAsDouble() >= 4, done.toString());
        assertTrue(done.get("phi2_time_to_first_token_seconds_count").getAsDouble() >= 4, "a histogram with its count: " + done);
    }

    @Test
    void theScraperGetsOpenMetricsWhenItAsksAndPrometheusTextOtherwise() throws Exception {
        server = Phi2Server.start(new Phi2Server.Config("127.0.0.1", 0, null, "phi-2", 2, 1 << 20, Duration.ofSeconds(60), Duration.ofSeconds(2)),
                () -> Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(512)));
        Health.awaitReady(server.port(), Duration.ofSeconds(60));
        HttpResponse<String> text = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertTrue(text.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"), text.headers().toString());
        assertTrue(text.body().contains("# TYPE phi2_time_to_first_token_seconds histogram"), text.body());
        HttpResponse<String> om = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics"))
                .header("Accept", "application/openmetrics-text; version=1.0.0; charset=utf-8").build(), HttpResponse.BodyHandlers.ofString());
        assertTrue(om.headers().firstValue("Content-Type").orElse("").startsWith("application/openmetrics-text"), om.headers().toString());
        assertTrue(om.body().strip().endsWith("# EOF"), om.body());
    }
}
