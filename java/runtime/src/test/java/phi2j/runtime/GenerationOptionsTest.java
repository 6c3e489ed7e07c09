package phi2j.runtime;

import org.junit.jupiter.api.Test;
import phi2j.InvalidOptionException;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class GenerationOptionsTest {
    private static String rejected(GenerationOptions o) {
        return assertThrows(InvalidOptionException.class, o::validate).option();
    }

    @Test
    void outOfRangeSamplingValuesAreNamed() {
        GenerationOptions g = GenerationOptions.greedy();
        assertEquals("temperature", rejected(g.withTemperature(-0.1f)));
        assertEquals("temperature", rejected(g.withTemperature(Float.NaN)));
        assertEquals("topK", rejected(g.withTopK(-1)));
        assertEquals("topP", rejected(g.withTopP(0f)));
        assertEquals("topP", rejected(g.withTopP(1.5f)));
        assertEquals("minP", rejected(g.withMinP(-0.5f)));
        assertEquals("repetitionPenalty", rejected(g.withRepetitionPenalty(0f)));
        assertEquals("seed", rejected(g.withSeed(-1L)));
        assertEquals("maxNewTokens", rejected(g.withMaxNewTokens(0)));
        assertEquals("maxLength", rejected(g.withMaxLength(1)));
        assertEquals("stopStrings", rejected(g.withStopStrings(List.of(""))));
        assertEquals("logprobs", rejected(g.withLogprobs(-1)));
        assertEquals("logprobs", rejected(g.withLogprobs(GenerationOptions.MAX_LOGPROBS + 1)));
        g.withLogprobs(GenerationOptions.MAX_LOGPROBS).validate();
        assertEquals("maxLength", rejected(new GenerationOptions(10, 10, 0, 40, 1, 0, 1, null, List.of(), false, false, 0)));
        g.validate();
        GenerationOptions.sampling(0.8f, 3).validate();
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
        d.validate();
        assertEquals("contextSize", assertThrows(InvalidOptionException.class, () -> d.withContextSize(-1).validate()).option());
        assertEquals("threads", assertThrows(InvalidOptionException.class, () -> d.withThreads(-2).validate()).option());
        assertEquals("gpuLayers", assertThrows(InvalidOptionException.class, () -> d.withGpuLayers(-5).validate()).option());
        assertEquals("tensorSplit", assertThrows(InvalidOptionException.class,
                () -> d.withSplit(SplitMode.LAYER, List.of(-1f), 0).validate()).option());
        assertEquals("mainGpu", assertThrows(InvalidOptionException.class,
                () -> d.withSplit(SplitMode.NONE, List.of(), -1).validate()).option());
    }

    @Test
    void promptHelpersFollowPhi2Formats() {
        assertEquals("Instruct: What is 2+2?\nOutput:", Prompts.qa(" What is 2+2? "));
        assertEquals("Alice: Hi\nBob: Hello\nAlice:", Prompts.chat(List.of(new Prompts.Turn("Alice", "Hi"),
                new Prompts.Turn("Bob", "Hello")), "Alice"));
        assertEquals("def f(x):\n    \"\"\"\n    Doubles x.\n    \"\"\"\n", Prompts.code("f(x)", "Doubles x."));
    }
}
