package phi2j.springai.autoconfigure;

import org.springframework.beans.factory.DisposableBean;
import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * The one {@link Phi2Model} of an application context: opened by the first bean that needs it (the chat or embedding
 * model, when the context starts), shared by both (one runner, its slots), closed with the context. A missing,
 * unreadable or damaged file fails that bean, and so the start, with a message naming {@code spring.ai.phi2.model}.
 */
public class Phi2ModelProvider implements Supplier<Phi2Model>, DisposableBean {
    private final Phi2Properties properties;
    private Phi2Model model;
    private boolean closed;

    public Phi2ModelProvider(Phi2Properties properties) {
        this.properties = properties;
    }

    /** The model, opened on the first call. */
    @Override
    public synchronized Phi2Model get() {
        if (closed) {
            throw new IllegalStateException("the application context that opened " + properties.getModel() + " is closed");
        }
        if (model == null) {
            model = open();
        }
        return model;
    }

    /** Whether the model has been opened (and not closed). */
    public synchronized boolean isOpen() {
        return model != null && model.isOpen();
    }

    private Phi2Model open() {
        String property = Phi2Properties.PREFIX + ".model";
        Path file = properties.getModel();
        if (file == null) {
            throw new InvalidOptionException(property, "is not set: give the GGUF file to load, for example "
                    + property + "=models-gguf/phi-2.Q4_K_M.gguf (./phi2 pull phi-2.Q4_K_M gets it)");
        }
        if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
            throw new InvalidOptionException(property, file.toAbsolutePath() + (Files.exists(file) ? " cannot be read" : " does not exist"));
        }
        ModelOptions options = ModelOptions.builder()
                .gpuLayers(properties.getGpuLayers())
                .allowCpuFallback(properties.isAllowCpuFallback())
                .contextSize(properties.getContextSize())
                .parallel(properties.getParallel())
                .threads(properties.getThreads())
                .engine(properties.getEngine())
                .embeddings(properties.getEmbedding().isEnabled())
                .build();
        try {
            return Phi2Model.open(file, options);
        } catch (Phi2Exception e) {
            throw new InvalidOptionException(property, file + ": " + e.getMessage());
        }
    }

    @Override
    public synchronized void destroy() {
        closed = true;
        if (model != null) {
            model.close();
        }
    }
}
