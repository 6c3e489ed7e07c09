package phi2j.langchain4j;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.DimensionAwareEmbeddingModel;
import dev.langchain4j.model.output.Response;
import dev.langchain4j.model.output.TokenUsage;
import phi2j.InvalidOptionException;
import phi2j.runtime.Phi2Model;

import java.util.ArrayList;
import java.util.List;

/**
 * LangChain4j's {@link dev.langchain4j.model.embedding.EmbeddingModel} on a phi2j model: each text's final hidden state
 * (L2-normalized, as {@link Phi2Model#embedding}), with its exact token count as usage. The model must compute
 * embeddings: from {@code modelPath} it is opened with {@code withEmbeddings(true)}; a chat model shares its runner when
 * built with the same options (set {@code modelOptions(options.withEmbeddings(true))} on both).
 */
public final class Phi2EmbeddingModel extends DimensionAwareEmbeddingModel implements AutoCloseable {
    private final Phi2Models.Settings settings;

    private Phi2EmbeddingModel(Phi2Models.Settings settings) {
        this.settings = settings;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public Response<List<Embedding>> embedAll(List<TextSegment> segments) {
        Phi2Model model = settings.model();
        List<Embedding> out = new ArrayList<>(segments.size());
        int tokens = 0;
        for (TextSegment s : segments) {
            out.add(Embedding.from(model.embedding(s.text())));
            tokens += model.tokenize(s.text()).length;
        }
        return Response.from(out, new TokenUsage(tokens));
    }

    @Override
    public String modelName() {
        return settings.model().info().name();
    }

    public Phi2Model model() {
        return settings.model();
    }

    @Override
    public void close() {
        settings.release();
    }

    public static final class Builder extends Phi2Models.Builder<Builder> {
        public Phi2EmbeddingModel build() {
            Phi2Models.Settings s = settings(modelOptions().withEmbeddings(true));
            if (!s.model().isOpen()) {
                s.release();
                throw new InvalidOptionException("model", "is closed");
            }
            return new Phi2EmbeddingModel(s);
        }
    }
}
