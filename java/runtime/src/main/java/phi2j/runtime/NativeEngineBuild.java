package phi2j.runtime;

import phi2j.nativelib.NativeLibraryException;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * A build of phi2j's native engine: a folder made by {@code scripts/build-native.sh PRESET}, holding
 * {@code libphi2j_engine}, llama.cpp's libraries and {@code manifest.json}. Reading one checks that it is an engine
 * build, made for the llama.cpp version and engine ABI this phi2j speaks, before anything native is loaded.
 *
 * @param dir       the folder
 * @param library   the engine's JNI library in it
 * @param preset    the build preset (cpu, cuda, hip-gfx90a, ...)
 * @param backend   cpu, cuda, hip or vulkan
 * @param targets   GPU targets it was compiled for, if any
 * @param llamaCpp  llama.cpp's version and commit, for example "0.5.0 (de3ff81)"
 * @param compiler  the host compiler that built it, for example "Clang 16.0.6"
 * @param portable  true for a portable build: its backends are modules, the CPU's in every variant
 */
public record NativeEngineBuild(Path dir, Path library, String preset, String backend, String targets, String llamaCpp,
                                String compiler, boolean portable) {

    /** The llama.cpp version the engine is pinned to (cmake/versions.cmake: PHI2J_LLAMA_CPP_VERSION). */
    public static final String LLAMA_CPP_VERSION = "0.5.0";
    /** The JNI functions' version (cmake/versions.cmake: PHI2J_ENGINE_ABI). */
    public static final int ENGINE_ABI = 6;
    public static final String MANIFEST = "manifest.json";

    /** The engine library's file name on this platform. */
    public static String libraryName() {
        return System.mapLibraryName("phi2j_engine");
    }

    /** The presets of scripts/build-native.sh (cmake/presets/NAME.cmake). */
    public static final java.util.List<String> PRESETS = java.util.List.of("cpu", "cuda", "vulkan", "hip", "hip-gfx90a", "hip-gfx942",
            "portable", "portable-cuda", "portable-hip", "portable-vulkan");

    /** The command that (re)builds the engine for {@code preset}. */
    public static String buildCommand(String preset) {
        return "scripts/build-native.sh " + preset;
    }

    /** The preset a build folder stands for by its name (native/build/hip-gfx90a: hip-gfx90a), else cpu. */
    static String presetOf(Path dir) {
        Path name = dir.getFileName();
        return name != null && PRESETS.contains(name.toString()) ? name.toString() : "cpu";
    }

    /** True when {@code dir} looks like an engine build (it has a manifest naming the phi2j engine). */
    public static boolean isEngineBuild(Path dir) {
        Path m = dir.resolve(MANIFEST);
        if (!Files.isRegularFile(m)) {
            return false;
        }
        try {
            JsonObject o = JsonParser.parseString(Files.readString(m)).getAsJsonObject();
            return o.has("engine") && "phi2j-native".equals(o.get("engine").getAsString());
        } catch (IOException | RuntimeException e) {
            return true; // a damaged manifest still says "engine build"; read() names the damage
        }
    }

    /**
     * Reads and checks the build in {@code dir}. Throws {@link NativeLibraryException} naming the path and the
     * command that fixes it when the folder, its manifest or its library is missing, damaged, or made for another
     * llama.cpp version or engine ABI.
     */
    public static NativeEngineBuild read(Path dir) {
        Path abs = dir.toAbsolutePath().normalize();
        Path manifest = abs.resolve(MANIFEST);
        String named = presetOf(abs);
        if (!Files.isDirectory(abs)) {
            throw new NativeLibraryException("no native engine build at " + abs + ": build it with " + buildCommand(named)
                    + " (or pick the binding engine with --engine binding)");
        }
        if (!Files.isRegularFile(manifest)) {
            throw new NativeLibraryException(abs + " is not a native engine build (no " + MANIFEST + "): build one with "
                    + buildCommand(named) + ", or pass the folder it installed into");
        }
        JsonObject o;
        try {
            o = JsonParser.parseString(Files.readString(manifest)).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            throw new NativeLibraryException(manifest + " cannot be read (" + e.getMessage() + "): rebuild with " + buildCommand("cpu"));
        }
        String preset = string(o, "preset").orElse(named);
        String rebuild = "rebuild it with " + buildCommand(preset);
        if (!"phi2j-native".equals(string(o, "engine").orElse(""))) {
            throw new NativeLibraryException(manifest + " does not describe a phi2j native engine build; " + rebuild);
        }
        if ("backend".equals(string(o, "kind").orElse("engine"))) {
            throw new NativeLibraryException(abs + " holds a GPU backend module alone (built with --backend-only): put its "
                    + "library beside a portable engine (scripts/build-native.sh portable), or use that engine's folder");
        }
        String version = string(o, "llamaCppVersion").orElse("?");
        int abi = o.has("engineAbi") && o.get("engineAbi").isJsonPrimitive() ? o.get("engineAbi").getAsInt() : -1;
        if (!LLAMA_CPP_VERSION.equals(version) || abi != ENGINE_ABI) {
            throw new NativeLibraryException(abs + " was built for llama.cpp " + version + " with engine ABI " + abi
                    + "; this phi2j needs llama.cpp " + LLAMA_CPP_VERSION + " with engine ABI " + ENGINE_ABI + ": " + rebuild);
        }
        Path library = abs.resolve(libraryName());
        if (!Files.isRegularFile(library)) {
            throw new NativeLibraryException("no " + libraryName() + " in " + abs + " (the build is incomplete): " + rebuild);
        }
        String commit = string(o, "llamaCppCommit").orElse("");
        String llamaCpp = version + (commit.isEmpty() ? "" : " (" + commit.substring(0, Math.min(7, commit.length())) + ")");
        boolean portable = o.has("portable") && o.get("portable").isJsonPrimitive() && o.get("portable").getAsBoolean();
        return new NativeEngineBuild(abs, library, preset, string(o, "backend").orElse("cpu"), string(o, "targets").orElse(""), llamaCpp,
                string(o, "compiler").orElse("unknown compiler"), portable);
    }

    private static Optional<String> string(JsonObject o, String key) {
        return o.has(key) && o.get(key).isJsonPrimitive() ? Optional.of(o.get(key).getAsString()) : Optional.empty();
    }

    /**
     * Where the default CPU build lives: {@code native/build/cpu} under phi2j's checkout, found from
     * {@code PHI2_HOME} (or {@code -Dphi2.home}, which the launcher sets), else from the working directory and its
     * parents (the checkout is the folder holding {@code cmake/versions.cmake}).
     */
    public static Optional<Path> defaultDir() {
        return home().map(h -> h.resolve("native").resolve("build").resolve("cpu"));
    }

    static Optional<Path> home() {
        String env = System.getenv("PHI2_HOME");
        String prop = System.getProperty("phi2.home");
        String given = env != null && !env.isBlank() ? env : prop;
        if (given != null && !given.isBlank()) {
            return Optional.of(Path.of(given).toAbsolutePath());
        }
        Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (int i = 0; i < 6 && p != null; i++, p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("cmake").resolve("versions.cmake")) && Files.isDirectory(p.resolve("native"))) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
