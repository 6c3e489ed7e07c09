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
 * @param cacheRamMib   host memory (MiB) for the KV states of conversations that leave their slot, so that a later
 *                      request with {@link GenerationOptions#cachePrompt} resumes them instead of evaluating their
 *                      prefix again (llama-server's --cache-ram); 0, the default, is off (native engine)
 * @param allowCpuFallback with {@code gpuLayers} other than 0 and no GPU device to take them: run on the CPU with a
 *                      warning instead of failing; off by default, so that a GPU asked for and not had is an error
 *                      ({@link ModelInfo#placement()} says where the layers went either way)
 */
public record ModelOptions(int contextSize, int threads, int gpuLayers, SplitMode splitMode, List<Float> tensorSplit,
                           int mainGpu, Long seed, Duration loadTimeout, Path nativeLibrary, boolean embeddings,
                           int batchSize, String visibleDevices, int parallel, EngineKind engine, FlashAttention flashAttention,
                           Duration stallTimeout, int cacheRamMib, boolean allowCpuFallback) {

    /** Checked here, so that options out of range never exist: an {@link InvalidOptionException} names the field. */
    public ModelOptions {
        tensorSplit = tensorSplit == null ? null : List.copyOf(tensorSplit);
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
        if (tensorSplit == null) {
            throw new InvalidOptionException("tensorSplit", "must be a list (empty for llama.cpp's default)");
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
        if (cacheRamMib < 0 || cacheRamMib > (1 << 24)) {
            throw new InvalidOptionException("cacheRamMib", "must be 0 (off) or a size in MiB up to 16777216, not " + cacheRamMib);
        }
    }

    public static ModelOptions defaults() {
        return builder().build();
    }

    /** A builder holding the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these options, to change some of them. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.contextSize = contextSize;
        b.threads = threads;
        b.gpuLayers = gpuLayers;
        b.splitMode = splitMode;
        b.tensorSplit = tensorSplit;
        b.mainGpu = mainGpu;
        b.seed = seed;
        b.loadTimeout = loadTimeout;
        b.nativeLibrary = nativeLibrary;
        b.embeddings = embeddings;
        b.batchSize = batchSize;
        b.visibleDevices = visibleDevices;
        b.parallel = parallel;
        b.engine = engine;
        b.flashAttention = flashAttention;
        b.stallTimeout = stallTimeout;
        b.cacheRamMib = cacheRamMib;
        b.allowCpuFallback = allowCpuFallback;
        return b;
    }

    /** Options built field by field by name; {@link #build()} validates them. */
    public static final class Builder {
        private int contextSize = 0;
        private int threads = 0;
        private int gpuLayers = 0;
        private SplitMode splitMode = SplitMode.LAYER;
        private List<Float> tensorSplit = List.of();
        private int mainGpu = 0;
        private Long seed = null;
        private Duration loadTimeout = Duration.ofMinutes(5);
        private Path nativeLibrary = null;
        private boolean embeddings = false;
        private int batchSize = 0;
        private int cacheRamMib = 0;
        private boolean allowCpuFallback = false;
        private String visibleDevices = null;
        private int parallel = 1;
        private EngineKind engine = EngineKind.AUTO;
        private FlashAttention flashAttention = FlashAttention.AUTO;
        private Duration stallTimeout = Duration.ofSeconds(30);

        private Builder() {
        }

        public Builder contextSize(int v) {
            contextSize = v;
            return this;
        }

        public Builder threads(int v) {
            threads = v;
            return this;
        }

        public Builder gpuLayers(int v) {
            gpuLayers = v;
            return this;
        }

        public Builder splitMode(SplitMode v) {
            splitMode = v;
            return this;
        }

        public Builder tensorSplit(List<Float> v) {
            tensorSplit = v;
            return this;
        }

        public Builder mainGpu(int v) {
            mainGpu = v;
            return this;
        }

        public Builder seed(Long v) {
            seed = v;
            return this;
        }

        public Builder loadTimeout(Duration v) {
            loadTimeout = v;
            return this;
        }

        public Builder nativeLibrary(Path v) {
            nativeLibrary = v;
            return this;
        }

        public Builder embeddings(boolean v) {
            embeddings = v;
            return this;
        }

        public Builder batchSize(int v) {
            batchSize = v;
            return this;
        }

        public Builder visibleDevices(String v) {
            visibleDevices = v;
            return this;
        }

        public Builder parallel(int v) {
            parallel = v;
            return this;
        }

        public Builder engine(EngineKind v) {
            engine = v;
            return this;
        }

        public Builder flashAttention(FlashAttention v) {
            flashAttention = v;
            return this;
        }

        public Builder stallTimeout(Duration v) {
            stallTimeout = v;
            return this;
        }

        public Builder cacheRamMib(int v) {
            cacheRamMib = v;
            return this;
        }

        public Builder allowCpuFallback(boolean v) {
            allowCpuFallback = v;
            return this;
        }

        public ModelOptions build() {
            return new ModelOptions(contextSize, threads, gpuLayers, splitMode, tensorSplit, mainGpu, seed, loadTimeout, nativeLibrary,
                    embeddings, batchSize, visibleDevices, parallel, engine, flashAttention, stallTimeout, cacheRamMib,
                    allowCpuFallback);
        }
    }

    // One-field changes, kept for callers of the first API; each goes through the builder, so none restates the fields.

    public ModelOptions withContextSize(int n) {
        return toBuilder().contextSize(n).build();
    }

    public ModelOptions withThreads(int n) {
        return toBuilder().threads(n).build();
    }

    public ModelOptions withGpuLayers(int n) {
        return toBuilder().gpuLayers(n).build();
    }

    public ModelOptions withSplit(SplitMode mode, List<Float> split, int main) {
        return toBuilder().splitMode(mode).tensorSplit(split).mainGpu(main).build();
    }

    public ModelOptions withSeed(Long s) {
        return toBuilder().seed(s).build();
    }

    public ModelOptions withLoadTimeout(Duration d) {
        return toBuilder().loadTimeout(d).build();
    }

    public ModelOptions withNativeLibrary(Path dir) {
        return toBuilder().nativeLibrary(dir).build();
    }

    public ModelOptions withCacheRamMib(int mib) {
        return toBuilder().cacheRamMib(mib).build();
    }

    public ModelOptions withEmbeddings(boolean on) {
        return toBuilder().embeddings(on).build();
    }

    public ModelOptions withBatchSize(int n) {
        return toBuilder().batchSize(n).build();
    }

    public ModelOptions withVisibleDevices(String devices) {
        return toBuilder().visibleDevices(devices).build();
    }

    public ModelOptions withParallel(int n) {
        return toBuilder().parallel(n).build();
    }

    public ModelOptions withEngine(EngineKind kind) {
        return toBuilder().engine(kind).build();
    }

    public ModelOptions withFlashAttention(FlashAttention fa) {
        return toBuilder().flashAttention(fa).build();
    }

    public ModelOptions withStallTimeout(Duration d) {
        return toBuilder().stallTimeout(d).build();
    }

    public ModelOptions withAllowCpuFallback(boolean allow) {
        return toBuilder().allowCpuFallback(allow).build();
    }
}
