package phi2j.springai.autoconfigure;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.NestedConfigurationProperty;
import phi2j.runtime.EngineKind;
import phi2j.springai.Phi2ChatOptions;

import java.nio.file.Path;

/**
 * {@code spring.ai.phi2.*}: the model file and how it is opened, the chat defaults and the embedding switch. An unknown
 * key under {@code spring.ai.phi2} fails the application's start, naming it (a misspelt option is never ignored).
 */
@ConfigurationProperties(prefix = Phi2Properties.PREFIX, ignoreUnknownFields = false)
public class Phi2Properties {
    public static final String PREFIX = "spring.ai.phi2";

    /** The GGUF file to load (required), for example models-gguf/phi-2.Q4_K_M.gguf. */
    private Path model;
    /** Layers on the GPU: 0 none, -1 all (needs a GPU backend: a phi2-native GPU add-on jar). */
    private int gpuLayers = 0;
    /** Refuse nothing when gpu-layers asks for a GPU that is not there: run on the CPU with a warning instead. */
    private boolean allowCpuFallback = false;
    /** Context size in tokens, 0 for the model's (2048 for Phi-2); shared by the slots. */
    private int contextSize = 0;
    /** Slots: generations that run at once (each gets context-size / parallel tokens). */
    private int parallel = 1;
    /** CPU threads, 0 for all cores. */
    private int threads = 0;
    /** Engine: auto (the native engine when phi2-native is on the class path, else the binding), native or binding. */
    private EngineKind engine = EngineKind.AUTO;

    @NestedConfigurationProperty
    private final Chat chat = new Chat();
    @NestedConfigurationProperty
    private final Embedding embedding = new Embedding();

    public static class Chat {
        /** Defaults for every prompt; a prompt's own options win. */
        @NestedConfigurationProperty
        private Phi2ChatOptions options = new Phi2ChatOptions();
        /** Reuse the longest prefix a request shares with its slot's last one (as phi2 serve); off for bit-identical repeats. */
        private boolean cachePrompt = true;

        public Phi2ChatOptions getOptions() {
            return options;
        }

        public void setOptions(Phi2ChatOptions options) {
            this.options = options;
        }

        public boolean isCachePrompt() {
            return cachePrompt;
        }

        public void setCachePrompt(boolean cachePrompt) {
            this.cachePrompt = cachePrompt;
        }
    }

    public static class Embedding {
        /** Open the model with embeddings (needed by the EmbeddingModel bean, which spring.ai.model.embedding selects). */
        private boolean enabled = true;

        public boolean isEnabled() {
            return enabled;
        }

        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }
    }

    public Path getModel() {
        return model;
    }

    public void setModel(Path model) {
        this.model = model;
    }

    public int getGpuLayers() {
        return gpuLayers;
    }

    public void setGpuLayers(int gpuLayers) {
        this.gpuLayers = gpuLayers;
    }

    public boolean isAllowCpuFallback() {
        return allowCpuFallback;
    }

    public void setAllowCpuFallback(boolean allowCpuFallback) {
        this.allowCpuFallback = allowCpuFallback;
    }

    public int getContextSize() {
        return contextSize;
    }

    public void setContextSize(int contextSize) {
        this.contextSize = contextSize;
    }

    public int getParallel() {
        return parallel;
    }

    public void setParallel(int parallel) {
        this.parallel = parallel;
    }

    public int getThreads() {
        return threads;
    }

    public void setThreads(int threads) {
        this.threads = threads;
    }

    public EngineKind getEngine() {
        return engine;
    }

    public void setEngine(EngineKind engine) {
        this.engine = engine;
    }

    public Chat getChat() {
        return chat;
    }

    public Embedding getEmbedding() {
        return embedding;
    }
}
