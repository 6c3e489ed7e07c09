package phi2j.runtime;

import java.time.Duration;

/**
 * Timings of one generation. {@code timeToFirstToken} and {@code total} are measured by the caller's clock
 * (they include the runner round trip); {@code promptEval} and {@code generation} are the engine's own figures
 * for processing the prompt (up to the first new token) and decoding the rest. The first new token comes from the
 * prompt's logits, so {@code generation} spans {@code generatedTokens - 1} decodes (as llama.cpp's server counts,
 * the binding engine reports it over {@code generatedTokens}): {@code decodedTokens} says which. {@code promptTokens}
 * counts the prompt tokens evaluated: those taken from a cache are not ({@link GenerationResult#cachedPromptTokens}).
 */
public record Timings(Duration timeToFirstToken, Duration total, Duration promptEval, Duration generation,
                      int promptTokens, int generatedTokens, int decodedTokens) {

    /** Decoding speed: tokens decoded per second of the engine's decode time. */
    public double tokensPerSecond() {
        return rate(decodedTokens, generation);
    }

    /** Prompt processing speed, tokens per second. */
    public double promptTokensPerSecond() {
        return rate(promptTokens, promptEval);
    }

    private static double rate(int tokens, Duration d) {
        long nanos = d.toNanos();
        return nanos <= 0 ? 0 : tokens * 1e9 / nanos;
    }
}
