package phi2j.server;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import phi2j.runtime.ChatFormat;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.TestModels;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Conversations keep their cache: a turn goes to the slot holding its history (or, with {@code --cache-ram}, gets it
 * back from host memory), reports the reused tokens as OpenAI's {@code cached_tokens} and in /metrics, and answers
 * exactly what the library answers for the same history without any cache.
 */
class ConversationCacheTest {
    static final HttpClient CLIENT = HttpClient.newHttpClient();
    static final int MAX_TOKENS = 8;
    static Phi2Server slots;      // 2 slots, no host cache
    static Phi2Server hostCache;  // 1 slot and a host cache
    static Phi2Model reference;   // no reuse at all

    @BeforeAll
    static void start() throws Exception {
        slots = Phi2Server.start(config(), () -> Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(2 * 512).withParallel(2)));
        hostCache = Phi2Server.start(config(), () -> Phi2Model.open(TestModels.tiny(),
                ModelOptions.defaults().withContextSize(512).withParallel(1).withCacheRamMib(64)));
        reference = Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(512));
        Health.awaitReady(slots.port(), Duration.ofSeconds(60));
        Health.awaitReady(hostCache.port(), Duration.ofSeconds(60));
    }

    static Phi2Server.Config config() {
        return new Phi2Server.Config("127.0.0.1", 0, null, "phi-2", 4, 1 << 20, Duration.ofSeconds(60), Duration.ofSeconds(2));
    }

    @AfterAll
    static void stop() {
        slots.close();
        hostCache.close();
        reference.close();
    }

    /** One conversation: its messages so far, and the prompt tokens of its last turn. */
    static final class Conversation {
        final List<ChatFormat.Message> messages = new ArrayList<>();
        int lastPromptTokens;
    }

    /** A user turn on {@code server}: returns the usage, after checking the answer against the library without reuse. */
    static JsonObject turn(Phi2Server server, Conversation c, String user) throws Exception {
        c.messages.add(new ChatFormat.Message("user", user));
        JsonArray messages = new JsonArray();
        for (ChatFormat.Message m : c.messages) {
            JsonObject o = new JsonObject();
            o.addProperty("role", m.role());
            o.addProperty("content", m.content());
            messages.add(o);
        }
        JsonObject body = new JsonObject();
        body.addProperty("model", "phi-2");
        body.addProperty("temperature", 0);
        body.addProperty("max_tokens", MAX_TOKENS);
        body.add("messages", messages);
        HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        JsonObject o = JsonParser.parseString(r.body()).getAsJsonObject();
        String answer = o.getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("message").get("content").getAsString();
        String without = reference.generate(ChatFormat.render(c.messages), GenerationOptions.greedy().withMaxNewTokens(MAX_TOKENS)
                .withStopStrings(List.of(ChatFormat.STOP))).text().stripLeading();
        assertEquals(without, answer, "greedy text is the same with and without reuse, turn " + c.messages.size());
        c.messages.add(new ChatFormat.Message("assistant", answer.strip()));
        return o.getAsJsonObject("usage");
    }

    static int cached(JsonObject usage) {
        return usage.getAsJsonObject("prompt_tokens_details").get("cached_tokens").getAsInt();
    }

    /**
     * Interleaves the conversations' turns, in reverse order every other round (so that the least recently used slot is
     * another conversation's), and checks that from the second turn on, each reuses its whole last prompt.
     */
    static int interleave(Phi2Server server, int conversations, int turns) throws Exception {
        List<Conversation> cs = new ArrayList<>();
        for (int i = 0; i < conversations; i++) {
            cs.add(new Conversation());
        }
        int cachedTotal = 0;
        for (int t = 0; t < turns; t++) {
            for (int k = 0; k < conversations; k++) {
                int i = t % 2 == 0 ? k : conversations - 1 - k;
                Conversation c = cs.get(i);
                JsonObject usage = turn(server, c, "Conversation " + i + ", question " + t + ": what comes next after " + (t * 7 + i) + "?");
                int cached = cached(usage);
                if (t == 0) {
                    assertTrue(cached < usage.get("prompt_tokens").getAsInt() / 2, "a new conversation reuses little: " + usage);
                } else {
                    assertTrue(cached >= c.lastPromptTokens, "turn " + t + " of conversation " + i + " reuses its last prompt ("
                            + c.lastPromptTokens + " tokens) and more: " + usage);
                }
                cachedTotal += cached;
                c.lastPromptTokens = usage.get("prompt_tokens").getAsInt();
            }
        }
        return cachedTotal;
    }

    @Test
    void eachConversationReturnsToTheSlotHoldingItsHistoryAndAnswersAsWithoutReuse() throws Exception {
        long before = metric(slots, "phi2_prompt_tokens_cached_total");
        int cached = interleave(slots, 2, 3);
        assertEquals(before + cached, metric(slots, "phi2_prompt_tokens_cached_total"), "/metrics counts the reused tokens");
    }

    @Test
    void withTheHostCacheMoreConversationsThanSlotsResumeTheirHistory() throws Exception {
        interleave(hostCache, 3, 3);
    }

    @Test
    void cachePromptFalseEvaluatesTheWholePrompt() throws Exception {
        String body = "{\"model\":\"phi-2\",\"temperature\":0,\"max_tokens\":2,\"cache_prompt\":false,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"The same question twice\"}]}";
        for (int i = 0; i < 2; i++) {
            HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + slots.port() + "/v1/chat/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            assertEquals(0, cached(JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonObject("usage")), r.body());
        }
    }

    static long metric(Phi2Server server, String name) throws Exception {
        String text = CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        Matcher m = Pattern.compile("(?m)^" + name + " (\\d+)(?:\\.0)?$").matcher(text); // the client writes counters as doubles
        assertTrue(m.find(), name + " in " + text);
        return Long.parseLong(m.group(1));
    }
}
