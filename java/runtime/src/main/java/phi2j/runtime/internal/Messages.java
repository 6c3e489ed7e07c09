package phi2j.runtime.internal;

import java.util.List;

/** The JSON bodies of runner protocol frames. */
public final class Messages {
    private Messages() {
    }

    public record Hello(String token, long pid) {
    }

    public record Load(String path, int contextSize, int threads, int gpuLayers, String splitMode, List<Float> tensorSplit,
                       int mainGpu, Long seed, boolean embeddings, int batchSize, int parallel) {
    }

    public record Loaded(long nativeLoadMillis) {
    }

    public record Generate(int id, String prompt, Integer maxLength, Integer maxNewTokens, float temperature, int topK,
                           float topP, float minP, float repetitionPenalty, Long seed, List<String> stopStrings,
                           boolean ignoreEndOfText, boolean cachePrompt, int contextSize) {
    }

    /** The end of a generation as the runner saw it; token counts are settled by the caller from llama.cpp's log. */
    public record Done(int id, int promptTokens, int newTokenBudget, boolean cancelled, int chunks) {
    }

    /** A small synchronous request: kind "tokenize" (text), "detokenize" (tokens) or "embed" (text). */
    public record Call(int id, String kind, String text, int[] tokens) {
    }

    public record Reply(int id, int[] tokens, String text, float[] floats, String error) {
    }

    /** kind: "option" (bad value; {@code option} names it), "model" (bad model file), "native" (llama.cpp failed). */
    public record Error(int id, String kind, String option, String message) {
    }
}
