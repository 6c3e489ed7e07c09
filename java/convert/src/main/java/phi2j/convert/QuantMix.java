package phi2j.convert;

import phi2j.format.GgmlType;
import phi2j.format.GgufTensorInfo;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiPredicate;

/**
 * Which ggml type each tensor of a phi2 model gets in each file type: llama.cpp's rules
 * ({@code llama_tensor_get_type} in llama-quant.cpp, build b4916) for this architecture, kept as a table.
 *
 * <ul>
 *   <li>Only weight matrices are quantized: tensors of one dimension (norms, biases) keep their type.</li>
 *   <li>The F16/BF16/F32 file types re-type every weight matrix, with no per-tensor rules.</li>
 *   <li>{@code output.weight} gets Q6_K in every quantized type but Q8_0 (Q8_0 if its rows do not fit the
 *       base type's blocks); {@code token_embd.weight} keeps the base type.</li>
 *   <li>Then the first matching rule of {@link #RULES} for the tensor's kind and block.</li>
 *   <li>Rows whose length is not a multiple of the chosen type's block fall back by {@link #fallback}.</li>
 * </ul>
 */
public final class QuantMix {
    /** The kinds of tensor the rules distinguish, by name. */
    public enum Kind {
        ATTN_V("attn_v.weight"), ATTN_QKV("attn_qkv.weight"), ATTN_OUTPUT("attn_output.weight"),
        FFN_DOWN("ffn_down.weight"), OTHER("");

        private final String suffix;

        Kind(String suffix) {
            this.suffix = suffix;
        }

        static Kind of(String name) {
            for (Kind k : values()) {
                if (k != OTHER && name.endsWith(k.suffix)) {
                    return k;
                }
            }
            return OTHER;
        }
    }

    /** Which blocks a rule covers; {@code i} is the block, {@code n} the number of blocks. */
    public enum Blocks {
        ALL("all blocks", (i, n) -> true),
        FIRST_TWO("blocks 0-1", (i, n) -> i < 2),
        FIRST_FOUR("blocks 0-3", (i, n) -> i < 4),
        FIRST_EIGHTH("first n/8 blocks", (i, n) -> i < n / 8),
        FIRST_SIXTEENTH("first n/16 blocks", (i, n) -> i < n / 16),
        /** llama.cpp's use_more_bits: the first and last eighth, and every third block between. */
        MORE_BITS("first and last n/8 blocks and every 3rd between", (i, n) -> i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2);

        private final String text;
        private final BiPredicate<Integer, Integer> test;

        Blocks(String text, BiPredicate<Integer, Integer> test) {
            this.text = text;
            this.test = test;
        }

        public boolean covers(int i, int n) {
            return test.test(i, n);
        }

        @Override
        public String toString() {
            return text;
        }
    }

    public record Rule(FileType fileType, Kind kind, Blocks blocks, GgmlType type) {
    }

    /** Per-tensor upgrades, first match wins (llama.cpp's order). */
    public static final List<Rule> RULES = List.of(
            new Rule(FileType.Q2_K, Kind.ATTN_V, Blocks.ALL, GgmlType.Q3_K),
            new Rule(FileType.Q2_K, Kind.FFN_DOWN, Blocks.ALL, GgmlType.Q3_K),
            new Rule(FileType.Q2_K, Kind.ATTN_OUTPUT, Blocks.ALL, GgmlType.Q3_K),
            new Rule(FileType.Q3_K_M, Kind.ATTN_V, Blocks.FIRST_TWO, GgmlType.Q5_K),
            new Rule(FileType.Q3_K_M, Kind.ATTN_V, Blocks.ALL, GgmlType.Q4_K),
            new Rule(FileType.Q3_K_M, Kind.FFN_DOWN, Blocks.FIRST_SIXTEENTH, GgmlType.Q5_K),
            new Rule(FileType.Q3_K_M, Kind.FFN_DOWN, Blocks.ALL, GgmlType.Q4_K),
            new Rule(FileType.Q3_K_M, Kind.ATTN_OUTPUT, Blocks.ALL, GgmlType.Q4_K),
            new Rule(FileType.Q3_K_M, Kind.ATTN_QKV, Blocks.ALL, GgmlType.Q4_K),
            new Rule(FileType.Q3_K_L, Kind.ATTN_V, Blocks.ALL, GgmlType.Q5_K),
            new Rule(FileType.Q3_K_L, Kind.FFN_DOWN, Blocks.ALL, GgmlType.Q5_K),
            new Rule(FileType.Q3_K_L, Kind.ATTN_OUTPUT, Blocks.ALL, GgmlType.Q5_K),
            new Rule(FileType.Q3_K_L, Kind.ATTN_QKV, Blocks.ALL, GgmlType.Q4_K),
            new Rule(FileType.Q4_K_S, Kind.ATTN_V, Blocks.FIRST_FOUR, GgmlType.Q5_K),
            new Rule(FileType.Q4_K_S, Kind.FFN_DOWN, Blocks.FIRST_EIGHTH, GgmlType.Q5_K),
            new Rule(FileType.Q4_K_M, Kind.ATTN_V, Blocks.MORE_BITS, GgmlType.Q6_K),
            new Rule(FileType.Q4_K_M, Kind.FFN_DOWN, Blocks.MORE_BITS, GgmlType.Q6_K),
            new Rule(FileType.Q4_K_M, Kind.ATTN_QKV, Blocks.ALL, GgmlType.Q5_K),
            new Rule(FileType.Q5_K_M, Kind.ATTN_V, Blocks.MORE_BITS, GgmlType.Q6_K),
            new Rule(FileType.Q5_K_M, Kind.FFN_DOWN, Blocks.MORE_BITS, GgmlType.Q6_K),
            new Rule(FileType.Q5_K_M, Kind.ATTN_QKV, Blocks.ALL, GgmlType.Q6_K));

    /** A tensor's planned type and why. */
    public record Choice(GgufTensorInfo tensor, GgmlType type, String reason) {
    }

    private QuantMix() {
    }

    /** llama.cpp's fallback when rows do not fit a type's blocks; then F16 if they do not fit that either. */
    public static GgmlType fallback(GgmlType t) {
        return switch (t) {
            case Q2_K, Q3_K -> GgmlType.IQ4_NL;
            case Q4_K -> GgmlType.Q5_0;
            case Q5_K -> GgmlType.Q5_1;
            case Q6_K -> GgmlType.Q8_0;
            default -> t;
        };
    }

    /** True for the tensors llama.cpp quantizes: weight matrices other than norms. */
    public static boolean quantizable(GgufTensorInfo t) {
        return t.name().endsWith("weight") && t.shape().length >= 2 && !t.name().contains("_norm.weight");
    }

    /** The type of every tensor of a model with {@code blocks} blocks in file type {@code ft}. */
    public static List<Choice> plan(List<GgufTensorInfo> tensors, int blocks, FileType ft) {
        List<Choice> out = new ArrayList<>();
        for (GgufTensorInfo t : tensors) {
            out.add(choose(t, blocks, ft));
        }
        return out;
    }

    static Choice choose(GgufTensorInfo t, int blocks, FileType ft) {
        if (!quantizable(t)) {
            return new Choice(t, t.type(), "1-D: kept");
        }
        GgmlType type = ft.base();
        String reason = "base type";
        if (ft.isQuantized()) {
            if (t.name().equals("output.weight")) {
                if (t.rowLength() % type.blockSize() != 0) {
                    type = GgmlType.Q8_0;
                    reason = "output: rows do not fit the base type";
                } else if (type != GgmlType.Q8_0) {
                    type = GgmlType.Q6_K;
                    reason = "output: Q6_K";
                }
            } else if (!t.name().equals("token_embd.weight")) {
                Kind kind = Kind.of(t.name());
                int block = blockOf(t.name());
                for (Rule r : RULES) {
                    if (r.fileType() == ft && r.kind() == kind && r.blocks().covers(block, blocks)) {
                        type = r.type();
                        reason = kind.name().toLowerCase() + ", " + r.blocks();
                        break;
                    }
                }
            }
            if (t.rowLength() % type.blockSize() != 0) {
                GgmlType fb = fallback(type);
                if (t.rowLength() % fb.blockSize() != 0) {
                    fb = GgmlType.F16;
                }
                reason = "rows of " + t.rowLength() + " do not fit " + type + " blocks of " + type.blockSize() + ": fallback";
                type = fb;
            }
        }
        return new Choice(t, type, reason);
    }

    static int blockOf(String name) {
        if (!name.startsWith("blk.")) {
            return -1;
        }
        int dot = name.indexOf('.', 4);
        return Integer.parseInt(name.substring(4, dot));
    }
}
