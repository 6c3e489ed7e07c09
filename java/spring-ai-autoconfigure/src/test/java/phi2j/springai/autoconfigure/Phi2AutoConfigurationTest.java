package phi2j.springai.autoconfigure;

import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.client.AdvisorParams;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.embedding.EmbeddingModel;
import org.springframework.ai.model.chat.client.autoconfigure.ChatClientAutoConfiguration;
import org.springframework.ai.tool.annotation.Tool;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import phi2j.runtime.Phi2Model;
import phi2j.springai.Phi2ChatModel;
import phi2j.springai.Phi2ChatOptions;
import phi2j.springai.Phi2EmbeddingModel;
import phi2j.testkit.TestModels;
import reactor.core.publisher.Flux;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/** The starter's beans in a Spring context, as an application gets them from application.properties. */
class Phi2AutoConfigurationTest {
    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(Phi2AutoConfiguration.class, ChatClientAutoConfiguration.class))
            .withPropertyValues("spring.ai.phi2.model=" + TestModels.tiny(), "spring.ai.phi2.context-size=2048",
                    "spring.ai.phi2.parallel=2", "spring.ai.phi2.threads=2", "spring.ai.phi2.chat.options.max-tokens=24",
                    "spring.ai.phi2.chat.cache-prompt=false");

    enum Mood { HAPPY, SAD, NEUTRAL }

    record Review(Mood mood, boolean recommends, long stars) {
    }

    static Throwable root(Throwable t) {
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    @Test
    void aChatClientFromTheStarterAnswersACallAndAStreamWhoseLastResponseCarriesUsageAndFinishReason() {
        runner.run(ctx -> {
            assertNull(ctx.getStartupFailure());
            ChatClient client = ctx.getBean(ChatClient.Builder.class).build();
            ChatResponse whole = client.prompt().user("What is a GPU?").call().chatResponse();
            String text = whole.getResult().getOutput().getText();
            assertEquals(24, whole.getMetadata().getUsage().getCompletionTokens(), "max-tokens from the properties");
            assertEquals("LENGTH", whole.getResult().getMetadata().getFinishReason());
            assertEquals(ctx.getBean(Phi2ChatModel.class).model().tokenize(
                    phi2j.runtime.ChatFormat.render(List.of(new phi2j.runtime.ChatFormat.Message("user", "What is a GPU?")))).length,
                    whole.getMetadata().getUsage().getPromptTokens());
            List<ChatResponse> pieces = client.prompt().user("What is a GPU?").stream().chatResponse().collectList().block(Duration.ofSeconds(60));
            StringBuilder streamed = new StringBuilder();
            pieces.forEach(p -> streamed.append(p.getResult().getOutput().getText()));
            assertEquals(text, streamed.toString(), "greedy: the stream's pieces make the call's answer");
            ChatResponse last = pieces.get(pieces.size() - 1);
            assertEquals("LENGTH", last.getResult().getMetadata().getFinishReason());
            assertEquals(24, last.getMetadata().getUsage().getCompletionTokens());
        });
    }

    @Test
    void theEntityRouteGetsARecordThroughTheJsonSchema() {
        runner.withPropertyValues("spring.ai.phi2.chat.options.temperature=1.0", "spring.ai.phi2.chat.options.max-tokens=200").run(ctx -> {
            ChatClient client = ctx.getBean(ChatClient.Builder.class).build();
            for (long seed = 1; seed <= 5; seed++) {
                Review r = client.prompt().options(Phi2ChatOptions.builder().seed(seed).build())
                        .advisors(AdvisorParams.ENABLE_NATIVE_STRUCTURED_OUTPUT)
                        .user("Great soup, I will come back.").call().entity(Review.class);
                assertNotNull(r, "seed " + seed);
            }
        });
    }

    @Test
    void cancellingTheFluxStopsTheGenerationAndFreesItsSlot() {
        runner.withPropertyValues("spring.ai.phi2.chat.options.max-tokens=900").run(ctx -> {
            Phi2ChatModel chat = ctx.getBean(Phi2ChatModel.class);
            Phi2Model m = chat.model();
            // B first, uncancelled; then A, cancelled after its first piece: A's slot must be free while B still runs
            AtomicReference<ChatResponse> bLast = new AtomicReference<>();
            Flux<ChatResponse> b = chat.stream(new Prompt("Tell me a long story."));
            var bDone = b.doOnNext(bLast::set).then().toFuture();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (m.load().running() < 1 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            ChatResponse first = chat.stream(new Prompt("Tell me a long story.")).take(1).blockFirst(Duration.ofSeconds(60));
            assertNotNull(first);
            while (m.load().running() > 1 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertFalse(bDone.isDone(), "A's slot was free while B, started before it, still ran: the cancel reached the engine");
            bDone.get();
            assertEquals(900, bLast.get().getMetadata().getUsage().getCompletionTokens());
            // the engine's books close just after the last response is handed over: wait for them
            long idle = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (m.load().running() > 0 && System.nanoTime() < idle) {
                Thread.sleep(5);
            }
            assertEquals(0, m.load().running());
        });
    }

    @Test
    void oneModelServesTheChatAndEmbeddingBeansAndClosesWithTheContext() {
        AtomicReference<Phi2Model> model = new AtomicReference<>();
        runner.run(ctx -> {
            Phi2Model m = ctx.getBean(Phi2ChatModel.class).model();
            model.set(m);
            EmbeddingModel embeddings = ctx.getBean(EmbeddingModel.class);
            assertInstanceOf(Phi2EmbeddingModel.class, embeddings);
            float[] v = embeddings.embed("The cat sleeps.");
            assertArrayEquals(m.embedding("The cat sleeps."), v, 0f, "the embedding bean runs on the chat bean's model");
            assertEquals(1, ctx.getBeansOfType(Phi2ModelProvider.class).size());
        });
        assertFalse(model.get().isOpen(), "closed with the context");
    }

    @Test
    void springAiModelChatNoneLeavesThePhi2BeansOutAndOpensNothing() {
        runner.withPropertyValues("spring.ai.model.chat=none", "spring.ai.model.embedding=none").run(ctx -> {
            assertNull(ctx.getStartupFailure());
            assertTrue(ctx.getBeansOfType(ChatModel.class).isEmpty());
            assertTrue(ctx.getBeansOfType(EmbeddingModel.class).isEmpty());
            assertFalse(ctx.getBean(Phi2ModelProvider.class).isOpen(), "no bean needed the model: it was not opened");
        });
    }

    @Test
    void aMissingModelPropertyOrFileFailsTheStartNamingThePropertyAndTheFile() {
        new ApplicationContextRunner().withConfiguration(AutoConfigurations.of(Phi2AutoConfiguration.class)).run(ctx -> {
            String why = root(ctx.getStartupFailure()).getMessage();
            assertTrue(why.contains("spring.ai.phi2.model") && why.contains("is not set"), why);
        });
        Path missing = Path.of("/nonexistent/phi-2.gguf");
        runner.withPropertyValues("spring.ai.phi2.model=" + missing).run(ctx -> {
            String why = root(ctx.getStartupFailure()).getMessage();
            assertTrue(why.contains("spring.ai.phi2.model") && why.contains(missing.toString()) && why.contains("does not exist"), why);
        });
    }

    @Test
    void anOptionOutOfRangeFailsTheStartNamingItsProperty() {
        runner.withPropertyValues("spring.ai.phi2.chat.options.top-p=1.5").run(ctx -> {
            String why = root(ctx.getStartupFailure()).getMessage();
            assertTrue(why.startsWith("spring.ai.phi2.chat.options.top-p: "), why);
        });
    }

    @Test
    void theFailureAnalyzerReportsARefusedPropertyAsSpringBootDoes() {
        var analysis = new Phi2FailureAnalyzer().analyze(new RuntimeException(new phi2j.InvalidOptionException(
                "spring.ai.phi2.model", "/x.gguf does not exist")));
        assertEquals("spring.ai.phi2.model: /x.gguf does not exist", analysis.getDescription());
        assertTrue(analysis.getAction().contains("spring.ai.phi2.model"));
        assertNull(new Phi2FailureAnalyzer().analyze(new phi2j.InvalidOptionException("temperature", "bad")), "not ours");
    }

    @Test
    void anUnknownOptionFailsTheStartNamingIt() {
        runner.withPropertyValues("spring.ai.phi2.chat.options.temprature=0.5").run(ctx -> {
            assertNotNull(ctx.getStartupFailure());
            String all = String.valueOf(ctx.getStartupFailure()) + root(ctx.getStartupFailure());
            assertTrue(all.contains("spring.ai.phi2.chat.options.temprature"), all);
        });
    }

    @Test
    void aFrequencyPenaltyOrAToolIsRefusedByName() {
        runner.withPropertyValues("spring.ai.phi2.chat.options.frequency-penalty=0.5").run(ctx -> {
            String why = root(ctx.getStartupFailure()).getMessage();
            assertTrue(why.contains("frequency-penalty"), why);
        });
        runner.run(ctx -> {
            ChatClient client = ctx.getBean(ChatClient.Builder.class).build();
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                    () -> client.prompt().user("Weather?").tools(new WeatherTools()).call().content());
            assertTrue(e.getMessage().contains("tools") && e.getMessage().contains("weather"), e.getMessage());
            UnsupportedOperationException f = assertThrows(UnsupportedOperationException.class,
                    () -> client.prompt().user("Hi").options(Phi2ChatOptions.builder().frequencyPenalty(1.0).build()).call().content());
            assertTrue(f.getMessage().contains("frequency-penalty"), f.getMessage());
        });
    }

    static class WeatherTools {
        @Tool(description = "the weather in a city")
        String weather(String city) {
            return "sunny";
        }
    }
}
