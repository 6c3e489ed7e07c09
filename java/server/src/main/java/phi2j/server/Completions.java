package phi2j.server;

import com.sun.net.httpserver.HttpExchange;
import phi2j.InvalidOptionException;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.ModelClosedException;
import phi2j.runtime.Phi2Model;
import phi2j.runtime.RunnerCrashedException;
import phi2j.runtime.RunnerStalledException;
import phi2j.runtime.StopReason;
import phi2j.runtime.TokenEvent;
import phi2j.runtime.TokenLogprob;
import phi2j.runtime.TokenStream;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code POST /v1/completions} and {@code /v1/chat/completions}: a request parsed ({@link Requests}), admitted while the
 * engine's queue is short enough (else 503), generated under the request timeout (else 504), and answered whole or as
 * a stream of chunks ({@link OpenAiResponses}); a client that goes away cancels its generation.
 */
final class Completions {
    private final Phi2Server.Config config;
    private final ModelSupervisor models;
    private final Metrics metrics;
    private final ScheduledExecutorService timers;
    /** The generations being answered now, so that a drain that runs out of time can cut them. */
    private final java.util.Set<Runnable> cutters = java.util.concurrent.ConcurrentHashMap.newKeySet();

    Completions(Phi2Server.Config config, ModelSupervisor models, Metrics metrics, ScheduledExecutorService timers) {
        this.config = config;
        this.models = models;
        this.metrics = metrics;
        this.timers = timers;
    }

    void handle(HttpExchange ex, boolean chat) throws IOException {
        var body = HttpIo.body(ex, config.maxBodyBytes());
        Phi2Model m = models.forRequest();
        Requests.Job job;
        try {
            job = Requests.parse(body, chat, config.modelId(), m.info().contextPerSequence());
        } catch (InvalidOptionException e) { // options out of range cannot be made: the API field they came from is named
            throw ApiError.badRequest(Requests.field(e.option(), chat), e.getMessage());
        }
        phi2j.Timer sinceRequest = phi2j.Timer.start();
        TokenStream s = open(m, job);
        AtomicBoolean timedOut = new AtomicBoolean();
        AtomicBoolean cut = new AtomicBoolean();
        ScheduledFuture<?> deadline = timers.schedule(() -> {
            timedOut.set(true);
            s.cancel();
        }, config.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
        Runnable cutter = () -> {
            cut.set(true);
            s.cancel();
        };
        cutters.add(cutter);
        OpenAiResponses responses = new OpenAiResponses(config.modelId(), chat, job.topLogprobs());
        HttpIo.EventStream events = null;
        try (s) {
            if (job.stream()) {
                events = new HttpIo.EventStream(ex);
                if (chat) {
                    events.event(responses.roleChunk());
                }
            }
            List<TokenLogprob> unsent = relay(s, job, responses, events, sinceRequest);
            GenerationResult r = s.result();
            metrics.generated(r.promptTokens(), r.cachedPromptTokens(), r.generatedTokens(), r.timings().tokensPerSecond());
            if (timedOut.get()) {
                throw new ApiError(504, "server_error", null, "timeout", "The generation took longer than " + config.requestTimeout().toSeconds() + " s");
            }
            if (cut.get()) {
                throw new ApiError(503, "server_error", null, "shutting_down", "The server is shutting down: the generation was cut "
                        + "at the drain timeout (" + config.drainTimeout().toSeconds() + " s)");
            }
            if (events == null) {
                HttpIo.sendJson(ex, 200, responses.complete(r, chat ? r.text().stripLeading() : r.text(), job.logprobs()));
            } else {
                events.event(responses.finishChunk(r, job.logprobs() ? unsent : null));
                if (job.includeUsage()) {
                    events.event(responses.usageChunk(r));
                }
                events.done();
            }
        } catch (RunnerStalledException e) {
            models.reopenSoon();
            failed(events, new ApiError(504, "server_error", null, "runner_stalled", e.getMessage()));
        } catch (RunnerCrashedException e) {
            models.reopenSoon();
            failed(events, new ApiError(500, "server_error", null, "runner_crashed", "The model's runner process died; "
                    + "it is being restarted: " + e.getMessage()));
        } catch (InvalidOptionException e) {
            failed(events, ApiError.badRequest(Requests.field(e.option(), job.chat()), e.getMessage()));
        } catch (ApiError e) {
            failed(events, e);
        } finally {
            deadline.cancel(false);
            cutters.remove(cutter);
        }
    }

    /** Cuts every generation being answered: each ends with a 503, or an error chunk and the end of its stream. */
    void cutAll() {
        cutters.forEach(Runnable::run);
    }

    /** The job's generation, admitted into the engine's slots or queue; 503 when the queue is full. */
    private TokenStream open(Phi2Model m, Requests.Job job) {
        try {
            TokenStream s = m.tryStream(job.prompt(), job.options(), config.queue());
            if (s == null) {
                throw new ApiError(503, "server_error", null, "overloaded", "All " + m.load().slots() + " slots and the queue of "
                        + config.queue() + " are busy; retry later");
            }
            return s;
        } catch (InvalidOptionException e) {
            throw ApiError.badRequest(Requests.field(e.option(), job.chat()), e.getMessage());
        } catch (RunnerCrashedException | ModelClosedException e) {
            models.reopenSoon(); // the runner died while this request waited
            throw new ApiError(500, "server_error", null, "runner_crashed", "The model's runner process died; it is being restarted: "
                    + e.getMessage());
        }
    }

    /**
     * Reads the generation to its end; when streaming ({@code events}), each token's released text is a chunk carrying
     * the log-probabilities of the tokens behind it. Returns the log-probabilities of tokens whose text was never sent
     * (a stop string's), for the last chunk. A client that disconnects cancels the generation.
     */
    private List<TokenLogprob> relay(TokenStream s, Requests.Job job, OpenAiResponses responses, HttpIo.EventStream events,
                                     phi2j.Timer sinceRequest) throws IOException {
        List<TokenLogprob> unsent = new ArrayList<>();
        boolean first = true;
        boolean started = false; // a chat answer starts after "Assistant:": its leading space is not content
        try {
            while (s.hasNext()) {
                TokenEvent e = s.next();
                if (first) {
                    first = false;
                    metrics.firstToken(sinceRequest.seconds());
                }
                if (events == null) {
                    continue;
                }
                if (job.logprobs() && e.token() >= 0) {
                    unsent.add(e.asLogprob());
                }
                String text = e.text();
                if (job.chat() && !started) {
                    text = text.stripLeading();
                    started = !text.isEmpty();
                }
                if (!text.isEmpty()) {
                    events.event(responses.textChunk(text, job.logprobs() ? List.copyOf(unsent) : null));
                    unsent.clear();
                }
            }
        } catch (IOException gone) {
            s.cancel();
            if (s.result().stopReason() == StopReason.CANCELLED) {
                metrics.abandoned();
            }
            throw gone;
        }
        return unsent;
    }

    /** Before the headers: an ordinary error answer; after them (streaming): an error event, then the end. */
    private static void failed(HttpIo.EventStream events, ApiError e) throws IOException {
        if (events == null) {
            throw e;
        }
        events.event(e.body());
        events.done();
    }
}
