package phi2j.runtime;

/**
 * The outcome of one generation. {@code text} never contains the end-of-text marker or a stop string.
 * Token counts come from llama.cpp itself, not from counting streamed text pieces.
 */
public record GenerationResult(String text, int promptTokens, int generatedTokens, StopReason stopReason,
                               Timings timings) {
}
