package phi2j.langchain4j;

import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.response.StreamingHandle;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.Phi2Model;
import phi2j.runtime.TokenEvent;
import phi2j.runtime.TokenStream;

import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * LangChain4j's {@link StreamingChatModel} on a phi2j model: the same requests as {@link Phi2ChatModel}, the answer
 * handed over piece by piece on a thread of its own. {@link StreamingHandle#cancel()} (from
 * {@link PartialResponseContext#streamingHandle()}) stops the generation in the engine, which frees its slot at once;
 * no callback follows a cancel. A request phi2j refuses is thrown by {@code chat(...)} itself, before any thread starts.
 */
public final class Phi2StreamingChatModel implements StreamingChatModel, AutoCloseable {
    private static final AtomicInteger THREADS = new AtomicInteger();
    private final Phi2Models.Settings settings;

    private Phi2StreamingChatModel(Phi2Models.Settings settings) {
        this.settings = settings;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        Phi2Model model = settings.model();
        ChatRequests.Prepared p = ChatRequests.prepare(request, model.info(), settings);
        TokenStream stream = model.stream(p.prompt(), p.options());
        Handle handle = new Handle(stream);
        Thread t = new Thread(() -> relay(stream, handle, handler, model), "phi2-langchain4j-stream-" + THREADS.incrementAndGet());
        t.setDaemon(true);
        t.start();
    }

    private static void relay(TokenStream stream, Handle handle, StreamingChatResponseHandler handler, Phi2Model model) {
        try (stream) {
            StringBuilder text = new StringBuilder();
            PartialResponseContext context = new PartialResponseContext(handle);
            while (stream.hasNext()) {
                TokenEvent e = stream.next();
                String piece = e.text();
                if (text.isEmpty()) {
                    piece = piece.stripLeading(); // the space after "Assistant:" is not content
                }
                if (handle.isCancelled()) {
                    break;
                }
                if (piece.isEmpty()) {
                    continue;
                }
                text.append(piece);
                handler.onPartialResponse(new PartialResponse(piece), context);
            }
            GenerationResult r = stream.result();
            if (!handle.isCancelled()) {
                handler.onCompleteResponse(ChatRequests.response(r, text.toString(), model.info()));
            }
        } catch (RuntimeException e) {
            if (!handle.isCancelled()) {
                handler.onError(e);
            }
        }
    }

    /** LangChain4j's handle on one stream: cancelling it cancels the generation. */
    private static final class Handle implements StreamingHandle {
        private final TokenStream stream;
        private volatile boolean cancelled;

        Handle(TokenStream stream) {
            this.stream = stream;
        }

        @Override
        public void cancel() {
            cancelled = true;
            stream.cancel();
        }

        @Override
        public boolean isCancelled() {
            return cancelled;
        }
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

    public Phi2Model model() {
        return settings.model();
    }

    @Override
    public void close() {
        settings.release();
    }

    public static final class Builder extends Phi2Models.Builder<Builder> {
        public Phi2StreamingChatModel build() {
            return new Phi2StreamingChatModel(settings());
        }
    }
}
