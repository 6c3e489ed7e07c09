package phi2j.springai;

import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.metadata.ChatGenerationMetadata;
import org.springframework.ai.chat.metadata.ChatResponseMetadata;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.model.Generation;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.Prompt;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.Phi2Model;
import phi2j.runtime.TokenEvent;
import phi2j.runtime.TokenStream;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Spring AI's {@link ChatModel} on a phi2j model, in this process (the model itself runs in phi2j's runner process).
 * {@link #call} generates to the end; {@link #stream} is a {@link Flux} of pieces that cancels the generation in the
 * engine when its subscriber cancels (the slot is free at once), and ends with a response that carries the finish
 * reason and the usage. Each prompt's options are merged over the defaults ({@link Phi2ChatOptions}).
 */
public class Phi2ChatModel implements ChatModel {
    private static final AtomicInteger THREADS = new AtomicInteger();
    private final Supplier<Phi2Model> model;
    private final Phi2ChatOptions defaults;
    private final boolean cachePrompt;

    /**
     * @param model       the model, asked for on the first request or {@link #model()} (a Spring bean may open it then)
     * @param defaults    options every prompt starts from
     * @param cachePrompt reuse the longest prefix a request shares with its slot's last one (as {@code phi2 serve})
     */
    public Phi2ChatModel(Supplier<Phi2Model> model, Phi2ChatOptions defaults, boolean cachePrompt) {
        this.model = model;
        this.defaults = defaults.copy();
        Prompts.refuseUnsupported(this.defaults);
        Phi2ChatOptions probe = this.defaults.copy(); // values out of range fail here, naming the option, not on a request
        if (probe.getMaxTokens() == null) {
            probe.setMaxTokens(1);
        }
        Prompts.options(probe, null, cachePrompt);
        this.cachePrompt = cachePrompt;
    }

    public Phi2ChatModel(Phi2Model model, Phi2ChatOptions defaults) {
        this(() -> model, defaults, true);
    }

    public Phi2Model model() {
        return model.get();
    }

    @Override
    public ChatResponse call(Prompt prompt) {
        Phi2Model m = model.get();
        Prompts.Prepared p = Prompts.prepare(prompt, defaults, m.info(), cachePrompt);
        GenerationResult r = m.generate(p.prompt(), p.options());
        return Prompts.response(r.text().stripLeading(), r, m.info()); // the space after "Assistant:" is not content
    }

    @Override
    public Flux<ChatResponse> stream(Prompt prompt) {
        Phi2Model m = model.get();
        Prompts.Prepared p = Prompts.prepare(prompt, defaults, m.info(), cachePrompt); // refusals before subscribing
        return Flux.create(sink -> {
            TokenStream s = m.stream(p.prompt(), p.options());
            sink.onDispose(s::cancel); // a cancelled subscription (or an error downstream) stops the generation
            Thread t = new Thread(() -> relay(s, sink, m), "phi2-spring-ai-stream-" + THREADS.incrementAndGet());
            t.setDaemon(true);
            t.start();
        }, FluxSink.OverflowStrategy.BUFFER);
    }

    private static void relay(TokenStream s, FluxSink<ChatResponse> sink, Phi2Model m) {
        try (s) {
            boolean started = false;
            while (s.hasNext() && !sink.isCancelled()) {
                TokenEvent e = s.next();
                String piece = started ? e.text() : e.text().stripLeading();
                started = started || !piece.isEmpty();
                if (!piece.isEmpty()) {
                    sink.next(new ChatResponse(List.of(new Generation(new AssistantMessage(piece)))));
                }
            }
            GenerationResult r = s.result();
            if (!sink.isCancelled()) {
                Generation last = new Generation(new AssistantMessage(""),
                        ChatGenerationMetadata.builder().finishReason(Prompts.finishReason(r.stopReason())).build());
                ChatResponseMetadata md = Prompts.metadata(r, m.info());
                sink.next(new ChatResponse(List.of(last), md));
                sink.complete();
            }
        } catch (RuntimeException e) {
            sink.error(e);
        }
    }

    @Override
    public ChatOptions getDefaultOptions() {
        return defaults.copy();
    }
}
