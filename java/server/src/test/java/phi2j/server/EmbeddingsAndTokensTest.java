package phi2j.server;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.openai.OpenAiEmbeddingModel;
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
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Base64;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** /v1/embeddings through LangChain4j's OpenAI embedding model, and llama-server's /tokenize and /detokenize. */
class EmbeddingsAndTokensTest {
    static final String KEY = "test-key-" + System.nanoTime();
    static final HttpClient CLIENT = HttpClient.newHttpClient();
    static Phi2Server server;
    static Phi2Model reference;

    @BeforeAll
    static void start() throws Exception {
        server = Phi2Server.start(new Phi2Server.Config("127.0.0.1", 0, KEY, "phi-2", 4, 1 << 20, Duration.ofSeconds(60),
                Duration.ofSeconds(2)), () -> Phi2Model.open(TestModels.tiny(),
                ModelOptions.defaults().withContextSize(2 * 512).withParallel(2).withEmbeddings(true)));
        reference = Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(512).withEmbeddings(true));
        Health.awaitReady(server.port(), Duration.ofSeconds(60));
    }

    @AfterAll
    static void stop() {
        server.close();
        reference.close();
    }

    static HttpResponse<String> post(String path, String json) throws Exception {
        return CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .header("Authorization", "Bearer " + KEY)
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void embeddingsThroughAnOpenAiClientAreTheLibrarysUnitVectorsInInputOrder() {
        OpenAiEmbeddingModel client = OpenAiEmbeddingModel.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey(KEY)
                .modelName("phi-2").build();
        // three different texts and the first again: any other order (reversed, rotated) puts a vector where it does not belong
        List<String> texts = List.of("The cat sat on the mat.", "def three_sum(nums):", "Rivers run to the sea.", "The cat sat on the mat.");
        List<Embedding> got = client.embedAll(texts.stream().map(TextSegment::from).toList()).content();
        assertEquals(4, got.size());
        for (int i = 0; i < texts.size(); i++) {
            float[] want = reference.embedding(texts.get(i));
            float[] v = got.get(i).vector();
            assertEquals(want.length, v.length, "the model's width");
            double norm = 0;
            for (int k = 0; k < v.length; k++) {
                assertEquals(want[k], v[k], 1e-5, "input " + i + ", component " + k);
                norm += v[k] * v[k];
            }
            assertEquals(1.0, Math.sqrt(norm), 1e-4, "unit length");
        }
        assertArrayEquals(got.get(0).vector(), got.get(3).vector(), "equal inputs, equal vectors");
        assertFalse(java.util.Arrays.equals(got.get(1).vector(), got.get(2).vector()), "different inputs, different vectors");
        assertFalse(java.util.Arrays.equals(got.get(0).vector(), got.get(1).vector()), "different inputs, different vectors");
    }

    @Test
    void base64EmbeddingsAreTheFloatsLittleEndianAndUsageCountsTokens() throws Exception {
        String text = "Hello, world";
        JsonObject f = JsonParser.parseString(post("/v1/embeddings", "{\"model\": \"phi-2\", \"input\": \"" + text + "\"}").body()).getAsJsonObject();
        JsonObject b = JsonParser.parseString(post("/v1/embeddings", "{\"model\": \"phi-2\", \"input\": [\"" + text + "\"], "
                + "\"encoding_format\": \"base64\"}").body()).getAsJsonObject();
        JsonArray floats = f.getAsJsonArray("data").get(0).getAsJsonObject().getAsJsonArray("embedding");
        ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(b.getAsJsonArray("data").get(0).getAsJsonObject().get("embedding").getAsString()))
                .order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(floats.size() * 4, bytes.remaining());
        for (JsonElement x : floats) {
            assertEquals(x.getAsFloat(), bytes.getFloat());
        }
        assertEquals(reference.tokenize(text).length, f.getAsJsonObject("usage").get("prompt_tokens").getAsInt());
        assertEquals("list", f.get("object").getAsString());
    }

    @Test
    void badEmbeddingRequestsNameTheirField() throws Exception {
        for (String[] c : new String[][] {
                {"{\"model\": \"phi-2\"}", "input"},
                {"{\"model\": \"phi-2\", \"input\": []}", "input"},
                {"{\"model\": \"phi-2\", \"input\": [1, 2, 3]}", "input"},
                {"{\"model\": \"phi-2\", \"input\": \"\"}", "input"},
                {"{\"model\": \"phi-2\", \"input\": \"x\", \"encoding_format\": \"int8\"}", "encoding_format"}}) {
            HttpResponse<String> r = post("/v1/embeddings", c[0]);
            assertEquals(400, r.statusCode(), c[0] + ": " + r.body());
            assertEquals(c[1], JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonObject("error").get("param").getAsString(), c[0]);
        }
        assertEquals(404, post("/v1/embeddings", "{\"model\": \"gpt-4\", \"input\": \"x\"}").statusCode());
    }

    @Test
    void tokenizeThenDetokenizeGivesTheTextBack() throws Exception {
        String text = "Instruct: Explain the joke about Bach.\\nOutput: caf\\u00e9";
        JsonObject t = JsonParser.parseString(post("/tokenize", "{\"content\": \"" + text + "\"}").body()).getAsJsonObject();
        JsonArray ids = t.getAsJsonArray("tokens");
        String plain = JsonParser.parseString("\"" + text + "\"").getAsString();
        assertArrayEquals(reference.tokenize(plain), ints(ids), "the model's own token ids");
        JsonObject d = JsonParser.parseString(post("/detokenize", "{\"tokens\": " + ids + "}").body()).getAsJsonObject();
        assertEquals(plain, d.get("content").getAsString());

        JsonArray pieces = JsonParser.parseString(post("/tokenize", "{\"content\": \"Hello world\", \"with_pieces\": true}").body())
                .getAsJsonObject().getAsJsonArray("tokens");
        StringBuilder joined = new StringBuilder();
        for (JsonElement p : pieces) {
            assertTrue(p.getAsJsonObject().get("id").getAsInt() >= 0);
            joined.append(p.getAsJsonObject().get("piece").getAsString());
        }
        assertEquals("Hello world", joined.toString());

        HttpResponse<String> bad = post("/detokenize", "{\"tokens\": [1, 99999999]}");
        assertEquals(400, bad.statusCode(), bad.body());
        assertEquals("tokens", JsonParser.parseString(bad.body()).getAsJsonObject().getAsJsonObject("error").get("param").getAsString());
        assertEquals(400, post("/tokenize", "{\"content\": 5}").statusCode());
    }

    private static int[] ints(JsonArray a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsInt();
        }
        return out;
    }
}
