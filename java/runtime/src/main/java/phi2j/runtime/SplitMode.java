package phi2j.runtime;

/** How llama.cpp spreads a model over several GPUs ({@code --split-mode}). */
public enum SplitMode {
    /** Everything on the main GPU. */
    NONE,
    /** Whole layers per GPU, in proportion to the tensor split (llama.cpp's default). */
    LAYER,
    /** Rows of each matrix across GPUs. */
    ROW
}
