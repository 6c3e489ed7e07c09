package phi2j.convert;

import phi2j.nativelib.Ggml;
import com.sun.jna.Memory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.BadModelFileException;
import phi2j.InvalidOptionException;
import phi2j.format.GgmlType;
import phi2j.format.GgufFile;
import phi2j.format.GgufReader;
import phi2j.format.GgufTensorInfo;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class QuantizeTest {
    @TempDir
    Path dir;

    private static Quantizer.Options opts(FileType t) {
        return new Quantizer.Options(t, 2, false, false, null);
    }

    private static Map<String, GgmlType> types(Path p) {
        Map<String, GgmlType> m = new java.util.LinkedHashMap<>();
        GgufReader.read(p).tensors().forEach(t -> m.put(t.name(), t.type()));
        return m;
    }

    @Test
    void everyTypeQuantizesAsPlannedLoadsAndGenerates() {
        Path src = TestModels.quantTest();
        for (FileType ft : FileType.values()) {
            Path out = dir.resolve("m-" + ft + ".gguf");
            Quantizer.Report r = Quantizer.quantize(src, out, opts(ft), (d, t, n) -> { });
            GgufFile f = GgufReader.read(out);
            assertEquals(ft.id(), f.getLong("general.file_type").orElseThrow(), ft.name());
            for (QuantMix.Choice c : r.plan()) {
                assertEquals(c.type(), f.tensor(c.tensor().name()).orElseThrow().type(), ft + " " + c.tensor().name());
            }
            if (ft.name().contains("_K")) { // the K mixes, tensor by tensor, against llama.cpp's rules written out below
                for (var t : f.tensors()) {
                    assertEquals(llamaCppType(ft, t.name(), 8), t.type(), ft + " " + t.name());
                }
            }
            try (Phi2Model m = Phi2Model.open(out, ModelOptions.defaults().withContextSize(256).withThreads(2))) {
                assertEquals(6, m.generate("Hello there", GenerationOptions.greedy().withMaxNewTokens(6)).generatedTokens(), ft.name());
            }
        }
    }

    /**
     * The type llama.cpp 0.5.0's llama_tensor_get_type gives a Phi-2 tensor under a K mix, for a model of {@code blocks}
     * blocks whose rows fit 256-value blocks and no importance matrix; written from src/llama-quant.cpp independently of
     * QuantMix, so that a wrong rule there fails here.
     */
    static GgmlType llamaCppType(FileType ft, String name, int blocks) {
        if (name.endsWith(".bias") || name.contains("norm")) {
            return GgmlType.F32; // 1-D tensors are never quantized
        }
        if (name.equals("output.weight")) {
            return GgmlType.Q6_K;
        }
        GgmlType base = ft.base();
        int i = name.startsWith("blk.") ? Integer.parseInt(name.split("\\.")[1]) : -1;
        boolean more = i >= 0 && (i < blocks / 8 || i >= 7 * blocks / 8 || (i - blocks / 8) % 3 == 2); // use_more_bits
        if (name.endsWith("attn_v.weight")) {
            return switch (ft) {
                case Q2_K -> GgmlType.Q3_K; // n_gqa() is 1 in Phi-2
                case Q3_K_M -> i < 2 ? GgmlType.Q5_K : GgmlType.Q4_K;
                case Q3_K_L -> GgmlType.Q5_K;
                case Q4_K_M, Q5_K_M -> more ? GgmlType.Q6_K : base;
                case Q4_K_S -> i < 4 ? GgmlType.Q5_K : base;
                default -> base;
            };
        }
        if (name.endsWith("ffn_down.weight")) {
            return switch (ft) {
                case Q2_K -> GgmlType.Q3_K;
                case Q3_K_M -> i < blocks / 16 ? GgmlType.Q5_K : GgmlType.Q4_K; // not Falcon
                case Q3_K_L -> GgmlType.Q5_K;
                case Q4_K_M, Q5_K_M -> more ? GgmlType.Q6_K : base;
                case Q4_K_S -> i < blocks / 8 ? GgmlType.Q5_K : base;
                default -> base;
            };
        }
        if (name.endsWith("attn_output.weight")) {
            return switch (ft) {
                case Q2_K -> GgmlType.Q3_K;
                case Q3_K_M -> GgmlType.Q4_K;
                case Q3_K_L -> GgmlType.Q5_K;
                default -> base;
            };
        }
        return base; // token_embd, attn_q, attn_k, ffn_up
    }

    @Test
    void q4KmFollowsLlamaCppsTableForPhi2() {
        Map<String, GgmlType> t = types(Quantizer.quantize(TestModels.quantTest(), dir.resolve("q4km.gguf"), opts(FileType.Q4_K_M), (d, x, n) -> { }).output());
        // use_more_bits over 8 blocks: blocks 0, 3, 6 and 7 get Q6_K in attn_v and ffn_down
        for (int i = 0; i < 8; i++) {
            GgmlType more = (i == 0 || i == 3 || i == 6 || i == 7) ? GgmlType.Q6_K : GgmlType.Q4_K;
            assertEquals(more, t.get("blk." + i + ".attn_v.weight"), "attn_v " + i);
            assertEquals(more, t.get("blk." + i + ".ffn_down.weight"), "ffn_down " + i);
            assertEquals(GgmlType.Q4_K, t.get("blk." + i + ".attn_q.weight"));
            assertEquals(GgmlType.Q4_K, t.get("blk." + i + ".ffn_up.weight"));
            assertEquals(GgmlType.F32, t.get("blk." + i + ".attn_norm.weight"), "norms stay F32");
            assertEquals(GgmlType.F32, t.get("blk." + i + ".ffn_up.bias"), "biases stay F32");
        }
        assertEquals(GgmlType.Q6_K, t.get("output.weight"));
        assertEquals(GgmlType.Q4_K, t.get("token_embd.weight"));
    }

    @Test
    void rowsThatDoNotFitKQuantBlocksFallBackAsLlamaCppDoes() {
        // the tiny model's rows are 160 and 640 long: not multiples of 256
        Map<String, GgmlType> t = types(Quantizer.quantize(TestModels.tiny(), dir.resolve("tiny-q4km.gguf"), opts(FileType.Q4_K_M), (d, x, n) -> { }).output());
        assertEquals(GgmlType.Q5_0, t.get("blk.0.attn_q.weight"), "Q4_K -> Q5_0");
        assertEquals(GgmlType.Q8_0, t.get("blk.1.ffn_down.weight"), "Q6_K (more bits) -> Q8_0");
        assertEquals(GgmlType.Q8_0, t.get("output.weight"), "output rows do not fit Q4_K: Q8_0");
        Map<String, GgmlType> q2 = types(Quantizer.quantize(TestModels.tiny(), dir.resolve("tiny-q2k.gguf"), opts(FileType.Q2_K), (d, x, n) -> { }).output());
        assertEquals(GgmlType.IQ4_NL, q2.get("blk.0.attn_q.weight"), "Q2_K -> IQ4_NL");
    }

    /** Relative RMS error of dequantized weights against the F32 source, per file type. */
    @Test
    void dequantizedBlocksStayCloseToTheSourceAndOrderByBits() throws IOException {
        Path src = TestModels.quantTest();
        String name = "blk.2.ffn_up.weight";
        float[] ref = floats(src, name);
        Map<FileType, Double> err = new EnumMap<>(FileType.class);
        for (FileType ft : List.of(FileType.Q8_0, FileType.Q6_K, FileType.Q5_K_M, FileType.Q4_K_M, FileType.Q4_0, FileType.Q3_K_M, FileType.Q2_K, FileType.F16, FileType.BF16)) {
            Path out = Quantizer.quantize(src, dir.resolve("e-" + ft + ".gguf"), opts(ft), (d, x, n) -> { }).output();
            float[] back = floats(out, name);
            double num = 0, den = 0;
            for (int i = 0; i < ref.length; i++) {
                num += (back[i] - ref[i]) * (back[i] - ref[i]);
                den += ref[i] * ref[i];
            }
            err.put(ft, Math.sqrt(num / den));
        }
        err.forEach((k, v) -> System.err.printf(Locale.ROOT, "dequantization error %-7s %.5f%n", k, v));
        assertTrue(err.get(FileType.F16) < 1e-3);
        assertTrue(err.get(FileType.Q8_0) < 0.01);
        assertTrue(err.get(FileType.Q8_0) < err.get(FileType.Q6_K));
        assertTrue(err.get(FileType.Q6_K) < err.get(FileType.Q5_K_M));
        assertTrue(err.get(FileType.Q5_K_M) < err.get(FileType.Q4_K_M));
        assertTrue(err.get(FileType.Q4_K_M) < err.get(FileType.Q3_K_M));
        assertTrue(err.get(FileType.Q3_K_M) < err.get(FileType.Q2_K));
        assertTrue(err.get(FileType.Q2_K) < 0.5);
        // the types outside the K ladder: bf16 keeps 8 bits of mantissa, f16 11; Q4_0 (one scale per 32) sits between
        // the 4- and 3-bit K mixes
        assertTrue(err.get(FileType.F16) < err.get(FileType.BF16) && err.get(FileType.BF16) < 5e-3, "BF16 " + err.get(FileType.BF16));
        assertTrue(err.get(FileType.Q4_K_M) < err.get(FileType.Q4_0) && err.get(FileType.Q4_0) < err.get(FileType.Q3_K_M),
                "Q4_0 " + err.get(FileType.Q4_0));
    }

    /** A tensor's values as floats, dequantized by ggml. */
    static float[] floats(Path gguf, String name) throws IOException {
        GgufFile f = GgufReader.read(gguf);
        GgufTensorInfo t = f.tensor(name).orElseThrow();
        ByteBuffer raw = ByteBuffer.allocateDirect((int) t.byteSize());
        try (FileChannel ch = FileChannel.open(gguf, StandardOpenOption.READ)) {
            while (raw.hasRemaining()) {
                ch.read(raw, f.dataOffset() + t.offset() + raw.position());
            }
        }
        Memory out = new Memory(t.elements() * 4);
        Ggml.get(null).toFloat(t.type(), com.sun.jna.Native.getDirectBufferPointer(raw), out, t.elements());
        float[] v = new float[(int) t.elements()];
        out.getByteBuffer(0, t.elements() * 4).order(ByteOrder.nativeOrder()).asFloatBuffer().get(v);
        return v;
    }

    @Test
    void badInputGivesClearErrorsAndNoFiles(@TempDir Path d) throws IOException {
        assertTrue(assertThrows(InvalidOptionException.class, () -> FileType.parse("q9_z")).getMessage().contains("unknown type 'q9_z'"));
        assertTrue(assertThrows(InvalidOptionException.class, () -> FileType.parse("IQ2_XXS")).getMessage().contains("importance matrix"));
        assertEquals(FileType.Q4_K_M, FileType.parse("q4_k_m"));

        Path text = Files.writeString(d.resolve("x.gguf"), "nope");
        assertThrows(BadModelFileException.class, () -> Quantizer.quantize(text, d.resolve("o.gguf"), opts(FileType.Q8_0), (a, b, c) -> { }));
        assertThrows(InvalidOptionException.class, () -> Quantizer.quantize(TestModels.tiny(), d.resolve("missing-dir/o.gguf"), opts(FileType.Q8_0), (a, b, c) -> { }));

        // an interrupted run (here: failing after the first tensor) leaves nothing behind
        RuntimeException stop = new RuntimeException("interrupted (simulated)");
        assertSame(stop, assertThrows(RuntimeException.class, () -> Quantizer.quantize(TestModels.tiny(), d.resolve("half.gguf"), opts(FileType.Q8_0), (a, b, c) -> {
            throw stop;
        })), "the caller's own exception comes back, not a wrapper or an NPE");
        try (var files = Files.list(d)) {
            assertEquals(List.of("x.gguf"), files.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void requantizingNeedsConsentAndSaysWhy(@TempDir Path d) {
        Path q8 = Quantizer.quantize(TestModels.tiny(), d.resolve("q8.gguf"), opts(FileType.Q8_0), (a, b, c) -> { }).output();
        InvalidOptionException e = assertThrows(InvalidOptionException.class,
                () -> Quantizer.quantize(q8, d.resolve("q4.gguf"), opts(FileType.Q4_0), (a, b, c) -> { }));
        assertEquals("--allow-requantize", e.option());
        assertTrue(e.getMessage().contains("second rounding error"), e.getMessage());
        Path q4 = Quantizer.quantize(q8, d.resolve("q4.gguf"), new Quantizer.Options(FileType.Q4_0, 2, true, false, null), (a, b, c) -> { }).output();
        assertEquals(GgmlType.Q4_0, GgufReader.read(q4).tensor("blk.0.attn_q.weight").orElseThrow().type());
    }
}
