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

    public static final String KEY_CONTEXT_LENGTH = "phi2.context_length";
    public static final String KEY_EMBEDDING_LENGTH = "phi2.embedding_length";
    public static final String KEY_FEED_FORWARD_LENGTH = "phi2.feed_forward_length";
    public static final String KEY_BLOCK_COUNT = "phi2.block_count";
    public static final String KEY_HEAD_COUNT = "phi2.attention.head_count";
    public static final String KEY_HEAD_COUNT_KV = "phi2.attention.head_count_kv";
    public static final String KEY_LAYER_NORM_EPS = "phi2.attention.layer_norm_epsilon";
    public static final String KEY_ROPE_DIMENSION_COUNT = "phi2.rope.dimension_count";

    public static final String KEY_TOKENIZER_MODEL = "tokenizer.ggml.model";
    public static final String KEY_TOKENIZER_PRE = "tokenizer.ggml.pre";
    public static final String KEY_TOKENS = "tokenizer.ggml.tokens";
    public static final String KEY_TOKEN_TYPE = "tokenizer.ggml.token_type";
    public static final String KEY_MERGES = "tokenizer.ggml.merges";
    public static final String KEY_BOS = "tokenizer.ggml.bos_token_id";
    public static final String KEY_EOS = "tokenizer.ggml.eos_token_id";
    public static final String KEY_UNK = "tokenizer.ggml.unknown_token_id";
    public static final String KEY_ADD_BOS = "tokenizer.ggml.add_bos_token";

    /** Keys without which llama.cpp cannot build a phi2 model. */
    public static final List<String> REQUIRED_KEYS = List.of(
            KEY_CONTEXT_LENGTH, KEY_EMBEDDING_LENGTH, KEY_FEED_FORWARD_LENGTH, KEY_BLOCK_COUNT,
            KEY_HEAD_COUNT, KEY_LAYER_NORM_EPS, KEY_TOKENIZER_MODEL, KEY_TOKENS, KEY_MERGES);

    /** Dimensions a tensor's shape is made of. */
    public enum Dim { EMBD, FF, VOCAB, EMBD_GQA, QKV }

    /** One tensor of the layout; {@code {i}} in the name stands for the block number. */
    public record TensorSpec(String name, List<Dim> shape, boolean perBlock) {
    }

    /** The phi2 tensor table with separate q/k/v projections (the current Hugging Face layout). */
    public static final List<TensorSpec> TENSORS = List.of(
            new TensorSpec("token_embd.weight", List.of(Dim.EMBD, Dim.VOCAB), false),
            new TensorSpec("blk.{i}.attn_norm.weight", List.of(Dim.EMBD), true),
            new TensorSpec("blk.{i}.attn_norm.bias", List.of(Dim.EMBD), true),
            new TensorSpec("blk.{i}.attn_q.weight", List.of(Dim.EMBD, Dim.EMBD), true),
            new TensorSpec("blk.{i}.attn_q.bias", List.of(Dim.EMBD), true),
            new TensorSpec("blk.{i}.attn_k.weight", List.of(Dim.EMBD, Dim.EMBD_GQA), true),
            new TensorSpec("blk.{i}.attn_k.bias", List.of(Dim.EMBD_GQA), true),
            new TensorSpec("blk.{i}.attn_v.weight", List.of(Dim.EMBD, Dim.EMBD_GQA), true),
            new TensorSpec("blk.{i}.attn_v.bias", List.of(Dim.EMBD_GQA), true),
            new TensorSpec("blk.{i}.attn_output.weight", List.of(Dim.EMBD, Dim.EMBD), true),
            new TensorSpec("blk.{i}.attn_output.bias", List.of(Dim.EMBD), true),
            new TensorSpec("blk.{i}.ffn_up.weight", List.of(Dim.EMBD, Dim.FF), true),
            new TensorSpec("blk.{i}.ffn_up.bias", List.of(Dim.FF), true),
            new TensorSpec("blk.{i}.ffn_down.weight", List.of(Dim.FF, Dim.EMBD), true),
            new TensorSpec("blk.{i}.ffn_down.bias", List.of(Dim.EMBD), true),
            new TensorSpec("output_norm.weight", List.of(Dim.EMBD), false),
            new TensorSpec("output_norm.bias", List.of(Dim.EMBD), false),
            new TensorSpec("output.weight", List.of(Dim.EMBD, Dim.VOCAB), false),
            new TensorSpec("output.bias", List.of(Dim.VOCAB), false));

    /** The fused alternative llama.cpp also accepts (older MixFormer checkpoints): it replaces attn_q/k/v. */
    public static final List<TensorSpec> FUSED_QKV = List.of(
            new TensorSpec("blk.{i}.attn_qkv.weight", List.of(Dim.EMBD, Dim.QKV), true),
            new TensorSpec("blk.{i}.attn_qkv.bias", List.of(Dim.QKV), true));

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
        List<TensorSpec> perBlock = new ArrayList<>();
        for (TensorSpec spec : TENSORS) {
            if (!spec.perBlock) {
                continue;
            }
            boolean separateQkv = spec.name.contains("attn_q.") || spec.name.contains("attn_k.") || spec.name.contains("attn_v.");
            if (fusedQkv && separateQkv) {
                if (spec.name.contains("attn_q.")) {
                    perBlock.add(FUSED_QKV.get(spec.name.endsWith("weight") ? 0 : 1));
                }
            } else {
                perBlock.add(spec);
            }
        }
        Map<String, long[]> out = new LinkedHashMap<>();
        boolean blocksDone = false;
        for (TensorSpec spec : TENSORS) {
            if (!spec.perBlock) {
                out.put(spec.name, shape(spec, hp));
            } else if (!blocksDone) {
                for (long i = 0; i < hp.blocks; i++) {
                    for (TensorSpec b : perBlock) {
                        out.put(b.name.replace("{i}", Long.toString(i)), shape(b, hp));
                    }
                }
                blocksDone = true;
            }
        }
        return out;
    }

    private static long[] shape(TensorSpec spec, Hparams hp) {
        return spec.shape.stream().mapToLong(hp::dim).toArray();
    }

    /**
     * Checks that {@code gguf} is a phi2 model llama.cpp can load: architecture, required metadata with sane
     * values, tokenizer, and every tensor present with its expected shape. Returns the hyper-parameters.
     */
    public static Hparams check(GgufFile gguf) {
        String arch = gguf.architecture().orElseThrow(() -> bad(gguf, "has no general.architecture; not a model file"));
        if (!ARCH.equals(arch)) {
            throw bad(gguf, "architecture is '" + arch + "', this project runs Phi-2 ('" + ARCH + "') models only");
        }
        List<String> missing = new ArrayList<>();
        for (String key : REQUIRED_KEYS) {
            if (gguf.get(key).isEmpty()) {
                missing.add(key);
            }
        }
        if (!missing.isEmpty()) {
            throw bad(gguf, "lacks the metadata a Phi-2 model needs: " + String.join(", ", missing));
        }
        long embedding = positive(gguf, KEY_EMBEDDING_LENGTH);
        long heads = positive(gguf, KEY_HEAD_COUNT);
        long headsKv = gguf.getLong(KEY_HEAD_COUNT_KV).orElse(heads);
        if (embedding % heads != 0) {
            throw bad(gguf, KEY_EMBEDDING_LENGTH + " " + embedding + " is not a multiple of " + KEY_HEAD_COUNT + " " + heads);
        }
        if (headsKv <= 0 || heads % headsKv != 0) {
            throw bad(gguf, KEY_HEAD_COUNT_KV + " " + headsKv + " does not divide " + KEY_HEAD_COUNT + " " + heads);
        }
        long ropeDims = gguf.getLong(KEY_ROPE_DIMENSION_COUNT).orElse(embedding / heads);
        if (ropeDims <= 0 || ropeDims > embedding / heads || ropeDims % 2 != 0) {
            throw bad(gguf, KEY_ROPE_DIMENSION_COUNT + " " + ropeDims + " must be even and at most the head size " + embedding / heads);
        }
        double eps = gguf.get(KEY_LAYER_NORM_EPS).map(GgufValue::asDouble).orElse(0.0);
        if (!(eps > 0 && eps < 1)) {
            throw bad(gguf, KEY_LAYER_NORM_EPS + " must be in (0, 1), found " + eps);
        }
        String tokenizer = gguf.getString(KEY_TOKENIZER_MODEL).orElse("");
        if (!"gpt2".equals(tokenizer)) {
            throw bad(gguf, KEY_TOKENIZER_MODEL + " is '" + tokenizer + "'; Phi-2 uses the 'gpt2' byte-level BPE tokenizer");
        }
        long vocab = tokens(gguf).size();
        Hparams hp = new Hparams(positive(gguf, KEY_CONTEXT_LENGTH), embedding, positive(gguf, KEY_FEED_FORWARD_LENGTH),
                positive(gguf, KEY_BLOCK_COUNT), heads, headsKv, eps, ropeDims, vocab);
        if (hp.blocks > 1024) {
            throw bad(gguf, KEY_BLOCK_COUNT + " " + hp.blocks + " is not plausible");
        }
        vocabulary(gguf);

        boolean fused = gguf.tensor("blk.0.attn_qkv.weight").isPresent();
        Map<String, long[]> expected = expectedShapes(hp, fused);
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            GgufTensorInfo t = gguf.tensor(e.getKey())
                    .orElseThrow(() -> bad(gguf, "tensor '" + e.getKey() + "' is missing"));
            if (!java.util.Arrays.equals(t.shape(), e.getValue())) {
                throw bad(gguf, "tensor '" + e.getKey() + "' has shape " + t.shapeString() + ", expected "
                        + java.util.Arrays.toString(e.getValue()) + " from the metadata");
            }
        }
        return hp;
    }

    /** The vocabulary facts, checked: ids in range, the end-of-text token present. */
    public static Vocabulary vocabulary(GgufFile gguf) {
        List<?> tokens = tokens(gguf);
        int size = tokens.size();
        int eos = tokenId(gguf, KEY_EOS, size).orElseThrow(() -> bad(gguf, "has no " + KEY_EOS)).intValue();
        int bos = tokenId(gguf, KEY_BOS, size).orElse((long) eos).intValue();
        boolean addBos = gguf.get(KEY_ADD_BOS).filter(v -> v.type() == GgufValueType.BOOL).map(GgufValue::asBool).orElse(false);
        return new Vocabulary(size, eos, (String) tokens.get(eos), bos, addBos);
    }

    private static List<?> tokens(GgufFile gguf) {
        GgufValue v = gguf.get(KEY_TOKENS).orElseThrow(() -> bad(gguf, "has no " + KEY_TOKENS));
        if (v.type() != GgufValueType.ARRAY || v.asArray().elementType() != GgufValueType.STRING || v.asArray().values().isEmpty()) {
            throw bad(gguf, KEY_TOKENS + " must be a non-empty array of strings");
        }
        List<?> tokens = v.asArray().values();
        // llama.cpp asserts (and aborts the process) on these, so they are refused here first.
        java.util.Map<Object, Integer> seen = new java.util.HashMap<>(tokens.size() * 2);
        for (int i = 0; i < tokens.size(); i++) {
            Integer before = seen.put(tokens.get(i), i);
            if (before != null) {
                throw bad(gguf, KEY_TOKENS + " has token '" + tokens.get(i) + "' twice (ids " + before + " and " + i + "); a damaged vocabulary");
            }
        }
        arrayOf(gguf, KEY_TOKEN_TYPE, GgufValueType.INT32, tokens.size());
        arrayOf(gguf, "tokenizer.ggml.scores", GgufValueType.FLOAT32, tokens.size());
        GgufValue merges = gguf.get(KEY_MERGES).orElse(null);
        if (merges != null && (merges.type() != GgufValueType.ARRAY || merges.asArray().elementType() != GgufValueType.STRING)) {
            throw bad(gguf, KEY_MERGES + " must be an array of strings");
        }
        return tokens;
    }

    /** An optional per-token array: when present, of this element type and one entry per token. */
    private static void arrayOf(GgufFile gguf, String key, GgufValueType elem, int n) {
        GgufValue v = gguf.get(key).orElse(null);
        if (v == null) {
            return;
        }
        if (v.type() != GgufValueType.ARRAY || v.asArray().elementType() != elem || v.asArray().values().size() != n) {
            throw bad(gguf, key + " must be an array of " + n + " " + elem + " values, one per token");
        }
    }

    private static Optional<Long> tokenId(GgufFile gguf, String key, int size) {
        Optional<GgufValue> v = gguf.get(key);
        if (v.isEmpty()) {
            return Optional.empty();
        }
        if (!(v.get().value() instanceof Long id) || id < 0 || id >= size) {
            throw bad(gguf, key + " " + v.get().display() + " is not a token id below the vocabulary size " + size);
        }
        return Optional.of(id);
    }

    private static long positive(GgufFile gguf, String key) {
        GgufValue v = gguf.get(key).orElseThrow(() -> bad(gguf, "lacks " + key));
        if (!(v.value() instanceof Long n) || n <= 0 || n > (1L << 31)) {
            throw bad(gguf, key + " must be a positive integer, found " + v.display());
        }
        return n;
    }

    private static BadModelFileException bad(GgufFile gguf, String problem) {
        return new BadModelFileException(gguf.path(), problem);
    }
}
