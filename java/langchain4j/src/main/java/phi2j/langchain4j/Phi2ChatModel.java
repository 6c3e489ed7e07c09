package phi2j.langchain4j;

import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.Phi2Model;

import java.util.List;
import java.util.Set;

/**
 * LangChain4j's {@link ChatModel} on a phi2j model, in this process (the model itself runs in phi2j's runner process).
 * Requests are honoured or refused, never partly ignored: temperature, top-p, top-k, max output tokens, stop
 * sequences, presence penalty, the seed ({@link Phi2ChatRequestParameters}) and the response format (JSON, and JSON with
 * a schema, which constrains the text: an {@code AiServices} method may return a record). Tools, frequency penalty and
 * images are refused with {@link dev.langchain4j.exception.UnsupportedFeatureException}.
 *
 * <pre>{@code
 * ChatModel chat = Phi2ChatModel.builder().modelPath(Path.of("models-gguf/phi-2.Q4_K_M.gguf")).build();
 * String answer = chat.chat("What is a GPU?");
 * }</pre>
 */
public final class Phi2ChatModel implements ChatModel, AutoCloseable {
    private final Phi2Models.Settings settings;

    private Phi2ChatModel(Phi2Models.Settings settings) {
        this.settings = settings;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        Phi2Model model = settings.model();
        ChatRequests.Prepared p = ChatRequests.prepare(request, model.info(), settings);
        GenerationResult r = model.generate(p.prompt(), p.options());
        // the answer follows "Assistant:": the space the model puts first is not content
        return ChatRequests.response(r, r.text().stripLeading(), model.info());
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return settings.defaults();
    }

    @Override
    public Set<Capability> supportedCapabilities() {
        return Set.of(Capability.RESPONSE_FORMAT_JSON_SCHEMA);
    }

    @Override
    public List<ChatModelListener> listeners() {
        return settings.listeners();
    }

    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    /** The phi2j model underneath (shared with the other objects built from the same file and options). */
    public Phi2Model model() {
        return settings.model();
    }

    /** Lets go of the model: a shared one closes with its last user; one passed to {@code model(...)} stays open. */
    @Override
    public void close() {
        settings.release();
    }

    public static final class Builder extends Phi2Models.Builder<Builder> {
        public Phi2ChatModel build() {
            return new Phi2ChatModel(settings());
        }
    }
}
