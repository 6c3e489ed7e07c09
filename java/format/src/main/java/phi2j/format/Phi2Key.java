package phi2j.format;

import java.util.List;
import java.util.Objects;

/**
 * The metadata of a phi2 GGUF, each key with the GGUF type llama.cpp's loader demands of it (it refuses a key of
 * another type: "key ... has wrong type"). The writers and {@link Phi2Layout#check} both go through this table,
 * so a key's type is stated once. Order: general, architecture, tokenizer, as llama.cpp's converter writes them.
 */
public enum Phi2Key {
    ARCHITECTURE("general.architecture", GgufValueType.STRING, true),
    TYPE("general.type", GgufValueType.STRING, false),
    NAME("general.name", GgufValueType.STRING, false),
    FILE_TYPE("general.file_type", GgufValueType.UINT32, false),
    QUANTIZATION_VERSION("general.quantization_version", GgufValueType.UINT32, false),
    CONTEXT_LENGTH("phi2.context_length", GgufValueType.UINT32, true),
    EMBEDDING_LENGTH("phi2.embedding_length", GgufValueType.UINT32, true),
    FEED_FORWARD_LENGTH("phi2.feed_forward_length", GgufValueType.UINT32, true),
    BLOCK_COUNT("phi2.block_count", GgufValueType.UINT32, true),
    HEAD_COUNT("phi2.attention.head_count", GgufValueType.UINT32, true),
    HEAD_COUNT_KV("phi2.attention.head_count_kv", GgufValueType.UINT32, false),
    LAYER_NORM_EPS("phi2.attention.layer_norm_epsilon", GgufValueType.FLOAT32, true),
    ROPE_DIMENSION_COUNT("phi2.rope.dimension_count", GgufValueType.UINT32, false),
    TOKENIZER_MODEL("tokenizer.ggml.model", GgufValueType.STRING, true),
    TOKENIZER_PRE("tokenizer.ggml.pre", GgufValueType.STRING, false),
    TOKENS("tokenizer.ggml.tokens", GgufValueType.STRING, true, true),
    TOKEN_TYPE("tokenizer.ggml.token_type", GgufValueType.INT32, false, true),
    SCORES("tokenizer.ggml.scores", GgufValueType.FLOAT32, false, true),
    MERGES("tokenizer.ggml.merges", GgufValueType.STRING, true, true),
    BOS("tokenizer.ggml.bos_token_id", GgufValueType.UINT32, false),
    EOS("tokenizer.ggml.eos_token_id", GgufValueType.UINT32, false),
    UNK("tokenizer.ggml.unknown_token_id", GgufValueType.UINT32, false),
    ADD_BOS("tokenizer.ggml.add_bos_token", GgufValueType.BOOL, false);

    private final String key;
    /** The value's type, or for an array the type of its elements. */
    private final GgufValueType type;
    /** Without it llama.cpp cannot build a phi2 model. */
    private final boolean required;
    private final boolean array;

    Phi2Key(String key, GgufValueType type, boolean required) {
        this(key, type, required, false);
    }

    Phi2Key(String key, GgufValueType type, boolean required, boolean array) {
        this.key = key;
        this.type = type;
        this.required = required;
        this.array = array;
    }

    public String key() {
        return key;
    }

    public boolean required() {
        return required;
    }

    /** "UINT32", or "array of STRING": how errors name what the key must hold. */
    public String typeName() {
        return array ? "array of " + type : type.toString();
    }

    /** Whether {@code v} has the type this key must have. */
    public boolean accepts(GgufValue v) {
        return array ? v.type() == GgufValueType.ARRAY && v.asArray().elementType() == type : v.type() == type;
    }

    /** The value with this key's type: a {@link Number}, {@link String} or {@link Boolean}, or a {@link List} for arrays. */
    public GgufValue value(Object v) {
        Objects.requireNonNull(v, key);
        if (array) {
            return GgufValue.array(type, (List<?>) v);
        }
        return switch (type) {
            case STRING -> GgufValue.string((String) v);
            case UINT32 -> GgufValue.uint32(((Number) v).longValue());
            case FLOAT32 -> GgufValue.float32(((Number) v).floatValue());
            case BOOL -> GgufValue.bool((Boolean) v);
            default -> throw new IllegalStateException(key + ": no writer for " + type);
        };
    }

    @Override
    public String toString() {
        return key;
    }
}
