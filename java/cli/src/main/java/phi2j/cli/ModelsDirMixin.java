package phi2j.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** {@code --models-dir}: where model files live, over $PHI2_MODELS_DIR and the installation's models-gguf/. */
public final class ModelsDirMixin {
    @Option(names = "--models-dir", paramLabel = "DIR", description = "Models folder (default: $PHI2_MODELS_DIR, else models-gguf/).")
    Path dir;

    /** Makes this command's choice the one {@link Catalog#modelsDir()} sees (and forgets an earlier command's). */
    void apply() {
        if (dir != null) {
            System.setProperty("phi2.models.dir.option", dir.toString());
        } else {
            System.clearProperty("phi2.models.dir.option");
        }
    }
}
