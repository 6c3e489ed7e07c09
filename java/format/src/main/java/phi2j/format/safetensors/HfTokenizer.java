package phi2j.format.safetensors;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import phi2j.BadModelFileException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A byte-level BPE tokenizer from {@code tokenizer.json}, laid out as llama.cpp's {@code gpt2} vocabulary:
 * one entry per id up to the model's vocabulary size. Ids without text become {@code [PAD<id>]} (unused);
 * added tokens keep their raw text, as control tokens when special (Phi-2's {@code <|endoftext|>}) and as
 * user-defined tokens otherwise (Phi-2's runs of spaces and tabs, which llama.cpp then matches before BPE).
 */
public record HfTokenizer(List<String> tokens, List<Integer> types, List<String> merges, int eosId, int bosId) {

    /** llama_token_type values. */
    public static final int NORMAL = 1;
    public static final int CONTROL = 3;
    public static final int USER_DEFINED = 4;
    public static final int UNUSED = 5;

    public static HfTokenizer read(Path tokenizerJson, int vocabularySize, int eosId, int bosId) {
        JsonObject root = HfCheckpoint.json(tokenizerJson);
        JsonObject model = root.has("model") && root.get("model").isJsonObject() ? root.getAsJsonObject("model") : null;
        if (model == null || !"BPE".equals(model.has("type") ? model.get("type").getAsString() : "BPE") || !model.has("vocab")) {
            throw new BadModelFileException(tokenizerJson, "has no BPE model with a vocab");
        }
        Map<Integer, String> byId = new HashMap<>();
        for (Map.Entry<String, JsonElement> e : model.getAsJsonObject("vocab").entrySet()) {
            byId.put(e.getValue().getAsInt(), e.getKey());
        }
        Map<Integer, Boolean> added = new HashMap<>();
        if (root.has("added_tokens") && root.get("added_tokens").isJsonArray()) {
            for (JsonElement e : root.getAsJsonArray("added_tokens")) {
                JsonObject t = e.getAsJsonObject();
                int id = t.get("id").getAsInt();
                byId.put(id, t.get("content").getAsString());
                added.put(id, t.has("special") && t.get("special").getAsBoolean());
            }
        }
        int maxId = byId.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1);
        if (maxId >= vocabularySize) {
            throw new BadModelFileException(tokenizerJson, "has token id " + maxId + " but config.json's vocab_size is " + vocabularySize);
        }
        List<String> tokens = new ArrayList<>(vocabularySize);
        List<Integer> types = new ArrayList<>(vocabularySize);
        for (int id = 0; id < vocabularySize; id++) {
            String text = byId.get(id);
            if (text == null) {
                tokens.add("[PAD" + id + "]");
                types.add(UNUSED);
            } else {
                tokens.add(text);
                types.add(added.containsKey(id) ? (added.get(id) ? CONTROL : USER_DEFINED) : NORMAL);
            }
        }
        List<String> merges = new ArrayList<>();
        if (model.has("merges")) {
            for (JsonElement m : model.getAsJsonArray("merges")) {
                // newer tokenizers store a merge as a pair ["a", "b"]; GGUF keeps "a b"
                merges.add(m.isJsonArray() ? m.getAsJsonArray().get(0).getAsString() + " " + m.getAsJsonArray().get(1).getAsString()
                        : m.getAsString());
            }
        }
        if (merges.isEmpty()) {
            throw new BadModelFileException(tokenizerJson, "has no merges");
        }
        if (eosId < 0 || eosId >= vocabularySize || bosId < 0 || bosId >= vocabularySize) {
            throw new BadModelFileException(tokenizerJson, "bos/eos ids " + bosId + "/" + eosId + " are outside the vocabulary");
        }
        return new HfTokenizer(tokens, types, merges, eosId, bosId);
    }
}
