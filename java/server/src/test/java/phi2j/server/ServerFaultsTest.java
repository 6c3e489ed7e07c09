package phi2j.server;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.TestModels;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.*;

/** Bad requests, dead and stalled runners, vanished clients, a full queue: each gets its answer and nothing leaks. */
class ServerFaultsTest {
    static final String KEY = "k-" + System.nanoTime();
    final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    Phi2Server server;

    Phi2Server start(int queue, long maxBody, Supplier<Phi2Model> opener) throws Exception {
        server = Phi2Server.start(new Phi2Server.Config("127.0.0.1", 0, KEY, "phi-2", queue, maxBody, Duration.ofSeconds(60),
                Duration.ofSeconds(2)), opener);
        return server;
    }

    static Supplier<Phi2Model> tiny(int slots, Duration stall) {
        return () -> Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(slots * 2048).withParallel(slots)
                .withStallTimeout(stall));
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    HttpResponse<String> post(String path, byte[] body, String key) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .timeout(Duration.ofSeconds(120)).POST(HttpRequest.BodyPublishers.ofByteArray(body)).header("Content-Type", "application/json");
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> chat(String json) throws Exception {
        return post("/v1/chat/completions", json.getBytes(StandardCharsets.UTF_8), KEY);
    }

    static String ask(int maxTokens, boolean stream) {
        return "{\"model\": \"phi-2\", \"temperature\": 0, \"max_tokens\": " + maxTokens + ", \"stream\": " + stream
                + ", \"messages\": [{\"role\": \"user\", \"content\": \"Tell me a long story.\"}]}";
    }

    /** One bad request and what must come back: status and the field OpenAI's error body names (null: none). */
    record Bad(String what, byte[] body, int status, String param) {
        static Bad of(String what, String json, int status, String param) {
            return new Bad(what, json.getBytes(StandardCharsets.UTF_8), status, param);
        }
    }

    static List<Bad> badRequests(long maxBody) {
        List<Bad> l = new ArrayList<>();
        String msgs = "\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]";
        l.add(Bad.of("not JSON", "{model: phi-2", 400, null));
        l.add(Bad.of("a JSON array", "[1, 2]", 400, null));
        l.add(Bad.of("empty", "", 400, null));
        l.add(Bad.of("no model", "{" + msgs + "}", 400, "model"));
        l.add(Bad.of("unknown model", "{\"model\": \"gpt-4\", " + msgs + "}", 404, "model"));
        l.add(Bad.of("no messages", "{\"model\": \"phi-2\"}", 400, "messages"));
        l.add(Bad.of("empty messages", "{\"model\": \"phi-2\", \"messages\": []}", 400, "messages"));
        l.add(Bad.of("message not an object", "{\"model\": \"phi-2\", \"messages\": [3]}", 400, "messages[0]"));
        l.add(Bad.of("bad role", "{\"model\": \"phi-2\", \"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}", 400, "messages[0].role"));
        l.add(Bad.of("content a number", "{\"model\": \"phi-2\", \"messages\": [{\"role\": \"user\", \"content\": 5}]}", 400, "messages[0].content"));
        l.add(Bad.of("n = 2", "{\"model\": \"phi-2\", \"n\": 2, " + msgs + "}", 400, "n"));
        l.add(Bad.of("five stops", "{\"model\": \"phi-2\", \"stop\": [\"a\",\"b\",\"c\",\"d\",\"e\"], " + msgs + "}", 400, "stop"));
        l.add(Bad.of("presence_penalty out of range", "{\"model\": \"phi-2\", \"presence_penalty\": 2.5, " + msgs + "}", 400,
                "presence_penalty"));
        for (String[] f : new String[][] {{"frequency_penalty", "0.5"}, {"logit_bias", "{\"50256\": -100}"}, {"tools", "[{\"type\": \"function\"}]"},
                {"tool_choice", "\"required\""}, {"functions", "[{}]"}, {"json_schema", "{}"}, {"response_format", "{\"type\": \"xml\"}"}}) {
            l.add(Bad.of(f[0] + " unsupported", "{\"model\": \"phi-2\", \"" + f[0] + "\": " + f[1] + ", " + msgs + "}", 400, f[0]));
        }
        l.add(Bad.of("top_logprobs without logprobs", "{\"model\": \"phi-2\", \"top_logprobs\": 3, " + msgs + "}", 400, "top_logprobs"));
        Random rnd = new Random(14);
        String[][] fields = {
                {"max_tokens", "-1", "0", "1e30", "99999999999", "\"ten\"", "1.5", "true", "[]"},
                {"temperature", "-0.1", "2.5", "1e308", "\"hot\"", "{}"},
                {"top_p", "-1", "1.5", "\"x\""},
                {"presence_penalty", "-2.5", "3", "\"x\""},
                {"top_k", "-1", "0.5", "\"x\""},
                {"min_p", "-0.1", "1.5", "\"x\""},
                {"repeat_penalty", "-1", "11", "\"x\""},
                {"cache_prompt", "\"yes\"", "1"},
                {"grammar", "5", "[]"},
                {"seed", "\"x\"", "1e40", "0.5", "-1"},
                {"stream", "\"yes\"", "1"},
                {"logprobs", "\"yes\"", "2"},
                {"top_logprobs", "21", "-1", "\"x\""},
                {"stop", "5", "[1]", "\"\""},
                {"model", "5", "null"},
        };
        // every bad value once, then seeded random repeats up to 190: a new field or value never pushes another out
        List<String[]> pairs = new ArrayList<>();
        for (String[] f : fields) {
            for (int i = 1; i < f.length; i++) {
                pairs.add(new String[] {f[0], f[i]});
            }
        }
        for (int k = 0; k < pairs.size() || l.size() < 190; k++) {
            String[] f = k < pairs.size() ? pairs.get(k) : fields[rnd.nextInt(fields.length)];
            String v = k < pairs.size() ? f[1] : f[1 + rnd.nextInt(f.length - 1)];
            String extra = f[0].equals("top_logprobs") ? "\"logprobs\": true, " : "";
            String json = "{\"model\": \"phi-2\", " + extra + "\"" + f[0] + "\": " + v + ", " + msgs + "}";
            if (f[0].equals("model")) {
                json = "{\"model\": " + v + ", " + msgs + "}";
            }
            l.add(Bad.of(f[0] + "=" + v, json, 400, f[0]));
        }
        byte[] huge = ("{\"model\": \"phi-2\", \"messages\": [{\"role\": \"user\", \"content\": \"" + "a".repeat((int) maxBody) + "\"}]}")
                .getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < 5; i++) {
            l.add(new Bad("oversized body " + i, huge, 413, null));
        }
        for (int i = 0; i < 5; i++) {
            byte[] b = ("{\"model\": \"phi-2\", \"messages\": [{\"role\": \"user\", \"content\": \"caf\u00e9\"}]}").getBytes(StandardCharsets.UTF_8);
            int at = new String(b, StandardCharsets.UTF_8).indexOf("caf") + 3;
            b[at] = (byte) (0xC0 + i); // an overlong or truncated sequence: not UTF-8
            b[at + 1] = (byte) 0x41;
            l.add(new Bad("bad UTF-8 " + i, b, 400, null));
        }
        return l;
    }

    @Test
    void twoHundredMalformedRequestsGetTheRight4xxAndLeakNothing() throws Exception {
        start(2, 64 * 1024, tiny(2, Duration.ofSeconds(30)));
        Health.awaitReady(server.port(), Duration.ofSeconds(60));
        List<Bad> bad = badRequests(64 * 1024);
        assertTrue(bad.size() >= 200, "" + bad.size());
        for (Bad b : bad) {
            HttpResponse<String> r = post("/v1/chat/completions", b.body(), KEY);
            assertEquals(b.status(), r.statusCode(), b.what() + ": " + r.body());
            JsonObject err = JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonObject("error");
            assertNotNull(err.get("message").getAsString(), b.what());
            if (b.param() != null) {
                assertEquals(b.param(), err.get("param").getAsString(), b.what() + ": " + r.body());
            }
        }
        assertEquals(401, post("/v1/chat/completions", ask(2, false).getBytes(StandardCharsets.UTF_8), "wrong").statusCode());
        assertEquals(401, post("/v1/chat/completions", ask(2, false).getBytes(StandardCharsets.UTF_8), null).statusCode());
        assertEquals(404, post("/v1/nothing", new byte[0], KEY).statusCode());
        // nothing leaked: every permit is back, and the server still answers
        assertEquals(4, server.freePermits());
        HttpResponse<String> ok = chat(ask(4, false));
        assertEquals(200, ok.statusCode(), ok.body());
        assertEquals(4, JsonParser.parseString(ok.body()).getAsJsonObject().getAsJsonObject("usage").get("completion_tokens").getAsInt());
        // sampling without a seed (OpenAI's default temperature): the server picks a seed llama.cpp accepts
        HttpResponse<String> sampled = chat("{\"model\": \"phi-2\", \"max_tokens\": 4, \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}");
        assertEquals(200, sampled.statusCode(), sampled.body());
        // a prompt longer than a slot's context is the caller's fault, named as such
        HttpResponse<String> tooLong = chat("{\"model\": \"phi-2\", \"max_tokens\": 4, \"messages\": [{\"role\": \"user\", \"content\": \""
                + "word ".repeat(3000) + "\"}]}");
        assertEquals(400, tooLong.statusCode(), tooLong.body());
        assertEquals("messages", JsonParser.parseString(tooLong.body()).getAsJsonObject().getAsJsonObject("error").get("param").getAsString());
    }

    /** Reads an SSE response from a raw socket until {@code events} data lines arrived; returns the socket, still open. */
    /** A streaming request sent, without waiting for its first events (it may wait in the engine's queue). */
    Socket openStreamNoWait(int maxTokens) throws Exception {
        Socket s = new Socket("127.0.0.1", server.port());
        byte[] body = ask(maxTokens, true).getBytes(StandardCharsets.UTF_8);
        OutputStream o = s.getOutputStream();
        o.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY + "\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        o.write(body);
        o.flush();
        return s;
    }

    Socket openStream(int maxTokens, int events) throws Exception {
        Socket s = openStreamNoWait(maxTokens);
        BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
        int seen = 0;
        String line;
        while (seen < events && (line = in.readLine()) != null) {
            if (line.startsWith("data: ")) {
                seen++;
            }
        }
        assertEquals(events, seen, "the stream started");
        return s;
    }

    @Test
    void clientsThatDisconnectMidStreamFreeTheirSlots() throws Exception {
        start(0, 1 << 20, tiny(4, Duration.ofSeconds(30)));
        Health.awaitReady(server.port(), Duration.ofSeconds(60));
        List<Socket> abandoned = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            abandoned.add(openStream(1500, 3)); // all four slots busy with long generations
        }
        for (Socket s : abandoned) {
            s.setSoLinger(true, 0); // reset, as a killed client does
            s.close();
        }
        for (int i = 0; i < 200 && server.freePermits() < 4; i++) {
            Thread.sleep(20);
        }
        assertEquals(4, server.freePermits(), "every abandoned generation gave its slot back");
        String metrics = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        // counted only when the runner reports the generation ended CANCELLED, before its 1500 tokens: the slots
        // came back because the work stopped, not because the server stopped waiting for it
        assertTrue(metrics.contains("\nphi2_generations_abandoned_total 4.0\n"), metrics);
        List<CompletableFuture<HttpResponse<String>>> burst = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            burst.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return chat(ask(8, false));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        for (var f : burst) {
            assertEquals(200, f.get(60, TimeUnit.SECONDS).statusCode());
        }
    }

    @Test
    void aKilledRunnerFailsTheStreamsInFlightAndTheNextRequestSucceeds() throws Exception {
        start(8, 1 << 20, tiny(4, Duration.ofSeconds(30)));
        Health.awaitReady(server.port(), Duration.ofSeconds(60));
        List<CompletableFuture<String>> streams = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            streams.add(CompletableFuture.supplyAsync(() -> {
                try {
                    HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
                            .header("Authorization", "Bearer " + KEY).POST(HttpRequest.BodyPublishers.ofString(ask(1500, true))).build();
                    HttpResponse<InputStream> r = client.send(req, HttpResponse.BodyHandlers.ofInputStream());
                    return r.statusCode() + "\n" + new String(r.body().readAllBytes(), StandardCharsets.UTF_8);
                } catch (Exception e) {
                    return "exception " + e;
                }
            }));
        }
        long pid = server.runnerPid();
        Thread.sleep(700); // the first four stream, four wait in the queue
        ProcessHandle.of(pid).orElseThrow().destroyForcibly();
        for (var f : streams) {
            String r = f.get(60, TimeUnit.SECONDS);
            assertTrue(r.contains("runner_crashed") || r.startsWith("500"), "each request in flight learns of the crash: "
                    + r.substring(0, Math.min(300, r.length())));
        }
        HttpResponse<String> next = chat(ask(4, false));
        assertEquals(200, next.statusCode(), next.body());
        assertNotEquals(pid, server.runnerPid(), "a new runner serves");
        assertEquals(12, server.freePermits());
    }

    @Test
    void aStalledRunnerGets504AndIsReplaced() throws Exception {
        start(2, 1 << 20, tiny(2, Duration.ofSeconds(3)));
        Health.awaitReady(server.port(), Duration.ofSeconds(60));
        CompletableFuture<HttpResponse<String>> slow = CompletableFuture.supplyAsync(() -> {
            try {
                return chat(ask(1900, false));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(300);
        long pid = server.runnerPid();
        assertEquals(0, new ProcessBuilder("kill", "-STOP", Long.toString(pid)).start().waitFor());
        try {
            HttpResponse<String> r = slow.get(30, TimeUnit.SECONDS);
            assertEquals(504, r.statusCode(), r.body());
            assertTrue(r.body().contains("runner_stalled"), r.body());
        } finally {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
        HttpResponse<String> next = chat(ask(4, false));
        assertEquals(200, next.statusCode(), next.body());
    }

    @Test
    void pastTheQueueA503SaysWhenToRetry() throws Exception {
        start(0, 1 << 20, tiny(1, Duration.ofSeconds(30)));
        Health.awaitReady(server.port(), Duration.ofSeconds(60));
        Socket busy = openStream(1500, 2);
        try {
            HttpResponse<String> r = chat(ask(2, false));
            assertEquals(503, r.statusCode(), r.body());
            assertEquals("1", r.headers().firstValue("Retry-After").orElse(""));
            assertTrue(r.body().contains("overloaded"), r.body());
        } finally {
            busy.close();
        }
    }

    @Test
    void livenessAnswersWhileLoadingAndReadinessIs503UntilTheModelIsReady() throws Exception {
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        start(0, 1 << 20, () -> {
            try {
                go.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return tiny(1, Duration.ofSeconds(30)).get();
        });
        HttpResponse<String> h = get("/health");
        assertEquals(200, h.statusCode(), "alive while loading: " + h.body());
        assertTrue(h.body().contains("loading"), h.body());
        HttpResponse<String> r = get("/ready");
        assertEquals(503, r.statusCode());
        assertTrue(r.body().contains("loading"), r.body());
        assertEquals("1", r.headers().firstValue("Retry-After").orElse(""));
        assertEquals(503, chat(ask(2, false)).statusCode(), "no generation before the model is ready");
        go.countDown();
        Health.awaitReady(server.port(), Duration.ofSeconds(60));
        String metrics = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertTrue(metrics.contains("phi2_requests_total{path=\"/ready\",status=\"503\"}"), metrics);
        assertEquals(200, get("/ready").statusCode());
        assertTrue(metrics.contains("phi2_requests_waiting 0"), metrics);
    }
}
