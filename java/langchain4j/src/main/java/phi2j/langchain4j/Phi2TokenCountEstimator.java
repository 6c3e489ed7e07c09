package phi2j.langchain4j;

import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.model.TokenCountEstimator;
import phi2j.runtime.ChatFormat;
import phi2j.runtime.Phi2Model;

import java.util.List;

/**
 * LangChain4j's {@link TokenCountEstimator}, exact: the model's own tokenizer. A message counts as the chat prompt
 * phi2j renders for it (its {@code User:}/{@code Assistant:} name included), so that {@link #estimateTokenCountInMessages}
 * is the prompt a chat request sends, without the final {@code Assistant:} cue.
 */
public final class Phi2TokenCountEstimator implements TokenCountEstimator, AutoCloseable {
    private final Phi2Models.Settings settings;

    private Phi2TokenCountEstimator(Phi2Models.Settings settings) {
        this.settings = settings;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public int estimateTokenCountInText(String text) {
        return text.isEmpty() ? 0 : settings.model().tokenize(text).length;
    }

    @Override
    public int estimateTokenCountInMessage(ChatMessage message) {
        return estimateTokenCountInMessages(List.of(message));
    }

    @Override
    public int estimateTokenCountInMessages(Iterable<ChatMessage> messages) {
        List<ChatMessage> all = new java.util.ArrayList<>();
        messages.forEach(all::add);
        if (all.isEmpty()) {
            return 0;
        }
        String prompt = ChatRequests.prompt(all);
        return estimateTokenCountInText(prompt.substring(0, prompt.length() - ChatFormat.ANSWER_CUE.length()));
    }

    public Phi2Model model() {
        return settings.model();
    }

    @Override
    public void close() {
        settings.release();
    }

    public static final class Builder extends Phi2Models.Builder<Builder> {
        public Phi2TokenCountEstimator build() {
            return new Phi2TokenCountEstimator(settings());
        }
    }
}
