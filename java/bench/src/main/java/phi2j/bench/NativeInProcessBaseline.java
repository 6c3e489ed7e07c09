package phi2j.bench;

import phi2j.runtime.GenerationOptions;
import phi2j.runtime.NativeEngineBuild;
import phi2j.runtime.internal.Engine;
import phi2j.runtime.internal.Messages;
import phi2j.runtime.internal.NativeEngine;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The native engine driven in the calling JVM, with no runner, socket or caller-side stream: the baseline the
 * runner's per-token overhead is measured against on the native engine. For benchmarks only.
 */
public final class NativeInProcessBaseline implements AutoCloseable {
    private final NativeEngine engine;
    private int ids;

    public NativeInProcessBaseline(Path gguf, NativeEngineBuild build, int contextSize, int threads) {
        engine = NativeEngine.load(build.library(), new Messages.Load(gguf.toAbsolutePath().toString(), contextSize, threads, 0, "LAYER",
                List.of(), 0, null, false, 0, 1, phi2j.runtime.EngineKind.NATIVE, build.library().toString(), -1));
    }

    /** Greedy generation of exactly {@code newTokens} tokens (past any end of text); returns the count. */
    public int generate(String prompt, int newTokens) {
        CompletableFuture<Integer> done = new CompletableFuture<>();
        engine.submit(new Messages.Generate(++ids, prompt, GenerationOptions.greedy().withMaxNewTokens(newTokens).withIgnoreEndOfText(true),
                engine.contextPerSequence(), false), new Engine.Sink() {
            @Override
            public void text(int id, String text) {
            }

            @Override
            public void token(int id, ByteBuffer event) {
            }

            @Override
            public void done(Messages.Done d) {
                done.complete(d.generatedTokens());
            }

            @Override
            public void error(Messages.Error e) {
                done.completeExceptionally(new IllegalStateException(e.message()));
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
