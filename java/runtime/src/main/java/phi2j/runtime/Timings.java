package phi2j.runtime;

import java.time.Duration;

/**
 * Timings of one generation. {@code timeToFirstToken} and {@code total} are measured by the caller's clock
 * (they include the runner round trip); {@code promptEval} and {@code generation} are llama.cpp's own figures
 * for processing the prompt and decoding the new tokens.
 */
public record Timings(Duration timeToFirstToken, Duration total, Duration promptEval, Duration generation,
                      int promptTokens, int generatedTokens) {

    /** Decoding speed: generated tokens per second of llama.cpp's decode time. */
    public double tokensPerSecond() {
        return rate(generatedTokens, generation);
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
