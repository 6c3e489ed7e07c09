package phi2j.server;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import phi2j.runtime.ChatFormat;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.TestModels;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The server through a real OpenAI client, unchanged: LangChain4j's OpenAI module, blocking and streaming. */
class OpenAiClientTest {
    static final String KEY = "test-key-" + System.nanoTime();
    /** The answers are compared with the library's cold ones: no request may start from another's cached prompt. */
    static final java.util.Map<String, Object> NO_REUSE = java.util.Map.of("cache_prompt", false);
    static Phi2Server server;
    static String baseUrl;

    @BeforeAll
    static void start() throws Exception {
        server = Phi2Server.start(new Phi2Server.Config("127.0.0.1", 0, KEY, "phi-2", 4, 1 << 20, Duration.ofSeconds(60),
                Duration.ofSeconds(5)), () -> Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(2 * 512).withParallel(2)));
        baseUrl = "http://127.0.0.1:" + server.port() + "/v1";
        Health.awaitReady(server.port(), Duration.ofSeconds(60));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** What the library itself answers for the prompt the server renders: the reference for content and counts. */
    static phi2j.runtime.GenerationResult direct(String user, int maxTokens) {
        try (Phi2Model m = Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(512))) {
            return m.generate(ChatFormat.render(java.util.List.of(new ChatFormat.Message("user", user))),
                    GenerationOptions.greedy().withMaxNewTokens(maxTokens).withStopStrings(java.util.List.of(ChatFormat.STOP)));
        }
    }

    @Test
    void aChatCallReturnsTheModelsAnswerWithExactUsageAndFinishReason() {
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl(baseUrl).apiKey(KEY).modelName("phi-2").temperature(0.0).maxTokens(12)
                .customParameters(NO_REUSE)
                .timeout(Duration.ofSeconds(60)).build();
        ChatResponse r = chat.chat(UserMessage.from("Write a haiku about the sea."));
        var ref = direct("Write a haiku about the sea.", 12);
        assertEquals(ref.text().stripLeading(), r.aiMessage().text());
        assertEquals(ref.promptTokens(), r.tokenUsage().inputTokenCount());
        assertEquals(ref.generatedTokens(), r.tokenUsage().outputTokenCount());
        assertEquals(ref.generatedTokens() == 12 ? FinishReason.LENGTH : FinishReason.STOP, r.finishReason());
    }

    @Test
    void aStreamingCallDeliversPiecesThatMakeTheSameAnswer() throws Exception {
        OpenAiStreamingChatModel chat = OpenAiStreamingChatModel.builder().baseUrl(baseUrl).apiKey(KEY).modelName("phi-2").temperature(0.0)
                .customParameters(NO_REUSE)
                .maxTokens(12).timeout(Duration.ofSeconds(60)).build();
        StringBuilder pieces = new StringBuilder();
        int[] count = {0};
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        chat.chat("Write a haiku about the sea.", new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                pieces.append(partial);
                count[0]++;
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse r = done.get(60, TimeUnit.SECONDS);
        var ref = direct("Write a haiku about the sea.", 12);
        assertTrue(count[0] > 1, "the answer came in pieces: " + count[0]);
        assertEquals(ref.text().stripLeading(), pieces.toString());
        assertEquals(ref.text().stripLeading(), r.aiMessage().text());
        assertEquals(ref.promptTokens(), r.tokenUsage().inputTokenCount());
        assertEquals(ref.generatedTokens(), r.tokenUsage().outputTokenCount());
        assertEquals(ref.generatedTokens() == 12 ? FinishReason.LENGTH : FinishReason.STOP, r.finishReason());
    }

    @Test
    void aWrongKeyIsRefused() {
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl(baseUrl).apiKey("wrong").modelName("phi-2").maxTokens(2)
                .timeout(Duration.ofSeconds(30)).maxRetries(0).build();
        RuntimeException e = assertThrows(RuntimeException.class, () -> chat.chat(UserMessage.from("Hi")));
        assertTrue(String.valueOf(e.getMessage()).contains("API key") || e.getClass().getSimpleName().contains("Authentication"),
                e.getClass() + ": " + e.getMessage());
    }
}
