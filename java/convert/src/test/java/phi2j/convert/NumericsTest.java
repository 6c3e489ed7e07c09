package phi2j.convert;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import phi2j.format.safetensors.HfCheckpoint;
import phi2j.runtime.EngineKind;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.NativeEngineBuild;
import phi2j.runtime.TokenLogprob;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.PhiReference;
import phi2j.testkit.TestModels;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The converted model computes the same function as the checkpoint: llama.cpp's next-token probabilities on the
 * f32 GGUF against an independent Java forward pass of PhiForCausalLM, and greedy continuations token for token.
 */
class NumericsTest {
    static final List<String> PROMPTS = List.of(
            "Instruct: Explain the Beethoven joke.\nOutput:",
            "def three_sum(nums):\n    \"\"\"Return all unique triplets that sum to zero.\"\"\"\n",
            "Alice: Is light a wave or a particle?\nBob:",
            "The LoRA paper proposes");
    /**
     * Largest absolute difference allowed between a probability from llama.cpp and from the reference. llama.cpp keeps
     * its KV cache in F16 and tabulates GELU in F16, so an f32 model agrees to about 1e-3, not to float precision.
     */
    static final double TOLERANCE = 2e-3;
    /** Largest difference allowed between log-probabilities (relative, so it bites on flat distributions too). */
    static final double LOG_TOLERANCE = 2e-2;

    static PhiReference ref;
    static Path ckpt;

    @BeforeAll
    static void load() {
        ckpt = TestModels.tinyCheckpoint();
        ref = new PhiReference(HfCheckpoint.open(ckpt));
    }

    @AfterAll
    static void done() {
        ref = null;
    }

    private static Path gguf(FileType t) {
        Path p = TestModels.dir().resolve("numerics-" + t + ".gguf");
        Converter.convert(ckpt, p, new Converter.Options(t, 2, true, null), (a, b, c) -> { });
        return p;
    }

    /** llama.cpp's probabilities for the token after each prompt, from its final hidden state. */
    private static double[][] llamaProbabilities(Path model, int[][] prompts) {
        try (Phi2Model m = Phi2Model.open(model, ModelOptions.defaults().withContextSize(256).withThreads(2).withEmbeddings(true))) {
            double[][] out = new double[prompts.length][];
            for (int i = 0; i < prompts.length; i++) {
                out[i] = PhiReference.softmax(ref.logitsFromNormalizedHidden(m.embedding(PROMPTS.get(i))));
            }
            return out;
        }
    }

    private static int[][] tokenized(Path model) {
        try (Phi2Model m = Phi2Model.open(model, ModelOptions.defaults().withContextSize(256).withThreads(1))) {
            return PROMPTS.stream().map(m::tokenize).toArray(int[][]::new);
        }
    }

    @Test
    void f32ProbabilitiesAgreeWithTheReferenceForwardPass() {
        Path f32 = gguf(FileType.F32);
        int[][] prompts = tokenized(f32);
        double[][] llama = llamaProbabilities(f32, prompts);
        double worst = 0;
        double worstLog = 0;
        double top = 0;
        for (int i = 0; i < prompts.length; i++) {
            double[] p = PhiReference.softmax(ref.prompt(prompts[i]));
            assertEquals(PhiReference.argmax(p), PhiReference.argmax(llama[i]), "top-1 for prompt " + i);
            top = Math.max(top, p[PhiReference.argmax(p)]);
            for (int v = 0; v < p.length; v++) {
                worst = Math.max(worst, Math.abs(p[v] - llama[i][v]));
                worstLog = Math.max(worstLog, Math.abs(Math.log(p[v]) - Math.log(llama[i][v])));
            }
        }
        System.err.printf(Locale.ROOT, "f32: worst |p_llama.cpp - p_reference| = %.3g, worst |log p difference| = %.3g, "
                + "over %d prompts x %d tokens (largest probability %.3g; tolerances %.0e and %.0e)%n",
                worst, worstLog, prompts.length, llama[0].length, top, TOLERANCE, LOG_TOLERANCE);
        assertTrue(worst < TOLERANCE, "worst difference " + worst);
        assertTrue(worstLog < LOG_TOLERANCE, "worst log-probability difference " + worstLog);
    }

    /**
     * The native engine's own log-probabilities (no hidden-state reconstruction) against the reference, per type:
     * the top {@link GenerationOptions#MAX_LOGPROBS} tokens after each prompt must be the reference's most likely
     * tokens, with probabilities within the type's bound. F16 is Phi-2's own dtype.
     */
    @Test
    void nativeEngineLogprobsAgreeWithTheReferenceForF32F16AndQ8() {
        Path build = NativeEngineBuild.defaultDir().orElse(Path.of("native/build/cpu"));
        if (!NativeEngineBuild.isEngineBuild(build)) {
            assertNotEquals("true", System.getenv("CI"), "CI=true but no native engine build at " + build);
            org.junit.jupiter.api.Assumptions.abort("no native engine build at " + build + " (scripts/build-native.sh cpu)");
        }
        int[][] prompts = tokenized(gguf(FileType.F32));
        double[][] refProbs = new double[prompts.length][];
        for (int i = 0; i < prompts.length; i++) {
            refProbs[i] = PhiReference.softmax(ref.prompt(prompts[i]));
        }
        // bounds on |p| and |log p| over the top tokens: F32 as the hidden-state check; F16 and Q8_0 by their precision
        record Bound(FileType type, double dp, double dlogp) {
        }
        for (Bound b : List.of(new Bound(FileType.F32, TOLERANCE, LOG_TOLERANCE), new Bound(FileType.F16, 5e-3, 5e-2),
                new Bound(FileType.Q8_0, 0.05, 0.5))) {
            double worst = 0;
            double worstLog = 0;
            int agree = 0;
            try (Phi2Model m = Phi2Model.open(gguf(b.type()), ModelOptions.defaults().withEngine(EngineKind.NATIVE)
                    .withNativeLibrary(build).withContextSize(256).withThreads(2))) {
                for (int i = 0; i < prompts.length; i++) {
                    GenerationResult r = m.generate(PROMPTS.get(i), GenerationOptions.greedy().withMaxNewTokens(1)
                            .withLogprobs(GenerationOptions.MAX_LOGPROBS).withIgnoreEndOfText(true));
                    assertEquals(prompts[i].length, r.promptTokens());
                    TokenLogprob first = r.logprobs().get(0);
                    double[] p = refProbs[i];
                    agree += first.top().get(0).token() == PhiReference.argmax(p) ? 1 : 0;
                    for (TokenLogprob.Alternative a : first.top()) {
                        worst = Math.max(worst, Math.abs(Math.exp(a.logprob()) - p[a.token()]));
                        worstLog = Math.max(worstLog, Math.abs(a.logprob() - Math.log(p[a.token()])));
                    }
                }
            }
            System.err.printf(Locale.ROOT, "native engine %s: top-1 agreement %d/%d, over the top %d tokens worst |dp| = %.3g, "
                    + "worst |d log p| = %.3g (bounds %.0e, %.0e)%n", b.type(), agree, prompts.length, GenerationOptions.MAX_LOGPROBS,
                    worst, worstLog, b.dp(), b.dlogp());
            assertTrue(agree >= (b.type() == FileType.Q8_0 ? prompts.length - 1 : prompts.length), b.type() + " top-1 agreement " + agree);
            assertTrue(worst < b.dp(), b.type() + " worst |dp| " + worst);
            assertTrue(worstLog < b.dlogp(), b.type() + " worst |d log p| " + worstLog);
        }
    }

    @Test
    void greedyContinuationsAgreeTokenForToken() {
        Path f32 = gguf(FileType.F32);
        try (Phi2Model m = Phi2Model.open(f32, ModelOptions.defaults().withContextSize(256).withThreads(2))) {
            for (String prompt : PROMPTS) {
                int[] ids = m.tokenize(prompt);
                int[] want = ref.greedy(ids, 32);
                GenerationResult r = m.generate(prompt, GenerationOptions.greedy().withMaxNewTokens(32));
                String wantText = m.detokenize(want);
                assertEquals(32, r.generatedTokens());
                assertEquals(wantText, r.text(), "greedy continuation of " + prompt.replace("\n", "\\n"));
            }
        }
    }

    @Test
    void f16AndQ8ReportTop1AgreementAndLargestDifference() {
        int[][] prompts = tokenized(gguf(FileType.F32));
        for (FileType t : List.of(FileType.F16, FileType.Q8_0)) {
            double[][] llama = llamaProbabilities(gguf(t), prompts);
            int agree = 0;
            double worst = 0;
            for (int i = 0; i < prompts.length; i++) {
                double[] p = PhiReference.softmax(ref.prompt(prompts[i]));
                agree += PhiReference.argmax(p) == PhiReference.argmax(llama[i]) ? 1 : 0;
                for (int v = 0; v < p.length; v++) {
                    worst = Math.max(worst, Math.abs(p[v] - llama[i][v]));
                }
            }
            System.err.printf(Locale.ROOT, "%s: top-1 agreement %d/%d, worst |p difference| = %.3g%n", t, agree, prompts.length, worst);
            assertTrue(agree >= prompts.length - 1, t + " top-1 agreement " + agree);
            assertTrue(worst < 0.05, t + " worst difference " + worst);
        }
    }
}
