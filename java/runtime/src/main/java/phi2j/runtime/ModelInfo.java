package phi2j.runtime;

import java.nio.file.Path;
import java.time.Duration;

/**
 * What an opened model is. {@code loadTime} is what the caller waited for (runner start plus llama.cpp's
 * load); {@code nativeLoadTime} is llama.cpp's part alone. {@code engine} and {@code llamaCpp} name what runs it
 * (native "0.5.0 (de3ff81)", binding "b4916"); {@code contextPerSequence} is the context one generation may use
 * (the context divided among the parallel sequences). {@code engineOrigin} says where the engine came from (see
 * {@link EngineChoice}), {@code backends} what it loaded (the CPU variant of a portable build, GPU modules that could
 * not be loaded), and {@code advice}, when the binding runs because no native engine was found, how to get one.
 * {@code placement} says where llama.cpp put each layer and the KV cache ("33/33 layers on CUDA0 (NVIDIA H100 ...)");
 * {@code loadBreakdown} where {@code loadTime} went (also logged at INFO on the {@code phi2j} logger: --verbose).
 */
public record ModelInfo(Path path, String name, long fileSize, long parameterCount, int contextSize,
                        int trainContextLength, int vocabularySize, String endOfText, Duration loadTime,
                        Duration nativeLoadTime, String nativeLibrary, EngineKind engine, String llamaCpp,
                        int contextPerSequence, EngineChoice.Origin engineOrigin, EngineBackends backends, String advice,
                        LayerPlacement placement, LoadBreakdown loadBreakdown) {

    /** "native 0.5.0 (de3ff81), CPU (zen4), from the io.github.phi2j:phi2-native jar on the classpath". */
    public String engineSummary() {
        return engine.label() + " " + llamaCpp + ", " + backends.summary() + ", " + engineOrigin.describe();
    }
}
