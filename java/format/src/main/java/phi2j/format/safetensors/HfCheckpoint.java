package phi2j.format.safetensors;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import phi2j.BadModelFileException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A Hugging Face checkpoint folder: {@code config.json}, tokenizer files, and weights in one
 * {@code model.safetensors} or in shards listed by {@code model.safetensors.index.json}.
 */
public final class HfCheckpoint {
    public static final String INDEX = "model.safetensors.index.json";
    public static final String SINGLE = "model.safetensors";

    private final Path dir;
    private final JsonObject config;
    private final Map<String, SafetensorsFile.Tensor> tensors;
    private final Map<String, Path> tensorFile;

    private HfCheckpoint(Path dir, JsonObject config, Map<String, SafetensorsFile.Tensor> tensors, Map<String, Path> tensorFile) {
        this.dir = dir;
        this.config = config;
        this.tensors = tensors;
        this.tensorFile = tensorFile;
    }

    public static HfCheckpoint open(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new BadModelFileException(dir, Files.exists(dir) ? "is not a folder; give the checkpoint's folder" : "no such folder");
        }
        JsonObject config = json(dir.resolve("config.json"));
        Map<String, SafetensorsFile.Tensor> tensors = new LinkedHashMap<>();
        Map<String, Path> files = new LinkedHashMap<>();
        Path index = dir.resolve(INDEX);
        if (Files.exists(index)) {
            JsonObject idx = json(index);
            JsonObject map = idx.has("weight_map") && idx.get("weight_map").isJsonObject() ? idx.getAsJsonObject("weight_map") : null;
            if (map == null) {
                throw new BadModelFileException(index, "has no weight_map");
            }
            Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
            for (Map.Entry<String, JsonElement> e : map.entrySet()) {
                String shardName = e.getValue().getAsString();
                if (shardName.contains("/") || shardName.contains("\\") || shardName.startsWith(".")) {
                    throw new BadModelFileException(index, "names shard '" + shardName + "' outside the checkpoint folder");
                }
                Path shardPath = dir.resolve(shardName);
                SafetensorsFile shard = shards.computeIfAbsent(shardName, n -> {
                    if (!Files.isRegularFile(shardPath)) {
                        throw new BadModelFileException(index, "names shard '" + n + "' (for tensor '" + e.getKey() + "'), which does not exist in " + dir);
                    }
                    return SafetensorsFile.read(shardPath);
                });
                SafetensorsFile.Tensor t = shard.tensors().get(e.getKey());
                if (t == null) {
                    throw new BadModelFileException(shardPath, "lacks tensor '" + e.getKey() + "' that " + INDEX + " places there");
                }
                tensors.put(e.getKey(), t);
                files.put(e.getKey(), shardPath);
            }
        } else if (Files.exists(dir.resolve(SINGLE))) {
            SafetensorsFile f = SafetensorsFile.read(dir.resolve(SINGLE));
            f.tensors().forEach((k, v) -> {
                tensors.put(k, v);
                files.put(k, f.path());
            });
        } else {
            throw new BadModelFileException(dir, "has neither " + INDEX + " nor " + SINGLE + "; is this a safetensors checkpoint?");
        }
        return new HfCheckpoint(dir, config, tensors, files);
    }

    /** Reads a JSON object file, naming it in every error. */
    public static JsonObject json(Path file) {
        try {
            JsonElement e = JsonParser.parseString(Files.readString(file));
            if (!e.isJsonObject()) {
                throw new BadModelFileException(file, "is not a JSON object");
            }
            return e.getAsJsonObject();
        } catch (NoSuchFileException e) {
            throw new BadModelFileException(file, "is missing");
        } catch (IOException e) {
            throw new BadModelFileException(file, "cannot read: " + e.getMessage(), e);
        } catch (JsonParseException e) {
            throw new BadModelFileException(file, "is not valid JSON: " + e.getMessage());
        }
    }

    public Path dir() {
        return dir;
    }

    public JsonObject config() {
        return config;
    }

    public Optional<SafetensorsFile.Tensor> tensor(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    public Path fileOf(String name) {
        return tensorFile.get(name);
    }

    public List<String> tensorNames() {
        return new ArrayList<>(tensors.keySet());
    }
}
