package phi2j.runtime;

import phi2j.InvalidOptionException;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * How to open a model. Zero for {@code contextSize} and {@code threads} means "choose": the model's training
 * context (2048 for Phi-2) and every available core.
 *
 * @param contextSize   tokens of context (prompt plus generated), 0 for the model's own
 * @param threads       CPU threads, 0 for all cores
 * @param gpuLayers     layers to offload to the GPU; -1 for all, 0 for none (CPU only)
 * @param splitMode     multi-GPU split
 * @param tensorSplit   fraction of the model per GPU, for example [3, 1]; empty for llama.cpp's default
 * @param mainGpu       the GPU that holds the model with split mode NONE, and scratch buffers otherwise
 * @param seed          default sampling seed for generations that set none; null for a random one
 * @param loadTimeout   how long opening may take before the runner is considered hung
 * @param nativeLibrary a folder holding a custom {@code libjllama} build (for example the HIP build), or null
 * @param embeddings    also compute embeddings ({@link Phi2Model#embedding}); llama.cpp then keeps hidden states
 * @param batchSize     llama.cpp's logical batch for prompt processing, 0 for its default (2048)
 * @param visibleDevices GPUs the runner may see, as a list of indices ("1", "0,1"): sets HIP_VISIBLE_DEVICES,
 *                      ROCR_VISIBLE_DEVICES and CUDA_VISIBLE_DEVICES for the runner only; null to inherit
 * @param parallel      sequences llama.cpp decodes together (its slots); the context is shared among them, and
 *                      up to this many generations run at once. With more than one, token counts and timings of a
 *                      generation come from the stream and the caller's clock rather than llama.cpp's log (binding engine)
 * @param engine        which llama.cpp runs the model: {@link EngineKind#AUTO} (phi2j's native engine when one is
 *                      built, else the de.kherud binding), {@link EngineKind#NATIVE} or {@link EngineKind#BINDING}
 * @param flashAttention llama.cpp's flash attention: AUTO (its choice per backend), ON or OFF (native engine)
 * @param stallTimeout  how long a generation or call may go without a sign of life from the runner (it sends one
 *                      every second even inside a long decode) before the runner is taken for hung, killed, and the
 *                      call fails with {@link RunnerStalledException}; loading has its own, longer {@code loadTimeout}
 */
public record ModelOptions(int contextSize, int threads, int gpuLayers, SplitMode splitMode, List<Float> tensorSplit,
                           int mainGpu, Long seed, Duration loadTimeout, Path nativeLibrary, boolean embeddings,
                           int batchSize, String visibleDevices, int parallel, EngineKind engine, FlashAttention flashAttention,
                           Duration stallTimeout) {

    public ModelOptions {
        tensorSplit = List.copyOf(tensorSplit);
    }

    public static ModelOptions defaults() {
        return new ModelOptions(0, 0, 0, SplitMode.LAYER, List.of(), 0, null, Duration.ofMinutes(5), null, false, 0, null, 1, EngineKind.AUTO, FlashAttention.AUTO,
                Duration.ofSeconds(30));
    }

    public ModelOptions withContextSize(int n) {
        return new ModelOptions(n, threads, gpuLayers, splitMode, tensorSplit, mainGpu, seed, loadTimeout, nativeLibrary, embeddings, batchSize, visibleDevices, parallel, engine, flashAttention, stallTimeout);
    }

    public ModelOptions withThreads(int n) {
        return new ModelOptions(contextSize, n, gpuLayers, splitMode, tensorSplit, mainGpu, seed, loadTimeout, nativeLibrary, embeddings, batchSize, visibleDevices, parallel, engine, flashAttention, stallTimeout);
    }

    public ModelOptions withGpuLayers(int n) {
        return new ModelOptions(contextSize, threads, n, splitMode, tensorSplit, mainGpu, seed, loadTimeout, nativeLibrary, embeddings, batchSize, visibleDevices, parallel, engine, flashAttention, stallTimeout);
    }

    public ModelOptions withSplit(SplitMode mode, List<Float> split, int main) {
        return new ModelOptions(contextSize, threads, gpuLayers, mode, split, main, seed, loadTimeout, nativeLibrary, embeddings, batchSize, visibleDevices, parallel, engine, flashAttention, stallTimeout);
    }

    public ModelOptions withSeed(Long s) {
        return new ModelOptions(contextSize, threads, gpuLayers, splitMode, tensorSplit, mainGpu, s, loadTimeout, nativeLibrary, embeddings, batchSize, visibleDevices, parallel, engine, flashAttention, stallTimeout);
    }

    public ModelOptions withLoadTimeout(Duration d) {
        return new ModelOptions(contextSize, threads, gpuLayers, splitMode, tensorSplit, mainGpu, seed, d, nativeLibrary, embeddings, batchSize, visibleDevices, parallel, engine, flashAttention, stallTimeout);
    }

    public ModelOptions withNativeLibrary(Path dir) {
        return new ModelOptions(contextSize, threads, gpuLayers, splitMode, tensorSplit, mainGpu, seed, loadTimeout, dir, embeddings, batchSize, visibleDevices, parallel, engine, flashAttention, stallTimeout);
    }

    public ModelOptions withEmbeddings(boolean on) {
        return new ModelOptions(contextSize, threads, gpuLayers, splitMode, tensorSplit, mainGpu, seed, loadTimeout, nativeLibrary, on, batchSize, visibleDevices, parallel, engine, flashAttention, stallTimeout);
    }

    public ModelOptions withBatchSize(int n) {
        return new ModelOptions(contextSize, threads, gpuLayers, splitMode, tensorSplit, mainGpu, seed, loadTimeout, nativeLibrary, embeddings, n, visibleDevices, parallel, engine, flashAttention, stallTimeout);
    }

    public ModelOptions withVisibleDevices(String devices) {
        return new ModelOptions(contextSize, threads, gpuLayers, splitMode, tensorSplit, mainGpu, seed, loadTimeout, nativeLibrary, embeddings, batchSize, devices, parallel, engine, flashAttention, stallTimeout);
    }

    public ModelOptions withParallel(int n) {
        return new ModelOptions(contextSize, threads, gpuLayers, splitMode, tensorSplit, mainGpu, seed, loadTimeout, nativeLibrary, embeddings, batchSize, visibleDevices, n, engine, flashAttention, stallTimeout);
    }

    public ModelOptions withEngine(EngineKind kind) {
        return new ModelOptions(contextSize, threads, gpuLayers, splitMode, tensorSplit, mainGpu, seed, loadTimeout, nativeLibrary, embeddings, batchSize, visibleDevices, parallel, kind, flashAttention, stallTimeout);
    }

    public ModelOptions withFlashAttention(FlashAttention fa) {
        return new ModelOptions(contextSize, threads, gpuLayers, splitMode, tensorSplit, mainGpu, seed, loadTimeout, nativeLibrary, embeddings, batchSize, visibleDevices, parallel, engine, fa, stallTimeout);
    }

    public ModelOptions withStallTimeout(Duration d) {
        return new ModelOptions(contextSize, threads, gpuLayers, splitMode, tensorSplit, mainGpu, seed, loadTimeout, nativeLibrary, embeddings, batchSize, visibleDevices, parallel, engine, flashAttention, d);
    }

    /** Checks ranges that do not depend on the model; throws {@link InvalidOptionException} naming the option. */
    public void validate() {
        if (contextSize < 0 || contextSize > (1 << 20)) {
            throw new InvalidOptionException("contextSize", "must be 0 (the model's own) or 1 to 1048576, not " + contextSize);
        }
        if (threads < 0 || threads > 1024) {
            throw new InvalidOptionException("threads", "must be 0 (all cores) or 1 to 1024, not " + threads);
        }
        if (gpuLayers < -1) {
            throw new InvalidOptionException("gpuLayers", "must be -1 (all), 0 (none) or a layer count, not " + gpuLayers);
        }
        if (splitMode == null) {
            throw new InvalidOptionException("splitMode", "must be one of none, layer, row");
        }
        for (Float f : tensorSplit) {
            if (f == null || !(f >= 0) || f.isInfinite()) {
                throw new InvalidOptionException("tensorSplit", "proportions must be finite and non-negative: " + tensorSplit);
            }
        }
        if (!tensorSplit.isEmpty() && tensorSplit.stream().allMatch(f -> f == 0f)) {
            throw new InvalidOptionException("tensorSplit", "at least one proportion must be positive: " + tensorSplit);
        }
        if (mainGpu < 0) {
            throw new InvalidOptionException("mainGpu", "must be a device index >= 0, not " + mainGpu);
        }
        if (seed != null && (seed < 0 || seed > Integer.MAX_VALUE)) {
            throw new InvalidOptionException("seed", "must be 0 to 2147483647, not " + seed);
        }
        if (batchSize < 0 || batchSize > (1 << 20)) {
            throw new InvalidOptionException("batchSize", "must be 0 (llama.cpp's default) or 1 to 1048576, not " + batchSize);
        }
        if (visibleDevices != null && !visibleDevices.matches("\\d+(,\\d+)*")) {
            throw new InvalidOptionException("visibleDevices", "must be device indices such as 0 or 0,1, not '" + visibleDevices + "'");
        }
        if (parallel < 1 || parallel > 256) {
            throw new InvalidOptionException("parallel", "must be 1 to 256 sequences, not " + parallel);
        }
        if (engine == null) {
            throw new InvalidOptionException("engine", "must be one of auto, native, binding");
        }
        if (flashAttention == null) {
            throw new InvalidOptionException("flashAttention", "must be one of auto, on, off");
        }
        if (loadTimeout == null || loadTimeout.isNegative() || loadTimeout.isZero()) {
            throw new InvalidOptionException("loadTimeout", "must be positive");
        }
        if (stallTimeout == null || stallTimeout.compareTo(Duration.ofSeconds(2)) < 0) {
            throw new InvalidOptionException("stallTimeout", "must be at least 2 s (the runner's sign of life comes every second), not "
                    + stallTimeout);
        }
    }
}
