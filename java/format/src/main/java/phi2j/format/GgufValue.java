package phi2j.format;

import java.util.List;
import java.util.Objects;

/**
 * One metadata value with its GGUF type. Integers of every width are held as {@link Long}
 * ({@code UINT64} bit for bit), floats as {@link Float} or {@link Double}, arrays as {@link GgufArray}.
 */
public record GgufValue(GgufValueType type, Object value) {

    public GgufValue {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(value, "value");
    }

    /** An array of one element type; nested arrays are allowed by the spec and kept as {@link GgufArray} elements. */
    public record GgufArray(GgufValueType elementType, List<?> values) {
        public GgufArray {
            values = List.copyOf(values);
        }
    }

    public static GgufValue string(String s) {
        return new GgufValue(GgufValueType.STRING, s);
    }

    public static GgufValue uint32(long v) {
        return new GgufValue(GgufValueType.UINT32, v);
    }

    public static GgufValue int32(long v) {
        return new GgufValue(GgufValueType.INT32, v);
    }

    public static GgufValue uint64(long v) {
        return new GgufValue(GgufValueType.UINT64, v);
    }

    public static GgufValue float32(float v) {
        return new GgufValue(GgufValueType.FLOAT32, v);
    }

    public static GgufValue bool(boolean v) {
        return new GgufValue(GgufValueType.BOOL, v);
    }

    public static GgufValue array(GgufValueType elementType, List<?> values) {
        return new GgufValue(GgufValueType.ARRAY, new GgufArray(elementType, values));
    }

    public long asLong() {
        if (value instanceof Long l) {
            return l;
        }
        throw new IllegalStateException("a " + type + " is not an integer");
    }

    public double asDouble() {
        if (value instanceof Number n) {
            return n.doubleValue();
        }
        throw new IllegalStateException("a " + type + " is not a number");
    }

    public String asString() {
        if (value instanceof String s) {
            return s;
        }
        throw new IllegalStateException("a " + type + " is not a string");
    }

    public boolean asBool() {
        if (value instanceof Boolean b) {
            return b;
        }
        throw new IllegalStateException("a " + type + " is not a bool");
    }

    public GgufArray asArray() {
        if (value instanceof GgufArray a) {
            return a;
        }
        throw new IllegalStateException("a " + type + " is not an array");
    }

    /** A short rendering for listings: long arrays are summarised, long strings cut. */
    public String display() {
        if (value instanceof GgufArray a) {
            int n = a.values().size();
            StringBuilder sb = new StringBuilder("[").append(a.elementType()).append(" x ").append(n);
            if (n > 0) {
                sb.append(": ");
                for (int i = 0; i < Math.min(n, 5); i++) {
                    sb.append(i > 0 ? ", " : "").append(quoted(a.values().get(i)));
                }
                if (n > 5) {
                    sb.append(", ...");
                }
            }
            return sb.append(']').toString();
        }
        if (type == GgufValueType.UINT64) {
            return Long.toUnsignedString((Long) value);
        }
        return quoted(value);
    }

    private static String quoted(Object o) {
        if (o instanceof String s) {
            String cut = s.length() > 60 ? s.substring(0, 60) + "..." : s;
            return '"' + cut.replace("\n", "\\n").replace("\t", "\\t") + '"';
        }
        return String.valueOf(o);
    }
}
