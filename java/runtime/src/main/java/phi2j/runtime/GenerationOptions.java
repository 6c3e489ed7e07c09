package phi2j.runtime;

import phi2j.InvalidOptionException;

import java.util.List;

/**
 * How to generate. Greedy by default, as transformers' {@code generate}: temperature 0 picks the most
 * likely token every time. A temperature above 0 samples, with top-k, top-p, min-p and the repetition
 * penalty applied in llama.cpp's order; the same seed and options give the same text.
 *
 * <p>Length: {@code maxLength} counts prompt plus generated tokens, as transformers' {@code max_length}
 * does; {@code maxNewTokens} counts generated tokens only. Set one; with neither, maxLength is 500 (the
 * walkthrough's value).
 *
 * @param stopStrings      generation ends when one appears; the returned text stops before it
 * @param ignoreEndOfText  generate to the length limit even past the end-of-text token (benchmarks)
 * @param cachePrompt      reuse the runner's KV cache for the prefix this prompt shares with the previous one:
 *                         faster for growing conversations, but greedy ties may then fall differently
 * @param presencePenalty  subtracted from the logit of every token already in the last 64 (llama.cpp's penalty
 *                         window): -2 to 2, 0 is off (OpenAI's presence_penalty)
 * @param logprobs         0 (off), or N: each generated token comes with its log-probability and the N most likely
 *                         alternatives, from the model's own distribution (native engine only)
 * @param grammar          a GBNF grammar (llama.cpp's) the text must follow, or null; the generation ends when it is
 *                         complete
 * @param jsonSchema       a JSON schema (as JSON text) the text must follow, or null: llama.cpp's converter turns it
 *                         into a grammar; a schema it cannot follow is refused, naming jsonSchema
 */
public record GenerationOptions(Integer maxLength, Integer maxNewTokens, float temperature, int topK, float topP,
                                float minP, float repetitionPenalty, Long seed, List<String> stopStrings,
                                boolean ignoreEndOfText, boolean cachePrompt, int logprobs,
                                float presencePenalty, String grammar, String jsonSchema) {

    // The defaults, here only: the builder starts from them, the CLI's help and the server's fields refer to them.
    public static final int DEFAULT_MAX_LENGTH = 500;
    /** llama.cpp's sampling defaults, used when the temperature is above 0. */
    public static final int DEFAULT_TOP_K = 40;
    public static final float DEFAULT_TOP_P = 0.95f;
    public static final float DEFAULT_MIN_P = 0.05f;
    /** 1 is off. */
    public static final float DEFAULT_REPETITION_PENALTY = 1.0f;
    /** 0 is off. */
    public static final float DEFAULT_PRESENCE_PENALTY = 0f;
    /** The most alternatives per token that {@code logprobs} may ask for (OpenAI's top_logprobs allows 20). */
    public static final int MAX_LOGPROBS = 20;

    /** Checked here, so that options out of range never exist: an {@link InvalidOptionException} names the field. */
    public GenerationOptions {
        if (stopStrings == null) {
            throw new InvalidOptionException("stopStrings", "must be a list (empty for none)");
        }
        stopStrings = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(stopStrings)); // List.copyOf refuses nulls before the check below
        if (maxLength != null && maxNewTokens != null) {
            throw new InvalidOptionException("maxLength", "set either maxLength or maxNewTokens, not both");
        }
        if (maxLength != null && maxLength < 2) {
            throw new InvalidOptionException("maxLength", "must be at least 2 (prompt plus one new token), not " + maxLength);
        }
        if (maxNewTokens != null && maxNewTokens < 1) {
            throw new InvalidOptionException("maxNewTokens", "must be at least 1, not " + maxNewTokens);
        }
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new InvalidOptionException("temperature", "must be 0 (greedy) or a positive finite number, not " + temperature);
        }
        if (topK < 0) {
            throw new InvalidOptionException("topK", "must be 0 (off) or positive, not " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new InvalidOptionException("topP", "must be in (0, 1], not " + topP);
        }
        if (!(minP >= 0 && minP <= 1)) {
            throw new InvalidOptionException("minP", "must be in [0, 1], not " + minP);
        }
        if (!(repetitionPenalty > 0) || Float.isInfinite(repetitionPenalty)) {
            throw new InvalidOptionException("repetitionPenalty", "must be a positive finite number (1 = off), not " + repetitionPenalty);
        }
        if (!(presencePenalty >= -2 && presencePenalty <= 2)) {
            throw new InvalidOptionException("presencePenalty", "must be -2 to 2 (0 = off), not " + presencePenalty);
        }
        if (seed != null && (seed < 0 || seed > Integer.MAX_VALUE)) {
            throw new InvalidOptionException("seed", "must be 0 to 2147483647, not " + seed);
        }
        if (logprobs < 0 || logprobs > MAX_LOGPROBS) {
            throw new InvalidOptionException("logprobs", "must be 0 (off) to " + MAX_LOGPROBS + " alternatives, not " + logprobs);
        }
        for (String s : stopStrings) {
            if (s == null || s.isEmpty()) {
                throw new InvalidOptionException("stopStrings", "must not contain an empty string");
            }
        }
        grammar = grammar == null || grammar.isBlank() ? null : grammar;
        jsonSchema = jsonSchema == null || jsonSchema.isBlank() ? null : jsonSchema;
        if (grammar != null && jsonSchema != null) {
            throw new InvalidOptionException("grammar", "and jsonSchema both constrain the text: set one");
        }
    }

    /** Greedy decoding up to maxLength 500. */
    public static GenerationOptions greedy() {
        return builder().build();
    }

    /** Sampling with llama.cpp's defaults (top-k 40, top-p 0.95, min-p 0.05) at this temperature. */
    public static GenerationOptions sampling(float temperature, long seed) {
        return builder().temperature(temperature).seed(seed).build();
    }

    /** A builder holding the defaults (greedy, maxLength 500). */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these options, to change some of them. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.maxLength = maxLength;
        b.maxNewTokens = maxNewTokens;
        b.temperature = temperature;
        b.topK = topK;
        b.topP = topP;
        b.minP = minP;
        b.repetitionPenalty = repetitionPenalty;
        b.seed = seed;
        b.stopStrings = stopStrings;
        b.ignoreEndOfText = ignoreEndOfText;
        b.cachePrompt = cachePrompt;
        b.logprobs = logprobs;
        b.presencePenalty = presencePenalty;
        b.grammar = grammar;
        b.jsonSchema = jsonSchema;
        return b;
    }

    /** Options built field by field by name; {@link #build()} validates them. Set one of maxLength and maxNewTokens. */
    public static final class Builder {
        private Integer maxLength = null;
        private Integer maxNewTokens = null;
        private float temperature = 0f;
        private int topK = DEFAULT_TOP_K;
        private float topP = DEFAULT_TOP_P;
        private float minP = DEFAULT_MIN_P;
        private float repetitionPenalty = DEFAULT_REPETITION_PENALTY;
        private Long seed = null;
        private List<String> stopStrings = List.of();
        private boolean ignoreEndOfText = false;
        private boolean cachePrompt = false;
        private int logprobs = 0;
        private float presencePenalty = DEFAULT_PRESENCE_PENALTY;
        private String grammar = null;
        private String jsonSchema = null;

        private Builder() {
        }

        public Builder maxLength(Integer v) {
            maxLength = v;
            return this;
        }

        public Builder maxNewTokens(Integer v) {
            maxNewTokens = v;
            return this;
        }

        public Builder temperature(float v) {
            temperature = v;
            return this;
        }

        public Builder topK(int v) {
            topK = v;
            return this;
        }

        public Builder topP(float v) {
            topP = v;
            return this;
        }

        public Builder minP(float v) {
            minP = v;
            return this;
        }

        public Builder repetitionPenalty(float v) {
            repetitionPenalty = v;
            return this;
        }

        public Builder seed(Long v) {
            seed = v;
            return this;
        }

        public Builder stopStrings(List<String> v) {
            stopStrings = v;
            return this;
        }

        public Builder ignoreEndOfText(boolean v) {
            ignoreEndOfText = v;
            return this;
        }

        public Builder cachePrompt(boolean v) {
            cachePrompt = v;
            return this;
        }

        public Builder logprobs(int v) {
            logprobs = v;
            return this;
        }

        public Builder presencePenalty(float v) {
            presencePenalty = v;
            return this;
        }

        public Builder grammar(String v) {
            grammar = v;
            return this;
        }

        public Builder jsonSchema(String v) {
            jsonSchema = v;
            return this;
        }

        public GenerationOptions build() {
            return new GenerationOptions(maxLength, maxNewTokens, temperature, topK, topP, minP, repetitionPenalty, seed, stopStrings,
                    ignoreEndOfText, cachePrompt, logprobs, presencePenalty, grammar, jsonSchema);
        }
    }

    // One-field changes, kept for callers of the first API; each goes through the builder, so none restates the fields.

    /** The limit as prompt plus generated tokens (clears maxNewTokens). */
    public GenerationOptions withMaxLength(int n) {
        return toBuilder().maxLength(n).maxNewTokens(null).build();
    }

    /** The limit as generated tokens only (clears maxLength). */
    public GenerationOptions withMaxNewTokens(int n) {
        return toBuilder().maxNewTokens(n).maxLength(null).build();
    }

    public GenerationOptions withTemperature(float t) {
        return toBuilder().temperature(t).build();
    }

    public GenerationOptions withTopK(int k) {
        return toBuilder().topK(k).build();
    }

    public GenerationOptions withTopP(float p) {
        return toBuilder().topP(p).build();
    }

    public GenerationOptions withMinP(float p) {
        return toBuilder().minP(p).build();
    }

    public GenerationOptions withRepetitionPenalty(float r) {
        return toBuilder().repetitionPenalty(r).build();
    }

    public GenerationOptions withSeed(Long s) {
        return toBuilder().seed(s).build();
    }

    public GenerationOptions withStopStrings(List<String> stops) {
        return toBuilder().stopStrings(stops).build();
    }

    public GenerationOptions withIgnoreEndOfText(boolean on) {
        return toBuilder().ignoreEndOfText(on).build();
    }

    public GenerationOptions withCachePrompt(boolean on) {
        return toBuilder().cachePrompt(on).build();
    }

    /** Each generated token with its log-probability and the {@code n} most likely alternatives; 0 turns it off. */
    public GenerationOptions withLogprobs(int n) {
        return toBuilder().logprobs(n).build();
    }

    /** The text follows this GBNF grammar (llama.cpp's); null for none. */
    public GenerationOptions withGrammar(String gbnf) {
        return toBuilder().grammar(gbnf).build();
    }

    /** The text is JSON that follows this schema (JSON text); null for none. */
    public GenerationOptions withJsonSchema(String schema) {
        return toBuilder().jsonSchema(schema).build();
    }

    public boolean isGreedy() {
        return temperature == 0f;
    }

    /**
     * Checks the length limit against a context before any prompt is known (a caller may check before loading the
     * model); {@link #newTokenBudget} checks it again with the prompt. Throws {@link InvalidOptionException}.
     */
    public void checkLimitFits(int contextSize) {
        if (maxLength != null && maxLength > contextSize) {
            throw new InvalidOptionException("maxLength", maxLength + " exceeds the context size " + contextSize);
        }
        if (maxNewTokens != null && maxNewTokens >= contextSize) {
            throw new InvalidOptionException("maxNewTokens", maxNewTokens + " new tokens do not fit the context size " + contextSize
                    + " with any prompt");
        }
    }

    /**
     * New tokens to generate for a prompt of {@code promptTokens} in a context of {@code contextSize};
     * throws {@link InvalidOptionException} when the prompt or the limit does not fit.
     */
    public int newTokenBudget(int promptTokens, int contextSize) {
        checkLimitFits(contextSize);
        if (promptTokens >= contextSize) {
            throw new InvalidOptionException("prompt", "is " + promptTokens + " tokens, the context holds " + contextSize
                    + " (prompt plus generated); shorten the prompt or open the model with a larger contextSize");
        }
        int budget;
        if (maxNewTokens != null) {
            budget = maxNewTokens;
            if (promptTokens + budget > contextSize) {
                throw new InvalidOptionException("maxNewTokens", promptTokens + " prompt tokens + " + budget
                        + " new tokens exceed the context size " + contextSize);
            }
        } else {
            int max = maxLength != null ? maxLength : DEFAULT_MAX_LENGTH;
            if (max <= promptTokens) {
                throw new InvalidOptionException("maxLength", max + " must be larger than the prompt's " + promptTokens
                        + " tokens (maxLength counts prompt plus generated tokens)");
            }
            max = Math.min(max, contextSize); // only the default can exceed it here: it adapts to a small context
            budget = max - promptTokens;
        }
        return budget;
    }
}
