package phi2j.cli;

import phi2j.nativelib.GpuProbe;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import phi2j.runtime.DeviceReport;
import phi2j.runtime.Devices;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "devices", mixinStandardHelpOptions = true,
        header = "List the llama.cpp library's devices and the machine's GPUs.",
        description = {"List the compute devices of the llama.cpp library, its CPU features, and the GPUs the machine's",
                "runtimes see (AMD: HIP and the KFD topology; NVIDIA: NVML). Warns when a GPU is present but the library has no GPU backend.",
                "With -m MODEL, also opens the model with -ngl N and says where llama.cpp put its layers and KV cache."})
public final class DevicesCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LoggingMixin logging;

    @Mixin
    LibraryMixin lib;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Option(names = {"-m", "--model"}, paramLabel = "FILE", description = "Also open this model and say where its layers go.")
    java.nio.file.Path model;

    @Option(names = {"-ngl", "--gpu-layers"}, paramLabel = "N", description = "With -m: layers to offload; -1 for all (default: ${DEFAULT-VALUE}).")
    int gpuLayers = -1;

    @Option(names = "--allow-cpu-fallback", description = "With -m and no GPU device: open it on the CPU instead of failing.")
    boolean allowCpuFallback;

    /** Where the model's layers went with -ngl N, or null without -m. */
    private phi2j.runtime.LayerPlacement placement() {
        if (model == null) {
            return null;
        }
        try (phi2j.runtime.Phi2Model m = phi2j.runtime.Phi2Model.open(model, lib.apply(phi2j.runtime.ModelOptions.builder()
                .contextSize(256).gpuLayers(gpuLayers).allowCpuFallback(allowCpuFallback)))) {
            return m.info().placement();
        }
    }

    @Override
    public Integer call() {
        logging.apply();
        DeviceReport report = Devices.report(lib.options()); // probed in a runner: this JVM loads no native library
        String library = report.library();
        List<DeviceReport.Device> devs = report.devices();
        String features = report.systemInfo();
        List<GpuProbe.Gpu> gpus = report.gpus();
        String warning = null;
        if (!gpus.isEmpty() && !report.hasGpuBackend()) {
            warning = gpus.size() + " GPU(s) found, but " + library + " has no GPU backend (the jar's bundled library is a CPU build). Build one: "
                    + Devices.buildAdvice(gpus).orElse("scripts/build-native.sh");
        }
        phi2j.runtime.LayerPlacement placement = placement();
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            JsonObject o = new JsonObject();
            o.addProperty("library", library);
            o.addProperty("systemInfo", features);
            Gson gson = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();
            o.add("devices", gson.toJsonTree(devs)); // records: their components are the JSON fields
            o.add("backends", gson.toJsonTree(report.backends()));
            o.add("gpus", gson.toJsonTree(gpus));
            if (warning != null) {
                o.addProperty("warning", warning);
            }
            if (placement != null) {
                JsonObject p = gson.toJsonTree(placement).getAsJsonObject();
                p.addProperty("gpuLayers", gpuLayers);
                p.addProperty("summary", placement.summary());
                p.addProperty("offloadedLayers", placement.offloadedLayers());
                p.addProperty("totalLayers", placement.totalLayers());
                o.add("placement", p);
            }
            out.println(gson.toJson(o));
        } else {
            text(out, library, devs, features, gpus);
            backends(out, report.backends());
            if (placement != null) {
                out.println("placement (" + model.getFileName() + ", -ngl " + gpuLayers + "): " + placement.summary());
            }
            if (warning != null) {
                spec.commandLine().getErr().println("warning: " + warning);
            }
        }
        out.flush();
        return Main.OK;
    }

    /** What the engine loaded: the CPU variant of a portable build, and each GPU module that could not be loaded, and why. */
    private static void backends(PrintWriter out, phi2j.runtime.EngineBackends b) {
        out.println("backends: " + b.summary() + (b.modules() ? " (modules" + (b.cpuVariant().isEmpty() ? "" : "; ggml chose the CPU variant "
                + b.cpuVariant()) + ")" : ""));
        for (phi2j.runtime.EngineBackends.Failure f : b.failures()) {
            out.println("  not loaded: " + f.describe());
        }
    }

    private static void text(PrintWriter out, String library, List<DeviceReport.Device> devs, String features, List<GpuProbe.Gpu> gpus) {
        out.println("library: " + library);
        out.println("llama.cpp devices:");
        for (DeviceReport.Device x : devs) {
            out.printf("  %d  %-6s %-8s %s%s%n", x.index(), x.type(), x.name(), x.description(),
                    x.totalBytes() > 0 ? "  (" + Format.bytes(x.freeBytes()) + " free of " + Format.bytes(x.totalBytes()) + ")" : "");
        }
        out.println("CPU features: " + features);
        if (gpus.isEmpty()) {
            out.println("GPUs: none found (no AMD GPU through HIP or /sys/class/kfd, no NVIDIA GPU through NVML); running on the CPU");
        } else {
            out.println("GPUs:");
            for (GpuProbe.Gpu x : gpus) {
                out.printf("  %s %d  %s  %s  %s%n", x.vendor(), x.index(), x.name(), x.arch(), Format.bytes(x.totalBytes()));
            }
        }
    }
}
