package phi2j.langchain4j;

import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import phi2j.InvalidOptionException;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** What every phi2j LangChain4j model is built from: the model (a file, or a {@link Phi2Model} the caller owns) and defaults. */
public final class Phi2Models {
    private Phi2Models() {
    }

    /** A built model's settings: its model handle, default request parameters, listeners. */
    record Settings(ModelHandle handle, Phi2ChatRequestParameters defaults, List<ChatModelListener> listeners, boolean cachePrompt,
                    boolean strictJsonSchema) {
        Phi2Model model() {
            return handle.model();
        }

        void release() {
            handle.release();
        }
    }

    /**
     * The builder the chat, streaming, embedding models and the token count estimator share. Set the model with
     * {@link #modelPath} (opened on {@code build()}, and shared by every object built from the same path and options in
     * this process: one runner, its slots) or with {@link #model} (yours to close).
     */
    @SuppressWarnings("unchecked")
    public abstract static class Builder<B extends Builder<B>> {
        private Path modelPath;
        private ModelOptions modelOptions = ModelOptions.defaults();
        private Phi2Model model;
        private final Phi2ChatRequestParameters.Builder defaults = Phi2ChatRequestParameters.builder();
        private final List<ChatModelListener> listeners = new ArrayList<>();
        private boolean cachePrompt = true;
        private boolean strictJsonSchema = true;

        /** A GGUF file, opened on {@code build()} with {@link #modelOptions} (or shared, if already open with them). */
        public B modelPath(Path path) {
            this.modelPath = path;
            return (B) this;
        }

        /** How the file is opened: engine, GPU layers, context, slots ({@code withParallel}), threads. */
        public B modelOptions(ModelOptions options) {
            this.modelOptions = options;
            return (B) this;
        }

        /** A model you opened and close yourself; several LangChain4j objects may share it. */
        public B model(Phi2Model model) {
            this.model = model;
            return (B) this;
        }

        /** Defaults for every request; a request's own parameters win. */
        public B defaultRequestParameters(ChatRequestParameters parameters) {
            defaults.overrideWith(parameters);
            return (B) this;
        }

        public B temperature(Double t) {
            defaults.temperature(t);
            return (B) this;
        }

        public B topP(Double p) {
            defaults.topP(p);
            return (B) this;
        }

        public B topK(Integer k) {
            defaults.topK(k);
            return (B) this;
        }

        public B maxOutputTokens(Integer n) {
            defaults.maxOutputTokens(n);
            return (B) this;
        }

        public B stopSequences(List<String> stops) {
            defaults.stopSequences(stops);
            return (B) this;
        }

        public B presencePenalty(Double p) {
            defaults.presencePenalty(p);
            return (B) this;
        }

        public B seed(Long seed) {
            defaults.seed(seed);
            return (B) this;
        }

        /**
         * Whether a request starts from the longest prefix it shares with the previous one in its slot (on, as in
         * {@code phi2 serve}: a growing conversation is not evaluated again). Off, identical requests give bit-identical
         * log-probabilities.
         */
        public B cachePrompt(boolean on) {
            this.cachePrompt = on;
            return (B) this;
        }

        /**
         * Whether a JSON schema is followed strictly, as OpenAI's strict mode (on by default): every property is
         * written, those the schema left optional as null if the model has nothing for them. Off, optional properties
         * may be left out (and a small model may then answer {@code {}}).
         */
        public B strictJsonSchema(boolean on) {
            this.strictJsonSchema = on;
            return (B) this;
        }

        public B listeners(List<ChatModelListener> l) {
            listeners.clear();
            listeners.addAll(l);
            return (B) this;
        }

        /** The options the model is opened with when it comes from {@link #modelPath}. */
        ModelOptions modelOptions() {
            return modelOptions;
        }

        /** Checks the defaults, then opens or shares the model. */
        Settings settings() {
            return settings(modelOptions);
        }

        Settings settings(ModelOptions options) {
            Phi2ChatRequestParameters d = defaults.build();
            ChatRequests.refuseUnsupported(d);
            if ((model == null) == (modelPath == null)) {
                throw new InvalidOptionException("modelPath", model == null
                        ? "no model: set modelPath(...) (a GGUF file) or model(...) (a Phi2Model you opened)"
                        : "set modelPath(...) or model(...), not both");
            }
            ModelHandle handle = model != null ? ModelHandle.borrowed(model) : ModelHandle.shared(modelPath, options);
            try {
                // the defaults' values are checked now, not on the first request
                ChatRequests.options(d, handle.model().info(), cachePrompt, strictJsonSchema);
            } catch (RuntimeException e) {
                handle.release();
                throw e;
            }
            return new Settings(handle, d, List.copyOf(listeners), cachePrompt, strictJsonSchema);
        }
    }
}
