package phi2j.runtime;

import org.junit.jupiter.api.Test;
import phi2j.InvalidOptionException;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class GenerationOptionsTest {
    /** Options out of range cannot be made: the exception names the field. */
    private static String rejected(org.junit.jupiter.api.function.Executable make) {
        return assertThrows(InvalidOptionException.class, make).option();
    }

    @Test
    void outOfRangeSamplingValuesAreNamed() {
        GenerationOptions g = GenerationOptions.greedy();
        assertEquals("temperature", rejected(() -> g.withTemperature(-0.1f)));
        assertEquals("temperature", rejected(() -> g.withTemperature(Float.NaN)));
        assertEquals("topK", rejected(() -> g.withTopK(-1)));
        assertEquals("topP", rejected(() -> g.withTopP(0f)));
        assertEquals("topP", rejected(() -> g.withTopP(1.5f)));
        assertEquals("minP", rejected(() -> g.withMinP(-0.5f)));
        assertEquals("repetitionPenalty", rejected(() -> g.withRepetitionPenalty(0f)));
        assertEquals("presencePenalty", rejected(() -> g.toBuilder().presencePenalty(2.5f).build()));
        assertEquals("presencePenalty", rejected(() -> g.toBuilder().presencePenalty(Float.NaN).build()));
        assertEquals("seed", rejected(() -> g.withSeed(-1L)));
        assertEquals("maxNewTokens", rejected(() -> g.withMaxNewTokens(0)));
        assertEquals("maxLength", rejected(() -> g.withMaxLength(1)));
        assertEquals("stopStrings", rejected(() -> g.withStopStrings(List.of(""))));
        assertEquals("logprobs", rejected(() -> g.withLogprobs(-1)));
        assertEquals("logprobs", rejected(() -> g.withLogprobs(GenerationOptions.MAX_LOGPROBS + 1)));
        assertEquals("maxLength", rejected(() -> GenerationOptions.builder().maxLength(10).maxNewTokens(10).build()));
    }

    @Test
    void buildersSetFieldsByNameAndOneFieldChangesKeepTheRest() {
        GenerationOptions o = GenerationOptions.builder().temperature(0.7f).seed(9L).topK(12).maxNewTokens(30)
                .stopStrings(List.of("\n\n")).cachePrompt(true).logprobs(GenerationOptions.MAX_LOGPROBS).build();
        assertEquals(List.of(0.7f, 9L, 12, 30, "\n\n", true, 20), List.of(o.temperature(), o.seed(), o.topK(), o.maxNewTokens(),
                o.stopStrings().get(0), o.cachePrompt(), o.logprobs()));
        assertEquals(o, o.toBuilder().build());
        GenerationOptions changed = o.withTopP(0.5f);
        assertEquals(o.toBuilder().topP(0.5f).build(), changed);
        assertEquals(0.5f, changed.topP());
        assertEquals(o.seed(), changed.seed(), "a one-field change keeps every other field");
        GenerationOptions byLength = o.withMaxLength(100);
        assertEquals(100, byLength.maxLength());
        assertNull(byLength.maxNewTokens(), "maxLength and maxNewTokens: setting one clears the other");
        assertEquals(GenerationOptions.greedy(), GenerationOptions.builder().build());

        ModelOptions m = ModelOptions.builder().contextSize(1024).threads(3).parallel(2).seed(5L).engine(EngineKind.NATIVE).build();
        assertEquals(List.of(1024, 3, 2, 5L, EngineKind.NATIVE), List.of(m.contextSize(), m.threads(), m.parallel(), m.seed(), m.engine()));
        assertEquals(m, m.toBuilder().build());
        ModelOptions n = m.withGpuLayers(-1);
        assertEquals(m.toBuilder().gpuLayers(-1).build(), n);
        assertEquals(m.stallTimeout(), n.stallTimeout());
        assertEquals("parallel", assertThrows(InvalidOptionException.class, () -> ModelOptions.builder().parallel(0).build()).option());
    }

    @Test
    void maxLengthCountsThePromptAsTransformersDoes() {
        GenerationOptions g = GenerationOptions.greedy().withMaxLength(500);
        assertEquals(480, g.newTokenBudget(20, 2048));
        assertEquals(7, GenerationOptions.greedy().withMaxNewTokens(7).newTokenBudget(20, 2048));
        assertEquals(480, GenerationOptions.greedy().newTokenBudget(20, 2048), "default maxLength 500");
        assertEquals(44, GenerationOptions.greedy().newTokenBudget(20, 64), "the default adapts to a small context");
    }

    @Test
    void lengthsThatDoNotFitAreRefused() {
        var e = assertThrows(InvalidOptionException.class, () -> GenerationOptions.greedy().withMaxLength(20).newTokenBudget(20, 2048));
        assertEquals("maxLength", e.option());
        assertTrue(e.getMessage().contains("larger than the prompt's 20 tokens"), e.getMessage());
        e = assertThrows(InvalidOptionException.class, () -> GenerationOptions.greedy().newTokenBudget(64, 64));
        assertEquals("prompt", e.option());
        e = assertThrows(InvalidOptionException.class, () -> GenerationOptions.greedy().withMaxLength(4000).newTokenBudget(10, 2048));
        assertEquals("maxLength", e.option());
        e = assertThrows(InvalidOptionException.class, () -> GenerationOptions.greedy().withMaxNewTokens(2040).newTokenBudget(10, 2048));
        assertEquals("maxNewTokens", e.option());
    }

    @Test
    void modelOptionsAreChecked() {
        ModelOptions d = ModelOptions.defaults();
        assertEquals("contextSize", assertThrows(InvalidOptionException.class, () -> d.withContextSize(-1)).option());
        assertEquals("threads", assertThrows(InvalidOptionException.class, () -> d.withThreads(-2)).option());
        assertEquals("gpuLayers", assertThrows(InvalidOptionException.class, () -> d.withGpuLayers(-5)).option());
        assertEquals("tensorSplit", assertThrows(InvalidOptionException.class,
                () -> d.withSplit(SplitMode.LAYER, List.of(-1f), 0)).option());
        assertEquals("mainGpu", assertThrows(InvalidOptionException.class,
                () -> d.withSplit(SplitMode.NONE, List.of(), -1)).option());
    }

    @Test
    void promptHelpersFollowPhi2Formats() {
        assertEquals("Instruct: What is 2+2?\nOutput:", Prompts.qa(" What is 2+2? "));
        assertEquals("Alice: Hi\nBob: Hello\nAlice:", Prompts.chat(List.of(new Prompts.Turn("Alice", "Hi"),
                new Prompts.Turn("Bob", "Hello")), "Alice"));
        assertEquals("def f(x):\n    \"\"\"\n    Doubles x.\n    \"\"\"\n", Prompts.code("f(x)", "Doubles x."));
    }
}
