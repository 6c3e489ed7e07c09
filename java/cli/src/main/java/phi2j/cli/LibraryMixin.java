package phi2j.cli;

import phi2j.InvalidOptionException;
import phi2j.runtime.EngineChoice;
import phi2j.runtime.EngineKind;
import phi2j.runtime.ModelOptions;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;

/**
 * Which llama.cpp runs a model: {@code --engine} and {@code --lib}. The rest of the order ({@code PHI2_NATIVE_LIB},
 * {@code -Dphi2.native.lib}, the phi2-native jar, the checkout's build, the binding) is the library's own
 * ({@link EngineChoice}), so the CLI and a Java application choose alike.
 */
public final class LibraryMixin {
    @Option(names = "--lib", paramLabel = "DIR", description = "A native engine build folder (scripts/build-native.sh: native/build/cpu, "
            + "native/build/hip-gfx90a, ...) or a folder with a custom libjllama for the binding engine. Else $" + EngineChoice.LIB_ENV
            + ", else -D" + EngineChoice.LIB_PROPERTY + ", else the phi2-native jar on the classpath, else the checkout's "
            + "native/build/cpu, else the binding's bundled CPU library.")
    Path nativeLibrary; // named as ModelOptions' field: errors about it name --lib (Main.flag)

    @Option(names = "--engine", paramLabel = "ENGINE", description = "Which llama.cpp runs the model: auto (the native engine "
            + "when one is found, else the binding; $PHI2_ENGINE can set it), native (phi2j's JNI engine) "
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

    /** The builder with the --lib folder and the --engine choice set; builds the options. */
    public ModelOptions apply(ModelOptions.Builder b) {
        return b.nativeLibrary(nativeLibrary).engine(engine()).build();
    }

    /** The --lib folder, or null. */
    public Path library() {
        return nativeLibrary;
    }

    /** The options these flags alone choose: for commands that ask which engine, not for a model. */
    public ModelOptions options() {
        return apply(ModelOptions.builder());
    }
}
