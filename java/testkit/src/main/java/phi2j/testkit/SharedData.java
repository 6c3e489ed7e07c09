package phi2j.testkit;

import org.opentest4j.TestAbortedException;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The project's reference data (Phi-2's tokenizer and config files, llama.cpp's tokenizer test vectors), found
 * through {@code $PHI2_SHARED_DATA}, else {@code -Dphi2.shared.data} (which Maven always sets, to
 * {@code ../shared/data} beside the checkout: so the variable must come first to mean anything under Maven), else
 * {@code ../shared/data}. Never copied into the repository.
 */
public final class SharedData {
    private SharedData() {
    }

    public static Path dir() {
        String p = System.getenv("PHI2_SHARED_DATA");
        if (p == null || p.isBlank()) {
            p = System.getProperty("phi2.shared.data");
        }
        return Path.of(p == null || p.isBlank() ? "../shared/data" : p).toAbsolutePath().normalize();
    }

    public static Path phi2() {
        return dir().resolve("phi-2");
    }

    /**
     * The folder, or: under CI a failure naming what is missing; elsewhere a skipped test saying so.
     */
    public static Path require(String relative) {
        Path p = dir().resolve(relative);
        if (Files.exists(p)) {
            return p;
        }
        String msg = "reference data " + p + " is missing (set -Dphi2.shared.data or PHI2_SHARED_DATA to the shared/data folder)";
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            throw new IllegalStateException(msg);
        }
        throw new TestAbortedException(msg);
    }
}
