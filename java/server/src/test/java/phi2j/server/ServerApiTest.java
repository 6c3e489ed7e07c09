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

/** The API's other surfaces in raw HTTP: text completions (plain and streamed), log-probabilities, models, the timeout. */
class ServerApiTest {
    static Phi2Server server;
    static final HttpClient CLIENT = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        server = Phi2Server.start(new Phi2Server.Config("127.0.0.1", 0, null, "phi-2", 2, 2, 1 << 20, Duration.ofSeconds(60),
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
    void textCompletionsPlainAndStreamedGiveTheLibrarysText() throws Exception {
        GenerationResult ref = direct("Once upon a time", GenerationOptions.greedy().withMaxNewTokens(10));
        HttpResponse<String> r = post("/v1/completions", "{\"model\": \"phi-2\", \"prompt\": \"Once upon a time\", \"max_tokens\": 10, \"temperature\": 0}");
        assertEquals(200, r.statusCode(), r.body());
        JsonObject o = JsonParser.parseString(r.body()).getAsJsonObject();
        assertEquals("text_completion", o.get("object").getAsString());
        assertEquals(ref.text(), o.getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString());
        assertEquals(ref.promptTokens(), o.getAsJsonObject("usage").get("prompt_tokens").getAsInt());
        assertEquals("length", o.getAsJsonArray("choices").get(0).getAsJsonObject().get("finish_reason").getAsString());

        HttpResponse<String> s = post("/v1/completions", "{\"model\": \"phi-2\", \"prompt\": \"Once upon a time\", \"max_tokens\": 10, "
                + "\"temperature\": 0, \"stream\": true, \"stream_options\": {\"include_usage\": true}}");
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
        try (Phi2Server quick = Phi2Server.start(new Phi2Server.Config("127.0.0.1", 0, null, "phi-2", 1, 0, 1 << 20, Duration.ofMillis(100),
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
