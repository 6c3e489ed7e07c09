package phi2j.format;

import java.util.Optional;

/**
 * Tensor element types, in ggml's id order ({@code enum ggml_type} in ggml.h). Ids that ggml retired
 * (4, 5, 31-33, 36-38) are kept as placeholders so that {@link #id()} equals {@link #ordinal()}.
 * Block size is elements per block; type size is bytes per block.
 */
public enum GgmlType {
    F32(1, 4),
    F16(1, 2),
    Q4_0(32, 18),
    Q4_1(32, 20),
    RETIRED_4(0, 0),
    RETIRED_5(0, 0),
    Q5_0(32, 22),
    Q5_1(32, 24),
    Q8_0(32, 34),
    Q8_1(32, 36),
    Q2_K(256, 84),
    Q3_K(256, 110),
    Q4_K(256, 144),
    Q5_K(256, 176),
    Q6_K(256, 210),
    Q8_K(256, 292),
    IQ2_XXS(256, 66),
    IQ2_XS(256, 74),
    IQ3_XXS(256, 98),
    IQ1_S(256, 50),
    IQ4_NL(32, 18),
    IQ3_S(256, 110),
    IQ2_S(256, 82),
    IQ4_XS(256, 136),
    I8(1, 1),
    I16(1, 2),
    I32(1, 4),
    I64(1, 8),
    F64(1, 8),
    IQ1_M(256, 56),
    BF16(1, 2),
    RETIRED_31(0, 0),
    RETIRED_32(0, 0),
    RETIRED_33(0, 0),
    TQ1_0(256, 54),
    TQ2_0(256, 66);

    private final int blockSize;
    private final int typeSize;

    GgmlType(int blockSize, int typeSize) {
        this.blockSize = blockSize;
        this.typeSize = typeSize;
    }

    public int id() {
        return ordinal();
    }

    public int blockSize() {
        return blockSize;
    }

    public int typeSize() {
        return typeSize;
    }

    public boolean isRetired() {
        return blockSize == 0;
    }

    public boolean isQuantized() {
        return blockSize > 1;
    }

    /** Bytes taken by {@code elements} values, which must be a whole number of blocks. */
    public long bytesFor(long elements) {
        if (isRetired()) {
            throw new IllegalStateException("ggml type id " + id() + " is retired");
        }
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(elements + " elements are not a multiple of " + name() + "'s block of " + blockSize);
        }
        return Math.multiplyExact(elements / blockSize, (long) typeSize);
    }

    public static Optional<GgmlType> byId(long id) {
        GgmlType[] all = values();
        if (id < 0 || id >= all.length || all[(int) id].isRetired()) {
            return Optional.empty();
        }
        return Optional.of(all[(int) id]);
    }
}
