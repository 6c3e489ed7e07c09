package phi2j.convert;

import phi2j.InvalidOptionException;
import phi2j.format.GgmlType;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The whole-file types {@code phi2 quantize} writes, with llama.cpp's {@code llama_ftype} ids (the value of
 * {@code general.file_type}) and the ggml type each uses for most weight matrices.
 */
public enum FileType {
    F32(0, GgmlType.F32),
    F16(1, GgmlType.F16),
    Q4_0(2, GgmlType.Q4_0),
    Q4_1(3, GgmlType.Q4_1),
    Q8_0(7, GgmlType.Q8_0),
    Q5_0(8, GgmlType.Q5_0),
    Q5_1(9, GgmlType.Q5_1),
    Q2_K(10, GgmlType.Q2_K),
    Q3_K_S(11, GgmlType.Q3_K),
    Q3_K_M(12, GgmlType.Q3_K),
    Q3_K_L(13, GgmlType.Q3_K),
    Q4_K_S(14, GgmlType.Q4_K),
    Q4_K_M(15, GgmlType.Q4_K),
    Q5_K_S(16, GgmlType.Q5_K),
    Q5_K_M(17, GgmlType.Q5_K),
    Q6_K(18, GgmlType.Q6_K),
    BF16(32, GgmlType.BF16);

    /** llama.cpp file types that need an importance matrix, which this tool does not compute. */
    private static final String NEEDS_IMATRIX = "IQ1_S IQ1_M IQ2_XXS IQ2_XS IQ2_S IQ2_M Q2_K_S";

    private final int id;
    private final GgmlType base;

    FileType(int id, GgmlType base) {
        this.id = id;
        this.base = base;
    }

    public int id() {
        return id;
    }

    public GgmlType base() {
        return base;
    }

    public boolean isQuantized() {
        return base.isQuantized();
    }

    /** Parses a type name the way users write it: q4_k_m, Q4_K_M, f16 ... */
    public static FileType parse(String name) {
        String n = name.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        for (FileType t : values()) {
            if (t.name().equals(n)) {
                return t;
            }
        }
        if (Arrays.asList(NEEDS_IMATRIX.split(" ")).contains(n)) {
            throw new InvalidOptionException("TYPE", n + " needs an importance matrix (llama-imatrix), which this tool does not compute; "
                    + "choose one of " + names());
        }
        throw new InvalidOptionException("TYPE", "unknown type '" + name + "'; choose one of " + names());
    }

    public static String names() {
        return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
    }

    public static java.util.Optional<FileType> byId(long id) {
        return Arrays.stream(values()).filter(t -> t.id == id).findFirst();
    }
}
