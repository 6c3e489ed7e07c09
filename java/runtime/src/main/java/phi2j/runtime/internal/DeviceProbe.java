package phi2j.runtime.internal;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import phi2j.runtime.Devices;
import phi2j.runtime.NativeLibraryException;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The device probes, run inside a runner process only: they load a llama.cpp library and the GPU vendors' runtimes
 * (HIP, NVML) into the JVM that calls them, and a GPU runtime initialised in the caller's JVM is what the runner
 * exists to avoid. Plain C functions through JNA, no llama.cpp structs.
 */
public final class DeviceProbe {
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

    /** ggml_backend_dev_type names, in each library's enum order: b4916 (the binding's libjllama) and 0.25.1 (libllama). */
    private static final String[] TYPES_BINDING = {"CPU", "GPU", "ACCEL"};
    private static final String[] TYPES_NATIVE = {"CPU", "GPU", "IGPU", "ACCEL", "META"};

    private DeviceProbe() {
    }

    /** Everything {@code phi2 devices} shows, for the llama.cpp library file {@code library}. */
    public static Devices.Report report(Path library) {
        Ggml g;
        try {
            g = Native.load(library.toString(), Ggml.class, Map.of(Library.OPTION_STRING_ENCODING, "UTF-8"));
        } catch (UnsatisfiedLinkError e) {
            throw new NativeLibraryException("cannot load " + library + ": " + e.getMessage());
        }
        String[] types = library.getFileName().toString().startsWith("libjllama") ? TYPES_BINDING : TYPES_NATIVE;
        List<Devices.Device> devices = new ArrayList<>();
        long n = g.ggml_backend_dev_count();
        for (int i = 0; i < n; i++) {
            Pointer d = g.ggml_backend_dev_get(i);
            LongByReference free = new LongByReference();
            LongByReference total = new LongByReference();
            g.ggml_backend_dev_memory(d, free, total);
            int t = g.ggml_backend_dev_type(d);
            devices.add(new Devices.Device(i, g.ggml_backend_dev_name(d), g.ggml_backend_dev_description(d),
                    t >= 0 && t < types.length ? types[t] : "type " + t, free.getValue(), total.getValue()));
        }
        List<Devices.Gpu> gpus = new ArrayList<>(amd());
        gpus.addAll(nvidia());
        return new Devices.Report(library.toString(), devices, g.llama_print_system_info().strip(), gpus);
    }

    /** AMD GPUs from the HIP runtime, with their gfx targets from the KFD topology; empty without ROCm. */
    static List<Devices.Gpu> amd() {
        List<Devices.Gpu> out = new ArrayList<>();
        List<String> archs = Devices.kfdTargets(Path.of("/sys/class/kfd/kfd/topology/nodes"));
        Hip hip;
        try {
            hip = Native.load("amdhip64", Hip.class);
        } catch (UnsatisfiedLinkError e) {
            for (int i = 0; i < archs.size(); i++) {
                out.add(new Devices.Gpu("AMD", i, "(HIP runtime not installed)", archs.get(i), 0));
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
            out.add(new Devices.Gpu("AMD", i, cString(name), i < archs.size() ? archs.get(i) : "unknown", mem.getValue()));
        }
        return out;
    }

    /** NVIDIA GPUs from NVML; empty without the driver. */
    static List<Devices.Gpu> nvidia() {
        List<Devices.Gpu> out = new ArrayList<>();
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
            out.add(new Devices.Gpu("NVIDIA", i, cString(name), "", mem.getLong(0)));
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
}
