package phi2j.langchain4j;

import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import phi2j.InvalidOptionException;
import phi2j.runtime.ChatFormat;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.TestModels;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/** The chat and streaming models against the tiny model, compared with phi2j's own API on the same prompt. */
class Phi2ChatModelTest {
    static final ModelOptions OPTS = ModelOptions.defaults().withContextSize(2048).withParallel(2).withThreads(2);
    static Phi2ChatModel chat;
    static Phi2StreamingChatModel streaming;

    @BeforeAll
    static void open() {
        chat = Phi2ChatModel.builder().modelPath(TestModels.tiny()).modelOptions(OPTS).cachePrompt(false).build();
        streaming = Phi2StreamingChatModel.builder().modelPath(TestModels.tiny()).modelOptions(OPTS).cachePrompt(false).build();
    }

    @AfterAll
    static void close() {
        chat.close();
        streaming.close();
    }

    static ChatRequest ask(String question, int tokens) {
        return ChatRequest.builder().messages(SystemMessage.from("You are terse."), UserMessage.from(question)).maxOutputTokens(tokens).build();
    }

    @Test
    void aChatAnswerIsPhi2jsGreedyAnswerToTheChatPromptWithExactUsageAndFinishReason() {
        ChatResponse r = chat.chat(ask("What is a GPU?", 12));
        String prompt = ChatFormat.render(List.of(new ChatFormat.Message("system", "You are terse."), new ChatFormat.Message("user", "What is a GPU?")));
        GenerationResult direct = chat.model().generate(prompt, GenerationOptions.greedy().withMaxNewTokens(12).withStopStrings(List.of(ChatFormat.STOP)));
        assertEquals(direct.text().stripLeading(), r.aiMessage().text());
        assertEquals(direct.promptTokens(), r.tokenUsage().inputTokenCount());
        assertEquals(direct.generatedTokens(), r.tokenUsage().outputTokenCount());
        assertEquals(direct.stopReason() == phi2j.runtime.StopReason.LENGTH ? FinishReason.LENGTH : FinishReason.STOP, r.finishReason());
        assertEquals(chat.model().info().name(), r.modelName());
    }

    @Test
    void theTwoModelsBuiltFromOneFileAndOptionsShareOneRunner() {
        assertSame(chat.model(), streaming.model());
        Phi2ChatModel third = Phi2ChatModel.builder().modelPath(TestModels.tiny()).modelOptions(OPTS).build();
        assertSame(chat.model(), third.model());
        third.close();
        assertTrue(chat.model().isOpen(), "closing one user keeps the model open for the others");
        assertNotNull(chat.chat(ask("Still there?", 2)).aiMessage().text());
    }

    @Test
    void streamedPiecesAddUpToTheCompleteResponseWhichEqualsTheNonStreamingAnswer() throws Exception {
        List<String> pieces = new ArrayList<>();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat(ask("Tell me about the sea.", 24), new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String piece) {
                pieces.add(piece);
            }

            @Override
            public void onCompleteResponse(ChatResponse r) {
                done.complete(r);
            }

            @Override
            public void onError(Throwable e) {
                done.completeExceptionally(e);
            }
        });
        ChatResponse r = done.get(60, TimeUnit.SECONDS);
        assertFalse(pieces.isEmpty());
        assertEquals(String.join("", pieces), r.aiMessage().text());
        assertEquals(chat.chat(ask("Tell me about the sea.", 24)).aiMessage().text(), r.aiMessage().text());
        int out = r.tokenUsage().outputTokenCount();
        assertTrue(r.finishReason() == FinishReason.LENGTH ? out == 24 : out < 24, r.finishReason() + " after " + out + " tokens");
    }

    /** Streams a greedy 900-token answer; {@code cancelAtFirst} cancels it from its handle at the first piece. */
    static CompletableFuture<ChatResponse> story(boolean cancelAtFirst, CountDownLatch first, AtomicBoolean after) {
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        AtomicBoolean cancelled = new AtomicBoolean();
        streaming.chat(ChatRequest.builder().messages(UserMessage.from("Tell me a long story.")).maxOutputTokens(900).build(),
                new StreamingChatResponseHandler() {
                    @Override
                    public void onPartialResponse(PartialResponse piece, PartialResponseContext context) {
                        if (cancelled.get()) {
                            after.set(true);
                        }
                        if (cancelAtFirst) {
                            context.streamingHandle().cancel();
                            cancelled.set(true);
                        }
                        first.countDown();
                    }

                    @Override
                    public void onCompleteResponse(ChatResponse r) {
                        after.set(cancelled.get());
                        done.complete(r);
                    }

                    @Override
                    public void onError(Throwable e) {
                        after.set(true);
                        done.completeExceptionally(e);
                    }
                });
        return done;
    }

    @Test
    void cancellingAStreamFromItsHandleFreesItsSlotWhileAnEqualGenerationStartedEarlierStillRuns() throws Exception {
        Phi2Model m = streaming.model();
        // the control's length: this answer runs to the limit, so an uncancelled one would end after the one started first
        ChatResponse whole = story(false, new CountDownLatch(1), new AtomicBoolean()).get(60, TimeUnit.SECONDS);
        assertEquals(FinishReason.LENGTH, whole.finishReason());
        assertEquals(900, whole.tokenUsage().outputTokenCount());

        CountDownLatch firstOfB = new CountDownLatch(1);
        CompletableFuture<ChatResponse> b = story(false, firstOfB, new AtomicBoolean());
        assertTrue(firstOfB.await(60, TimeUnit.SECONDS));
        CountDownLatch firstOfA = new CountDownLatch(1);
        AtomicBoolean afterCancel = new AtomicBoolean();
        story(true, firstOfA, afterCancel);
        assertTrue(firstOfA.await(60, TimeUnit.SECONDS));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (m.load().running() > 1 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertFalse(b.isDone(), "A's slot was free while B, started before it, still ran: the cancel reached the engine");
        assertEquals(900, b.get(60, TimeUnit.SECONDS).tokenUsage().outputTokenCount());
        Thread.sleep(100);
        assertFalse(afterCancel.get(), "no callback after the cancel");
        // the engine's books close just after the last response is handed over: wait for them
        long idle = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (m.load().running() > 0 && System.nanoTime() < idle) {
            Thread.sleep(5);
        }
        assertEquals(0, m.load().running());
    }

    @Test
    void jsonSchemaIsTheOneResponseFormatCapabilityItClaims() {
        assertEquals(java.util.Set.of(Capability.RESPONSE_FORMAT_JSON_SCHEMA), chat.supportedCapabilities());
        assertEquals(java.util.Set.of(Capability.RESPONSE_FORMAT_JSON_SCHEMA), streaming.supportedCapabilities());
    }

    @Test
    void toolsFrequencyPenaltyAndImagesAreRefusedByName() {
        ChatRequest tools = ChatRequest.builder().messages(UserMessage.from("Weather?"))
                .toolSpecifications(ToolSpecification.builder().name("weather").description("the weather").build()).build();
        assertTrue(assertThrows(UnsupportedFeatureException.class, () -> chat.chat(tools)).getMessage().contains("toolSpecifications"));
        assertTrue(assertThrows(UnsupportedFeatureException.class, () -> streaming.chat(tools, new Ignore())).getMessage().contains("toolSpecifications"));
        ChatRequest frequency = ChatRequest.builder().messages(UserMessage.from("Hi")).frequencyPenalty(0.5).build();
        assertTrue(assertThrows(UnsupportedFeatureException.class, () -> chat.chat(frequency)).getMessage().contains("frequencyPenalty"));
        ChatRequest image = ChatRequest.builder().messages(UserMessage.from(TextContent.from("What is this?"),
                ImageContent.from("https://example.invalid/cat.png"))).build();
        assertTrue(assertThrows(UnsupportedFeatureException.class, () -> chat.chat(image)).getMessage().contains("IMAGE"));
        InvalidOptionException atBuild = assertThrows(InvalidOptionException.class,
                () -> Phi2ChatModel.builder().modelPath(TestModels.tiny()).modelOptions(OPTS).temperature(-1.0).build());
        assertEquals("temperature", atBuild.option(), atBuild.getMessage());
        UnsupportedFeatureException defaults = assertThrows(UnsupportedFeatureException.class,
                () -> Phi2ChatModel.builder().model(chat.model()).defaultRequestParameters(
                        Phi2ChatRequestParameters.builder().frequencyPenalty(1.0).build()).build());
        assertTrue(defaults.getMessage().contains("frequencyPenalty"), defaults.getMessage());
        InvalidOptionException tokens = assertThrows(InvalidOptionException.class,
                () -> chat.chat(ChatRequest.builder().messages(UserMessage.from("Hi")).maxOutputTokens(0).build()));
        assertEquals("maxOutputTokens", tokens.option(), tokens.getMessage());
    }

    @Test
    void aBuilderWithoutAModelOrWithAMissingFileSaysWhich(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        InvalidOptionException none = assertThrows(InvalidOptionException.class, () -> Phi2ChatModel.builder().build());
        assertEquals("modelPath", none.option());
        java.nio.file.Path missing = dir.resolve("missing.gguf");
        phi2j.BadModelFileException e = assertThrows(phi2j.BadModelFileException.class,
                () -> Phi2ChatModel.builder().modelPath(missing).build());
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    }

    @Test
    void theSameSeedGivesTheSameSampledAnswerAndTheSeedReachesTheSampler() {
        List<String> bySeed = new ArrayList<>();
        for (long seed = 1; seed <= 4; seed++) {
            Phi2ChatModel seeded = Phi2ChatModel.builder().model(chat.model()).temperature(1.0).seed(seed).maxOutputTokens(12).build();
            String a = seeded.chat("Say something.");
            assertEquals(a, seeded.chat("Say something."), "seed " + seed);
            bySeed.add(a);
        }
        assertTrue(bySeed.stream().distinct().count() > 1, "different seeds sample differently: " + bySeed);
    }

    private static final class Ignore implements StreamingChatResponseHandler {
        @Override
        public void onCompleteResponse(ChatResponse r) {
        }

        @Override
        public void onError(Throwable e) {
        }
    }
}
