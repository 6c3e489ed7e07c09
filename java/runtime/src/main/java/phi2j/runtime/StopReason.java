package phi2j.runtime;

/** Why a generation ended. */
public enum StopReason {
    /** The model produced its end-of-text token ({@code <|endoftext|>} for Phi-2). */
    END_OF_TEXT,
    /** One of the caller's stop strings appeared; the text ends before it. */
    STOP_STRING,
    /** The length limit (maxLength or maxNewTokens) or the end of the context was reached. */
    LENGTH,
    /** The caller cancelled the generation. */
    CANCELLED
}
