package phi2j.format;

import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The header of a GGUF file as read and checked by {@link GgufReader}: metadata in file order, the tensor
 * table, and where the data section starts. Tensor data is not read.
 */
public record GgufFile(Path path, int version, long alignment, Map<String, GgufValue> metadata,
                       List<GgufTensorInfo> tensors, long dataOffset, long fileSize) {

    public static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
    public static final long DEFAULT_ALIGNMENT = 32;
    public static final String KEY_ALIGNMENT = "general.alignment";

    public GgufFile {
        metadata = Collections.unmodifiableMap(metadata);
        tensors = List.copyOf(tensors);
    }

    public Optional<GgufValue> get(String key) {
        return Optional.ofNullable(metadata.get(key));
    }

    public Optional<String> getString(String key) {
        return get(key).filter(v -> v.type() == GgufValueType.STRING).map(GgufValue::asString);
    }

    public Optional<Long> getLong(String key) {
        return get(key).filter(v -> v.value() instanceof Long).map(GgufValue::asLong);
    }

    public Optional<GgufTensorInfo> tensor(String name) {
        return tensors.stream().filter(t -> t.name().equals(name)).findFirst();
    }

    public Optional<String> architecture() {
        return getString("general.architecture");
    }

    /** Total bytes of tensor data, the figure llama.cpp reports as the model size. */
    public long tensorBytes() {
        return tensors.stream().mapToLong(GgufTensorInfo::byteSize).sum();
    }

    public long parameterCount() {
        return tensors.stream().mapToLong(GgufTensorInfo::elements).sum();
    }
}
