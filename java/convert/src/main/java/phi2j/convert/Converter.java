package phi2j.convert;

import phi2j.BadModelFileException;
import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;
import phi2j.format.GgmlType;
import phi2j.format.GgufTensorInfo;
import phi2j.format.GgufValue;
import phi2j.format.GgufValueType;
import phi2j.format.GgufWriter;
import phi2j.format.Phi2Layout;
import phi2j.format.safetensors.HfCheckpoint;
import phi2j.format.safetensors.HfTokenizer;
import phi2j.format.safetensors.SafetensorsFile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Converts a Hugging Face Phi-2 checkpoint ({@code PhiForCausalLM}, safetensors) to a phi2 GGUF with the
 * metadata llama.cpp's own converter writes, streaming tensor by tensor.
 */
public final class Converter {

    /** Hugging Face tensor names and their GGUF names; {@code {i}} is the block. */
    public record NameMap(String hf, String gguf) {
    }

    public static final List<NameMap> TENSOR_NAMES = List.of(
            new NameMap("model.embed_tokens.weight", "token_embd.weight"),
            new NameMap("model.layers.{i}.input_layernorm.weight", "blk.{i}.attn_norm.weight"),
            new NameMap("model.layers.{i}.input_layernorm.bias", "blk.{i}.attn_norm.bias"),
            new NameMap("model.layers.{i}.self_attn.q_proj.weight", "blk.{i}.attn_q.weight"),
            new NameMap("model.layers.{i}.self_attn.q_proj.bias", "blk.{i}.attn_q.bias"),
            new NameMap("model.layers.{i}.self_attn.k_proj.weight", "blk.{i}.attn_k.weight"),
            new NameMap("model.layers.{i}.self_attn.k_proj.bias", "blk.{i}.attn_k.bias"),
            new NameMap("model.layers.{i}.self_attn.v_proj.weight", "blk.{i}.attn_v.weight"),
            new NameMap("model.layers.{i}.self_attn.v_proj.bias", "blk.{i}.attn_v.bias"),
            new NameMap("model.layers.{i}.self_attn.dense.weight", "blk.{i}.attn_output.weight"),
            new NameMap("model.layers.{i}.self_attn.dense.bias", "blk.{i}.attn_output.bias"),
            new NameMap("model.layers.{i}.mlp.fc1.weight", "blk.{i}.ffn_up.weight"),
            new NameMap("model.layers.{i}.mlp.fc1.bias", "blk.{i}.ffn_up.bias"),
            new NameMap("model.layers.{i}.mlp.fc2.weight", "blk.{i}.ffn_down.weight"),
            new NameMap("model.layers.{i}.mlp.fc2.bias", "blk.{i}.ffn_down.bias"),
            new NameMap("model.final_layernorm.weight", "output_norm.weight"),
            new NameMap("model.final_layernorm.bias", "output_norm.bias"),
            new NameMap("lm_head.weight", "output.weight"),
            new NameMap("lm_head.bias", "output.bias"));

    /** Tokenizer files llama.cpp's converter reads; tokenizer.json is the one that carries everything. */
    public static final List<String> TOKENIZER_FILES = List.of("tokenizer.json");

    public record Options(FileType outType, int threads, boolean overwrite, Path nativeLibrary) {
    }

    public record Report(Path output, long bytesRead, long bytesWritten, Duration time, List<QuantMix.Choice> plan) {
    }

    private Converter() {
    }

    /** The GGUF name for a Hugging Face tensor name, or null when it is not part of Phi-2. */
    static String ggufName(String hf, int layers) {
        for (NameMap m : TENSOR_NAMES) {
            if (!m.hf().contains("{i}")) {
                if (m.hf().equals(hf)) {
                    return m.gguf();
                }
                continue;
            }
            String prefix = m.hf().substring(0, m.hf().indexOf("{i}"));
            String suffix = m.hf().substring(m.hf().indexOf("{i}") + 3);
            if (hf.startsWith(prefix) && hf.endsWith(suffix) && hf.length() > prefix.length() + suffix.length()) {
                String idx = hf.substring(prefix.length(), hf.length() - suffix.length());
                if (idx.chars().allMatch(Character::isDigit) && Integer.parseInt(idx) < layers) {
                    return m.gguf().replace("{i}", idx);
                }
            }
        }
        return null;
    }

    public static Report convert(Path hfDir, Path out, Options opts, Quantizer.Progress progress) {
        long t0 = System.nanoTime();
        if (!opts.overwrite() && Files.exists(out)) {
            throw new InvalidOptionException("--output", out + " already exists (use --force to replace it)");
        }
        HfCheckpoint ckpt = HfCheckpoint.open(hfDir);
        PhiConfig cfg = PhiConfig.read(hfDir.resolve("config.json"), ckpt.config());
        for (String f : TOKENIZER_FILES) {
            if (!Files.isRegularFile(hfDir.resolve(f))) {
                throw new BadModelFileException(hfDir.resolve(f), "is missing: the tokenizer is needed to build the GGUF vocabulary");
            }
        }
        HfTokenizer tok = HfTokenizer.read(hfDir.resolve("tokenizer.json"), cfg.vocabSize(), cfg.eosId(), cfg.bosId());
        Phi2Layout.Hparams hp = cfg.hparams();
        Map<String, long[]> expected = Phi2Layout.expectedShapes(hp, false);

        // Every checkpoint tensor must map to an expected GGUF tensor with the expected shape, and none may be missing.
        Map<String, TensorConverter.Source> sources = new java.util.LinkedHashMap<>();
        Set<String> seen = new HashSet<>();
        for (String hf : ckpt.tensorNames()) {
            if (hf.endsWith("rotary_emb.inv_freq")) {
                continue; // a buffer some exports include; llama.cpp computes it
            }
            String g = ggufName(hf, cfg.layers());
            Path file = ckpt.fileOf(hf);
            if (g == null || !expected.containsKey(g)) {
                throw new BadModelFileException(file, "has tensor '" + hf + "', which is not part of a " + cfg.layers() + "-layer Phi-2");
            }
            SafetensorsFile.Tensor t = ckpt.tensor(hf).orElseThrow();
            if (t.dtype().ggml() == null) {
                throw new BadModelFileException(file, "tensor '" + hf + "' has dtype " + t.dtype() + "; the converter reads F32, F16 and BF16");
            }
            long[] ggmlShape = reversed(t.shape());
            if (!Arrays.equals(ggmlShape, expected.get(g))) {
                throw new BadModelFileException(file, "tensor '" + hf + "' has shape " + Arrays.toString(t.shape()) + ", but config.json implies "
                        + Arrays.toString(reversed(expected.get(g))));
            }
            sources.put(g, new TensorConverter.Source(g, ggmlShape, t.dtype().ggml(), file, t.offset()));
            seen.add(g);
        }
        for (String g : expected.keySet()) {
            if (!seen.contains(g)) {
                throw new BadModelFileException(hfDir, "lacks tensor '" + hfName(g) + "' (GGUF " + g + ")");
            }
        }

        // Types: 1-D tensors always F32 (as llama.cpp's converter keeps them); matrices per the file type's mix.
        List<GgufTensorInfo> infos = new ArrayList<>();
        for (String g : expected.keySet()) {
            TensorConverter.Source s = sources.get(g);
            infos.add(new GgufTensorInfo(g, s.shape(), s.type(), 0));
        }
        List<QuantMix.Choice> plan = new ArrayList<>();
        for (QuantMix.Choice c : QuantMix.plan(infos, cfg.layers(), opts.outType())) {
            plan.add(QuantMix.quantizable(c.tensor()) ? c : new QuantMix.Choice(c.tensor(), GgmlType.F32, "1-D: F32"));
        }
        Ggml ggml = Ggml.get(opts.nativeLibrary());

        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", Phi2Layout.ARCH);
        w.putString("general.type", "model");
        w.putString("general.name", cfg.name());
        w.putUInt32(Phi2Layout.KEY_CONTEXT_LENGTH, cfg.maxPositions());
        w.putUInt32(Phi2Layout.KEY_EMBEDDING_LENGTH, cfg.hiddenSize());
        w.putUInt32(Phi2Layout.KEY_FEED_FORWARD_LENGTH, cfg.intermediateSize());
        w.putUInt32(Phi2Layout.KEY_BLOCK_COUNT, cfg.layers());
        w.putUInt32(Phi2Layout.KEY_HEAD_COUNT, cfg.heads());
        w.putUInt32(Phi2Layout.KEY_HEAD_COUNT_KV, cfg.kvHeads());
        w.putFloat32(Phi2Layout.KEY_LAYER_NORM_EPS, (float) cfg.layerNormEps());
        w.putUInt32(Phi2Layout.KEY_ROPE_DIMENSION_COUNT, cfg.ropeDimensions());
        w.putUInt32("general.file_type", opts.outType().id());
        w.putBool(Phi2Layout.KEY_ADD_BOS, false);
        w.putString(Phi2Layout.KEY_TOKENIZER_MODEL, "gpt2");
        w.putString(Phi2Layout.KEY_TOKENIZER_PRE, "phi-2");
        w.put(Phi2Layout.KEY_TOKENS, GgufValue.array(GgufValueType.STRING, tok.tokens()));
        w.put(Phi2Layout.KEY_TOKEN_TYPE, GgufValue.array(GgufValueType.INT32, tok.types().stream().map(Integer::longValue).toList()));
        w.put(Phi2Layout.KEY_MERGES, GgufValue.array(GgufValueType.STRING, tok.merges()));
        w.putUInt32(Phi2Layout.KEY_BOS, tok.bosId());
        w.putUInt32(Phi2Layout.KEY_EOS, tok.eosId());
        w.putUInt32(Phi2Layout.KEY_UNK, tok.eosId());
        if (opts.outType().isQuantized()) {
            w.putUInt32("general.quantization_version", 2);
        }

        long total = plan.stream().mapToLong(c -> c.tensor().elements()).sum();
        long[] done = {0};
        try (TensorConverter conv = new TensorConverter(ggml, opts.threads())) {
            for (QuantMix.Choice c : plan) {
                TensorConverter.Source s = sources.get(c.tensor().name());
                w.addTensor(s.name(), c.type(), s.shape(), (info, sink) -> conv.convert(s, c.type(), sink, n -> {
                    done[0] += n;
                    progress.update(done[0], total, s.name());
                }));
            }
            w.write(out, opts.overwrite());
        }
        long read = sources.values().stream().mapToLong(s -> s.type().bytesFor(s.elements())).sum();
        try {
            return new Report(out, read, Files.size(out), Duration.ofNanos(System.nanoTime() - t0), plan);
        } catch (IOException e) {
            throw new Phi2Exception("cannot read back " + out + ": " + e.getMessage(), e);
        }
    }

    private static String hfName(String gguf) {
        for (NameMap m : TENSOR_NAMES) {
            if (!m.gguf().contains("{i}")) {
                if (m.gguf().equals(gguf)) {
                    return m.hf();
                }
            } else {
                String p = m.gguf().substring(0, m.gguf().indexOf("{i}"));
                String s = m.gguf().substring(m.gguf().indexOf("{i}") + 3);
                if (gguf.startsWith(p) && gguf.endsWith(s)) {
                    return m.hf().replace("{i}", gguf.substring(p.length(), gguf.length() - s.length()));
                }
            }
        }
        return gguf;
    }

    private static long[] reversed(long[] a) {
        long[] r = new long[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[a.length - 1 - i];
        }
        return r;
    }
}
