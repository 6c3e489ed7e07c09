package phi2j.runtime;

/** llama.cpp's flash-attention setting, in its enum's order from -1 (llama_flash_attn_type). */
public enum FlashAttention {
    AUTO(-1), OFF(0), ON(1);

    private final int llamaValue;

    FlashAttention(int llamaValue) {
        this.llamaValue = llamaValue;
    }

    /** The llama_flash_attn_type value. */
    public int llamaValue() {
        return llamaValue;
    }
}
