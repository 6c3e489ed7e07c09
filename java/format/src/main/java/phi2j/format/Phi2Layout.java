package phi2j.format;

import phi2j.BadModelFileException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What llama.cpp's loader expects of an architecture-{@code phi2} GGUF: metadata keys and the tensor table
 * (names and shapes in ggml order), kept as data so that the checker, the converter and the test kit agree.
 */
public final class Phi2Layout {
    public static final String ARCH = "phi2";

    /** Dimensions a tensor's shape is made of. */
    public enum Dim { EMBD, FF, VOCAB, EMBD_GQA, QKV }

    /** Which attention layout a tensor belongs to: llama.cpp takes separate q/k/v projections or one fused. */
    public enum Variant { BOTH, SEPARATE_QKV, FUSED_QKV }

    /**
     * One tensor of the layout: its GGUF name, its Hugging Face name (null where the converter has none), its
     * shape in ggml order in terms of the hyper-parameters. {@code {i}} in a name stands for the block number.
     */
    public record TensorSpec(String gguf, String hf, List<Dim> shape, Variant variant) {
        public boolean perBlock() {
            return gguf.contains(BLOCK);
        }
    }

    private static final String BLOCK = "{i}";

    private static TensorSpec t(String gguf, String hf, Variant v, Dim... shape) {
        return new TensorSpec(gguf, hf, List.of(shape), v);
    }

    /**
     * The phi2 tensor table, in the order converters write it (the embedding, a block, the output head), as
     * gguf-py's tensor_mapping.py pairs llama.cpp's names with the current Hugging Face ({@code PhiForCausalLM})
     * ones. The fused q/k/v pair is what older MixFormer exports carry; llama.cpp loads either.
     */
    public static final List<TensorSpec> TENSORS = List.of(
            t("token_embd.weight", "model.embed_tokens.weight", Variant.BOTH, Dim.EMBD, Dim.VOCAB),
            t("blk.{i}.attn_norm.weight", "model.layers.{i}.input_layernorm.weight", Variant.BOTH, Dim.EMBD),
            t("blk.{i}.attn_norm.bias", "model.layers.{i}.input_layernorm.bias", Variant.BOTH, Dim.EMBD),
            t("blk.{i}.attn_qkv.weight", null, Variant.FUSED_QKV, Dim.EMBD, Dim.QKV),
            t("blk.{i}.attn_qkv.bias", null, Variant.FUSED_QKV, Dim.QKV),
            t("blk.{i}.attn_q.weight", "model.layers.{i}.self_attn.q_proj.weight", Variant.SEPARATE_QKV, Dim.EMBD, Dim.EMBD),
            t("blk.{i}.attn_q.bias", "model.layers.{i}.self_attn.q_proj.bias", Variant.SEPARATE_QKV, Dim.EMBD),
            t("blk.{i}.attn_k.weight", "model.layers.{i}.self_attn.k_proj.weight", Variant.SEPARATE_QKV, Dim.EMBD, Dim.EMBD_GQA),
            t("blk.{i}.attn_k.bias", "model.layers.{i}.self_attn.k_proj.bias", Variant.SEPARATE_QKV, Dim.EMBD_GQA),
            t("blk.{i}.attn_v.weight", "model.layers.{i}.self_attn.v_proj.weight", Variant.SEPARATE_QKV, Dim.EMBD, Dim.EMBD_GQA),
            t("blk.{i}.attn_v.bias", "model.layers.{i}.self_attn.v_proj.bias", Variant.SEPARATE_QKV, Dim.EMBD_GQA),
            t("blk.{i}.attn_output.weight", "model.layers.{i}.self_attn.dense.weight", Variant.BOTH, Dim.EMBD, Dim.EMBD),
            t("blk.{i}.attn_output.bias", "model.layers.{i}.self_attn.dense.bias", Variant.BOTH, Dim.EMBD),
            t("blk.{i}.ffn_up.weight", "model.layers.{i}.mlp.fc1.weight", Variant.BOTH, Dim.EMBD, Dim.FF),
            t("blk.{i}.ffn_up.bias", "model.layers.{i}.mlp.fc1.bias", Variant.BOTH, Dim.FF),
            t("blk.{i}.ffn_down.weight", "model.layers.{i}.mlp.fc2.weight", Variant.BOTH, Dim.FF, Dim.EMBD),
            t("blk.{i}.ffn_down.bias", "model.layers.{i}.mlp.fc2.bias", Variant.BOTH, Dim.EMBD),
            t("output_norm.weight", "model.final_layernorm.weight", Variant.BOTH, Dim.EMBD),
            t("output_norm.bias", "model.final_layernorm.bias", Variant.BOTH, Dim.EMBD),
            t("output.weight", "lm_head.weight", Variant.BOTH, Dim.EMBD, Dim.VOCAB),
            t("output.bias", "lm_head.bias", Variant.BOTH, Dim.VOCAB));

    /** Hyper-parameters of a phi2 model, as read from its metadata. */
    public record Hparams(long contextLength, long embedding, long feedForward, long blocks, long heads,
                          long headsKv, double layerNormEps, long ropeDims, long vocabulary) {
        public long headSize() {
            return embedding / heads;
        }

        long dim(Dim d) {
            return switch (d) {
                case EMBD -> embedding;
                case FF -> feedForward;
                case VOCAB -> vocabulary;
                case EMBD_GQA -> headSize() * headsKv;
                case QKV -> embedding + 2 * headSize() * headsKv;
            };
        }
    }

    /** The tokenizer facts the runtime needs: the end-of-text token and its text. */
    public record Vocabulary(int size, int eosId, String eosText, int bosId, boolean addBos) {
    }

    private Phi2Layout() {
    }

    /**
     * Expected tensor shapes for these hyper-parameters, fused or not, in the order converters write them:
     * the embedding, then block by block, then the output head.
     */
    public static Map<String, long[]> expectedShapes(Hparams hp, boolean fusedQkv) {
        Variant skip = fusedQkv ? Variant.SEPARATE_QKV : Variant.FUSED_QKV;
        List<TensorSpec> used = TENSORS.stream().filter(t -> t.variant() != skip).toList();
        Map<String, long[]> out = new LinkedHashMap<>();
        for (int k = 0; k < used.size(); k++) {
            TensorSpec spec = used.get(k);
            if (!spec.perBlock()) {
                out.put(spec.gguf(), shape(spec, hp));
                continue;
            }
            int end = k;
            while (end < used.size() && used.get(end).perBlock()) {
                end++;
            }
            for (long i = 0; i < hp.blocks; i++) {
                for (TensorSpec b : used.subList(k, end)) {
                    out.put(b.gguf().replace(BLOCK, Long.toString(i)), shape(b, hp));
                }
            }
            k = end - 1;
        }
        return out;
    }

    /** The GGUF name of a Hugging Face tensor of a {@code blocks}-block Phi-2, or empty when it is not one of its tensors. */
    public static Optional<String> ggufName(String hf, long blocks) {
        for (TensorSpec t : TENSORS) {
            if (t.hf() != null) {
                long i = blockOf(t.hf(), hf);
                if (i == GLOBAL || (i >= 0 && i < blocks)) {
                    return Optional.of(t.gguf().replace(BLOCK, Long.toString(i)));
                }
            }
        }
        return Optional.empty();
    }

    /** The Hugging Face name of a GGUF tensor, or empty when the converter takes it from nowhere. */
    public static Optional<String> hfName(String gguf) {
        for (TensorSpec t : TENSORS) {
            long i = blockOf(t.gguf(), gguf);
            if (i != NO_MATCH && t.hf() != null) {
                return Optional.of(t.hf().replace(BLOCK, Long.toString(i)));
            }
        }
        return Optional.empty();
    }

    private static final long GLOBAL = -1;
    private static final long NO_MATCH = -2;

    /** The block number {@code name} has in {@code template}, {@link #GLOBAL} for a name without one, or {@link #NO_MATCH}. */
    private static long blockOf(String template, String name) {
        int at = template.indexOf(BLOCK);
        if (at < 0) {
            return template.equals(name) ? GLOBAL : NO_MATCH;
        }
        String prefix = template.substring(0, at);
        String suffix = template.substring(at + BLOCK.length());
        if (!name.startsWith(prefix) || !name.endsWith(suffix) || name.length() <= prefix.length() + suffix.length()) {
            return NO_MATCH;
        }
        String digits = name.substring(prefix.length(), name.length() - suffix.length());
        return digits.length() <= 6 && digits.chars().allMatch(c -> c >= '0' && c <= '9') ? Long.parseLong(digits) : NO_MATCH;
    }

    private static long[] shape(TensorSpec spec, Hparams hp) {
        return spec.shape.stream().mapToLong(hp::dim).toArray();
    }

    /**
     * Checks that {@code gguf} is a phi2 model llama.cpp can load: architecture, required metadata of the types
     * {@link Phi2Key} gives them with sane values, tokenizer, and every tensor present with its expected shape.
     * Returns the hyper-parameters.
     */
    public static Hparams check(GgufFile gguf) {
        String arch = gguf.architecture().orElseThrow(() -> bad(gguf, "has no general.architecture; not a model file"));
        if (!ARCH.equals(arch)) {
            throw bad(gguf, "architecture is '" + arch + "', this project runs Phi-2 ('" + ARCH + "') models only");
        }
        List<String> missing = new ArrayList<>();
        for (Phi2Key key : Phi2Key.values()) {
            if (key.required() && gguf.get(key.key()).isEmpty()) {
                missing.add(key.key());
            }
        }
        if (!missing.isEmpty()) {
            throw bad(gguf, "lacks the metadata a Phi-2 model needs: " + String.join(", ", missing));
        }
        Hparams hp = hparams(gguf);
        vocabulary(gguf);
        boolean fused = gguf.tensor("blk.0.attn_qkv.weight").isPresent();
        for (Map.Entry<String, long[]> e : expectedShapes(hp, fused).entrySet()) {
            GgufTensorInfo t = gguf.tensor(e.getKey())
                    .orElseThrow(() -> bad(gguf, "tensor '" + e.getKey() + "' is missing"));
            if (!java.util.Arrays.equals(t.shape(), e.getValue())) {
                throw bad(gguf, "tensor '" + e.getKey() + "' has shape " + t.shapeString() + ", expected "
                        + java.util.Arrays.toString(e.getValue()) + " from the metadata");
            }
        }
        return hp;
    }

    private static Hparams hparams(GgufFile gguf) {
        long embedding = positive(gguf, Phi2Key.EMBEDDING_LENGTH);
        long heads = positive(gguf, Phi2Key.HEAD_COUNT);
        long headsKv = get(gguf, Phi2Key.HEAD_COUNT_KV).isPresent() ? positive(gguf, Phi2Key.HEAD_COUNT_KV) : heads;
        if (embedding % heads != 0) {
            throw bad(gguf, Phi2Key.EMBEDDING_LENGTH + " " + embedding + " is not a multiple of " + Phi2Key.HEAD_COUNT + " " + heads);
        }
        if (heads % headsKv != 0) {
            throw bad(gguf, Phi2Key.HEAD_COUNT_KV + " " + headsKv + " does not divide " + Phi2Key.HEAD_COUNT + " " + heads);
        }
        long ropeDims = get(gguf, Phi2Key.ROPE_DIMENSION_COUNT).map(GgufValue::asLong).orElse(embedding / heads);
        if (ropeDims <= 0 || ropeDims > embedding / heads || ropeDims % 2 != 0) {
            throw bad(gguf, Phi2Key.ROPE_DIMENSION_COUNT + " " + ropeDims + " must be even and at most the head size " + embedding / heads);
        }
        double eps = get(gguf, Phi2Key.LAYER_NORM_EPS).map(GgufValue::asDouble).orElse(0.0);
        if (!(eps > 0 && eps < 1)) {
            throw bad(gguf, Phi2Key.LAYER_NORM_EPS + " must be in (0, 1), found " + eps);
        }
        String tokenizer = get(gguf, Phi2Key.TOKENIZER_MODEL).map(GgufValue::asString).orElse("");
        if (!"gpt2".equals(tokenizer)) {
            throw bad(gguf, Phi2Key.TOKENIZER_MODEL + " is '" + tokenizer + "'; Phi-2 uses the 'gpt2' byte-level BPE tokenizer");
        }
        Hparams hp = new Hparams(positive(gguf, Phi2Key.CONTEXT_LENGTH), embedding, positive(gguf, Phi2Key.FEED_FORWARD_LENGTH),
                positive(gguf, Phi2Key.BLOCK_COUNT), heads, headsKv, eps, ropeDims, tokens(gguf).size());
        if (hp.blocks > 1024) {
            throw bad(gguf, Phi2Key.BLOCK_COUNT + " " + hp.blocks + " is not plausible");
        }
        return hp;
    }

    /** The vocabulary facts, checked: ids in range, the end-of-text token present. */
    public static Vocabulary vocabulary(GgufFile gguf) {
        List<?> tokens = tokens(gguf);
        int size = tokens.size();
        int eos = tokenId(gguf, Phi2Key.EOS, size).orElseThrow(() -> bad(gguf, "has no " + Phi2Key.EOS)).intValue();
        int bos = tokenId(gguf, Phi2Key.BOS, size).orElse((long) eos).intValue();
        boolean addBos = get(gguf, Phi2Key.ADD_BOS).map(GgufValue::asBool).orElse(false);
        return new Vocabulary(size, eos, (String) tokens.get(eos), bos, addBos);
    }

    /** The key's value when present, refused when it has another type than {@link Phi2Key} gives it (llama.cpp would refuse it). */
    private static Optional<GgufValue> get(GgufFile gguf, Phi2Key key) {
        Optional<GgufValue> v = gguf.get(key.key());
        if (v.isPresent() && !key.accepts(v.get())) {
            GgufValue found = v.get();
            String what = found.type() == GgufValueType.ARRAY ? "array of " + found.asArray().elementType() : found.type().toString();
            throw bad(gguf, key + " must be of type " + key.typeName() + " (llama.cpp refuses any other), found " + what + " " + found.display());
        }
        return v;
    }

    private static List<?> tokens(GgufFile gguf) {
        List<?> tokens = get(gguf, Phi2Key.TOKENS).orElseThrow(() -> bad(gguf, "has no " + Phi2Key.TOKENS)).asArray().values();
        if (tokens.isEmpty()) {
            throw bad(gguf, Phi2Key.TOKENS + " must be a non-empty array of strings");
        }
        // llama.cpp asserts (and aborts the process) on these, so they are refused here first.
        java.util.Map<Object, Integer> seen = new java.util.HashMap<>(tokens.size() * 2);
        for (int i = 0; i < tokens.size(); i++) {
            Integer before = seen.put(tokens.get(i), i);
            if (before != null) {
                throw bad(gguf, Phi2Key.TOKENS + " has token '" + tokens.get(i) + "' twice (ids " + before + " and " + i + "); a damaged vocabulary");
            }
        }
        onePerToken(gguf, Phi2Key.TOKEN_TYPE, tokens.size());
        onePerToken(gguf, Phi2Key.SCORES, tokens.size());
        get(gguf, Phi2Key.MERGES);
        return tokens;
    }

    /** An optional per-token array: when present, one entry per token. */
    private static void onePerToken(GgufFile gguf, Phi2Key key, int n) {
        get(gguf, key).ifPresent(v -> {
            if (v.asArray().values().size() != n) {
                throw bad(gguf, key + " must be an array of " + n + " " + key.typeName().replace("array of ", "") + " values, one per token");
            }
        });
    }

    private static Optional<Long> tokenId(GgufFile gguf, Phi2Key key, int size) {
        Optional<GgufValue> v = get(gguf, key);
        if (v.isPresent() && (v.get().asLong() < 0 || v.get().asLong() >= size)) {
            throw bad(gguf, key + " " + v.get().display() + " is not a token id below the vocabulary size " + size);
        }
        return v.map(GgufValue::asLong);
    }

    private static long positive(GgufFile gguf, Phi2Key key) {
        GgufValue v = get(gguf, key).orElseThrow(() -> bad(gguf, "lacks " + key));
        if (v.asLong() <= 0 || v.asLong() > (1L << 31)) {
            throw bad(gguf, key + " must be a positive integer, found " + v.display());
        }
        return v.asLong();
    }

    private static BadModelFileException bad(GgufFile gguf, String problem) {
        return new BadModelFileException(gguf.path(), problem);
    }
}
