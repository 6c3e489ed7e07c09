package phi2j.convert;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import phi2j.format.GgmlType;
import phi2j.runtime.NativeLibraryException;

import java.nio.file.Path;
import java.util.Map;

/**
 * ggml's stable C functions in the same {@code libjllama} the runner loads, called through JNA, so quantized
 * bytes are exactly llama.cpp's. Only plain C functions are mapped (no structs); C {@code bool} is a byte.
 */
public final class Ggml {

    /** The functions used; names and signatures as in ggml.h / ggml-quants.h of llama.cpp b4916. */
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
    }

    private static volatile Ggml instance;

    private final Api api;
    private final NativeLibrary library;

    private Ggml(Path libraryFile) {
        try {
            this.library = NativeLibrary.getInstance(libraryFile.toString());
            this.api = Native.load(libraryFile.toString(), Api.class, Map.of(Library.OPTION_STRING_ENCODING, "UTF-8"));
            // Fills ggml's fp16 tables: without it every fp16 scale reads as 0, in dequantization and in the
            // K-quants' own rounding, and the output is wrong while still passing ggml's validation.
            api.ggml_cpu_init();
        } catch (UnsatisfiedLinkError e) {
            throw new NativeLibraryException("cannot load ggml from " + libraryFile + ": " + e.getMessage());
        }
    }

    /** ggml from the verified bundled library, or from {@code customDir} when given. Loaded once per JVM. */
    public static Ggml get(Path customDir) {
        Ggml g = instance;
        if (g == null) {
            synchronized (Ggml.class) {
                g = instance;
                if (g == null) {
                    Path dir = phi2j.runtime.NativeLibrary.resolve(customDir);
                    g = new Ggml(dir.resolve(phi2j.runtime.NativeLibrary.fileName()));
                    instance = g;
                }
            }
        }
        return g;
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
                com.sun.jna.Function f = library.getFunction("dequantize_row_" + from.name().toLowerCase(java.util.Locale.ROOT)
                        .replace("_k", "_K"));
                f.invoke(Void.class, new Object[] {src, dst, n});
            }
        }
    }
}
