package phi2j.runtime;

import phi2j.nativelib.GpuProbe;
import phi2j.nativelib.NativeLibrary;
import phi2j.nativelib.NativeLibraryException;
import phi2j.runtime.internal.RunnerProcess;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What can compute here ({@link DeviceReport}): the devices of a llama.cpp library (ggml backend devices), its CPU
 * features, and the GPUs that the machine's own runtimes report (AMD through HIP and the KFD topology in sysfs, NVIDIA through NVML). A
 * runner process does the probing: the caller's JVM never loads a llama.cpp library or a GPU runtime.
 */
public final class Devices {
    private Devices() {
    }

    /**
     * The library whose ggml to ask: a native engine build's libllama (which loads its ggml and backends), else the
     * binding's libjllama (custom or bundled).
     */
    static Path library(EngineChoice choice) {
        if (choice.kind() == EngineKind.NATIVE) {
            Path dir = choice.build().dir();
            for (String name : List.of("libllama.so.0", "libllama.0.dylib", "llama.dll")) {
                if (Files.isRegularFile(dir.resolve(name))) {
                    return dir.resolve(name);
                }
            }
            throw new NativeLibraryException("no libllama in the native engine build " + dir + ": rebuild it with "
                    + NativeEngineBuild.buildCommand(choice.build().preset()));
        }
        return NativeLibrary.resolve(choice.dir()).resolve(NativeLibrary.fileName());
    }

    /**
     * Asks a short-lived runner process for the devices of the llama.cpp that {@code options} choose (the same choice a
     * model opened with them gets: {@link EngineChoice}) and the machine's GPUs.
     */
    public static DeviceReport report(ModelOptions options) {
        Path lib = library(EngineChoice.of(options));
        try (RunnerProcess runner = RunnerProcess.start(null, Map.of())) {
            return runner.devices(lib);
        }
    }

    /** The compute devices of the llama.cpp that {@code options} choose, through a runner. */
    public static List<DeviceReport.Device> list(ModelOptions options) {
        return report(options).devices();
    }

    public static Optional<String> buildAdvice(List<GpuProbe.Gpu> gpus) {
        if (gpus.isEmpty()) {
            return Optional.empty();
        }
        GpuProbe.Gpu g = gpus.get(0);
        if (g.vendor().equals("AMD")) {
            String preset = g.arch().equals("gfx942") ? "hip-gfx942" : g.arch().equals("gfx90a") ? "hip-gfx90a" : "hip";
            return Optional.of("scripts/build-native.sh " + preset + " && phi2 ... --lib native/build/" + preset);
        }
        return Optional.of("scripts/build-native.sh cuda && phi2 ... --lib native/build/cuda");
    }
}
