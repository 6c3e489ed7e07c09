package phi2j.convert;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.format.GgmlType;
import phi2j.format.GgufFile;
import phi2j.format.GgufReader;
import phi2j.format.Phi2Layout;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.SharedData;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ConvertTest {
    static Path converted;

    static Converter.Options opts(FileType t) {
        return new Converter.Options(t, 2, true, null);
    }

    @BeforeAll
    static void convertOnce() {
        converted = TestModels.dir().resolve("converted-tiny-f32.gguf");
        Converter.convert(TestModels.tinyCheckpoint(), converted, opts(FileType.F32), (d, t, n) -> { });
    }

    @Test
    void metadataIsWhatLlamaCppsConverterWritesForPhi2() {
        GgufFile f = GgufReader.read(converted);
        Phi2Layout.Hparams hp = Phi2Layout.check(f);
        assertEquals(2048, hp.contextLength());
        assertEquals(32, hp.ropeDims(), "partial_rotary_factor 0.4 x head size 80");
        assertEquals("phi2", f.architecture().orElseThrow());
        assertEquals("phi-2", f.getString("general.name").orElseThrow());
        assertEquals(0, f.getLong("general.file_type").orElseThrow());
        assertEquals("gpt2", f.getString("tokenizer.ggml.model").orElseThrow());
        assertEquals("phi-2", f.getString("tokenizer.ggml.pre").orElseThrow());
        assertFalse(f.get("tokenizer.ggml.add_bos_token").orElseThrow().asBool());
        for (String k : List.of("tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id")) {
            assertEquals(50256, f.getLong(k).orElseThrow(), k);
        }
        List<?> tokens = f.get("tokenizer.ggml.tokens").orElseThrow().asArray().values();
        List<?> types = f.get("tokenizer.ggml.token_type").orElseThrow().asArray().values();
        assertEquals(51200, tokens.size());
        assertEquals("<|endoftext|>", tokens.get(50256));
        assertEquals(3L, types.get(50256), "control");
        assertEquals(" ".repeat(31), tokens.get(50257));
        assertEquals(4L, types.get(50257), "user-defined whitespace run");
        assertEquals("\t\t", tokens.get(50294));
        assertEquals("[PAD50295]", tokens.get(50295));
        assertEquals(5L, types.get(51199), "unused");
        assertEquals(1L, types.get(0));
        assertEquals(50000, f.get("tokenizer.ggml.merges").orElseThrow().asArray().values().size());
        assertEquals(GgmlType.F32, f.tensor("blk.1.attn_q.weight").orElseThrow().type());
        assertArrayEquals(new long[] {160, 51200}, f.tensor("output.weight").orElseThrow().shape());
    }

    /** transformers' clean_up_tokenization: the spaces it removes before punctuation and English contractions. */
    static String hfCleanUp(String s) {
        return s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",").replace(" ' ", "'")
                .replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s").replace(" 've", "'ve").replace(" 're", "'re");
    }

    @Test
    void llamaCppTokenizesTheReferenceCasesAsHuggingFaceDoes() throws IOException {
        Path inp = SharedData.require("tokenizer-tests/ggml-vocab-phi-2.gguf.inp");
        Path outp = SharedData.require("tokenizer-tests/ggml-vocab-phi-2.gguf.out");
        String[] cases = Files.readString(inp, StandardCharsets.UTF_8).split("\n__ggml_vocab_test__\n", -1);
        List<String> inputs = new ArrayList<>(Arrays.asList(cases));
        if (inputs.get(inputs.size() - 1).isEmpty()) {
            inputs.remove(inputs.size() - 1);
        }
        List<String> expected = Files.readAllLines(outp, StandardCharsets.UTF_8);
        assertEquals(46, inputs.size());
        assertEquals(46, expected.size());
        int same = 0;
        List<String> diffs = new ArrayList<>();
        try (Phi2Model m = Phi2Model.open(converted, ModelOptions.defaults().withContextSize(512).withThreads(1))) {
            for (int i = 0; i < inputs.size(); i++) {
                String text = inputs.get(i);
                int[] want = expected.get(i).isBlank() ? new int[0] : Arrays.stream(expected.get(i).trim().split("\\s+")).mapToInt(Integer::parseInt).toArray();
                int[] got = text.isEmpty() ? new int[0] : m.tokenize(text);
                if (Arrays.equals(want, got)) {
                    same++;
                    if (got.length > 0) {
                        // llama.cpp 0.5.0 detokenizes as Hugging Face decodes Phi-2 (its tokenizer_config sets
                        // clean_up_tokenization_spaces); b4916, under the binding, gives the input back as it was
                        String back = m.info().engine() == phi2j.runtime.EngineKind.NATIVE ? hfCleanUp(text) : text;
                        assertEquals(back, m.detokenize(got), "detokenizing case " + i);
                    }
                } else {
                    diffs.add(i + ": " + text.replace("\n", "\\n") + " want " + Arrays.toString(want) + " got " + Arrays.toString(got));
                }
            }
        }
        System.err.println("tokenizer cases equal to Hugging Face's: " + same + " of " + inputs.size());
        assertEquals(List.of(), diffs);
    }

    @Test
    void theConvertedModelGenerates() {
        try (Phi2Model m = Phi2Model.open(converted, ModelOptions.defaults().withContextSize(256))) {
            assertEquals(10, m.generate("Instruct: hello\nOutput:", GenerationOptions.greedy().withMaxNewTokens(10)).generatedTokens());
        }
    }

    @Test
    void outTypesF16Bf16AndQuantizedKeepVectorsInF32(@TempDir Path dir) {
        for (FileType ft : List.of(FileType.F16, FileType.BF16, FileType.Q8_0, FileType.Q4_K_M)) {
            Path out = Converter.convert(TestModels.tinyCheckpoint(), dir.resolve(ft + ".gguf"), opts(ft), (d, t, n) -> { }).output();
            GgufFile f = GgufReader.read(out);
            assertEquals(ft.id(), f.getLong("general.file_type").orElseThrow());
            GgmlType expect = ft == FileType.Q4_K_M ? GgmlType.Q5_0 : ft.base(); // 160-wide rows fall back from Q4_K
            assertEquals(expect, f.tensor("blk.0.attn_q.weight").orElseThrow().type(), ft.name());
            assertEquals(GgmlType.F32, f.tensor("blk.0.attn_q.bias").orElseThrow().type());
            assertEquals(GgmlType.F32, f.tensor("output_norm.weight").orElseThrow().type());
            try (Phi2Model m = Phi2Model.open(out, ModelOptions.defaults().withContextSize(128))) {
                assertEquals(4, m.generate("Hi", GenerationOptions.greedy().withMaxNewTokens(4)).generatedTokens());
            }
        }
    }

    @Test
    void tensorNamesAreMappedAsData() {
        assertEquals("blk.7.ffn_down.weight", Phi2Layout.ggufName("model.layers.7.mlp.fc2.weight", 32).orElseThrow());
        assertEquals("output.bias", Phi2Layout.ggufName("lm_head.bias", 32).orElseThrow());
        assertTrue(Phi2Layout.ggufName("model.layers.40.mlp.fc2.weight", 32).isEmpty());
        assertTrue(Phi2Layout.ggufName("model.layers.x.mlp.fc2.weight", 32).isEmpty());
        assertEquals("model.layers.31.self_attn.k_proj.bias", Phi2Layout.hfName("blk.31.attn_k.bias").orElseThrow());
        assertTrue(Phi2Layout.hfName("blk.0.attn_qkv.weight").isEmpty(), "the fused layout has no Hugging Face name");
        assertEquals(19, Phi2Layout.TENSORS.stream().filter(t -> t.hf() != null).count());
    }

    /** Every tensor of the real Phi-2 checkpoint's index maps, one to one, onto exactly the GGUF names Phi-2 needs. */
    @Test
    void everyNameInTheRealCheckpointIndexMapsOntoPhi2sTensorTable() throws IOException {
        Path index = phi2j.testkit.SharedData.require("phi-2/model.safetensors.index.json");
        var weightMap = com.google.gson.JsonParser.parseString(Files.readString(index)).getAsJsonObject().getAsJsonObject("weight_map");
        java.util.Set<String> mapped = new java.util.TreeSet<>();
        for (String hf : weightMap.keySet()) {
            String gguf = Phi2Layout.ggufName(hf, 32).orElse(null);
            assertNotNull(gguf, hf + " is not mapped");
            assertTrue(mapped.add(gguf), "two checkpoint tensors map onto " + gguf);
        }
        java.util.Set<String> expected = new java.util.TreeSet<>();
        for (Phi2Layout.TensorSpec t : Phi2Layout.TENSORS) {
            for (int i = 0; t.variant() != Phi2Layout.Variant.FUSED_QKV && i < (t.perBlock() ? 32 : 1); i++) {
                expected.add(t.gguf().replace("{i}", Integer.toString(i)));
            }
        }
        assertEquals(expected, mapped);
        assertEquals(453, mapped.size(), "14 tensors per block x 32, and 5 outside the blocks, as in the index");
    }
}
