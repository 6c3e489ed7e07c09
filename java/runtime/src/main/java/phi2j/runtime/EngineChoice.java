package phi2j.runtime;

import phi2j.InvalidOptionException;
import phi2j.nativelib.NativeLibrary;
import phi2j.nativelib.NativeLibraryException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * Which llama.cpp runs a model, and where it came from. The library looks in this order and takes the first it finds:
 * <ol>
 *   <li>{@link ModelOptions#nativeLibrary()} (the CLI's {@code --lib}),</li>
 *   <li>{@code PHI2_NATIVE_LIB}, else {@code -Dphi2.native.lib},</li>
 *   <li>{@code io.github.phi2j:phi2-native} for this platform on the classpath (with any GPU add-on jars beside it),</li>
 *   <li>the checkout's {@code native/build/cpu} ({@code PHI2_HOME}, {@code -Dphi2.home}, or a parent of the working
 *       directory holding {@code cmake/versions.cmake}),</li>
 *   <li>the de.kherud:llama binding and its bundled CPU library.</li>
 * </ol>
 * A folder named by 1 or 2 is a native engine build (it has {@code manifest.json}) or a folder with a custom
 * {@code libjllama} for the binding. {@link ModelOptions#engine()} (under AUTO also {@code PHI2_ENGINE} or
 * {@code -Dphi2.engine}) picks the engine; asking for one that cannot be had is an error, never a fallback.
 *
 * @param kind   NATIVE or BINDING
 * @param origin where it came from
 * @param dir    the native engine's folder, or the binding's custom library folder; null for the bundled library
 * @param build  the native engine build (NATIVE only)
 * @param advice how to get the native engine, when AUTO found none; empty otherwise
 */
public record EngineChoice(EngineKind kind, Origin origin, Path dir, NativeEngineBuild build, String advice) {
    /** Environment variable naming a native engine build or a custom libjllama folder. */
    public static final String LIB_ENV = "PHI2_NATIVE_LIB";
    /** System property with the same meaning, after the environment variable. */
    public static final String LIB_PROPERTY = "phi2.native.lib";
    /** The Maven coordinates of the engine jars, for advice. */
    public static final String ARTIFACT = "io.github.phi2j:phi2-native";

    /** Where the engine came from, in the order the library looks. */
    public enum Origin {
        OPTION("given in ModelOptions.nativeLibrary (--lib)"),
        ENVIRONMENT("given in $" + LIB_ENV),
        PROPERTY("given in -D" + LIB_PROPERTY),
        CLASSPATH("from the " + ARTIFACT + " jar on the classpath"),
        CHECKOUT("from the checkout's native/build/cpu"),
        BUNDLED("the binding's bundled CPU library");

        private final String text;

        Origin(String text) {
            this.text = text;
        }

        /** "from the io.github.phi2j:phi2-native jar on the classpath". */
        public String describe() {
            return text;
        }

        /** The lower-case name used in JSON and on the command line. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** The engine and library for {@code options}, in the order above. */
    public static EngineChoice of(ModelOptions options) {
        EngineKind wanted = requestedKind(options);
        Origin origin = Origin.OPTION;
        Path configured = options.nativeLibrary();
        if (configured == null && nonBlank(System.getenv(LIB_ENV))) {
            configured = Path.of(System.getenv(LIB_ENV));
            origin = Origin.ENVIRONMENT;
        }
        if (configured == null && nonBlank(System.getProperty(LIB_PROPERTY))) {
            configured = Path.of(System.getProperty(LIB_PROPERTY));
            origin = Origin.PROPERTY;
        }
        if (configured != null) {
            return configured(wanted, origin, configured.toAbsolutePath().normalize());
        }
        if (wanted == EngineKind.BINDING) {
            return new EngineChoice(EngineKind.BINDING, Origin.BUNDLED, null, null, "");
        }
        Optional<NativeArtifact.Extracted> jar = NativeArtifact.extract();
        if (jar.isPresent()) {
            return new EngineChoice(EngineKind.NATIVE, Origin.CLASSPATH, jar.get().dir(), NativeEngineBuild.read(jar.get().dir()), "");
        }
        Optional<Path> checkout = NativeEngineBuild.defaultDir().filter(NativeEngineBuild::isEngineBuild);
        if (checkout.isPresent()) {
            return new EngineChoice(EngineKind.NATIVE, Origin.CHECKOUT, checkout.get(), NativeEngineBuild.read(checkout.get()), "");
        }
        if (wanted == EngineKind.NATIVE) {
            throw new NativeLibraryException("the native engine was asked for, but none was found: " + howToGetIt());
        }
        return new EngineChoice(EngineKind.BINDING, Origin.BUNDLED, null, null,
                "running on the de.kherud:llama binding, phi2j's slower fallback; for the native engine " + howToGetIt());
    }

    /** Every way to get the native engine, for errors and advice. */
    static String howToGetIt() {
        return "add " + ARTIFACT + " with classifier " + NativeArtifact.platform() + " to the dependencies, or set " + LIB_ENV
                + " (or ModelOptions.withNativeLibrary) to a build folder (scripts/build-native.sh cpu in phi2j's checkout)";
    }

    private static EngineChoice configured(EngineKind wanted, Origin origin, Path dir) {
        if (NativeEngineBuild.isEngineBuild(dir)) {
            if (wanted == EngineKind.BINDING) {
                throw new NativeLibraryException(dir + " (" + origin.describe() + ") is a native engine build, which the binding "
                        + "engine cannot load: use the native engine (--engine native or auto)");
            }
            return new EngineChoice(EngineKind.NATIVE, origin, dir, NativeEngineBuild.read(dir), "");
        }
        if (wanted == EngineKind.NATIVE) {
            if (!Files.isDirectory(dir)) {
                NativeEngineBuild.read(dir); // names the folder and the preset that builds it
            }
            throw new NativeLibraryException(dir + " (" + origin.describe() + ") is not a native engine build (no "
                    + NativeEngineBuild.MANIFEST + "): build one with " + NativeEngineBuild.buildCommand(NativeEngineBuild.presetOf(dir)));
        }
        if (!Files.isRegularFile(dir.resolve(NativeLibrary.fileName()))) {
            throw new NativeLibraryException("no " + NativeLibrary.fileName() + (wanted == EngineKind.BINDING ? "" : " and no native engine build ("
                    + NativeEngineBuild.MANIFEST + ")") + " in " + dir + " (" + origin.describe() + "): build "
                    + (wanted == EngineKind.BINDING ? "a custom libjllama" : "an engine with " + NativeEngineBuild.buildCommand(NativeEngineBuild.presetOf(dir)))
                    + ", or unset it for the default");
        }
        return new EngineChoice(EngineKind.BINDING, origin, dir, null, "");
    }

    /** The engine asked for: ModelOptions.engine, or under AUTO the PHI2_ENGINE variable or -Dphi2.engine. */
    static EngineKind requestedKind(ModelOptions options) {
        EngineKind kind = options.engine();
        if (kind != EngineKind.AUTO) {
            return kind;
        }
        String env = System.getenv("PHI2_ENGINE");
        String given = nonBlank(env) ? env : System.getProperty("phi2.engine");
        if (!nonBlank(given)) {
            return EngineKind.AUTO;
        }
        try {
            return EngineKind.valueOf(given.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new InvalidOptionException("engine", "PHI2_ENGINE is '" + given + "'; use native, binding or auto");
        }
    }

    private static boolean nonBlank(String s) {
        return s != null && !s.isBlank();
    }

    /**
     * One line for reports: "native engine (portable, Clang 16.0.6) from the io.github.phi2j:phi2-native jar on the
     * classpath: /home/u/.cache/phi2j/engine/3f.../libphi2j_engine.so".
     */
    public String describe() {
        if (kind == EngineKind.NATIVE) {
            return "phi2j native engine (" + build.preset() + ", " + build.compiler() + ") " + origin.describe() + ": " + build.library();
        }
        Path file = dir == null ? null : dir.resolve(NativeLibrary.fileName());
        return "de.kherud:llama binding, " + (dir == null ? origin.describe() : "custom library " + origin.describe() + ": " + file);
    }
}
