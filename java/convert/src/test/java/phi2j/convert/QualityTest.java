package phi2j.convert;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.PhiReference;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The quality table: for each quantization type, top-1 agreement and mean KL divergence of llama.cpp's
 * next-token distributions against the F32 model, over prefixes of a fixed text of 512 tokens (every 8th by default,
 * to keep the test suite short; {@code -Dphi2.quality.stride=1} takes all 512). The model
 * is the K-quant test model (256 wide, 8 blocks: no fallbacks). llama.cpp's last hidden state comes from its
 * embeddings; the output norm's scale is recovered as in the numerics check, and the output head (dequantized
 * from each file by ggml) is applied here.
 */
class QualityTest {
    static final int POSITIONS = 512;
    static final int STRIDE = Integer.getInteger("phi2.quality.stride", 8);
    static final List<FileType> TYPES = List.of(FileType.F16, FileType.BF16, FileType.Q8_0, FileType.Q6_K, FileType.Q5_K_M,
            FileType.Q5_K_S, FileType.Q5_1, FileType.Q5_0, FileType.Q4_K_M, FileType.Q4_K_S, FileType.Q4_1, FileType.Q4_0,
            FileType.Q3_K_L, FileType.Q3_K_M, FileType.Q3_K_S, FileType.Q2_K);

    @TempDir
    Path dir;

    /** The fixed text: the walkthrough's tasks, repeated, cut to POSITIONS characters (one token each here). */
    static String text() {
        String base = "def three_sum(nums): return all unique triplets that sum to zero. Summarize the paper Attention Is All You Need. "
                + "Why did Beethoven get rid of all of his chickens? All they ever said was Bach, Bach, Bach! A Shakespearean dialog "
                + "between two physicists on light. import advancedmath; print(advancedmath.sqrt(16)). LoRA freezes the weights. ";
        StringBuilder sb = new StringBuilder();
        while (sb.length() < POSITIONS + 1) {
            sb.append(base);
        }
        return sb.substring(0, POSITIONS + 1);
    }

    record Head(float[] gamma, float[] beta, float[] w, float[] b, int n, int vocab) {
        double[] probs(float[] u) {
            double s = PhiReference.layerNormScale(u, gamma, beta);
            double[] logits = new double[vocab];
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) {
                double acc = b[v];
                for (int i = 0; i < n; i++) {
                    acc += w[v * n + i] * s * u[i];
                }
                logits[v] = acc;
                max = Math.max(max, acc);
            }
            double sum = 0;
            for (int v = 0; v < vocab; v++) {
                logits[v] = Math.exp(logits[v] - max);
                sum += logits[v];
            }
            for (int v = 0; v < vocab; v++) {
                logits[v] /= sum;
            }
            return logits;
        }
    }

    static float[] tensor(Path gguf, String name) throws IOException {
        return QuantizeTest.floats(gguf, name);
    }

    static double[][] distributions(Path gguf, String text) throws IOException {
        float[] gamma = tensor(gguf, "output_norm.weight");
        Head head = new Head(gamma, tensor(gguf, "output_norm.bias"), tensor(gguf, "output.weight"), tensor(gguf, "output.bias"),
                gamma.length, tensor(gguf, "output.bias").length);
        double[][] out = new double[POSITIONS / STRIDE][];
        try (Phi2Model m = Phi2Model.open(gguf, ModelOptions.defaults().withContextSize(1024).withEmbeddings(true))) {
            for (int i = 0; i < out.length; i++) {
                out[i] = head.probs(m.embedding(text.substring(0, (i + 1) * STRIDE)));
            }
        }
        return out;
    }

    @Test
    void quantizationQualityIsOrderedAsExpected() throws IOException {
        Path src = TestModels.quantTest();
        String text = text();
        double[][] ref = distributions(src, text);
        Map<FileType, double[]> table = new EnumMap<>(FileType.class);
        for (FileType t : TYPES) {
            Path q = Quantizer.quantize(src, dir.resolve(t + ".gguf"), new Quantizer.Options(t, 2, false, false, null), (a, b, c) -> { }).output();
            double[][] p = distributions(q, text);
            double kl = 0;
            int agree = 0;
            for (int i = 0; i < ref.length; i++) {
                for (int v = 0; v < ref[i].length; v++) {
                    if (ref[i][v] > 0) {
                        kl += ref[i][v] * Math.log(ref[i][v] / Math.max(p[i][v], 1e-300));
                    }
                }
                agree += argmax(ref[i]) == argmax(p[i]) ? 1 : 0;
            }
            table.put(t, new double[] {kl / ref.length, 100.0 * agree / ref.length});
        }
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "quality against F32 at %d positions of a %d-token text (K-quant test model):%n",
                POSITIONS / STRIDE, POSITIONS));
        sb.append(String.format(Locale.ROOT, "| %-7s | %-13s | %-13s |%n| ------- | ------------- | ------------- |%n", "type", "mean KL", "top-1 agree"));
        table.forEach((t, v) -> sb.append(String.format(Locale.ROOT, "| %-7s | %13.3e | %12.1f%% |%n", t, v[0], v[1])));
        System.err.print(sb);

        double q8 = table.get(FileType.Q8_0)[0];
        double q2 = table.get(FileType.Q2_K)[0];
        for (FileType t : TYPES) {
            if (t.isQuantized() && t != FileType.Q8_0) {
                assertTrue(q8 < table.get(t)[0], "Q8_0 is the best quantized type, but " + t + " beat it");
            }
            if (t != FileType.Q2_K) {
                assertTrue(table.get(t)[0] < q2, "Q2_K is the worst, but " + t + " was worse");
            }
        }
        assertTrue(table.get(FileType.Q6_K)[0] < table.get(FileType.Q4_K_M)[0]);
        assertTrue(table.get(FileType.Q4_K_M)[0] < table.get(FileType.Q3_K_M)[0]);
        assertTrue(table.get(FileType.F16)[0] < q8);
        assertTrue(table.get(FileType.Q8_0)[1] >= 95, "Q8_0 top-1 agreement " + table.get(FileType.Q8_0)[1]);
        // within a K family the larger mix is the better one: S worse than M worse than L
        assertTrue(table.get(FileType.Q3_K_S)[0] > table.get(FileType.Q3_K_M)[0] && table.get(FileType.Q3_K_M)[0] > table.get(FileType.Q3_K_L)[0],
                "Q3_K: S > M > L in KL");
        assertTrue(table.get(FileType.Q4_K_S)[0] > table.get(FileType.Q4_K_M)[0], "Q4_K: S > M in KL");
        assertTrue(table.get(FileType.Q5_K_S)[0] > table.get(FileType.Q5_K_M)[0], "Q5_K: S > M in KL");
        assertTrue(table.get(FileType.BF16)[0] > table.get(FileType.F16)[0], "bf16 keeps fewer mantissa bits than f16");
        // and each type's mean KL inside its band (about 3x either side of what llama.cpp 0.5.0 gives on this model)
        KL_BANDS.forEach((t, band) -> assertTrue(table.get(t)[0] >= band[0] && table.get(t)[0] <= band[1],
                t + " mean KL " + table.get(t)[0] + " outside [" + band[0] + ", " + band[1] + "]"));
    }

    /** Mean KL against F32, lower and upper bound, per type; measured 2026-11-27 at stride 8 (see the class comment). */
    static final Map<FileType, double[]> KL_BANDS = Map.ofEntries(
            Map.entry(FileType.F16, new double[] {0, 3e-6}), Map.entry(FileType.BF16, new double[] {3e-6, 5e-5}),
            Map.entry(FileType.Q8_0, new double[] {3e-5, 3e-4}), Map.entry(FileType.Q6_K, new double[] {2e-4, 2e-3}),
            Map.entry(FileType.Q5_K_M, new double[] {6e-4, 6e-3}), Map.entry(FileType.Q5_K_S, new double[] {7e-4, 7e-3}),
            Map.entry(FileType.Q5_1, new double[] {9e-4, 9e-3}), Map.entry(FileType.Q5_0, new double[] {1e-3, 1e-2}),
            Map.entry(FileType.Q4_K_M, new double[] {2e-3, 2e-2}), Map.entry(FileType.Q4_K_S, new double[] {2.5e-3, 2.5e-2}),
            Map.entry(FileType.Q4_1, new double[] {3.5e-3, 3.5e-2}), Map.entry(FileType.Q4_0, new double[] {4e-3, 4e-2}),
            Map.entry(FileType.Q3_K_L, new double[] {6e-3, 6e-2}), Map.entry(FileType.Q3_K_M, new double[] {7e-3, 7e-2}),
            Map.entry(FileType.Q3_K_S, new double[] {1.7e-2, 0.15}), Map.entry(FileType.Q2_K, new double[] {2.7e-2, 0.25}));

    static int argmax(double[] p) {
        int b = 0;
        for (int i = 1; i < p.length; i++) {
            if (p[i] > p[b]) {
                b = i;
            }
        }
        return b;
    }
}
