package phi2j.langchain4j;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.request.json.JsonSchema;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelResponseContext;
import dev.langchain4j.service.AiServices;
import dev.langchain4j.store.embedding.EmbeddingMatch;
import dev.langchain4j.store.embedding.EmbeddingSearchRequest;
import dev.langchain4j.store.embedding.inmemory.InMemoryEmbeddingStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import phi2j.runtime.ModelOptions;
import phi2j.testkit.TestModels;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** What a LangChain4j application does: an AI service that returns a record, and a store of embeddings. */
class AiServicesAndEmbeddingsTest {
    static final ModelOptions OPTS = ModelOptions.defaults().withContextSize(2048).withThreads(2).withEmbeddings(true);

    enum Mood { HAPPY, SAD, NEUTRAL }

    // long: llama.cpp's grammar allows integers of up to 16 digits, which an int cannot hold (a random model writes such)
    record Review(Mood mood, boolean recommends, long stars) {
    }

    interface Reviewer {
        Review review(String text);
    }

    static Phi2ChatModel chat;

    @BeforeAll
    static void open() {
        chat = Phi2ChatModel.builder().modelPath(TestModels.tiny()).modelOptions(OPTS).build();
    }

    @AfterAll
    static void close() {
        chat.close();
    }

    @Test
    void anAiServiceReturnsARecordThroughTheJsonSchemaForTenSeeds() {
        java.util.Set<Mood> moods = java.util.EnumSet.noneOf(Mood.class);
        for (long seed = 1; seed <= 10; seed++) {
            List<String> answers = new java.util.ArrayList<>();
            try (Phi2ChatModel seeded = Phi2ChatModel.builder().model(chat.model()).temperature(1.0).seed(seed).maxOutputTokens(200)
                    .listeners(List.of(new ChatModelListener() {
                        @Override
                        public void onResponse(ChatModelResponseContext c) {
                            answers.add(c.chatResponse().aiMessage().text());
                        }
                    })).build()) {
                Review r = AiServices.create(Reviewer.class, seeded).review("Great soup, I will come back.");
                assertNotNull(r, "seed " + seed);
                JsonObject json = new Gson().fromJson(answers.get(0), JsonObject.class);
                assertEquals(java.util.Set.of("mood", "recommends", "stars"), json.keySet(), "strict: every field written, seed " + seed + ": " + answers);
                if (!json.get("mood").isJsonNull()) {
                    assertEquals(Mood.valueOf(json.get("mood").getAsString()), r.mood(), answers.toString());
                    moods.add(r.mood());
                }
                assertEquals(json.get("recommends").isJsonNull() ? false : json.get("recommends").getAsBoolean(), r.recommends());
            }
        }
        assertFalse(moods.isEmpty(), "the enum was filled for some seed");
    }

    @Test
    void jsonResponseFormatWithoutSchemaGivesAJsonObject() {
        // any JSON object: its strings are unbounded, so a random model may reach the length limit inside one; an
        // answer that ended by itself must parse, one cut at the limit must still be the start of an object
        int whole = 0;
        for (long seed = 1; seed <= 10; seed++) {
            ChatRequest req = ChatRequest.builder().messages(UserMessage.from("Give me JSON."))
                    .parameters(Phi2ChatRequestParameters.builder().responseFormat(ResponseFormat.JSON).temperature(1.0)
                            .maxOutputTokens(200).seed(seed).build()).build();
            ChatResponse r = chat.chat(req);
            String text = r.aiMessage().text();
            if (r.finishReason() == dev.langchain4j.model.output.FinishReason.STOP) {
                assertNotNull(new Gson().fromJson(text, JsonObject.class), "seed " + seed + ": " + text);
                whole++;
            } else {
                assertTrue(text.stripLeading().startsWith("{"), "seed " + seed + ", cut at the limit: " + text);
            }
        }
        assertTrue(whole > 0, "some answer ended by itself");
    }

    @Test
    void aSchemaWithAKeywordTheEngineCannotFollowIsRefusedNamingResponseFormat() {
        JsonSchema schema = JsonSchema.builder().name("x").rootElement(JsonObjectSchema.builder()
                .addStringProperty("name").required("name").build()).build();
        // the control: this schema is followed
        assertNotNull(chat.chat(ChatRequest.builder().messages(UserMessage.from("Name?"))
                .responseFormat(ResponseFormat.builder().type(ResponseFormatType.JSON).jsonSchema(schema).build()).maxOutputTokens(40).build()));
        assertEquals("responseFormat", ChatRequests.parameterName("jsonSchema"));
    }

    @Test
    void anInMemoryEmbeddingStoreFindsEachTextNearestToItself() {
        try (Phi2EmbeddingModel embeddings = Phi2EmbeddingModel.builder().modelPath(TestModels.tiny()).modelOptions(OPTS).build()) {
            assertSame(chat.model(), embeddings.model(), "the chat and embedding models share one runner");
            List<TextSegment> texts = List.of(TextSegment.from("The cat sleeps on the sofa."),
                    TextSegment.from("Stock markets fell sharply on Monday."), TextSegment.from("Photosynthesis turns light into sugar."));
            List<Embedding> vectors = embeddings.embedAll(texts).content();
            assertEquals(embeddings.dimension(), vectors.get(0).dimension());
            InMemoryEmbeddingStore<TextSegment> store = new InMemoryEmbeddingStore<>();
            store.addAll(vectors, texts);
            for (TextSegment t : texts) {
                List<EmbeddingMatch<TextSegment>> found = store.search(EmbeddingSearchRequest.builder()
                        .queryEmbedding(embeddings.embed(t.text()).content()).maxResults(1).build()).matches();
                assertEquals(t.text(), found.get(0).embedded().text());
                assertEquals(1.0, found.get(0).score(), 1e-3);
            }
            assertEquals(embeddings.model().tokenize(texts.get(0).text()).length,
                    embeddings.embedAll(texts.subList(0, 1)).tokenUsage().inputTokenCount());
        }
    }

    @Test
    void theTokenCountEstimatorCountsWithTheModelsTokenizer() {
        try (Phi2TokenCountEstimator est = Phi2TokenCountEstimator.builder().model(chat.model()).build()) {
            assertEquals(chat.model().tokenize("Hello there, world").length, est.estimateTokenCountInText("Hello there, world"));
            int messages = est.estimateTokenCountInMessages(List.of(UserMessage.from("What is a GPU?")));
            int sent = chat.chat(ChatRequest.builder().messages(UserMessage.from("What is a GPU?")).maxOutputTokens(1).build())
                    .tokenUsage().inputTokenCount();
            int cue = chat.model().tokenize(phi2j.runtime.ChatFormat.ANSWER_CUE).length;
            assertTrue(sent > messages && sent <= messages + cue + 1, "the request adds only the Assistant: cue (" + cue + " tokens): " + messages + " vs " + sent);
        }
    }
}
