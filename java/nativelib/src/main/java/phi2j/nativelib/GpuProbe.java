package phi2j.nativelib;

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

/**
 * The GPUs the machine's own runtimes report: AMD through HIP, with gfx targets from the KFD topology in sysfs,
 * and NVIDIA through NVML. Loading HIP or NVML initialises a GPU runtime in the calling JVM, so the project calls
 * {@link #all()} inside a runner process only; {@link #kfdTargets} and {@link #gfxName} read files and are safe anywhere.
 */
public final class GpuProbe {
    /** A GPU seen by its vendor's runtime. {@code arch} is the gfx target for AMD (gfx90a, gfx942), empty for NVIDIA. */
    public record Gpu(String vendor, int index, String name, String arch, long totalBytes) {
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

    private static final Path KFD_NODES = Path.of("/sys/class/kfd/kfd/topology/nodes");

    private GpuProbe() {
    }

    /** AMD GPUs, then NVIDIA GPUs; empty on a machine with neither runtime. */
    public static List<Gpu> all() {
        List<Gpu> gpus = new ArrayList<>(amd());
        gpus.addAll(nvidia());
        return gpus;
    }

    /** AMD GPUs from the HIP runtime, with their gfx targets from the KFD topology; from KFD alone without ROCm. */
    static List<Gpu> amd() {
        List<Gpu> out = new ArrayList<>();
        List<String> archs = kfdTargets(KFD_NODES);
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

    /** NVIDIA GPUs from NVML; empty without the driver. */
    static List<Gpu> nvidia() {
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

    private static String cString(byte[] b) {
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }
}
