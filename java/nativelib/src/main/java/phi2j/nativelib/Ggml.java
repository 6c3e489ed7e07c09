package phi2j.nativelib;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.LongByReference;
import phi2j.format.GgmlType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * ggml's stable C functions in a llama.cpp library, called through JNA: the quantization kernels of the same
 * {@code libjllama} the runner loads (so quantized bytes are exactly llama.cpp's), and the backend device list a
 * runner probes. Only plain C functions are mapped (no structs); C {@code bool} is a byte. One instance per library
 * file: a JVM that quantizes with a custom build and probes the bundled one holds both.
 */
public final class Ggml {

    /** The functions used; names and signatures as in ggml.h, ggml-backend.h and llama.h of llama.cpp b4916. */
    public interface Api extends Library {
        long ggml_quantize_chunk(int type, Pointer src, Pointer dst, long start, long nrows, long nPerRow, Pointer imatrix);

        byte ggml_quantize_requires_imatrix(int type);

        void ggml_quantize_init(int type);

        long ggml_row_size(int type, long ne);

        byte ggml_validate_row_data(int type, Pointer data, long nbytes);

        void ggml_fp16_to_fp32_row(Pointer src, Pointer dst, long n);

        void ggml_bf16_to_fp32_row(Pointer src, Pointer dst, long n);

        String ggml_type_name(int type);

        void ggml_cpu_init();

        long ggml_backend_dev_count();

        Pointer ggml_backend_dev_get(long index);

        String ggml_backend_dev_name(Pointer dev);

        String ggml_backend_dev_description(Pointer dev);

        int ggml_backend_dev_type(Pointer dev);

        void ggml_backend_dev_memory(Pointer dev, LongByReference free, LongByReference total);

        String llama_print_system_info();
    }

    /** A ggml backend device: {@code type} is ggml_backend_dev_type's value, whose names differ between llama.cpp versions. */
    public record BackendDevice(int index, String name, String description, int type, long freeBytes, long totalBytes) {
    }

    private static final Map<Path, Ggml> LOADED = new ConcurrentHashMap<>();

    private final Path file;
    private final Api api;
    private volatile boolean cpuReady;

    private Ggml(Path file) {
        this.file = file;
        try {
            this.api = Native.load(file.toString(), Api.class, Map.of(Library.OPTION_STRING_ENCODING, "UTF-8"));
        } catch (UnsatisfiedLinkError e) {
            throw new NativeLibraryException("cannot load ggml from " + file + ": " + e.getMessage());
        }
    }

    /** ggml in this library file (a libjllama, or a native engine's libllama, which loads its ggml). */
    public static Ggml load(Path libraryFile) {
        return LOADED.computeIfAbsent(libraryFile.toAbsolutePath().normalize(), Ggml::new);
    }

    /**
     * ggml for quantization: the verified bundled libjllama, or the one in {@code customDir} when given, with its
     * CPU tables filled.
     */
    public static Ggml get(Path customDir) {
        Ggml g = load(NativeLibrary.resolve(customDir).resolve(NativeLibrary.fileName()));
        g.initCpu();
        return g;
    }

    private synchronized void initCpu() {
        if (!cpuReady) {
            // Fills ggml's fp16 tables: without it every fp16 scale reads as 0, in dequantization and in the
            // K-quants' own rounding, and the output is wrong while still passing ggml's validation.
            api.ggml_cpu_init();
            cpuReady = true;
        }
    }

    /** The library's compute devices, as its ggml lists them. */
    public List<BackendDevice> devices() {
        List<BackendDevice> out = new ArrayList<>();
        long n = api.ggml_backend_dev_count();
        for (int i = 0; i < n; i++) {
            Pointer d = api.ggml_backend_dev_get(i);
            LongByReference free = new LongByReference();
            LongByReference total = new LongByReference();
            api.ggml_backend_dev_memory(d, free, total);
            out.add(new BackendDevice(i, api.ggml_backend_dev_name(d), api.ggml_backend_dev_description(d), api.ggml_backend_dev_type(d),
                    free.getValue(), total.getValue()));
        }
        return out;
    }

    /** llama.cpp's system_info line: the CPU features its kernels use. */
    public String systemInfo() {
        return api.llama_print_system_info().strip();
    }

    public Api api() {
        return api;
    }

    public boolean requiresImatrix(GgmlType t) {
        return api.ggml_quantize_requires_imatrix(t.id()) != 0;
    }

    public long rowSize(GgmlType t, long n) {
        return api.ggml_row_size(t.id(), n);
    }

    /** Converts {@code n} values of type {@code from} at {@code src} to floats at {@code dst}. */
    public void toFloat(GgmlType from, Pointer src, Pointer dst, long n) {
        switch (from) {
            case F32 -> dst.write(0, src.getByteArray(0, (int) (n * 4)), 0, (int) (n * 4));
            case F16 -> api.ggml_fp16_to_fp32_row(src, dst, n);
            case BF16 -> api.ggml_bf16_to_fp32_row(src, dst, n);
            default -> {
                if (!from.isQuantized()) {
                    throw new IllegalArgumentException("cannot convert " + from + " to floats");
                }
                com.sun.jna.Function f = com.sun.jna.Function.getFunction(file.toString(), "dequantize_row_"
                        + from.name().toLowerCase(java.util.Locale.ROOT).replace("_k", "_K"));
                f.invoke(Void.class, new Object[] {src, dst, n});
            }
        }
    }
}
