package phi2j.convert;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import phi2j.BadModelFileException;
import phi2j.format.Phi2Layout;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The fields of a transformers {@code PhiForCausalLM} config.json that the GGUF needs. */
public record PhiConfig(String name, int hiddenSize, int intermediateSize, int layers, int heads, int kvHeads,
                        double partialRotaryFactor, double layerNormEps, int maxPositions, int vocabSize,
                        double ropeTheta, int bosId, int eosId) {

    /** Reads and checks {@code config.json}; the older MixFormer layout is refused with directions. */
    public static PhiConfig read(Path configJson, JsonObject c) {
        List<String> archs = new ArrayList<>();
        if (c.has("architectures") && c.get("architectures").isJsonArray()) {
            c.getAsJsonArray("architectures").forEach(e -> archs.add(e.getAsString()));
        }
        String modelType = c.has("model_type") ? c.get("model_type").getAsString() : "";
        if (archs.contains("MixFormerSequentialForCausalLM") || modelType.equals("phi-msft") || modelType.equals("mixformer-sequential")) {
            throw new BadModelFileException(configJson, "is the older MixFormer layout of Phi-2 (model_type '" + modelType
                    + "', fused Wqkv tensors), which this converter does not read. Download the current revision of microsoft/phi-2 "
                    + "(transformers' PhiForCausalLM layout, on the Hub since January 2024: revision 'main'), for example "
                    + "'phi2 pull --hf microsoft/phi-2' or 'huggingface-cli download microsoft/phi-2'");
        }
        if (!archs.contains("PhiForCausalLM") || !modelType.equals("phi")) {
            throw new BadModelFileException(configJson, "describes " + (archs.isEmpty() ? "no architecture" : String.join(", ", archs))
                    + " (model_type '" + modelType + "'); this converter reads Phi-2 checkpoints (PhiForCausalLM, model_type 'phi') only");
        }
        if (c.has("qk_layernorm") && c.get("qk_layernorm").getAsBoolean()) {
            throw new BadModelFileException(configJson, "sets qk_layernorm, which Phi-2 and llama.cpp's phi2 do not have");
        }
        int hidden = positive(configJson, c, "hidden_size");
        int heads = positive(configJson, c, "num_attention_heads");
        int kv = c.has("num_key_value_heads") && !c.get("num_key_value_heads").isJsonNull() ? positive(configJson, c, "num_key_value_heads") : heads;
        if (hidden % heads != 0 || heads % kv != 0) {
            throw new BadModelFileException(configJson, "hidden_size " + hidden + ", num_attention_heads " + heads
                    + " and num_key_value_heads " + kv + " do not divide evenly");
        }
        double rot = number(configJson, c, "partial_rotary_factor", 0.5);
        String name = c.has("_name_or_path") ? c.get("_name_or_path").getAsString() : configJson.toAbsolutePath().getParent().getFileName().toString();
        name = name.substring(name.lastIndexOf('/') + 1);
        return new PhiConfig(name, hidden, positive(configJson, c, "intermediate_size"), positive(configJson, c, "num_hidden_layers"),
                heads, kv, rot, number(configJson, c, "layer_norm_eps", 1e-5), positive(configJson, c, "max_position_embeddings"),
                positive(configJson, c, "vocab_size"), number(configJson, c, "rope_theta", 10000),
                (int) number(configJson, c, "bos_token_id", 50256), (int) number(configJson, c, "eos_token_id", 50256));
    }

    /** llama.cpp's phi2 rope dimension count: int(partial_rotary_factor x hidden_size) / heads. */
    public int ropeDimensions() {
        return (int) (partialRotaryFactor * hiddenSize) / heads;
    }

    public Phi2Layout.Hparams hparams() {
        return new Phi2Layout.Hparams(maxPositions, hiddenSize, intermediateSize, layers, heads, kvHeads, layerNormEps,
                ropeDimensions(), vocabSize);
    }

    /** Upper bounds far above any Phi model, so a damaged config cannot make the converter plan billions of tensors. */
    private static final java.util.Map<String, Integer> LIMITS = java.util.Map.of("hidden_size", 1 << 16, "intermediate_size", 1 << 18,
            "num_hidden_layers", 1024, "num_attention_heads", 1024, "num_key_value_heads", 1024, "vocab_size", 1 << 22,
            "max_position_embeddings", 1 << 22);

    private static int positive(Path p, JsonObject c, String key) {
        JsonElement e = c.get(key);
        if (e == null || e.isJsonNull()) {
            throw new BadModelFileException(p, "lacks " + key);
        }
        try {
            double d = e.getAsDouble();
            int limit = LIMITS.getOrDefault(key, Integer.MAX_VALUE);
            if (d <= 0 || d != Math.rint(d) || d > limit) {
                throw new NumberFormatException();
            }
            return (int) d;
        } catch (RuntimeException ex) {
            throw new BadModelFileException(p, key + " must be a positive integer" + (LIMITS.containsKey(key) ? " up to " + LIMITS.get(key) : "")
                    + ", found " + e);
        }
    }

    private static double number(Path p, JsonObject c, String key, double dflt) {
        JsonElement e = c.get(key);
        if (e == null || e.isJsonNull()) {
            return dflt;
        }
        try {
            return e.getAsDouble();
        } catch (RuntimeException ex) {
            throw new BadModelFileException(p, key + " must be a number, found " + e);
        }
    }
}
