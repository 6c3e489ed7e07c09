package demo;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.service.AiServices;
import dev.langchain4j.store.embedding.EmbeddingMatch;
import dev.langchain4j.store.embedding.EmbeddingSearchRequest;
import dev.langchain4j.store.embedding.inmemory.InMemoryEmbeddingStore;
import phi2j.langchain4j.Phi2ChatModel;
import phi2j.langchain4j.Phi2EmbeddingModel;
import phi2j.langchain4j.Phi2StreamingChatModel;
import phi2j.runtime.EngineKind;
import phi2j.runtime.ModelOptions;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A LangChain4j application on phi2j, as a user writes one: an AI service that returns a record through the JSON
 * schema (10 seeds), a streamed answer cancelled from its handle, and an in-memory embedding store. Usage:
 * LangChainApp MODEL.gguf. Throws (exit status 1) when a check fails; prints one "consumer:" line.
 */
public final class LangChainApp {
    enum Mood { HAPPY, SAD, NEUTRAL }

    record Review(Mood mood, boolean recommends, long stars) {
    }

    interface Reviewer {
        Review review(String text);
    }

    public static void main(String[] args) throws Exception {
        Path model = Path.of(args[0]);
        ModelOptions options = ModelOptions.defaults().withContextSize(1024).withThreads(2).withParallel(2).withEmbeddings(true);
        int records = 0;
        for (long seed = 1; seed <= 10; seed++) {
            try (Phi2ChatModel chat = Phi2ChatModel.builder().modelPath(model).modelOptions(options)
                    .temperature(1.0).seed(seed).maxOutputTokens(200).build()) {
                check(chat.model().info().engine() == EngineKind.NATIVE, "the native engine runs, not " + chat.model().info().engine());
                Review r = AiServices.create(Reviewer.class, chat).review("Great soup, I will come back.");
                check(r != null, "seed " + seed + ": a record");
                records++;
            }
        }

        try (Phi2StreamingChatModel streaming = Phi2StreamingChatModel.builder().modelPath(model).modelOptions(options).maxOutputTokens(400).build()) {
            CompletableFuture<String> first = new CompletableFuture<>();
            streaming.chat("Tell me a long story.", new StreamingChatResponseHandler() {
                @Override
                public void onPartialResponse(PartialResponse piece, PartialResponseContext context) {
                    context.streamingHandle().cancel();
                    first.complete(piece.text());
                }

                @Override
                public void onCompleteResponse(ChatResponse r) {
                    first.completeExceptionally(new IllegalStateException("completed after the cancel"));
                }

                @Override
                public void onError(Throwable e) {
                    first.completeExceptionally(e);
                }
            });
            first.get(60, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (streaming.model().load().running() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            check(streaming.model().load().running() == 0, "the cancelled stream's slot is free");
        }

        try (Phi2EmbeddingModel embeddings = Phi2EmbeddingModel.builder().modelPath(model).modelOptions(options).build()) {
            List<TextSegment> texts = List.of(TextSegment.from("The cat sleeps on the sofa."),
                    TextSegment.from("Stock markets fell sharply on Monday."), TextSegment.from("Photosynthesis turns light into sugar."));
            List<Embedding> vectors = embeddings.embedAll(texts).content();
            InMemoryEmbeddingStore<TextSegment> store = new InMemoryEmbeddingStore<>();
            store.addAll(vectors, texts);
            for (TextSegment t : texts) {
                EmbeddingMatch<TextSegment> best = store.search(EmbeddingSearchRequest.builder()
                        .queryEmbedding(embeddings.embed(t.text()).content()).maxResults(1).build()).matches().get(0);
                check(best.embedded().text().equals(t.text()), "the nearest to '" + t.text() + "' is itself, not '" + best.embedded().text() + "'");
            }
            System.out.println("consumer: engine=" + embeddings.model().info().engine().label() + " records=" + records
                    + " cancelled=yes embeddings=" + embeddings.dimension() + "-dim nearest=self");
        }
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException("consumer check failed: " + what);
        }
    }
}
