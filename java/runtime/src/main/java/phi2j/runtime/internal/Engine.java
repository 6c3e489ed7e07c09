package phi2j.runtime.internal;

import java.nio.ByteBuffer;
import java.util.function.Consumer;

/**
 * What the runner process drives: one loaded model in one llama.cpp. {@link NativeEngine} is phi2j's own JNI library
 * over the pinned llama.cpp; {@link BindingEngine} is de.kherud:llama. An engine owns its slots and the queue of
 * requests waiting for one: callers submit and read {@link EngineEvent}s back, in {@link EventCodec}'s encoding, on
 * whatever thread the engine works on.
 */
public interface Engine extends AutoCloseable {

    /** Where an engine's events go: the runner writes them to its socket. */
    interface Sink {
        /** Events in {@link EventCodec}'s encoding, of one request or several; the buffer is valid during the call. */
        void events(ByteBuffer events);

        /** The end of a batch: push what was written. */
        void flush();
    }

    /** "native" or "binding". */
    String kind();

    /** llama.cpp's version as this engine names it ("0.5.0 (de3ff81)", "b4916"). */
    String llamaCpp();

    /** llama.cpp's system_info line: backends and CPU features. */
    String systemInfo();

    /** The ggml backends it loaded (the native engine's: the CPU variant, GPU modules that could not be loaded). */
    phi2j.runtime.EngineBackends backends();

    /** llama.cpp's model load, context and warm-up in microseconds, or an empty array when the engine cannot say. */
    default long[] loadStagesMicros() {
        return new long[0];
    }

    /** Where the model's layers and KV cache went ({@link phi2j.runtime.LayerPlacement#UNKNOWN} when the engine cannot tell). */
    phi2j.runtime.LayerPlacement placement();

    /** Tokens one generation may hold: the context divided among the parallel sequences. */
    int contextPerSequence();

    /** Generations it runs at once (its slots); more wait in its queue. */
    int parallel();

    /** Queues generation {@code req.id()}: ADMITTED, its TOKENs, then DONE (or FAILED) go to {@code sink}. */
    void submit(Messages.Generate req, Sink sink);

    /** Ends generation {@code id} soon, waiting or running, with stop reason CANCELLED; unknown ids are ignored. */
    void cancel(int id);

    /** Answers a tokenize, detokenize or embed call (in turn with the generations where the engine needs it). */
    void call(Messages.Call call, Consumer<Messages.Reply> reply);

    @Override
    void close();
}
