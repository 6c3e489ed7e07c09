package phi2j.runtime;

/** How llama.cpp spreads a model over several GPUs ({@code --split-mode}), in its llama_split_mode order. */
public enum SplitMode {
    /** Everything on the main GPU. */
    NONE,
    /** Whole layers per GPU, in proportion to the tensor split (llama.cpp's default). */
    LAYER,
    /** Rows of each matrix across GPUs. */
    ROW;

    /** The llama_split_mode value (0, 1, 2). */
    public int llamaValue() {
        return ordinal();
    }
}
