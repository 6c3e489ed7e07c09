package phi2j.runtime;

import phi2j.nativelib.GpuProbe;

import java.util.List;

/**
 * What a runner found for a llama.cpp library ({@link Devices#report}): its devices, its system_info string, the
 * machine's GPUs, and for a native engine the backends it loaded (the CPU variant of a portable build, GPU modules
 * that could not be loaded).
 */
public record DeviceReport(String library, List<Device> devices, String systemInfo, List<GpuProbe.Gpu> gpus, EngineBackends backends) {

    /** A ggml backend device of the library. {@code type} is CPU, GPU, IGPU or ACCEL. */
    public record Device(int index, String name, String description, String type, long freeBytes, long totalBytes) {
    }

    public DeviceReport {
        devices = List.copyOf(devices);
        gpus = List.copyOf(gpus);
        backends = backends == null ? EngineBackends.LINKED_CPU : backends;
    }

    /** True when the library has a device that is not the CPU. */
    public boolean hasGpuBackend() {
        return devices.stream().anyMatch(d -> !d.type().equals("CPU"));
    }
}
