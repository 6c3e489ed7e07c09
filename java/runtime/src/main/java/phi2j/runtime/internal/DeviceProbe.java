package phi2j.runtime.internal;

import phi2j.nativelib.Ggml;
import phi2j.nativelib.GpuProbe;
import phi2j.runtime.DeviceReport;

import java.nio.file.Path;
import java.util.List;

/**
 * The device probes, run inside a runner process only: they load a llama.cpp library and the GPU vendors' runtimes
 * (HIP, NVML) into the JVM that calls them, and a GPU runtime initialised in the caller's JVM is what the runner
 * exists to avoid.
 */
public final class DeviceProbe {
    /** ggml_backend_dev_type names, in each library's enum order: b4916 (the binding's libjllama) and 0.25.1 (libllama). */
    private static final String[] TYPES_BINDING = {"CPU", "GPU", "ACCEL"};
    private static final String[] TYPES_NATIVE = {"CPU", "GPU", "IGPU", "ACCEL", "META"};

    private DeviceProbe() {
    }

    /** Everything {@code phi2 devices} shows, for the llama.cpp library file {@code library}. */
    public static DeviceReport report(Path library) {
        // a native engine build loads its backends first (a portable build's are modules beside it); the binding links its own
        Path engine = library.resolveSibling(phi2j.runtime.NativeEngineBuild.libraryName());
        phi2j.runtime.EngineBackends backends = !library.getFileName().toString().startsWith("libjllama") && java.nio.file.Files.isRegularFile(engine)
                ? NativeEngine.backends(engine) : null;
        Ggml g = Ggml.load(library);
        String[] types = library.getFileName().toString().startsWith("libjllama") ? TYPES_BINDING : TYPES_NATIVE;
        List<DeviceReport.Device> devices = g.devices().stream().map(d -> new DeviceReport.Device(d.index(), d.name(), d.description(),
                d.type() >= 0 && d.type() < types.length ? types[d.type()] : "type " + d.type(), d.freeBytes(), d.totalBytes())).toList();
        return new DeviceReport(library.toString(), devices, g.systemInfo(), GpuProbe.all(), backends);
    }
}
