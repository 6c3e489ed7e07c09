package phi2j.server;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.request.json.JsonSchema;
import dev.langchain4j.model.openai.OpenAiChatModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.TestModels;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** Structured output through LangChain4j's OpenAI client (response_format) and llama-server's grammar field. */
class StructuredOutputTest {
    static final String KEY = "test-key-" + System.nanoTime();
    static final HttpClient CLIENT = HttpClient.newHttpClient();
    static final List<String> COLORS = List.of("red", "green", "blue");
    static Phi2Server server;

    @BeforeAll
    static void start() throws Exception {
        server = Phi2Server.start(new Phi2Server.Config("127.0.0.1", 0, KEY, "phi-2", 4, 1 << 20, Duration.ofSeconds(120),
                Duration.ofSeconds(2)), () -> Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(2 * 1024).withParallel(2)));
        Health.awaitReady(server.port(), Duration.ofSeconds(60));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** Room enough: the random model spends many tokens on the whitespace JSON allows between values. */
    static OpenAiChatModel client(int seed, double temperature) {
        return OpenAiChatModel.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey(KEY).modelName("phi-2")
                .temperature(temperature).seed(seed).maxTokens(900).timeout(Duration.ofSeconds(120))
                .supportedCapabilities(Capability.RESPONSE_FORMAT_JSON_SCHEMA).build();
    }

    static final JsonSchema PERSON = JsonSchema.builder().name("Person").rootElement(JsonObjectSchema.builder()
            .addIntegerProperty("age").addEnumProperty("color", COLORS).addBooleanProperty("admin").addNumberProperty("score")
            .addProperty("address", JsonObjectSchema.builder().addIntegerProperty("number").addEnumProperty("side", List.of("left", "right"))
                    .required("number", "side").additionalProperties(false).build())
            .required("age", "color", "admin", "score", "address").additionalProperties(false).build()).build();

    /** PERSON's rules, checked on parsed JSON: exactly its keys, each of its type. */
    static void assertPerson(String text) {
        JsonObject o = JsonParser.parseString(text).getAsJsonObject();
        assertEquals(Set.of("age", "color", "admin", "score", "address"), o.keySet(), text);
        assertTrue(o.get("age").getAsJsonPrimitive().isNumber() && o.get("age").getAsBigDecimal().stripTrailingZeros().scale() <= 0, text);
        assertTrue(COLORS.contains(o.get("color").getAsString()) && o.get("color").getAsJsonPrimitive().isString(), text);
        assertTrue(o.get("admin").getAsJsonPrimitive().isBoolean(), text);
        assertTrue(o.get("score").getAsJsonPrimitive().isNumber(), text);
        JsonObject a = o.getAsJsonObject("address");
        assertEquals(Set.of("number", "side"), a.keySet(), text);
        assertTrue(a.get("number").getAsJsonPrimitive().isNumber() && List.of("left", "right").contains(a.get("side").getAsString()), text);
    }

    @Test
    void aJsonSchemaResponseFormatGivesTextThatFollowsTheSchemaForTwentySeeds() {
        for (int seed = 1; seed <= 20; seed++) {
            ChatRequest request = ChatRequest.builder().messages(UserMessage.from("Describe a person as JSON."))
                    .responseFormat(ResponseFormat.builder().type(ResponseFormatType.JSON).jsonSchema(PERSON).build()).build();
            String text = client(seed, 1.0).chat(request).aiMessage().text();
            try {
                assertPerson(text);
            } catch (RuntimeException | AssertionError e) {
                fail("seed " + seed + ": " + text, e);
            }
        }
    }

    @Test
    void aJsonObjectResponseFormatGivesAJsonObject() {
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey(KEY).modelName("phi-2")
                .temperature(0.0).maxTokens(200).responseFormat("json_object").timeout(Duration.ofSeconds(120)).build();
        String text = chat.chat("Answer in JSON: what is your name?");
        JsonElement e = JsonParser.parseString(text);
        assertTrue(e.isJsonObject(), text);
    }

    static HttpResponse<String> post(String json) throws Exception {
        return CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
                .header("Authorization", "Bearer " + KEY).POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static String chat(String extra) {
        return "{\"model\":\"phi-2\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"Yes or no?\"}]," + extra + "}";
    }

    @Test
    void aSchemaTheConverterCannotFollowIsA400NamingResponseFormat() throws Exception {
        for (String format : List.of(
                "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"$ref\":\"#/definitions/nowhere\"}}}",
                "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"abc\"}}}}}",
                "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":5}}",
                "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\"}}",
                "{\"type\":\"yaml\"}",
                "\"json\"")) {
            HttpResponse<String> r = post(chat("\"response_format\":" + format));
            assertEquals(400, r.statusCode(), format + " -> " + r.body());
            JsonObject error = JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonObject("error");
            assertEquals("response_format", error.get("param").getAsString(), r.body());
        }
    }

    @Test
    void llamaServersGrammarFieldConstrainsTheText() throws Exception {
        for (int seed = 1; seed <= 3; seed++) {
            HttpResponse<String> r = post(chat("\"temperature\":1,\"seed\":" + seed + ",\"grammar\":\"root ::= (\\\"yes\\\" | \\\"no\\\") \\\".\\\"\""));
            assertEquals(200, r.statusCode(), r.body());
            JsonObject choice = JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonArray("choices").get(0).getAsJsonObject();
            assertTrue(List.of("yes.", "no.").contains(choice.getAsJsonObject("message").get("content").getAsString()), r.body());
            assertEquals("stop", choice.get("finish_reason").getAsString(), r.body());
        }
        HttpResponse<String> bad = post(chat("\"grammar\":\"root ::= (\""));
        assertEquals(400, bad.statusCode(), bad.body());
        assertEquals("grammar", JsonParser.parseString(bad.body()).getAsJsonObject().getAsJsonObject("error").get("param").getAsString());
        HttpResponse<String> both = post(chat("\"grammar\":\"root ::= \\\"x\\\"\",\"response_format\":{\"type\":\"json_object\"}"));
        assertEquals(400, both.statusCode(), both.body());
    }
}
