package phi2j.runtime;

import java.nio.file.Path;
import java.time.Duration;

/**
 * What an opened model is. {@code loadTime} is what the caller waited for (runner start plus llama.cpp's
 * load); {@code nativeLoadTime} is llama.cpp's part alone. {@code engine} and {@code llamaCpp} name what runs it
 * (native "0.5.0 (de3ff81)", binding "b4916"); {@code contextPerSequence} is the context one generation may use
 * (the context divided among the parallel sequences).
 */
public record ModelInfo(Path path, String name, long fileSize, long parameterCount, int contextSize,
                        int trainContextLength, int vocabularySize, String endOfText, Duration loadTime,
                        Duration nativeLoadTime, String nativeLibrary, EngineKind engine, String llamaCpp,
                        int contextPerSequence) {
}
