package phi2j.runtime;

import java.nio.file.Path;
import java.time.Duration;

/**
 * What an opened model is. {@code loadTime} is what the caller waited for (runner start plus llama.cpp's
 * load); {@code nativeLoadTime} is llama.cpp's part alone.
 */
public record ModelInfo(Path path, String name, long fileSize, long parameterCount, int contextSize,
                        int trainContextLength, int vocabularySize, String endOfText, Duration loadTime,
                        Duration nativeLoadTime, String nativeLibrary) {
}
