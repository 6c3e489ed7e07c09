package phi2j.cli;

import phi2j.InvalidOptionException;
import phi2j.nativelib.NativeLibrary;
import phi2j.runtime.EngineChoice;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The libjllama whose ggml quantizes for {@code convert} and {@code quantize}: {@code --lib DIR}, else
 * {@code $PHI2_NATIVE_LIB}, else {@code -Dphi2.native.lib} when they name a libjllama folder, else the one bundled
 * in the de.kherud:llama jar. A native engine build there is for running models and is passed over for this.
 */
public final class GgmlLibraryMixin {
    @Option(names = "--lib", paramLabel = "DIR", description = "Folder with a custom libjllama whose ggml quantizes "
            + "(default: $" + EngineChoice.LIB_ENV + " when it holds one, else the library bundled in the de.kherud:llama jar).")
    Path library;

    /** The libjllama folder to use, or null for the bundled one. */
    public Path resolve() {
        if (library != null) {
            if (!Files.isRegularFile(library.resolve(NativeLibrary.fileName()))) {
                throw new InvalidOptionException("--lib", "no " + NativeLibrary.fileName() + " in " + library.toAbsolutePath()
                        + " (convert and quantize use ggml from a libjllama; leave --lib out for the bundled one)");
            }
            return library;
        }
        for (String configured : new String[] {System.getenv(EngineChoice.LIB_ENV), System.getProperty(EngineChoice.LIB_PROPERTY)}) {
            if (configured != null && !configured.isBlank() && Files.isRegularFile(Path.of(configured).resolve(NativeLibrary.fileName()))) {
                return Path.of(configured);
            }
        }
        return null;
    }
}
