package phi2j.springai;

import org.springframework.ai.chat.metadata.DefaultUsage;
import org.springframework.ai.document.Document;
import org.springframework.ai.embedding.AbstractEmbeddingModel;
import org.springframework.ai.embedding.Embedding;
import org.springframework.ai.embedding.EmbeddingRequest;
import org.springframework.ai.embedding.EmbeddingResponse;
import org.springframework.ai.embedding.EmbeddingResponseMetadata;
import phi2j.runtime.Phi2Model;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Spring AI's {@link org.springframework.ai.embedding.EmbeddingModel} on a phi2j model opened with embeddings
 * ({@code ModelOptions.withEmbeddings(true)}): each text's final hidden state, L2-normalized, with its exact token
 * count as usage.
 */
public class Phi2EmbeddingModel extends AbstractEmbeddingModel {
    private final Supplier<Phi2Model> model;

    public Phi2EmbeddingModel(Supplier<Phi2Model> model) {
        this.model = model;
    }

    public Phi2EmbeddingModel(Phi2Model model) {
        this(() -> model);
    }

    @Override
    public EmbeddingResponse call(EmbeddingRequest request) {
        Phi2Model m = model.get();
        List<Embedding> out = new ArrayList<>();
        int tokens = 0;
        for (String text : request.getInstructions()) {
            out.add(new Embedding(m.embedding(text), out.size()));
            tokens += m.tokenize(text).length;
        }
        return new EmbeddingResponse(out, new EmbeddingResponseMetadata(m.info().name(), new DefaultUsage(tokens, 0)));
    }

    @Override
    public float[] embed(Document document) {
        return model.get().embedding(document.getText());
    }

    @Override
    public int dimensions() {
        return model.get().embedding("dimensions").length;
    }
}
