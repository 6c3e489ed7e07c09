package phi2j.convert;

import phi2j.nativelib.Ggml;
import phi2j.BadModelFileException;
import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;
import phi2j.Progress;
import phi2j.Timer;
import phi2j.format.GgmlType;
import phi2j.format.GgufTensorInfo;
import phi2j.format.GgufWriter;
import phi2j.format.Phi2Key;
import phi2j.format.Phi2Layout;
import phi2j.format.safetensors.HfCheckpoint;
import phi2j.format.safetensors.HfTokenizer;
import phi2j.format.safetensors.SafetensorsFile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts a Hugging Face Phi-2 checkpoint ({@code PhiForCausalLM}, safetensors) to a phi2 GGUF with the
 * metadata llama.cpp's own converter writes, streaming tensor by tensor.
 */
public final class Converter {

    /** Tokenizer files llama.cpp's converter reads; tokenizer.json is the one that carries everything. */
    public static final List<String> TOKENIZER_FILES = List.of("tokenizer.json");

    public record Options(FileType outType, int threads, boolean overwrite, Path nativeLibrary) {
    }

    public record Report(Path output, long bytesRead, long bytesWritten, Duration time, List<QuantMix.Choice> plan) {
    }

    private Converter() {
    }

    public static Report convert(Path hfDir, Path out, Options opts, Progress progress) {
        Timer timer = Timer.start();
        if (!opts.overwrite() && Files.exists(out)) {
            throw new InvalidOptionException("--output", out + " already exists (use --force to replace it)");
        }
        HfCheckpoint ckpt = HfCheckpoint.open(hfDir);
        PhiConfig cfg = PhiConfig.read(hfDir.resolve("config.json"), ckpt.config());
        HfTokenizer tok = tokenizer(hfDir, cfg);
        Map<String, TensorConverter.Source> sources = sources(hfDir, ckpt, cfg);
        List<QuantMix.Choice> plan = plan(sources, cfg.layers(), opts.outType());
        GgufWriter w = metadata(cfg, tok, opts.outType());
        TensorConverter.writeAll(w, plan, sources::get, out, opts.overwrite(), Ggml.get(opts.nativeLibrary()), opts.threads(), progress);
        long read = sources.values().stream().mapToLong(s -> s.type().bytesFor(s.elements())).sum();
        try {
            return new Report(out, read, Files.size(out), timer.elapsed(), plan);
        } catch (IOException e) {
            throw new Phi2Exception("cannot read back " + out + ": " + e.getMessage(), e);
        }
    }

    private static HfTokenizer tokenizer(Path hfDir, PhiConfig cfg) {
        for (String f : TOKENIZER_FILES) {
            if (!Files.isRegularFile(hfDir.resolve(f))) {
                throw new BadModelFileException(hfDir.resolve(f), "is missing: the tokenizer is needed to build the GGUF vocabulary");
            }
        }
        return HfTokenizer.read(hfDir.resolve("tokenizer.json"), cfg.vocabSize(), cfg.eosId(), cfg.bosId());
    }

    /**
     * Every checkpoint tensor, by its GGUF name, in the order the GGUF holds them: each must map onto an expected
     * tensor with the expected shape, and none may be missing.
     */
    private static Map<String, TensorConverter.Source> sources(Path hfDir, HfCheckpoint ckpt, PhiConfig cfg) {
        Map<String, long[]> expected = Phi2Layout.expectedShapes(cfg.hparams(), false);
        Map<String, TensorConverter.Source> found = new HashMap<>();
        for (String hf : ckpt.tensorNames()) {
            if (hf.endsWith("rotary_emb.inv_freq")) {
                continue; // a buffer some exports include; llama.cpp computes it
            }
            String g = Phi2Layout.ggufName(hf, cfg.layers()).orElse(null);
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
            found.put(g, new TensorConverter.Source(g, ggmlShape, t.dtype().ggml(), file, t.offset()));
        }
        Map<String, TensorConverter.Source> ordered = new LinkedHashMap<>();
        for (String g : expected.keySet()) {
            if (!found.containsKey(g)) {
                throw new BadModelFileException(hfDir, "lacks tensor '" + Phi2Layout.hfName(g).orElse(g) + "' (GGUF " + g + ")");
            }
            ordered.put(g, found.get(g));
        }
        return ordered;
    }

    /** Types: 1-D tensors always F32 (as llama.cpp's converter keeps them); matrices per the file type's mix. */
    private static List<QuantMix.Choice> plan(Map<String, TensorConverter.Source> sources, int layers, FileType type) {
        List<GgufTensorInfo> infos = sources.values().stream().map(s -> new GgufTensorInfo(s.name(), s.shape(), s.type(), 0)).toList();
        return QuantMix.plan(infos, layers, type).stream()
                .map(c -> QuantMix.quantizable(c.tensor()) ? c : new QuantMix.Choice(c.tensor(), GgmlType.F32, "1-D: F32"))
                .toList();
    }

    /** The metadata llama.cpp's own converter writes for Phi-2, each key with the type {@link Phi2Key} states. */
    private static GgufWriter metadata(PhiConfig cfg, HfTokenizer tok, FileType type) {
        GgufWriter w = new GgufWriter()
                .put(Phi2Key.ARCHITECTURE, Phi2Layout.ARCH)
                .put(Phi2Key.TYPE, "model")
                .put(Phi2Key.NAME, cfg.name())
                .put(Phi2Key.CONTEXT_LENGTH, cfg.maxPositions())
                .put(Phi2Key.EMBEDDING_LENGTH, cfg.hiddenSize())
                .put(Phi2Key.FEED_FORWARD_LENGTH, cfg.intermediateSize())
                .put(Phi2Key.BLOCK_COUNT, cfg.layers())
                .put(Phi2Key.HEAD_COUNT, cfg.heads())
                .put(Phi2Key.HEAD_COUNT_KV, cfg.kvHeads())
                .put(Phi2Key.LAYER_NORM_EPS, cfg.layerNormEps())
                .put(Phi2Key.ROPE_DIMENSION_COUNT, cfg.ropeDimensions())
                .put(Phi2Key.FILE_TYPE, type.id())
                .put(Phi2Key.ADD_BOS, false)
                .put(Phi2Key.TOKENIZER_MODEL, "gpt2")
                .put(Phi2Key.TOKENIZER_PRE, "phi-2")
                .put(Phi2Key.TOKENS, tok.tokens())
                .put(Phi2Key.TOKEN_TYPE, tok.types().stream().map(Integer::longValue).toList())
                .put(Phi2Key.MERGES, tok.merges())
                .put(Phi2Key.BOS, tok.bosId())
                .put(Phi2Key.EOS, tok.eosId())
                .put(Phi2Key.UNK, tok.eosId());
        return type.isQuantized() ? w.put(Phi2Key.QUANTIZATION_VERSION, 2) : w;
    }

    private static long[] reversed(long[] a) {
        long[] r = new long[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[a.length - 1 - i];
        }
        return r;
    }
}
