package phi2j.format;

import java.util.Optional;

/** Metadata value types, in the GGUF spec's id order ({@code enum gguf_type}). */
public enum GgufValueType {
    UINT8(1), INT8(1), UINT16(2), INT16(2), UINT32(4), INT32(4), FLOAT32(4), BOOL(1),
    STRING(-1), ARRAY(-1), UINT64(8), INT64(8), FLOAT64(8);

    /** Fixed size in bytes, or -1 for the variable-size types. */
    private final int size;

    GgufValueType(int size) {
        this.size = size;
    }

    public int id() {
        return ordinal();
    }

    public int size() {
        return size;
    }

    public static Optional<GgufValueType> byId(long id) {
        GgufValueType[] all = values();
        return id >= 0 && id < all.length ? Optional.of(all[(int) id]) : Optional.empty();
    }
}
