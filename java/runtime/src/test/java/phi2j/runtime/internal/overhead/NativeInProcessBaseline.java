package phi2j.runtime.internal.overhead;

import phi2j.runtime.GenerationOptions;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.NativeEngineBuild;
import phi2j.runtime.internal.Engine;
import phi2j.runtime.internal.EngineEvent;
import phi2j.runtime.internal.EngineParams;
import phi2j.runtime.internal.EventCodec;
import phi2j.runtime.internal.Messages;
import phi2j.runtime.internal.NativeEngine;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

/**
 * The native engine driven in the calling JVM, with no runner, socket or caller-side stream: the baseline the
 * runner's per-token overhead is measured against on the native engine. For benchmarks only.
 */
public final class NativeInProcessBaseline implements AutoCloseable {
    private final NativeEngine engine;
    private int ids;

    public NativeInProcessBaseline(Path gguf, NativeEngineBuild build, int contextSize, int threads) {
        ModelOptions options = ModelOptions.builder().contextSize(contextSize).threads(threads).build();
        engine = NativeEngine.load(build.library(), EngineParams.of(gguf, options, contextSize, threads, phi2j.runtime.EngineKind.NATIVE,
                build.library()));
    }

    /** Greedy generation of exactly {@code newTokens} tokens (past any end of text); returns the count. */
    public int generate(String prompt, int newTokens) {
        CompletableFuture<Integer> done = new CompletableFuture<>();
        engine.submit(new Messages.Generate(++ids, prompt, GenerationOptions.greedy().withMaxNewTokens(newTokens).withIgnoreEndOfText(true),
                false), new Engine.Sink() {
            @Override
            public void events(ByteBuffer events) {
                for (EngineEvent e : EventCodec.decode(events)) {
                    if (e instanceof EngineEvent.Done d) {
                        done.complete(d.generatedTokens());
                    } else if (e instanceof EngineEvent.Failed f) {
                        done.completeExceptionally(new IllegalStateException(f.message()));
                    }
                }
            }

            @Override
            public void flush() {
            }
        });
        return done.join();
    }

    @Override
    public void close() {
        engine.close();
    }
}
