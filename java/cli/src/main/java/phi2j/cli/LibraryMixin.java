package phi2j.cli;

import phi2j.runtime.EngineKind;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.NativeEngineBuild;
import java.util.Locale;

import phi2j.InvalidOptionException;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The one setting that picks a custom libjllama build (the GPU one): {@code --lib DIR}, else
 * {@code $PHI2_NATIVE_LIB}, else {@code -Dphi2.native.lib}, else the library bundled in the jar. Every command
 * that loads llama.cpp takes it from here, so the precedence is the same everywhere.
 */
public final class LibraryMixin {
    /** Environment variable naming a folder with a custom libjllama build; the --lib option wins over it. */
    public static final String LIB_ENV = "PHI2_NATIVE_LIB";
    /** System property with the same meaning, the weakest of the three. */
    public static final String LIB_PROPERTY = "phi2.native.lib";

    @Option(names = "--lib", paramLabel = "DIR", description = "Folder with a custom libjllama build (for example the HIP build); "
            + "else $" + LIB_ENV + ", else -D" + LIB_PROPERTY + ", else the library bundled in the jar.")
    Path library;

    @Option(names = "--engine", paramLabel = "ENGINE", description = "Which llama.cpp runs the model: auto (the native engine "
            + "when one is built, else the binding; $PHI2_ENGINE can set it), native (phi2j's JNI engine, scripts/build-native.sh) "
            + "or binding (de.kherud:llama, bundled).")
    String engine = "auto";

    /** The --engine choice. */
    public EngineKind engine() {
        try {
            return EngineKind.valueOf(engine.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new InvalidOptionException("--engine", "must be auto, native or binding, not '" + engine + "'");
        }
    }

    /** {@code o} with the chosen library folder and engine. */
    /** The builder with the chosen library folder and engine set; builds the options. */
    public ModelOptions apply(ModelOptions.Builder b) {
        return b.nativeLibrary(resolve()).engine(engine()).build();
    }

    /**
     * The chosen folder for running a model, or null for the default: it must hold a libjllama build (binding engine)
     * or a native engine build (manifest.json); anything else is an error naming the setting.
     */
    public Path resolve() {
        return chosen(true);
    }

    /**
     * The chosen folder for the commands that call ggml through the binding's library (quantize, convert, devices),
     * or null for the bundled one: it must hold libjllama.
     */
    public Path resolveLibjllama() {
        return chosen(false);
    }

    private Path chosen(boolean engineBuildAllowed) {
        Path chosen = library;
        String source = "--lib";
        if (chosen == null && System.getenv(LIB_ENV) != null && !System.getenv(LIB_ENV).isBlank()) {
            chosen = Path.of(System.getenv(LIB_ENV));
            source = "$" + LIB_ENV;
        }
        if (chosen == null && System.getProperty(LIB_PROPERTY) != null) {
            chosen = Path.of(System.getProperty(LIB_PROPERTY));
            source = "-D" + LIB_PROPERTY;
        }
        if (chosen != null) {
            Path lib = chosen.resolve(System.mapLibraryName("jllama"));
            boolean engineBuild = Files.isRegularFile(chosen.resolve(NativeEngineBuild.MANIFEST));
            if (!Files.isRegularFile(lib) && !(engineBuildAllowed && engineBuild)) {
                throw new InvalidOptionException(source, "no " + lib.getFileName()
                        + (engineBuildAllowed ? " and no native engine build (" + NativeEngineBuild.MANIFEST + ")" : "") + " in "
                        + chosen.toAbsolutePath() + (engineBuild ? " (a native engine build: this command uses the binding's library)"
                        : " (build one with scripts/build-native.sh cpu, or unset it for the default)"));
            }
        }
        return chosen;
    }
}
