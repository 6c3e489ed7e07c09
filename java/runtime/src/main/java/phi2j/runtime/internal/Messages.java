package phi2j.runtime.internal;

import phi2j.runtime.GenerationOptions;

import java.util.List;
import java.util.function.Function;

/** The JSON bodies of runner protocol frames. */
public final class Messages {
    private Messages() {
    }

    public record Hello(String token, long pid) {
    }

    /**
     * @param engine        which engine loads it: NATIVE or BINDING (never AUTO: the caller has chosen)
     * @param engineLibrary the native engine's library file (native), or null
     * @param flashAttention llama_flash_attn_type: -1 auto, 0 off, 1 on
     */
    public record Load(String path, int contextSize, int threads, int gpuLayers, String splitMode, List<Float> tensorSplit,
                       int mainGpu, Long seed, boolean embeddings, int batchSize, int parallel, phi2j.runtime.EngineKind engine,
                       String engineLibrary, int flashAttention) {
    }

    /** The model is ready: which llama.cpp loaded it, in how long, and (native engine) the backends it loaded. */
    public record Loaded(long nativeLoadMillis, String engine, String llamaCpp, String systemInfo, int contextPerSequence,
                         phi2j.runtime.EngineBackends backends) {
    }

    /**
     * One generation; its options cross the socket as the API's own record. {@code streaming}: the caller reads the
     * pieces as they come, so the runner pushes them at once; otherwise they may wait for the end.
     */
    public record Generate(int id, String prompt, GenerationOptions options, int contextSize, boolean streaming) {
    }

    /**
     * The end of a generation as the runner saw it. With {@code exact} (the native engine) the counts, times and stop
     * reason are the engine's own; otherwise (the binding) the caller settles them from llama.cpp's log.
     *
     * @param stopReason       a {@link phi2j.runtime.StopReason} ordinal (exact only)
     * @param promptEvaluated  prompt tokens llama.cpp evaluated (fewer than promptTokens with a cached prefix)
     * @param promptNanos      from the request to the first new token
     * @param decodeNanos      from the first new token to the last: generatedTokens - 1 decodes
     */
    public record Done(int id, int promptTokens, int newTokenBudget, boolean cancelled, int chunks, boolean exact,
                       int stopReason, int generatedTokens, int promptEvaluated, long promptNanos, long decodeNanos) {

        static Done fromLog(int id, int promptTokens, int newTokenBudget, boolean cancelled, int chunks) {
            return new Done(id, promptTokens, newTokenBudget, cancelled, chunks, false, -1, -1, -1, 0, 0);
        }
    }

    /** What a CALL asks for. */
    public enum CallKind {
        /** text to token ids */
        TOKENIZE,
        /** token ids to text */
        DETOKENIZE,
        /** text to its embedding */
        EMBED,
        /** text: the llama.cpp library file to probe; answered with or without a model loaded */
        DEVICES;

        /** "tokenize", for messages. */
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** A small synchronous request, answered by a REPLY with the same id. */
    public record Call(int id, CallKind kind, String text, int[] tokens) {
    }

    public record Reply(int id, int[] tokens, String text, float[] floats, String error, phi2j.runtime.Devices.Report devices) {

        Reply(int id, int[] tokens, String text, float[] floats, String error) {
            this(id, tokens, text, floats, error, null);
        }

        static Reply devices(Call call) {
            try {
                return new Reply(call.id(), null, null, null, null, DeviceProbe.report(java.nio.file.Path.of(call.text())));
            } catch (RuntimeException e) {
                return new Reply(call.id(), null, null, null, String.valueOf(e.getMessage()));
            }
        }

        /** Answers {@code call} with the engine's functions; a failure becomes the reply's error. */
        static Reply answer(Call call, Function<String, int[]> tokenize, Function<int[], String> detokenize,
                            Function<String, float[]> embed) {
            try {
                return switch (call.kind()) {
                    case TOKENIZE -> new Reply(call.id(), tokenize.apply(call.text()), null, null, null);
                    case DETOKENIZE -> new Reply(call.id(), null, detokenize.apply(call.tokens()), null, null);
                    case EMBED -> new Reply(call.id(), null, null, embed.apply(call.text()), null);
                    case DEVICES -> devices(call);
                };
            } catch (RuntimeException e) {
                return new Reply(call.id(), null, null, null, String.valueOf(e.getMessage()));
            }
        }
    }

    /** What went wrong, which decides the exception the caller throws. */
    public enum ErrorKind {
        /** a value out of range: {@code option} names the API field */
        OPTION,
        /** the llama.cpp library could not be loaded */
        LIBRARY,
        /** llama.cpp could not load the model file */
        MODEL,
        /** llama.cpp failed while working */
        NATIVE
    }

    /** A failed LOAD (id -1) or generation. */
    public record Error(int id, ErrorKind kind, String option, String message) {
    }
}
