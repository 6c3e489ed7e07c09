package phi2j.cli;

import com.google.gson.Gson;
import phi2j.BadModelFileException;
import phi2j.Phi2Exception;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The committed list of known Phi-2 GGUF files ({@code models-gguf/catalog.json}) and the folder they live in:
 * {@code $PHI2_MODELS_DIR}, else {@code -Dphi2.models.dir}, else {@code models-gguf/} of the installation
 * ({@code -Dphi2.home}, set by the launcher), else {@code ./models-gguf}.
 */
public record Catalog(Path dir, String defaultName, List<Entry> models) {

    public record Entry(String name, String file, String type, String size, String sha256, String source) {
    }

    private record Json(String comment, String defaultName, List<Entry> models) {
    }

    public static Path modelsDir() {
        String opt = System.getProperty("phi2.models.dir.option");
        if (opt != null) {
            return Path.of(opt);
        }
        String env = System.getenv("PHI2_MODELS_DIR");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        String prop = System.getProperty("phi2.models.dir");
        if (prop != null) {
            return Path.of(prop);
        }
        String home = System.getProperty("phi2.home");
        return home != null ? Path.of(home, "models-gguf") : Path.of("models-gguf");
    }

    public static Catalog load() {
        Path dir = modelsDir();
        String home = System.getProperty("phi2.home");
        // The catalog ships with the installation; a models folder elsewhere holds only model files.
        Path file = home != null ? Path.of(home, "models-gguf", "catalog.json") : dir.resolve("catalog.json");
        if (!Files.isRegularFile(file)) {
            file = dir.resolve("catalog.json");
        }
        String override = System.getProperty("phi2.catalog", System.getenv("PHI2_CATALOG"));
        if (override != null && !override.isBlank()) {
            file = Path.of(override);
        }
        try {
            String text = Files.readString(file).replace("\"default\"", "\"defaultName\"");
            Json j = new Gson().fromJson(text, Json.class);
            return new Catalog(dir, j.defaultName(), List.copyOf(j.models()));
        } catch (IOException | RuntimeException e) {
            throw new Phi2Exception("cannot read the model catalog " + file.toAbsolutePath() + ": " + e.getMessage(), e);
        }
    }

    public Optional<Entry> find(String name) {
        return models.stream().filter(e -> e.name().equalsIgnoreCase(name) || e.file().equalsIgnoreCase(name)).findFirst();
    }

    /** The default model's path, or an error that says exactly how to get it. */
    public Entry defaultEntry() {
        return find(defaultName).orElseThrow(() -> new Phi2Exception("the catalog names default '" + defaultName + "' but lists no such model"));
    }

    public Path defaultModelPath() {
        Entry e = find(defaultName).orElseThrow(() -> new Phi2Exception("the catalog names default '" + defaultName + "' but lists no such model"));
        Path p = dir.resolve(e.file());
        if (Files.isRegularFile(p)) {
            return p;
        }
        throw new BadModelFileException(p, "the default model " + e.name() + " is not there (downloads are off: --no-download or PHI2_NO_DOWNLOAD). Get it one of these ways:\n"
                + "  1. " + Advice.phi2() + " pull " + e.name() + "   (" + e.size() + "), or download it by hand:\n"
                + "       curl -L --fail -o " + p + ".part '" + e.source() + "' && mv " + p + ".part " + p + "\n"
                + (e.sha256() != null ? "     and check it: sha256sum " + p + "  (expect " + e.sha256() + ")\n" : "")
                + "  2. or pass any Phi-2 GGUF with -m FILE\n"
                + "  3. or try the tools on a tiny random-weight model (its answers are noise):\n"
                + "       " + Advice.tryTheTinyModel());
    }
}
