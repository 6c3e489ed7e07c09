package phi2j.runtime;

import java.util.List;

/**
 * The outcome of one generation. {@code text} never contains the end-of-text marker or a stop string.
 * Token counts come from llama.cpp itself, not from counting streamed text pieces.
 *
 * @param logprobs each generated token with its log-probability and alternatives, when asked for with
 *                 {@link GenerationOptions#withLogprobs(int)}; empty otherwise
 * @param engine   the engine that produced it ("native" or "binding") and its llama.cpp version
 */
public record GenerationResult(String text, int promptTokens, int generatedTokens, StopReason stopReason,
                               Timings timings, List<TokenLogprob> logprobs, String engine) {

    public GenerationResult {
        logprobs = List.copyOf(logprobs);
    }

    /**
     * Prompt tokens taken from a cache rather than evaluated ({@link GenerationOptions#cachePrompt}): the prefix a slot
     * or the host cache held. OpenAI's {@code usage.prompt_tokens_details.cached_tokens}.
     */
    public int cachedPromptTokens() {
        return Math.max(0, promptTokens - timings.promptTokens());
    }
}
