package phi2j.runtime;

import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The ggml backends a native engine loaded. A portable build (the {@code phi2-native} jars, {@code scripts/build-native.sh
 * portable}) has them as modules in the engine's folder: ggml takes the best CPU variant this CPU runs, and each GPU
 * module whose runtime is installed; a GPU module whose runtime is missing is a {@link Failure} that names the missing
 * library and the package that provides it, while the others still work.
 *
 * @param modules    true when the backends are modules (a portable build); false when they are linked in
 * @param cpuVariant the CPU module ggml chose ("zen4", "haswell", ...); empty when linked in
 * @param registered ggml's backends after loading ("CPU", "Vulkan", "CUDA", ...)
 * @param failures   GPU modules that could not be loaded
 */
public record EngineBackends(boolean modules, String cpuVariant, List<String> registered, List<Failure> failures) {
    /** What the binding engine and an unknown build report: nothing known beyond the CPU. */
    public static final EngineBackends LINKED_CPU = new EngineBackends(false, "", List.of("CPU"), List.of());

    /** The runtime libraries GPU modules need, by soname prefix, with the packages that provide them. */
    private static final List<String[]> RUNTIMES = List.of(
            new String[] {"libvulkan.so", "the Vulkan loader: libvulkan1 (Debian, Ubuntu), vulkan-loader (Fedora), and a Vulkan driver"},
            new String[] {"libcudart.so", "the CUDA runtime of the toolkit the module was built with (cuda-cudart-MAJOR-x, or the NVIDIA CUDA toolkit)"},
            new String[] {"libcublas", "cuBLAS of the CUDA toolkit the module was built with (libcublas-MAJOR-x)"},
            new String[] {"libcuda.so", "the NVIDIA driver (libcuda1 / nvidia-driver)"},
            new String[] {"libamdhip64.so", "ROCm's HIP runtime (hip-runtime-amd; Debian: libamdhip64-6)"},
            new String[] {"libhipblas.so", "ROCm's hipBLAS (hipblas; Debian: libhipblas2)"},
            new String[] {"librocblas.so", "ROCm's rocBLAS (rocblas; Debian: librocblas4)"},
            new String[] {"libhsa-runtime64.so", "ROCm's HSA runtime (hsa-rocr)"});

    private static final Pattern MISSING = Pattern.compile("(lib[\\w.+-]+\\.so[\\w.]*): cannot open shared object file");

    public EngineBackends {
        registered = List.copyOf(registered);
        failures = List.copyOf(failures);
    }

    /** A GPU module that could not be loaded, with the loader's own words. */
    public record Failure(String module, String error) {
        /** The shared library the loader could not find ("libvulkan.so.1"), if that is why. */
        public Optional<String> missingLibrary() {
            Matcher m = MISSING.matcher(error);
            return m.find() ? Optional.of(m.group(1)) : Optional.empty();
        }

        /** What to install for it, where the missing library is one we know. */
        public Optional<String> remedy() {
            return missingLibrary().flatMap(lib -> RUNTIMES.stream().filter(r -> lib.startsWith(r[0])).map(r -> r[1]).findFirst());
        }

        /** One line: "libggml-vulkan.so needs libvulkan.so.1, which is not installed: install the Vulkan loader ...". */
        public String describe() {
            return missingLibrary().map(lib -> module + " needs " + lib + ", which is not installed" + remedy().map(r -> ": install " + r).orElse(""))
                    .orElse(module + " could not be loaded: " + error);
        }
    }

    /** "CPU (zen4)", "CPU (zen4), Vulkan": what computes, for reports and bench rows. */
    public String summary() {
        return String.join(", ", registered.stream().map(r -> r.equals("CPU") && !cpuVariant.isEmpty() ? "CPU (" + cpuVariant + ")" : r).toList());
    }
}
