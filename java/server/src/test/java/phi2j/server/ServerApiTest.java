package phi2j.server;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.TestModels;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The API's other surfaces in raw HTTP: text completions (plain and streamed), log-probabilities, models, the timeout.
 * Every test that compares two answers sends {@code "cache_prompt": false}: a request that finds its prefix cached
 * decodes fewer prompt tokens in another batch shape, and its logprobs move in the fourth decimal (the README says by
 * how much); only {@link #withPromptReuseGreedyTokensAreTheSameAndLogprobsStayWithinTheStatedBound} compares across
 * cache states, on purpose.
 */
class ServerApiTest {
    /**
     * How far a logprob may move when the prompt's prefix comes from the cache: measured on the tiny model at up to
     * 2.3e-4 (AVX-512) and 2.5e-4 (without); the README states both.
     */
    static final double REUSE_LOGPROB_BOUND = 1e-3;
    static Phi2Server server;
    static final HttpClient CLIENT = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        server = Phi2Server.start(new Phi2Server.Config("127.0.0.1", 0, null, "phi-2", 2, 1 << 20, Duration.ofSeconds(60),
                Duration.ofSeconds(2)), () -> Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(2 * 2048).withParallel(2)));
        Health.awaitReady(server.port(), Duration.ofSeconds(60));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static HttpResponse<String> post(String path, String json) throws Exception {
        return CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static GenerationResult direct(String prompt, GenerationOptions o) {
        try (Phi2Model m = Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(2048))) {
            return m.generate(prompt, o);
        }
    }

    @Test
    void embeddingsOnAServerStartedWithoutThemAre501NamingTheFlag() throws Exception {
        HttpResponse<String> r = post("/v1/embeddings", "{\"model\": \"phi-2\", \"input\": \"Hello\"}");
        assertEquals(501, r.statusCode(), r.body());
        assertTrue(r.body().contains("--embeddings"), r.body());
    }

    @Test
    void presencePenaltyGivesTheLibrarysPenalisedText() throws Exception {
        GenerationOptions o = GenerationOptions.greedy().withMaxNewTokens(30).withIgnoreEndOfText(true);
        GenerationResult plain = direct("Once upon a time", o);
        GenerationResult ref = direct("Once upon a time", o.toBuilder().presencePenalty(2f).build());
        assertNotEquals(plain.text(), ref.text(), "the penalty changes this greedy text");
        HttpResponse<String> r = post("/v1/completions", "{\"model\": \"phi-2\", \"prompt\": \"Once upon a time\", \"max_tokens\": 30, "
                + "\"temperature\": 0, \"ignore_eos\": true, \"presence_penalty\": 2, \"cache_prompt\": false}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(ref.text(), JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonArray("choices").get(0).getAsJsonObject()
                .get("text").getAsString());
    }

    @Test
    void llamaServersSamplingFieldsEachReachTheSampler() throws Exception {
        GenerationOptions o = GenerationOptions.sampling(1f, 11).withMaxNewTokens(20).withIgnoreEndOfText(true);
        String defaults = direct("Once upon a time", o).text();
        String base = "{\"model\": \"phi-2\", \"prompt\": \"Once upon a time\", \"max_tokens\": 20, \"temperature\": 1, \"seed\": 11, "
                + "\"ignore_eos\": true, \"cache_prompt\": false";
        assertEquals(defaults, text(post("/v1/completions", base + "}")), "without the fields the server samples as the library's defaults");
        // each field alone: it changes this seed's text in the library, and the server gives the library's text for it
        record Field(String json, GenerationOptions options) {
        }
        for (Field f : List.of(new Field("\"top_k\": 1", o.withTopK(1)), new Field("\"min_p\": 0.5", o.withMinP(0.5f)),
                new Field("\"repeat_penalty\": 1.5", o.withRepetitionPenalty(1.5f)))) {
            String expected = direct("Once upon a time", f.options()).text();
            assertNotEquals(defaults, expected, f.json() + " changes this seed's text in the library");
            assertEquals(expected, text(post("/v1/completions", base + ", " + f.json() + "}")), f.json() + " reaches the server's sampler");
        }
    }

    @Test
    void completionFieldsThatWouldChangeTheAnswerButAreNotDoneAre400sNamingThem() throws Exception {
        for (String[] f : new String[][] {{"echo", "true"}, {"best_of", "2"}, {"suffix", "\" the end\""}}) {
            HttpResponse<String> r = post("/v1/completions", "{\"model\": \"phi-2\", \"prompt\": \"Once\", \"max_tokens\": 2, \""
                    + f[0] + "\": " + f[1] + "}");
            assertEquals(400, r.statusCode(), f[0] + ": " + r.body());
            assertEquals(f[0], JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonObject("error").get("param").getAsString(), r.body());
        }
    }

    static String text(HttpResponse<String> r) {
        assertEquals(200, r.statusCode(), r.body());
        return JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString();
    }

    @Test
    void textCompletionsPlainAndStreamedGiveTheLibrarysText() throws Exception {
        GenerationResult ref = direct("Once upon a time", GenerationOptions.greedy().withMaxNewTokens(10));
        HttpResponse<String> r = post("/v1/completions", "{\"model\": \"phi-2\", \"prompt\": \"Once upon a time\", \"max_tokens\": 10, \"temperature\": 0, "
                + "\"cache_prompt\": false}");
        assertEquals(200, r.statusCode(), r.body());
        JsonObject o = JsonParser.parseString(r.body()).getAsJsonObject();
        assertEquals("text_completion", o.get("object").getAsString());
        assertEquals(ref.text(), o.getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString());
        assertEquals(ref.promptTokens(), o.getAsJsonObject("usage").get("prompt_tokens").getAsInt());
        assertEquals("length", o.getAsJsonArray("choices").get(0).getAsJsonObject().get("finish_reason").getAsString());

        HttpResponse<String> s = post("/v1/completions", "{\"model\": \"phi-2\", \"prompt\": \"Once upon a time\", \"max_tokens\": 10, "
                + "\"temperature\": 0, \"cache_prompt\": false, \"stream\": true, \"stream_options\": {\"include_usage\": true}}");
        assertEquals(200, s.statusCode());
        assertEquals("text/event-stream", s.headers().firstValue("Content-Type").orElse(""));
        StringBuilder text = new StringBuilder();
        JsonObject usage = null;
        List<String> events = s.body().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
        assertEquals("[DONE]", events.get(events.size() - 1));
        for (String e : events.subList(0, events.size() - 1)) {
            JsonObject c = JsonParser.parseString(e).getAsJsonObject();
            JsonArray choices = c.getAsJsonArray("choices");
            if (!choices.isEmpty()) {
                text.append(choices.get(0).getAsJsonObject().get("text").getAsString());
            }
            if (c.has("usage")) {
                usage = c.getAsJsonObject("usage");
            }
        }
        assertEquals(ref.text(), text.toString());
        assertNotNull(usage, "include_usage adds the usage chunk");
        assertEquals(10, usage.get("completion_tokens").getAsInt());
    }

    @Test
    void chatLogprobsComeWithEveryTokenAndItsAlternatives() throws Exception {
        HttpResponse<String> r = post("/v1/chat/completions", "{\"model\": \"phi-2\", \"temperature\": 0, \"max_tokens\": 6, \"logprobs\": true, "
                + "\"top_logprobs\": 3, \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}");
        assertEquals(200, r.statusCode(), r.body());
        JsonObject o = JsonParser.parseString(r.body()).getAsJsonObject();
        JsonObject choice = o.getAsJsonArray("choices").get(0).getAsJsonObject();
        JsonArray content = choice.getAsJsonObject("logprobs").getAsJsonArray("content");
        assertEquals(o.getAsJsonObject("usage").get("completion_tokens").getAsInt(), content.size(), "one entry per generated token");
        for (var e : content) {
            JsonObject t = e.getAsJsonObject();
            assertTrue(t.get("logprob").getAsDouble() <= 0);
            JsonArray top = t.getAsJsonArray("top_logprobs");
            assertEquals(3, top.size());
            assertTrue(top.get(0).getAsJsonObject().get("logprob").getAsDouble() >= top.get(2).getAsJsonObject().get("logprob").getAsDouble());
            assertEquals(t.get("logprob").getAsDouble(), top.get(0).getAsJsonObject().get("logprob").getAsDouble(), 1e-6, "greedy takes the top one");
        }
    }

    /** The data lines of a server-sent event stream, parsed, without the final [DONE]. */
    static List<JsonObject> chunks(HttpResponse<String> r) {
        assertEquals(200, r.statusCode(), r.body());
        List<String> data = r.body().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
        assertEquals("[DONE]", data.get(data.size() - 1));
        return data.subList(0, data.size() - 1).stream().map(d -> JsonParser.parseString(d).getAsJsonObject()).toList();
    }

    /** The logprobs object of each chunk that carries one, in order. */
    static List<JsonObject> chunkLogprobs(List<JsonObject> chunks) {
        return chunks.stream().map(c -> c.getAsJsonArray("choices")).filter(ch -> !ch.isEmpty())
                .map(ch -> ch.get(0).getAsJsonObject().get("logprobs"))
                .filter(l -> l != null && l.isJsonObject()).map(l -> l.getAsJsonObject()).toList();
    }

    /** The same token with a logprob within {@code bound} (0: the same float). */
    static void assertSameEntry(JsonObject expected, JsonObject actual, double bound, String where) {
        assertEquals(expected.get("token").getAsString(), actual.get("token").getAsString(), where);
        assertEquals(expected.get("logprob").getAsDouble(), actual.get("logprob").getAsDouble(), bound, where);
    }

    /** Chat logprobs of a non-streamed and a streamed answer: the same tokens, logprobs within {@code bound}. */
    static void assertSameChatLogprobs(JsonArray expected, JsonArray streamed, double bound) {
        assertEquals(expected.size(), streamed.size(), "one entry per generated token, streamed or not");
        for (int i = 0; i < expected.size(); i++) {
            JsonObject e = expected.get(i).getAsJsonObject();
            JsonObject a = streamed.get(i).getAsJsonObject();
            assertSameEntry(e, a, bound, "token " + i);
            JsonArray et = e.getAsJsonArray("top_logprobs");
            JsonArray at = a.getAsJsonArray("top_logprobs");
            assertEquals(et.size(), at.size());
            for (int k = 0; k < et.size(); k++) {
                assertSameEntry(et.get(k).getAsJsonObject(), at.get(k).getAsJsonObject(), bound, "token " + i + ", alternative " + k);
            }
        }
    }

    static JsonArray chatLogprobs(HttpResponse<String> r) {
        assertEquals(200, r.statusCode(), r.body());
        return JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonArray("choices").get(0).getAsJsonObject()
                .getAsJsonObject("logprobs").getAsJsonArray("content");
    }

    @Test
    void withoutPromptReuseIdenticalRequestsGiveBitIdenticalLogprobs() throws Exception {
        String body = "{\"model\": \"phi-2\", \"temperature\": 0, \"max_tokens\": 12, \"logprobs\": true, \"top_logprobs\": 3, "
                + "\"cache_prompt\": false, \"messages\": [{\"role\": \"user\", \"content\": \"Name three animals.\"}]}";
        HttpResponse<String> first = post("/v1/chat/completions", body);
        HttpResponse<String> second = post("/v1/chat/completions", body);
        assertEquals(0, JsonParser.parseString(second.body()).getAsJsonObject().getAsJsonObject("usage")
                .getAsJsonObject("prompt_tokens_details").get("cached_tokens").getAsInt(), "cache_prompt false evaluates the whole prompt");
        assertSameChatLogprobs(chatLogprobs(first), chatLogprobs(second), 0);
    }

    @Test
    void withPromptReuseGreedyTokensAreTheSameAndLogprobsStayWithinTheStatedBound() throws Exception {
        String body = "{\"model\": \"phi-2\", \"temperature\": 0, \"max_tokens\": 12, \"logprobs\": true, \"top_logprobs\": 3, "
                + "\"messages\": [{\"role\": \"user\", \"content\": \"Name three rivers.\"}]}";
        HttpResponse<String> cold = post("/v1/chat/completions", body.replace("\"temperature\"", "\"cache_prompt\": false, \"temperature\""));
        HttpResponse<String> reused = post("/v1/chat/completions", body);
        HttpResponse<String> again = post("/v1/chat/completions", body);
        int cached = JsonParser.parseString(again.body()).getAsJsonObject().getAsJsonObject("usage").getAsJsonObject("prompt_tokens_details")
                .get("cached_tokens").getAsInt();
        assertTrue(cached > 0, "the third request finds its prompt cached: " + again.body());
        assertSameChatLogprobs(chatLogprobs(cold), chatLogprobs(again), REUSE_LOGPROB_BOUND);
        assertSameChatLogprobs(chatLogprobs(cold), chatLogprobs(reused), REUSE_LOGPROB_BOUND);
    }

    @Test
    void streamedChatCarriesPerChunkLogprobsEqualToTheNonStreamedOnes() throws Exception {
        String body = "\"model\": \"phi-2\", \"temperature\": 0, \"max_tokens\": 12, \"logprobs\": true, \"top_logprobs\": 3, "
                + "\"cache_prompt\": false, \"messages\": [{\"role\": \"user\", \"content\": \"Name three colours.\"}]";
        HttpResponse<String> whole = post("/v1/chat/completions", "{" + body + "}");
        assertEquals(200, whole.statusCode(), whole.body());
        JsonArray expected = JsonParser.parseString(whole.body()).getAsJsonObject().getAsJsonArray("choices").get(0).getAsJsonObject()
                .getAsJsonObject("logprobs").getAsJsonArray("content");

        List<JsonObject> perChunk = chunkLogprobs(chunks(post("/v1/chat/completions", "{" + body + ", \"stream\": true}")));
        assertTrue(perChunk.size() > 1, "logprobs come with the chunks, not all at the end: " + perChunk.size() + " chunk(s)");
        JsonArray streamed = new JsonArray();
        perChunk.forEach(l -> streamed.addAll(l.getAsJsonArray("content")));
        assertEquals(3, streamed.get(0).getAsJsonObject().getAsJsonArray("top_logprobs").size());
        assertSameChatLogprobs(expected, streamed, 0);
    }

    @Test
    void streamedTextCompletionCarriesPerChunkLogprobsEqualToTheNonStreamedOnes() throws Exception {
        String body = "\"model\": \"phi-2\", \"prompt\": \"The capital of France is\", \"max_tokens\": 12, \"temperature\": 0, "
                + "\"logprobs\": 2, \"cache_prompt\": false";
        HttpResponse<String> whole = post("/v1/completions", "{" + body + "}");
        assertEquals(200, whole.statusCode(), whole.body());
        JsonObject expected = JsonParser.parseString(whole.body()).getAsJsonObject().getAsJsonArray("choices").get(0).getAsJsonObject()
                .getAsJsonObject("logprobs");

        List<JsonObject> perChunk = chunkLogprobs(chunks(post("/v1/completions", "{" + body + ", \"stream\": true}")));
        assertTrue(perChunk.size() > 1, "logprobs come with the chunks, not all at the end: " + perChunk.size() + " chunk(s)");
        for (String field : List.of("tokens", "token_logprobs", "top_logprobs", "text_offset")) {
            JsonArray streamed = new JsonArray();
            perChunk.forEach(l -> streamed.addAll(l.getAsJsonArray(field)));
            JsonArray e = expected.getAsJsonArray(field);
            assertEquals(e.size(), streamed.size(), field + ": one entry per generated token");
            for (int i = 0; i < e.size(); i++) {
                switch (field) {
                    case "token_logprobs" -> assertEquals(e.get(i).getAsDouble(), streamed.get(i).getAsDouble(), 0, field + " " + i);
                    case "top_logprobs" -> {
                        JsonObject et = e.get(i).getAsJsonObject();
                        JsonObject at = streamed.get(i).getAsJsonObject();
                        assertEquals(et.keySet(), at.keySet(), field + " " + i);
                        et.keySet().forEach(k -> assertEquals(et.get(k).getAsDouble(), at.get(k).getAsDouble(), 0, k));
                    }
                    default -> assertEquals(e.get(i), streamed.get(i), field + " " + i);
                }
            }
        }
    }

    @Test
    void modelsListsTheServedModel() throws Exception {
        HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/models")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        JsonObject m = JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonArray("data").get(0).getAsJsonObject();
        assertEquals("phi-2", m.get("id").getAsString());
        assertEquals("model", m.get("object").getAsString());
    }

    @Test
    void aGenerationPastTheRequestTimeoutGets504AndFreesItsSlot() throws Exception {
        try (Phi2Server quick = Phi2Server.start(new Phi2Server.Config("127.0.0.1", 0, null, "phi-2", 0, 1 << 20, Duration.ofMillis(100),
                Duration.ofSeconds(2)), () -> Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(2048)))) {
            Health.awaitReady(quick.port(), Duration.ofSeconds(60));
            long t0 = System.nanoTime();
            // 2000 tokens past any end-of-text take the tiny model well over 100 ms
            HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + quick.port() + "/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\": \"phi-2\", \"prompt\": \"Once\", \"max_tokens\": 2000, "
                            + "\"temperature\": 0, \"ignore_eos\": true}")).build(), HttpResponse.BodyHandlers.ofString());
            double s = (System.nanoTime() - t0) / 1e9;
            assertEquals(504, r.statusCode(), r.body());
            assertTrue(r.body().contains("timeout"), r.body());
            assertTrue(s < 10, "cancelled near the timeout, after " + s + " s");
            assertEquals(1, quick.freePermits(), "the slot is free again");
        }
    }
}
