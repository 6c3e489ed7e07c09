package phi2j.runtime;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What can compute here: the devices of the loaded llama.cpp library (ggml backend devices), its CPU
 * features, and the GPUs that the machine's own runtimes report (AMD through HIP and the KFD topology in
 * sysfs, NVIDIA through NVML), all through plain C functions and files, without llama.cpp structs.
 */
public final class Devices {
    /** A ggml backend device of the library. {@code type} is CPU, GPU or ACCEL. */
    public record Device(int index, String name, String description, String type, long freeBytes, long totalBytes) {
    }

    /** A GPU seen by its vendor's runtime. {@code arch} is the gfx target for AMD (gfx90a, gfx942) or the compute capability. */
    public record Gpu(String vendor, int index, String name, String arch, long totalBytes) {
    }

    interface Ggml extends Library {
        long ggml_backend_dev_count();

        Pointer ggml_backend_dev_get(long index);

        String ggml_backend_dev_name(Pointer dev);

        String ggml_backend_dev_description(Pointer dev);

        int ggml_backend_dev_type(Pointer dev);

        void ggml_backend_dev_memory(Pointer dev, LongByReference free, LongByReference total);

        String llama_print_system_info();
    }

    interface Hip extends Library {
        int hipGetDeviceCount(IntByReference count);

        int hipDeviceGetName(byte[] name, int len, int device);

        int hipDeviceTotalMem(LongByReference bytes, int device);
    }

    interface Nvml extends Library {
        int nvmlInit_v2();

        int nvmlDeviceGetCount_v2(IntByReference count);

        int nvmlDeviceGetHandleByIndex_v2(int index, PointerByReference device);

        int nvmlDeviceGetName(Pointer device, byte[] name, int length);

        int nvmlDeviceGetMemoryInfo(Pointer device, Pointer memory);
    }

    /** ggml_backend_dev_type names, in each library's enum order: b4916 (the binding) and 0.25.1 (the native engine). */
    private static final String[] TYPES = {"CPU", "GPU", "ACCEL"};
    private static final String[] TYPES_NATIVE = {"CPU", "GPU", "IGPU", "ACCEL", "META"};

    private Devices() {
    }

    /**
     * The library whose ggml to ask: a native engine build's libllama (which loads its ggml and backends), else the
     * binding's libjllama (custom or bundled).
     */
    public static Path library(Path customDir) {
        if (customDir != null && NativeEngineBuild.isEngineBuild(customDir)) {
            Path dir = NativeEngineBuild.read(customDir).dir();
            for (String name : List.of("libllama.so.0", "libllama.0.dylib", "llama.dll")) {
                if (Files.isRegularFile(dir.resolve(name))) {
                    return dir.resolve(name);
                }
            }
            throw new NativeLibraryException("no libllama in the native engine build " + dir + ": rebuild it with scripts/build-native.sh");
        }
        return NativeLibrary.resolve(customDir).resolve(NativeLibrary.fileName());
    }

    private static Ggml ggml(Path customDir) {
        Path lib = library(customDir);
        try {
            return Native.load(lib.toString(), Ggml.class, Map.of(Library.OPTION_STRING_ENCODING, "UTF-8"));
        } catch (UnsatisfiedLinkError e) {
            throw new NativeLibraryException("cannot load " + lib + ": " + e.getMessage());
        }
    }

    /** The library's compute devices (the bundled CPU build has one: the CPU). */
    public static List<Device> list(Path customDir) {
        Ggml g = ggml(customDir);
        List<Device> out = new ArrayList<>();
        long n = g.ggml_backend_dev_count();
        String[] types = customDir != null && NativeEngineBuild.isEngineBuild(customDir) ? TYPES_NATIVE : TYPES;
        for (int i = 0; i < n; i++) {
            Pointer d = g.ggml_backend_dev_get(i);
            LongByReference free = new LongByReference();
            LongByReference total = new LongByReference();
            g.ggml_backend_dev_memory(d, free, total);
            int t = g.ggml_backend_dev_type(d);
            out.add(new Device(i, g.ggml_backend_dev_name(d), g.ggml_backend_dev_description(d),
                    t >= 0 && t < types.length ? types[t] : "type " + t, free.getValue(), total.getValue()));
        }
        return out;
    }

    /** llama.cpp's system_info string: backends and CPU features of the library. */
    public static String systemInfo(Path customDir) {
        return ggml(customDir).llama_print_system_info().strip();
    }

    /** AMD GPUs from the HIP runtime, with their gfx targets from the KFD topology; empty without ROCm. */
    public static List<Gpu> amd() {
        List<Gpu> out = new ArrayList<>();
        List<String> archs = kfdTargets(Path.of("/sys/class/kfd/kfd/topology/nodes"));
        Hip hip;
        try {
            hip = Native.load("amdhip64", Hip.class);
        } catch (UnsatisfiedLinkError e) {
            for (int i = 0; i < archs.size(); i++) {
                out.add(new Gpu("AMD", i, "(HIP runtime not installed)", archs.get(i), 0));
            }
            return out;
        }
        IntByReference count = new IntByReference();
        if (hip.hipGetDeviceCount(count) != 0) {
            return out;
        }
        for (int i = 0; i < count.getValue(); i++) {
            byte[] name = new byte[256];
            LongByReference mem = new LongByReference();
            hip.hipDeviceGetName(name, name.length, i);
            hip.hipDeviceTotalMem(mem, i);
            out.add(new Gpu("AMD", i, cString(name), i < archs.size() ? archs.get(i) : "unknown", mem.getValue()));
        }
        return out;
    }

    /** The gfx targets of the GPU nodes in the KFD topology, in node order (CPU nodes report 0). */
    public static List<String> kfdTargets(Path nodes) {
        List<String> out = new ArrayList<>();
        if (!Files.isDirectory(nodes)) {
            return out;
        }
        try (var dirs = Files.list(nodes)) {
            for (Path n : dirs.sorted((a, b) -> Integer.compare(num(a), num(b))).toList()) {
                Path props = n.resolve("properties");
                if (!Files.isReadable(props)) {
                    continue;
                }
                for (String line : Files.readAllLines(props)) {
                    if (line.startsWith("gfx_target_version")) {
                        long v = Long.parseLong(line.substring("gfx_target_version".length()).trim());
                        if (v > 0) {
                            out.add(gfxName(v));
                        }
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            return out;
        }
        return out;
    }

    private static int num(Path p) {
        try {
            return Integer.parseInt(p.getFileName().toString());
        } catch (NumberFormatException e) {
            return Integer.MAX_VALUE;
        }
    }

    /** KFD's gfx_target_version (major*10000 + minor*100 + stepping) as LLVM's target name: 90010 is gfx90a. */
    public static String gfxName(long version) {
        long major = version / 10000;
        long minor = (version / 100) % 100;
        long step = version % 100;
        return "gfx" + major + Long.toHexString(minor) + Long.toHexString(step);
    }

    /** NVIDIA GPUs from NVML; empty without the driver. */
    public static List<Gpu> nvidia() {
        List<Gpu> out = new ArrayList<>();
        Nvml nvml;
        try {
            nvml = Native.load("nvidia-ml", Nvml.class);
        } catch (UnsatisfiedLinkError e) {
            return out;
        }
        IntByReference count = new IntByReference();
        if (nvml.nvmlInit_v2() != 0 || nvml.nvmlDeviceGetCount_v2(count) != 0) {
            return out;
        }
        for (int i = 0; i < count.getValue(); i++) {
            PointerByReference dev = new PointerByReference();
            if (nvml.nvmlDeviceGetHandleByIndex_v2(i, dev) != 0) {
                continue;
            }
            byte[] name = new byte[96];
            nvml.nvmlDeviceGetName(dev.getValue(), name, name.length);
            Memory mem = new Memory(24); // nvmlMemory_t: total, free, used (unsigned long long each)
            nvml.nvmlDeviceGetMemoryInfo(dev.getValue(), mem);
            out.add(new Gpu("NVIDIA", i, cString(name), "", mem.getLong(0)));
        }
        return out;
    }

    private static String cString(byte[] b) {
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    /** True when the library has a device of type GPU. */
    public static boolean hasGpuBackend(List<Device> devices) {
        return devices.stream().anyMatch(d -> !d.type().equals("CPU"));
    }

    /** The machine's GPUs from either vendor. */
    public static List<Gpu> gpus() {
        List<Gpu> all = new ArrayList<>(amd());
        all.addAll(nvidia());
        return all;
    }

    public static Optional<String> buildAdvice(List<Gpu> gpus) {
        if (gpus.isEmpty()) {
            return Optional.empty();
        }
        Gpu g = gpus.get(0);
        if (g.vendor().equals("AMD")) {
            String preset = g.arch().equals("gfx942") ? "hip-gfx942" : g.arch().equals("gfx90a") ? "hip-gfx90a" : "hip";
            return Optional.of("scripts/build-native.sh " + preset + " && phi2 ... --lib native/build/" + preset);
        }
        return Optional.of("scripts/build-native.sh cuda && phi2 ... --lib native/build/cuda");
    }
}
