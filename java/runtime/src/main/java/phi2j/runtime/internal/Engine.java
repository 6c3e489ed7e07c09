package phi2j.runtime.internal;

import java.nio.ByteBuffer;
import java.util.function.Consumer;

/**
 * What the runner process drives: one loaded model in one llama.cpp. {@link NativeEngine} is phi2j's own JNI
 * library over the pinned llama.cpp; {@link BindingEngine} is de.kherud:llama. Generations and calls are
 * asynchronous: answers go to the {@link Sink}, on whatever thread the engine works on.
 */
public interface Engine extends AutoCloseable {

    /** Where an engine's answers go: the runner writes them to its socket. */
    interface Sink {
        /** Text of generation {@code id} (binding engine: text only). */
        void text(int id, String text);

        /**
         * One generated token of generation {@code id} in the native engine's TOKEN event encoding, from the token
         * id on (see native/src/engine.h); the buffer is only valid during the call.
         */
        void token(int id, ByteBuffer event);

        void done(Messages.Done done);

        void error(Messages.Error error);

        /** The end of a batch of answers: push what was written. */
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

    /** Tokens one generation may hold: the context divided among the parallel sequences. */
    int contextPerSequence();

    /** Starts generation {@code req.id()}; its pieces, end or error go to {@code sink}. */
    void submit(Messages.Generate req, Sink sink);

    /** Ends generation {@code id} soon, with stop reason CANCELLED; unknown or finished ids are ignored. */
    void cancel(int id);

    /** Answers a tokenize, detokenize or embed call (in turn with the generations where the engine needs it). */
    void call(Messages.Call call, Consumer<Messages.Reply> reply);

    @Override
    void close();
}
