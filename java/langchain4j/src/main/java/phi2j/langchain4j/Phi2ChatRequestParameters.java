package phi2j.langchain4j;

import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.DefaultChatRequestParameters;

import java.util.Objects;

/**
 * LangChain4j's request parameters with what phi2j adds: the sampling {@code seed} (the same seed, options and prompt
 * give the same text). Set as a model's default parameters or on one {@code ChatRequest}; the request's values win.
 */
public class Phi2ChatRequestParameters extends DefaultChatRequestParameters {
    private final Long seed;

    protected Phi2ChatRequestParameters(Builder builder) {
        super(builder);
        this.seed = builder.seed;
    }

    /** The sampling seed, or null for the model's default (a random one unless ModelOptions sets one). */
    public Long seed() {
        return seed;
    }

    @Override
    public Phi2ChatRequestParameters overrideWith(ChatRequestParameters that) {
        return builder().overrideWith(this).overrideWith(that).build();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Phi2ChatRequestParameters p && super.equals(o) && Objects.equals(seed, p.seed);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), seed);
    }

    @Override
    public String toString() {
        return "Phi2ChatRequestParameters{" + super.toString() + ", seed=" + seed + "}";
    }

    public static Builder builder() {
        return new Builder();
    }

    public static class Builder extends DefaultChatRequestParameters.Builder<Builder> {
        private Long seed;

        @Override
        public Builder overrideWith(ChatRequestParameters parameters) {
            super.overrideWith(parameters);
            if (parameters instanceof Phi2ChatRequestParameters p && p.seed() != null) {
                seed = p.seed();
            }
            return this;
        }

        public Builder seed(Long seed) {
            this.seed = seed;
            return this;
        }

        @Override
        public Phi2ChatRequestParameters build() {
            return new Phi2ChatRequestParameters(this);
        }
    }
}
