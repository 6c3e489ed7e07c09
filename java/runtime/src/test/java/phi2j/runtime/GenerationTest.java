package phi2j.runtime;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import phi2j.InvalidOptionException;
import phi2j.testkit.TestModels;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The whole path on the tiny random model: texts are noise, so structure is asserted, not wording. */
class GenerationTest {
    private static final String PROMPT = "Instruct: Explain the joke about Bach.\nOutput:";
    private static Phi2Model model;

    @BeforeAll
    static void open() {
        model = Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(1024).withThreads(2));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @Test
    void openingReportsWhatWasLoaded() {
        ModelInfo info = model.info();
        assertEquals(1024, info.contextSize());
        assertEquals(2048, info.trainContextLength());
        assertEquals("<|endoftext|>", info.endOfText());
        assertTrue(info.loadTime().toNanos() > 0);
        assertTrue(info.loadTime().compareTo(info.nativeLoadTime()) >= 0, "the wait includes llama.cpp's load");
        assertTrue(model.isOpen());
    }

    @Test
    void greedyIsDeterministicAndCountsAreExact() {
        GenerationOptions o = GenerationOptions.greedy().withMaxNewTokens(48);
        GenerationResult a = model.generate(PROMPT, o);
        GenerationResult b = model.generate(PROMPT, o);
        assertEquals(a.text(), b.text());
        assertEquals(48, a.generatedTokens(), "llama.cpp's own count, even where pieces merged tokens");
        assertEquals(StopReason.LENGTH, a.stopReason());
        assertTrue(a.promptTokens() > 5 && a.promptTokens() <= PROMPT.length());
        Timings t = a.timings();
        assertEquals(48, t.generatedTokens());
        if (model.info().engine() == EngineKind.NATIVE) {
            // the count is the number of token ids that came out, and those ids spell the text
            GenerationResult ids = model.generate(PROMPT, o.withLogprobs(1));
            assertEquals(48, ids.logprobs().size());
            assertEquals(ids.text(), model.detokenize(ids.logprobs().stream().mapToInt(TokenLogprob::token).toArray()));
            assertEquals(a.text(), ids.text());
        }
        assertTrue(t.timeToFirstToken().compareTo(t.total()) <= 0);
        assertTrue(t.generation().toNanos() > 0 && t.promptEval().toNanos() > 0);
        assertTrue(t.tokensPerSecond() > 0);
    }

    @Test
    void maxLengthCountsPromptAndNewTokens() {
        int promptTokens = model.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(1)).promptTokens();
        GenerationResult r = model.generate(PROMPT, GenerationOptions.greedy().withMaxLength(promptTokens + 9));
        assertEquals(9, r.generatedTokens());
        assertEquals(promptTokens + 9, r.promptTokens() + r.generatedTokens());
    }

    @Test
    void streamedPiecesMakeTheResultText() {
        StringBuilder seen = new StringBuilder();
        GenerationResult r = model.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(30), seen::append);
        assertEquals(r.text(), seen.toString());
        assertEquals(model.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(30)).text(), r.text());
    }

    @Test
    void stopStringsCutTheText() {
        String full = model.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(60)).text();
        // pick an ASCII letter that first occurs after the start, so the cut is visible
        int at = -1;
        for (int i = 1; i < full.length(); i++) {
            char c = full.charAt(i);
            if (c >= 'a' && c <= 'z' && full.indexOf(c) == i) {
                at = i;
                break;
            }
        }
        assertTrue(at > 0, "the greedy text has an ASCII letter to stop at: " + full);
        String stop = String.valueOf(full.charAt(at));
        GenerationResult r = model.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(60).withStopStrings(List.of(stop)));
        assertEquals(StopReason.STOP_STRING, r.stopReason());
        assertEquals(full.substring(0, at), r.text());
        assertFalse(r.text().contains(stop));
        assertTrue(r.generatedTokens() < 60);
    }

    @Test
    void sameSeedSameTextAndSeedsMatter() {
        GenerationOptions s = GenerationOptions.sampling(1.5f, 1234).withMaxNewTokens(40).withTopK(0).withTopP(1f).withMinP(0f);
        String a = model.generate(PROMPT, s).text();
        assertEquals(a, model.generate(PROMPT, s).text());
        Set<String> others = new HashSet<>();
        for (long seed = 1; seed <= 3; seed++) {
            others.add(model.generate(PROMPT, s.withSeed(seed)).text());
        }
        others.add(a);
        assertTrue(others.size() > 1, "four seeds, at least two texts");
    }

    @Test
    void presencePenaltyReachesTheSamplerAndZeroIsTheDefault() {
        GenerationOptions greedy = GenerationOptions.greedy().withMaxNewTokens(60).withIgnoreEndOfText(true);
        String plain = model.generate(PROMPT, greedy).text();
        assertEquals(plain, model.generate(PROMPT, greedy.toBuilder().presencePenalty(0f).build()).text(), "0 is off");
        GenerationResult penalised = model.generate(PROMPT, greedy.toBuilder().presencePenalty(2f).build());
        assertEquals(60, penalised.generatedTokens());
        assertNotEquals(plain, penalised.text(), "a penalty of 2 on every token seen changes the greedy path");
    }

    @Test
    void cancelFromAnotherThreadStopsCleanlyAndTheModelGoesOn() throws Exception {
        GenerationOptions o = GenerationOptions.greedy().withMaxNewTokens(900);
        TokenStream s = model.stream(PROMPT, o);
        CountDownLatch firstPiece = new CountDownLatch(1);
        CompletableFuture<Void> canceller = CompletableFuture.runAsync(() -> {
            try {
                firstPiece.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            s.cancel();
        });
        StringBuilder got = new StringBuilder();
        while (s.hasNext()) {
            got.append(s.next().text());
            firstPiece.countDown();
        }
        canceller.get(30, TimeUnit.SECONDS);
        GenerationResult r = s.result();
        assertEquals(StopReason.CANCELLED, r.stopReason());
        assertEquals(got.toString(), r.text());
        assertTrue(r.generatedTokens() < 900, "stopped early: " + r.generatedTokens());
        assertEquals(20, model.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(20)).generatedTokens());
    }

    @Test
    void twoThreadsOnOneModelAreSerializedAndEachGetsItsOwnAnswer() throws Exception {
        List<String> prompts = List.of("Alice: Hello\nBob:", "def three_sum(nums):", "Instruct: Summarize LoRA.\nOutput:");
        // long enough that each call outlasts the 5 ms between arrivals, or serial and parallel would look alike
        GenerationOptions o = GenerationOptions.greedy().withMaxNewTokens(400).withIgnoreEndOfText(true);
        List<String> alone = new ArrayList<>();
        for (String p : prompts) {
            alone.add(model.generate(p, o).text());
        }
        // "serialized" as the engine reports it: while the six calls run, sample what the engine holds; a slot never
        // holds two, and the calls behind it wait in the engine's queue (stamps taken by the callers could overlap
        // while a caller still drains pieces the engine sent before it moved on)
        List<CompletableFuture<String>> together = new ArrayList<>();
        java.util.concurrent.ExecutorService callers = java.util.concurrent.Executors.newFixedThreadPool(6);
        java.util.concurrent.atomic.AtomicInteger maxRunning = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger maxWaiting = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean sampling = new java.util.concurrent.atomic.AtomicBoolean(true);
        Thread sampler = new Thread(() -> {
            while (sampling.get()) {
                Phi2Model.Load l = model.load();
                maxRunning.accumulateAndGet(l.running(), Math::max);
                maxWaiting.accumulateAndGet(l.waiting(), Math::max);
                Thread.onSpinWait();
            }
        });
        sampler.start();
        try {
            for (int round = 0; round < 2; round++) {
                for (String p : prompts) {
                    together.add(CompletableFuture.supplyAsync(() -> {
                        try (TokenStream s = model.stream(p, o)) {
                            StringBuilder text = new StringBuilder();
                            while (s.hasNext()) {
                                text.append(s.next().text());
                            }
                            return text.toString();
                        }
                    }, callers));
                    Thread.sleep(5);
                }
            }
            for (int i = 0; i < together.size(); i++) {
                assertEquals(alone.get(i % prompts.size()), together.get(i).get(60, TimeUnit.SECONDS));
            }
            sampling.set(false);
            sampler.join();
            assertEquals(1, model.load().slots());
            assertEquals(1, maxRunning.get(), "the engine's one slot never held two generations");
            assertTrue(maxWaiting.get() >= 1, "the calls behind it waited in the engine's queue: " + maxWaiting.get());
        } finally {
            sampling.set(false);
            callers.shutdown();
        }
    }

    @Test
    void promptsThatDoNotFitAreRefusedByName() {
        StringBuilder longPrompt = new StringBuilder();
        for (int i = 0; i < 300; i++) {
            longPrompt.append("word").append(i).append(' ');
        }
        var e = assertThrows(InvalidOptionException.class, () -> model.generate(longPrompt.toString(), GenerationOptions.greedy()));
        assertEquals("prompt", e.option());
        assertTrue(e.getMessage().contains("the context holds 1024"), e.getMessage());
        e = assertThrows(InvalidOptionException.class, () -> model.generate(PROMPT, GenerationOptions.greedy().withMaxLength(3)));
        assertEquals("maxLength", e.option());
        assertEquals("prompt", assertThrows(InvalidOptionException.class, () -> model.generate("", GenerationOptions.greedy())).option());
        assertEquals("topP", assertThrows(InvalidOptionException.class,
                () -> model.generate(PROMPT, GenerationOptions.greedy().withTopP(-1f))).option());
        // and the model is fine afterwards
        assertEquals(5, model.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(5)).generatedTokens());
    }

    @Test
    void onceAResultIsReturnedTheModelsLoadNoLongerCountsItsGeneration() {
        try (Phi2Model m = Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(512).withThreads(2))) {
            GenerationOptions o = GenerationOptions.greedy().withMaxNewTokens(1);
            for (int i = 0; i < 300; i++) {
                m.generate("Hi", o);
                Phi2Model.Load l = m.load();
                assertEquals(0, l.running() + l.waiting(), "after generation " + i + ": " + l);
            }
        }
    }
}
