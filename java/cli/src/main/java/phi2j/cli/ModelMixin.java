package phi2j.cli;

import phi2j.runtime.ModelOptions;
import phi2j.runtime.SplitMode;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Options for opening a model, shared by the commands that run one. */
public final class ModelMixin {
    @Option(names = {"-m", "--model"}, paramLabel = "FILE", description = "GGUF model file (default: the catalog's default model in the models folder).")
    Path model;

    @Option(names = {"-c", "--ctx-size"}, paramLabel = "N", description = "Context size in tokens, prompt plus generated (default: the model's, 2048 for Phi-2).")
    int contextSize;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "CPU threads (default: all cores).")
    int threads;

    @Option(names = {"-ngl", "--gpu-layers"}, paramLabel = "N", description = "Layers to offload to the GPU; -1 for all (default: 0, "
            + "the CPU; phi2 verify: -1). With no GPU device this is an error, unless --allow-cpu-fallback.")
    int gpuLayers;

    @Option(names = "--allow-cpu-fallback", description = "With -ngl and no GPU device, run on the CPU with a warning instead of failing.")
    boolean allowCpuFallback;

    @Option(names = {"-sm", "--split-mode"}, paramLabel = "MODE", description = "Multi-GPU split: ${COMPLETION-CANDIDATES} (default: layer).")
    SplitMode splitMode = SplitMode.LAYER;

    @Option(names = {"-ts", "--tensor-split"}, paramLabel = "N,N,...", split = ",", description = "Share of the model per GPU, for example 3,1.")
    List<Float> tensorSplit = new ArrayList<>();

    @Option(names = {"-mg", "--main-gpu"}, paramLabel = "N", description = "GPU for the whole model (split mode none) or for scratch buffers (default: 0).")
    int mainGpu;

    @picocli.CommandLine.Mixin
    LibraryMixin library;

    public ModelOptions options() {
        return library.apply(ModelOptions.builder().contextSize(contextSize).threads(threads).gpuLayers(gpuLayers)
                .splitMode(splitMode).tensorSplit(tensorSplit).mainGpu(mainGpu).allowCpuFallback(allowCpuFallback));
    }

    @Option(names = "--no-download", description = "Do not download the default model when it is missing (also: PHI2_NO_DOWNLOAD=1).")
    boolean noDownload;

    @picocli.CommandLine.Mixin
    ModelsDirMixin modelsDir;

    /**
     * The model to open: -m, or the catalog's default in the models folder, downloaded first when missing
     * (unless downloads are off, in which case the error says how to get it).
     */
    public Path modelPath() {
        if (model != null) {
            return model;
        }
        modelsDir.apply();
        Catalog c = Catalog.load();
        Path p = c.dir().resolve(c.defaultEntry().file());
        boolean off = noDownload || "1".equals(System.getenv("PHI2_NO_DOWNLOAD")) || "true".equalsIgnoreCase(System.getenv("PHI2_NO_DOWNLOAD"));
        if (java.nio.file.Files.isRegularFile(p) || off) {
            return c.defaultModelPath();
        }
        java.io.PrintWriter err = new java.io.PrintWriter(System.err, true);
        err.println("The default model " + c.defaultEntry().name() + " (" + c.defaultEntry().size() + ") is not in " + c.dir()
                + "; downloading it (--no-download to stop this).");
        try (TerminalProgress bar = new TerminalProgress("pull " + c.defaultEntry().name(), "MB", 1_000_000)) {
            phi2j.cli.pull.Pulls.model(c, c.defaultEntry().name(), phi2j.cli.pull.Pulls.downloader(err), err, bar);
        }
        return p;
    }
}
