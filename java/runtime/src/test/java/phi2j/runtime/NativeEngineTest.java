package phi2j.runtime;

import phi2j.nativelib.NativeLibraryException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.InvalidOptionException;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.*;

/**
 * phi2j's own native engine (native/, built by scripts/build-native.sh cpu): exact counts and stop reasons from the
 * decode loop, log-probabilities, continuous batching, and clear errors for a missing, mismatched or broken build.
 * Without a build the tests skip, except under CI=true, where .ci/run builds it first.
 */
class NativeEngineTest {
    private static final String PROMPT = "Instruct: What is a GPU?\nOutput:";
    private static Phi2Model model;

    static Path build() {
        Path dir = NativeEngineBuild.defaultDir().orElse(Path.of("native/build/cpu"));
        boolean present = NativeEngineBuild.isEngineBuild(dir);
        if (!present && "true".equals(System.getenv("CI"))) {
            fail("CI=true but there is no native engine build at " + dir + " (.ci/run builds it with scripts/build-native.sh cpu)");
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(present, "no native engine build at " + dir + ": scripts/build-native.sh cpu");
        return dir;
    }

    static ModelOptions nativeOptions() {
        return ModelOptions.defaults().withEngine(EngineKind.NATIVE).withNativeLibrary(build()).withContextSize(512).withThreads(2);
    }

    @BeforeAll
    static void open() {
        model = Phi2Model.open(TestModels.tiny(), nativeOptions());
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    @Test
    void theKvCacheUseRisesWithTheRunningGenerationsAndFallsBackWhenTheyEnd() throws Exception {
        try (Phi2Model m = Phi2Model.open(TestModels.tiny(), nativeOptions().withContextSize(1024).withParallel(2))) {
            Phi2Model.KvCacheUse idle = m.kvCache().orElseThrow();
            assertEquals(new Phi2Model.KvCacheUse(0, 1024), idle, "idle: nothing held, the whole context counted");
            int promptTokens = m.tokenize(PROMPT).length;
            try (TokenStream a = m.stream(PROMPT, GenerationOptions.greedy().withMaxNewTokens(400).withIgnoreEndOfText(true));
                 TokenStream b = m.stream(PROMPT, GenerationOptions.greedy().withMaxNewTokens(400).withIgnoreEndOfText(true))) {
                for (int i = 0; i < 50; i++) {
                    a.next();
                    b.next();
                }
                int used = m.kvCache().orElseThrow().usedCells();
                assertTrue(used >= 2 * (promptTokens + 49) && used <= 2 * (promptTokens + 400), "two prompts and their tokens so far: " + used);
                for (int i = 0; i < 100; i++) {
                    a.next();
                    b.next();
                }
                assertTrue(m.kvCache().orElseThrow().usedCells() > used, "it rises as the generations go on");
                a.result();
                b.result();
            }
            long end = System.nanoTime() + 5_000_000_000L;
            while (m.kvCache().orElseThrow().usedCells() > 0 && System.nanoTime() < end) {
                Thread.sleep(5);
            }
            assertEquals(idle, m.kvCache().orElseThrow(), "back to idle once they ended (the cached prefixes kept for reuse are not counted)");
        }
    }

    @Test
    void theLoadTimeIsBrokenDownIntoStagesThatAddUpToIt() {
        LoadBreakdown b = model.info().loadBreakdown();
        for (java.time.Duration d : List.of(b.fileCheck(), b.runnerStart(), b.engine(), b.model(), b.context(), b.warmup())) {
            assertNotNull(d, b.toString());
            assertFalse(d.isNegative(), b.toString());
        }
        assertTrue(b.model().toNanos() > 0 && b.warmup().toNanos() > 0, "llama.cpp's own stages were timed: " + b);
        assertEquals(model.info().loadTime().toMillis(), b.total().toMillis(), 2.0, "the stages add up to the load time: " + b);
        assertTrue(b.summary().matches("file check [0-9.]+ s, runner start [0-9.]+ s, engine [0-9.]+ s, model [0-9.]+ s, "
                + "context [0-9.]+ s, warm-up [0-9.]+ s"), b.summary());
    }

    @Test
    void theModelSaysWhereLlamaCppPutEveryLayerAndTheKvCache() {
        LayerPlacement p = model.info().placement();
        int layers = (int) phi2j.format.Phi2Layout.check(phi2j.format.GgufReader.read(TestModels.tiny())).blocks();
        assertTrue(p.known(), p.toString());
        assertEquals(layers + 1, p.totalLayers(), "the repeating layers and the output layer, as llama.cpp counts them");
        assertEquals(layers, p.kvCache().size(), "one KV cache entry per layer");
        assertEquals(java.util.Map.of("CPU", layers + 1), p.layersByDevice(), "-ngl 0 keeps every layer on the CPU");
        assertFalse(p.offloaded());
        assertEquals((layers + 1) + "/" + (layers + 1) + " layers on CPU, KV cache on CPU", p.summary());
    }

    @Test
    void gpuLayersWithNoGpuDeviceAreRefusedNamingTheCauseUnlessTheFallbackIsAllowed() {
        InvalidOptionException e = assertThrows(InvalidOptionException.class,
                () -> Phi2Model.open(TestModels.tiny(), nativeOptions().withGpuLayers(-1)).close());
        assertEquals("gpuLayers", e.option());
        assertTrue(e.problem().contains("no GPU device") && e.problem().contains("backends loaded: CPU"), e.problem());
        assertTrue(e.problem().contains("allowCpuFallback"), "names the way out: " + e.problem());
        try (Phi2Model m = Phi2Model.open(TestModels.tiny(), nativeOptions().withGpuLayers(99).withAllowCpuFallback(true))) {
            assertFalse(m.info().placement().offloaded(), "allowed, it runs on the CPU and says so: " + m.info().placement().summary());
            assertTrue(m.info().placement().summary().contains("layers on CPU"), m.info().placement().summary());
        }
    }

    @Test
    void theModelSaysWhichEngineAndLlamaCppRunIt() {
        assertEquals(EngineKind.NATIVE, model.info().engine());
        assertTrue(model.info().llamaCpp().startsWith(NativeEngineBuild.LLAMA_CPP_VERSION + " ("), model.info().llamaCpp());
        assertTrue(model.info().nativeLibrary().contains(NativeEngineBuild.libraryName()), model.info().nativeLibrary());
        GenerationResult r = model.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(2));
        assertEquals("native " + model.info().llamaCpp(), r.engine());
    }

    @Test
    void maxLengthCountsPromptPlusGeneratedExactly() {
        for (int maxLength : List.of(40, 33, 64)) {
            GenerationResult r = model.generate(PROMPT, GenerationOptions.greedy().withMaxLength(maxLength).withIgnoreEndOfText(true));
            assertEquals(maxLength, r.promptTokens() + r.generatedTokens(), "prompt " + r.promptTokens() + " + generated " + r.generatedTokens());
            assertEquals(model.tokenize(PROMPT).length, r.promptTokens());
            assertEquals(StopReason.LENGTH, r.stopReason());
            assertEquals(r.generatedTokens(), r.timings().generatedTokens());
            assertEquals(r.generatedTokens() - 1, r.timings().decodedTokens(), "the first token comes from the prompt's logits");
        }
    }

    @Test
    void streamedTokenIdsAreTheCountAndSpellTheText() {
        GenerationResult r = model.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(24).withLogprobs(1).withIgnoreEndOfText(true));
        assertEquals(24, r.generatedTokens());
        assertEquals(24, r.logprobs().size(), "one entry per generated token");
        int[] ids = r.logprobs().stream().mapToInt(TokenLogprob::token).toArray();
        // The tiny model's byte-level tokens are noise, often not UTF-8: a malformed sequence decodes to one or more
        // U+FFFD depending on where the bytes were split, so the texts are compared without them.
        assertEquals(valid(model.detokenize(ids)), valid(r.text()), "the streamed ids spell the returned text");
        StringBuilder pieces = new StringBuilder();
        r.logprobs().forEach(t -> pieces.append(t.text()));
        assertEquals(valid(r.text()), valid(pieces.toString()));
    }

    @Test
    void logprobsAreTheModelsOwnDistribution() {
        GenerationResult r = model.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(8).withLogprobs(5));
        assertFalse(r.logprobs().isEmpty());
        for (TokenLogprob t : r.logprobs()) {
            assertEquals(5, t.top().size());
            assertEquals(t.token(), t.top().get(0).token(), "greedy picks the most likely token");
            assertEquals(t.logprob(), t.top().get(0).logprob(), 1e-6);
            double mass = 0;
            for (int i = 0; i < t.top().size(); i++) {
                TokenLogprob.Alternative a = t.top().get(i);
                assertTrue(a.logprob() <= 0, "a log-probability is at most 0: " + a);
                if (i > 0) {
                    assertTrue(a.logprob() <= t.top().get(i - 1).logprob(), "most likely first: " + t.top());
                }
                mass += Math.exp(a.logprob());
            }
            assertTrue(mass <= 1.0 + 1e-5, "the top alternatives hold at most all the probability: " + mass);
        }
        // sampling: the chosen token's log-probability is still the model's, whatever the sampler did
        GenerationResult s = model.generate(PROMPT, GenerationOptions.sampling(1.5f, 7).withMaxNewTokens(8).withLogprobs(3));
        for (TokenLogprob t : s.logprobs()) {
            assertTrue(t.logprob() <= t.top().get(0).logprob() + 1e-6);
        }
    }

    @Test
    void theStreamCarriesLogprobsAsTheyArrive() {
        try (TokenStream s = model.stream(PROMPT, GenerationOptions.greedy().withMaxNewTokens(12).withLogprobs(2))) {
            GenerationResult r = s.result();
            assertEquals(r.logprobs(), s.logprobs());
        }
    }

    @Test
    void stopStringsAndCancellationEndWithTheirReason() {
        GenerationResult full = model.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(32));
        String stop = asciiPair(full.text());
        assertNotNull(stop, "the greedy text has two printable ASCII characters in a row: " + full.text());
        GenerationResult cut = model.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(32).withStopStrings(List.of(stop)));
        assertEquals(StopReason.STOP_STRING, cut.stopReason());
        assertEquals(full.text().substring(0, full.text().indexOf(stop)), cut.text());
        assertTrue(cut.generatedTokens() < 32);

        try (TokenStream s = model.stream(PROMPT, GenerationOptions.greedy().withMaxNewTokens(400).withIgnoreEndOfText(true))) {
            assertTrue(s.hasNext());
            s.next();
            s.cancel();
            GenerationResult r = s.result();
            assertEquals(StopReason.CANCELLED, r.stopReason());
            assertTrue(r.generatedTokens() >= 1 && r.generatedTokens() < 400, "stopped early: " + r.generatedTokens());
        }
    }

    @Test
    void theBindingRefusesLogprobsNamingTheOption() {
        try (Phi2Model binding = Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withEngine(EngineKind.BINDING).withContextSize(128))) {
            InvalidOptionException e = assertThrows(InvalidOptionException.class,
                    () -> binding.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(2).withLogprobs(2)));
            assertEquals("logprobs", e.option());
        }
    }

    @Test
    void parallelSequencesAreDecodedTogetherAndMatchTheirSoloResults() throws Exception {
        GenerationOptions o = GenerationOptions.greedy().withMaxNewTokens(64).withIgnoreEndOfText(true);
        List<String> prompts = List.of(PROMPT, "Alice: Hello\nBob:", "def three_sum(nums):", "The quick brown fox");
        List<String> solo = new ArrayList<>();
        for (String p : prompts) {
            solo.add(model.generate(p, o).text());
        }
        try (Phi2Model par = Phi2Model.open(TestModels.tiny(), nativeOptions().withContextSize(1024).withParallel(2))) {
            // six requests on two slots: each finished one frees its slot for the next (continuous batching)
            List<CompletableFuture<long[]>> runs = new ArrayList<>();
            List<CompletableFuture<GenerationResult>> results = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                String p = prompts.get(i % prompts.size());
                CompletableFuture<long[]> span = new CompletableFuture<>();
                runs.add(span);
                results.add(CompletableFuture.supplyAsync(() -> {
                    long t0 = System.nanoTime();
                    GenerationResult r = par.generate(p, o);
                    span.complete(new long[] {t0, System.nanoTime()});
                    return r;
                }));
            }
            for (int i = 0; i < 6; i++) {
                GenerationResult r = results.get(i).get();
                assertEquals(solo.get(i % prompts.size()), r.text(), "request " + i + " equals its solo greedy result");
                assertEquals(64, r.generatedTokens());
            }
            // at least two generations were in flight at the same time
            boolean overlap = false;
            for (int i = 0; i < 6 && !overlap; i++) {
                for (int j = i + 1; j < 6 && !overlap; j++) {
                    long[] a = runs.get(i).get();
                    long[] b = runs.get(j).get();
                    overlap = a[0] < b[1] && b[0] < a[1];
                }
            }
            assertTrue(overlap, "generations overlapped in time");
        }
    }

    @Test
    void aMissingBuildIsAClearErrorNamingThePathAndTheFix(@TempDir Path dir) {
        Path missing = dir.resolve("nowhere");
        NativeLibraryException e = assertThrows(NativeLibraryException.class,
                () -> Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withEngine(EngineKind.NATIVE).withNativeLibrary(missing)));
        assertTrue(e.getMessage().contains(missing.toString()) && e.getMessage().contains("scripts/build-native.sh"), e.getMessage());
        NativeLibraryException e2 = assertThrows(NativeLibraryException.class,
                () -> Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withEngine(EngineKind.NATIVE).withNativeLibrary(dir)));
        assertTrue(e2.getMessage().contains(dir.toString()) && e2.getMessage().contains("manifest.json"), e2.getMessage());
    }

    @Test
    void aBuildForAnotherVersionIsRefusedBeforeLoading(@TempDir Path dir) throws IOException {
        copyBuild(dir);
        Path manifest = dir.resolve("manifest.json");
        Files.writeString(manifest, Files.readString(manifest).replace("\"llamaCppVersion\": \"" + NativeEngineBuild.LLAMA_CPP_VERSION + "\"",
                "\"llamaCppVersion\": \"0.4.9\""));
        NativeLibraryException e = assertThrows(NativeLibraryException.class,
                () -> Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withEngine(EngineKind.NATIVE).withNativeLibrary(dir)));
        assertTrue(e.getMessage().contains("0.4.9") && e.getMessage().contains(dir.toString())
                && e.getMessage().contains("scripts/build-native.sh cpu"), e.getMessage());
    }

    @Test
    void aBrokenLibraryIsReportedWithItsPathNeverReplaced(@TempDir Path dir) throws IOException {
        copyBuild(dir);
        Path lib = dir.resolve(NativeEngineBuild.libraryName());
        Files.writeString(lib, "not a shared object");
        NativeLibraryException e = assertThrows(NativeLibraryException.class,
                () -> Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withEngine(EngineKind.NATIVE).withNativeLibrary(dir)));
        assertTrue(e.getMessage().contains("could not be loaded") && e.getMessage().contains(lib.toString()), e.getMessage());
    }

    @Test
    void autoPicksTheNativeEngineForABuildFolderAndTheBindingForALibjllamaFolder(@TempDir Path dir) throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getenv("PHI2_ENGINE") == null, "PHI2_ENGINE overrides auto in this run");
        EngineChoice nativeChoice = EngineChoice.of(ModelOptions.defaults().withNativeLibrary(build()));
        assertEquals(EngineKind.NATIVE, nativeChoice.kind());
        assertEquals(EngineChoice.Origin.OPTION, nativeChoice.origin());
        NativeLibraryException refused = assertThrows(NativeLibraryException.class,
                () -> EngineChoice.of(ModelOptions.defaults().withEngine(EngineKind.BINDING).withNativeLibrary(build())));
        assertTrue(refused.getMessage().contains("binding engine cannot load"), refused.getMessage());
        Files.writeString(dir.resolve(phi2j.nativelib.NativeLibrary.fileName()), "a custom libjllama");
        EngineChoice binding = EngineChoice.of(ModelOptions.defaults().withNativeLibrary(dir));
        assertEquals(EngineKind.BINDING, binding.kind(), "a libjllama folder");
        assertEquals(dir.toAbsolutePath(), binding.dir());
    }

    private static String valid(String s) {
        return s.replace("\uFFFD", "");
    }

    /** The first two printable ASCII characters in a row after the start of {@code s}, or null. */
    private static String asciiPair(String s) {
        for (int i = 1; i + 2 <= s.length(); i++) {
            if (s.charAt(i) > ' ' && s.charAt(i) < 127 && s.charAt(i + 1) > ' ' && s.charAt(i + 1) < 127) {
                return s.substring(i, i + 2);
            }
        }
        return null;
    }

    private static void copyBuild(Path to) throws IOException {
        try (var files = Files.list(build())) {
            for (Path f : files.toList()) {
                if (Files.isRegularFile(f)) {
                    Files.copy(f, to.resolve(f.getFileName()));
                }
            }
        }
    }

    @Test
    void aGrammarOrAJsonSchemaConstrainsTheTextAndABadOneIsRefusedByName() {
        GenerationResult yes = model.generate(PROMPT, GenerationOptions.sampling(1f, 3).withMaxNewTokens(8).withGrammar("root ::= \"yes\" | \"no\""));
        assertTrue(List.of("yes", "no").contains(yes.text()) && yes.stopReason() == StopReason.END_OF_TEXT, yes.text() + " " + yes.stopReason());
        GenerationResult json = model.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(200)
                .withJsonSchema("{\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"integer\"}}, \"required\": [\"n\"],"
                        + " \"additionalProperties\": false}"));
        assertTrue(json.text().replaceAll("\\s", "").matches("\\{\"n\":-?\\d+}"), json.text());
        InvalidOptionException g = assertThrows(InvalidOptionException.class,
                () -> model.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(2).withGrammar("root ::= (")));
        assertEquals("grammar", g.option(), g.getMessage());
        assertTrue(java.util.Arrays.stream(g.getStackTrace()).anyMatch(f -> f.getClassName().equals(NativeEngineTest.class.getName())),
                "the engine's refusal, made on the runner's reader thread, carries the caller's line: " + java.util.Arrays.toString(g.getStackTrace()));
        InvalidOptionException s = assertThrows(InvalidOptionException.class,
                () -> model.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(2).withJsonSchema("{\"not\": {\"type\": \"string\"}}")));
        assertEquals("jsonSchema", s.option(), s.getMessage());
        assertTrue(s.getMessage().contains("'not'"), s.getMessage());
        assertThrows(InvalidOptionException.class, () -> GenerationOptions.greedy().withGrammar("root ::= \"a\"").withJsonSchema("{}"));
    }

    @Test
    void aSecondTurnWithCachePromptReusesTheFirstAndGivesTheSameText() {
        String first = PROMPT + " A GPU is";
        GenerationOptions o = GenerationOptions.greedy().withMaxNewTokens(6).withCachePrompt(true);
        GenerationResult a = model.generate(first, o);
        String second = first + a.text() + "\nInstruct: And a CPU?\nOutput:";
        GenerationResult reused = model.generate(second, o);
        assertTrue(reused.cachedPromptTokens() >= a.promptTokens(), "the second turn reuses the first prompt: " + reused.cachedPromptTokens()
                + " of " + reused.promptTokens());
        GenerationResult fresh = model.generate(second, o.withCachePrompt(false));
        assertEquals(0, fresh.cachedPromptTokens());
        assertEquals(fresh.text(), reused.text(), "greedy text is the same with and without reuse");
    }
}
