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
     * The model is ready: which llama.cpp loaded it, in how long, the context one sequence may hold, its slots, and the
     * backends it loaded.
     */
    public record Loaded(long nativeLoadMillis, String engine, String llamaCpp, String systemInfo, int contextPerSequence, int parallel,
                         phi2j.runtime.EngineBackends backends, phi2j.runtime.LayerPlacement placement, long[] stagesMicros) {
    }

    /**
     * One generation; its options cross the socket as the API's own record. {@code streaming}: the caller reads the
     * tokens as they come, so the runner pushes them at once; otherwise they may wait for the end.
     */
    public record Generate(int id, String prompt, GenerationOptions options, boolean streaming) {
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
        DEVICES,
        /** the KV cells running requests hold, and all: answered at once by engines that can tell */
        KV_CACHE;

        /** "tokenize", for messages. */
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** A small synchronous request, answered by a REPLY with the same id. */
    public record Call(int id, CallKind kind, String text, int[] tokens) {
    }

    public record Reply(int id, int[] tokens, String text, float[] floats, String error, phi2j.runtime.DeviceReport devices) {

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
                    case KV_CACHE -> new Reply(call.id(), null, null, null, "this engine cannot tell how full its KV cache is");
                };
            } catch (RuntimeException e) {
                return new Reply(call.id(), null, null, null, String.valueOf(e.getMessage()));
            }
        }
    }

    /**
     * What went wrong, which decides the exception the caller throws. The native engine's table (engine.h's ErrorKind)
     * lists the same names in the same order; NativeEngine checks it when it loads.
     */
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

    /** A failed LOAD (id -1). */
    public record Error(int id, ErrorKind kind, String option, String message) {
    }
}
