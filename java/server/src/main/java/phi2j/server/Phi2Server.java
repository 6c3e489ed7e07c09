package phi2j.server;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.Phi2Model;
import phi2j.runtime.RunnerCrashedException;
import phi2j.runtime.RunnerStalledException;
import phi2j.runtime.StopReason;
import phi2j.runtime.TokenLogprob;
import phi2j.runtime.TokenStream;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * An OpenAI-compatible HTTP server over one model: {@code POST /v1/chat/completions}, {@code POST /v1/completions},
 * {@code GET /v1/models}, {@code GET /health}, {@code GET /metrics}. Generations run in the model's parallel slots;
 * beyond them a bounded queue waits, and past the queue a request gets 503 with Retry-After. A client that goes away
 * cancels its generation. A runner that dies fails the requests in flight (500, or 504 when it stalled) and is
 * opened again for the next request. Built on the JDK's own HTTP server: one thread per connection is what
 * streaming needs, the load is bounded by the slots and the queue, and it adds no dependency.
 */
public final class Phi2Server implements AutoCloseable {
    /**
     * @param host          the address to bind: 127.0.0.1 unless the operator says otherwise
     * @param port          0 for any free port
     * @param apiKey        required as {@code Authorization: Bearer KEY} when not null
     * @param modelId       the name clients use in {@code model}
     * @param slots         generations at once (the model's parallel slots)
     * @param queue         requests that may wait for a slot; more get 503
     * @param maxBodyBytes  larger request bodies get 413
     * @param requestTimeout a generation running longer is cancelled (504)
     * @param shutdownGrace how long closing waits for requests in flight
     */
    public record Config(String host, int port, String apiKey, String modelId, int slots, int queue, long maxBodyBytes,
                         Duration requestTimeout, Duration shutdownGrace) {
        public Config {
            if (host == null || host.isBlank()) {
                throw new InvalidOptionException("host", "is empty");
            }
            if (port < 0 || port > 65535) {
                throw new InvalidOptionException("port", "must be 0 to 65535, not " + port);
            }
            if (modelId == null || modelId.isBlank()) {
                throw new InvalidOptionException("modelId", "is empty");
            }
            if (slots < 1 || queue < 0 || maxBodyBytes < 1024) {
                throw new InvalidOptionException(slots < 1 ? "slots" : queue < 0 ? "queue" : "maxBodyBytes", "is out of range");
            }
            if (requestTimeout == null || requestTimeout.isNegative() || requestTimeout.isZero()) {
                throw new InvalidOptionException("requestTimeout", "must be positive");
            }
        }
    }

    private static final Gson GSON = new Gson();
    private final Config config;
    private final Supplier<Phi2Model> opener;
    private final HttpServer http;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "phi2-serve");
        t.setDaemon(true);
        return t;
    });
    private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "phi2-serve-timeouts");
        t.setDaemon(true);
        return t;
    });
    private final Semaphore admission;
    private final Metrics metrics = new Metrics();
    private final Object modelLock = new Object();
    private volatile Phi2Model model;
    private volatile boolean loading = true;
    /** Exchanges being handled now, and whether close() has begun: shutdown waits for the first, refuses new work by the second. */
    private final java.util.concurrent.atomic.AtomicInteger inFlight = new java.util.concurrent.atomic.AtomicInteger();
    private volatile boolean closing;
    private final long created = System.currentTimeMillis() / 1000;

    private Phi2Server(Config config, Supplier<Phi2Model> opener) throws IOException {
        this.config = config;
        this.opener = opener;
        this.admission = new Semaphore(config.slots() + config.queue(), true);
        this.http = HttpServer.create(new InetSocketAddress(config.host(), config.port()), 64);
        http.setExecutor(threads);
        http.createContext("/", this::handle);
    }

    /** Binds, starts serving (health says "loading" until then), and opens the model in the background. */
    public static Phi2Server start(Config config, Supplier<Phi2Model> opener) throws IOException {
        Phi2Server s = new Phi2Server(config, opener);
        s.http.start();
        s.threads.execute(() -> {
            try {
                s.model();
            } catch (RuntimeException e) {
                System.getLogger("phi2j.server").log(System.Logger.Level.ERROR, "the model could not be opened: " + e.getMessage());
            }
        });
        return s;
    }

    public int port() {
        return http.getAddress().getPort();
    }

    /** The runner process of the open model, or -1 (for operators' tooling and fault tests). */
    public long runnerPid() {
        Phi2Model m = model;
        return m != null && m.isOpen() ? m.runnerPid() : -1;
    }

    /** Admission permits not taken: slots + queue when nothing is running or waiting. */
    int freePermits() {
        return admission.availablePermits();
    }

    /** The open model, opening it (again, after a runner crash) when needed. */
    private Phi2Model model() {
        Phi2Model m = model;
        if (m != null && m.isOpen()) {
            return m;
        }
        synchronized (modelLock) {
            if (model != null && model.isOpen()) {
                return model;
            }
            loading = true;
            try {
                model = opener.get();
                return model;
            } finally {
                loading = false;
            }
        }
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        int status = 200;
        inFlight.incrementAndGet();
        try {
            if (closing) {
                throw new ApiError(503, "server_error", null, "shutting_down", "The server is shutting down");
            }
            switch (path) {
                case "/health" -> status = health(ex);
                case "/metrics" -> send(ex, 200, "text/plain; version=0.0.4", metrics.render(admissionWaiting()).getBytes(StandardCharsets.UTF_8));
                case "/v1/models" -> {
                    authorize(ex);
                    method(ex, "GET");
                    sendJson(ex, 200, models());
                }
                case "/v1/chat/completions", "/v1/completions" -> {
                    authorize(ex);
                    method(ex, "POST");
                    generate(ex, path.endsWith("chat/completions"));
                }
                default -> throw new ApiError(404, "invalid_request_error", null, "unknown_url", "Unknown path " + path);
            }
        } catch (ApiError e) {
            status = e.status;
            if (status == 503) {
                ex.getResponseHeaders().add("Retry-After", "1");
            }
            sendJson(ex, e.status, e.body());
        } catch (IOException e) {
            status = 499; // the client went away
        } catch (RuntimeException e) {
            status = 500;
            sendJson(ex, 500, new ApiError(500, "server_error", null, null, "internal error: " + e).body());
        } finally {
            metrics.request(path, status);
            ex.close();
            inFlight.decrementAndGet();
        }
    }

    private int admissionWaiting() {
        return Math.max(0, config.slots() + config.queue() - admission.availablePermits() - config.slots());
    }

    private int health(HttpExchange ex) throws IOException {
        JsonObject o = new JsonObject();
        boolean ready = model != null && model.isOpen() && !loading;
        o.addProperty("status", ready ? "ok" : "loading");
        sendJson(ex, ready ? 200 : 503, o);
        return ready ? 200 : 503;
    }

    private JsonObject models() {
        JsonObject m = new JsonObject();
        m.addProperty("id", config.modelId());
        m.addProperty("object", "model");
        m.addProperty("created", created);
        m.addProperty("owned_by", "phi2j");
        JsonArray data = new JsonArray();
        data.add(m);
        JsonObject o = new JsonObject();
        o.addProperty("object", "list");
        o.add("data", data);
        return o;
    }

    private void authorize(HttpExchange ex) {
        if (config.apiKey() == null) {
            return;
        }
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        if (auth == null || !java.security.MessageDigest.isEqual(("Bearer " + config.apiKey()).getBytes(StandardCharsets.UTF_8),
                auth.getBytes(StandardCharsets.UTF_8))) {
            throw new ApiError(401, "invalid_request_error", null, "invalid_api_key", "Missing or wrong API key (Authorization: Bearer KEY)");
        }
    }

    private static void method(HttpExchange ex, String m) {
        if (!ex.getRequestMethod().equals(m)) {
            throw new ApiError(405, "invalid_request_error", null, null, "Use " + m + " for " + ex.getRequestURI().getPath());
        }
    }

    private JsonObject body(HttpExchange ex) throws IOException {
        String len = ex.getRequestHeaders().getFirst("Content-Length");
        if (len != null) {
            try {
                long declared = Long.parseLong(len.trim());
                if (declared > config.maxBodyBytes()) {
                    drain(ex, declared);
                    throw new ApiError(413, "invalid_request_error", null, null, "The body is larger than " + config.maxBodyBytes() + " bytes");
                }
            } catch (NumberFormatException e) {
                throw ApiError.badRequest(null, "Content-Length is not a number");
            }
        }
        byte[] raw;
        try (InputStream in = ex.getRequestBody()) {
            raw = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, config.maxBodyBytes() + 1));
        }
        if (raw.length > config.maxBodyBytes()) {
            drain(ex, Long.MAX_VALUE);
            throw new ApiError(413, "invalid_request_error", null, null, "The body is larger than " + config.maxBodyBytes() + " bytes");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(raw)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw ApiError.badRequest(null, "The body is not valid UTF-8");
        }
        try {
            JsonElement e = JsonParser.parseString(text);
            if (!e.isJsonObject()) {
                throw ApiError.badRequest(null, "The body must be a JSON object");
            }
            return e.getAsJsonObject();
        } catch (com.google.gson.JsonParseException e) {
            throw ApiError.badRequest(null, "The body is not JSON: " + e.getMessage());
        }
    }

    /** Reads and drops what a refused body still sends (up to 64 MiB), so the client gets to read the refusal. */
    private static void drain(HttpExchange ex, long declared) throws IOException {
        long limit = Math.min(declared, 64L << 20);
        try (InputStream in = ex.getRequestBody()) {
            byte[] sink = new byte[1 << 16];
            long total = 0;
            int n;
            while (total < limit && (n = in.read(sink)) > 0) {
                total += n;
            }
        }
    }

    private void generate(HttpExchange ex, boolean chat) throws IOException {
        JsonObject body = body(ex);
        if (loading && model == null) {
            throw new ApiError(503, "server_error", null, "model_loading", "The model is still loading");
        }
        Phi2Model m;
        try {
            m = model();
        } catch (Phi2Exception e) {
            throw new ApiError(503, "server_error", null, "model_unavailable", "The model could not be opened: " + e.getMessage());
        }
        Requests.Job job;
        try {
            job = Requests.parse(body, chat, config.modelId(), m.info().contextPerSequence());
        } catch (InvalidOptionException e) { // options out of range cannot be made: the API field they came from is named
            throw ApiError.badRequest(Requests.field(e.option(), chat), e.getMessage());
        }
        if (!admission.tryAcquire()) {
            throw new ApiError(503, "server_error", null, "overloaded", "All " + config.slots() + " slots and the queue of "
                    + config.queue() + " are busy; retry later");
        }
        try {
            run(ex, m, job);
        } finally {
            admission.release();
        }
    }

    private void run(HttpExchange ex, Phi2Model m, Requests.Job job) throws IOException {
        String id = (job.chat() ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
        phi2j.Timer sinceRequest = phi2j.Timer.start();
        TokenStream s = open(m, job);
        java.util.concurrent.atomic.AtomicBoolean timedOut = new java.util.concurrent.atomic.AtomicBoolean();
        ScheduledFuture<?> deadline = timers.schedule(() -> {
            timedOut.set(true);
            s.cancel();
        }, config.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
        boolean headersSent = false;
        try (s) {
            OutputStream out = job.stream() ? startEvents(ex, job, id) : null;
            headersSent = out != null;
            relay(s, job, id, out, sinceRequest);
            GenerationResult r = s.result();
            metrics.generated(r.promptTokens(), r.generatedTokens(), r.timings().tokensPerSecond());
            if (timedOut.get()) {
                throw new ApiError(504, "server_error", null, "timeout", "The generation took longer than " + config.requestTimeout().toSeconds() + " s");
            }
            finish(ex, job, id, out, r);
        } catch (RunnerStalledException e) {
            reopenSoon();
            failed(ex, headersSent, new ApiError(504, "server_error", null, "runner_stalled", e.getMessage()));
        } catch (RunnerCrashedException e) {
            reopenSoon();
            failed(ex, headersSent, new ApiError(500, "server_error", null, "runner_crashed", "The model's runner process died; "
                    + "it is being restarted: " + e.getMessage()));
        } catch (InvalidOptionException e) {
            failed(ex, headersSent, ApiError.badRequest(Requests.field(e.option(), job.chat()), e.getMessage()));
        } catch (ApiError e) {
            failed(ex, headersSent, e);
        } finally {
            deadline.cancel(false);
        }
    }

    /** The job's generation, started; what cannot start becomes the API's error. */
    private TokenStream open(Phi2Model m, Requests.Job job) {
        try {
            return m.stream(job.prompt(), job.options());
        } catch (InvalidOptionException e) {
            throw ApiError.badRequest(Requests.field(e.option(), job.chat()), e.getMessage());
        } catch (RunnerCrashedException | phi2j.runtime.ModelClosedException e) {
            reopenSoon(); // the runner died while this request waited for a slot
            throw new ApiError(500, "server_error", null, "runner_crashed", "The model's runner process died; it is being restarted: "
                    + e.getMessage());
        }
    }

    /** Server-sent events: the headers, and for a chat the first chunk with the assistant's role. */
    private OutputStream startEvents(HttpExchange ex, Requests.Job job, String id) throws IOException {
        ex.getResponseHeaders().add("Content-Type", "text/event-stream");
        ex.getResponseHeaders().add("Cache-Control", "no-cache");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        if (job.chat()) {
            JsonObject delta = new JsonObject();
            delta.addProperty("role", "assistant");
            delta.addProperty("content", "");
            event(out, chunk(id, true, delta, null, null));
        }
        return out;
    }

    /**
     * Reads the generation to its end, each piece an event when streaming ({@code out}); a client that disconnects
     * cancels it, and its slot is free once the runner says the generation ended.
     */
    private void relay(TokenStream s, Requests.Job job, String id, OutputStream out, phi2j.Timer sinceRequest) throws IOException {
        boolean first = true;
        boolean started = false; // a chat answer starts after "Assistant:": its leading space is not content
        try {
            while (s.hasNext()) {
                String piece = s.next();
                if (first) {
                    first = false;
                    metrics.firstToken(sinceRequest.seconds());
                }
                if (job.chat() && !started) {
                    piece = piece.stripLeading();
                    started = !piece.isEmpty();
                }
                if (out != null && !piece.isEmpty()) {
                    event(out, chunk(id, job.chat(), text(piece), null, null));
                }
            }
        } catch (IOException gone) {
            s.cancel();
            if (s.result().stopReason() == StopReason.CANCELLED) {
                metrics.abandoned();
            }
            throw gone;
        }
    }

    /** The end: the finish reason (and usage) as the last events and [DONE], or the whole answer as one JSON body. */
    private void finish(HttpExchange ex, Requests.Job job, String id, OutputStream out, GenerationResult r) throws IOException {
        String finish = r.stopReason() == StopReason.LENGTH ? "length" : "stop";
        if (out == null) {
            sendJson(ex, 200, complete(id, job, r, finish));
            return;
        }
        event(out, chunk(id, job.chat(), new JsonObject(), finish, null));
        if (job.includeUsage()) {
            event(out, chunk(id, job.chat(), null, null, usage(r)));
        }
        out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** After a runner crash: open the model again in the background, so the next request finds it ready. */
    private void reopenSoon() {
        threads.execute(() -> {
            try {
                model();
            } catch (RuntimeException e) {
                System.getLogger("phi2j.server").log(System.Logger.Level.ERROR, "reopening the model failed: " + e.getMessage());
            }
        });
    }

    /** Before the headers: an ordinary error answer; after them (streaming): an error event, then the end. */
    private void failed(HttpExchange ex, boolean headersSent, ApiError e) throws IOException {
        if (!headersSent) {
            throw e;
        }
        OutputStream out = ex.getResponseBody();
        event(out, e.body());
        out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static JsonObject text(String piece) {
        JsonObject d = new JsonObject();
        d.addProperty("content", piece);
        return d;
    }

    private JsonObject chunk(String id, boolean chat, JsonObject delta, String finish, JsonObject usage) {
        JsonObject o = new JsonObject();
        o.addProperty("id", id);
        o.addProperty("object", chat ? "chat.completion.chunk" : "text_completion");
        o.addProperty("created", System.currentTimeMillis() / 1000);
        o.addProperty("model", config.modelId());
        JsonArray choices = new JsonArray();
        if (delta != null) {
            JsonObject c = new JsonObject();
            c.addProperty("index", 0);
            if (chat) {
                c.add("delta", delta);
            } else {
                c.addProperty("text", delta.has("content") ? delta.get("content").getAsString() : "");
            }
            c.addProperty("finish_reason", finish);
            choices.add(c);
        }
        o.add("choices", choices);
        if (usage != null) {
            o.add("usage", usage);
        }
        return o;
    }

    private JsonObject complete(String id, Requests.Job job, GenerationResult r, String finish) {
        JsonObject c = new JsonObject();
        c.addProperty("index", 0);
        if (job.chat()) {
            JsonObject msg = new JsonObject();
            msg.addProperty("role", "assistant");
            msg.addProperty("content", r.text().stripLeading());
            c.add("message", msg);
            c.add("logprobs", job.logprobs() ? logprobs(r, job.topLogprobs()) : null);
        } else {
            c.addProperty("text", r.text());
        }
        c.addProperty("finish_reason", finish);
        JsonArray choices = new JsonArray();
        choices.add(c);
        JsonObject o = new JsonObject();
        o.addProperty("id", id);
        o.addProperty("object", job.chat() ? "chat.completion" : "text_completion");
        o.addProperty("created", System.currentTimeMillis() / 1000);
        o.addProperty("model", config.modelId());
        o.add("choices", choices);
        o.add("usage", usage(r));
        return o;
    }

    private static JsonObject logprobs(GenerationResult r, int top) {
        JsonArray content = new JsonArray();
        for (TokenLogprob t : r.logprobs()) {
            JsonObject e = entry(t.text(), t.logprob());
            JsonArray alts = new JsonArray();
            t.top().stream().limit(top).forEach(a -> alts.add(entry(a.text(), a.logprob())));
            e.add("top_logprobs", alts);
            content.add(e);
        }
        JsonObject o = new JsonObject();
        o.add("content", content);
        return o;
    }

    private static JsonObject entry(String token, double logprob) {
        JsonObject e = new JsonObject();
        e.addProperty("token", token);
        e.addProperty("logprob", logprob);
        JsonArray bytes = new JsonArray();
        for (byte b : token.getBytes(StandardCharsets.UTF_8)) {
            bytes.add(b & 0xff);
        }
        e.add("bytes", bytes);
        return e;
    }

    private static JsonObject usage(GenerationResult r) {
        JsonObject u = new JsonObject();
        u.addProperty("prompt_tokens", r.promptTokens());
        u.addProperty("completion_tokens", r.generatedTokens());
        u.addProperty("total_tokens", r.promptTokens() + r.generatedTokens());
        return u;
    }

    private static void event(OutputStream out, JsonObject o) throws IOException {
        out.write(("data: " + GSON.toJson(o) + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static void sendJson(HttpExchange ex, int status, JsonObject o) throws IOException {
        send(ex, status, "application/json", GSON.toJson(o).getBytes(StandardCharsets.UTF_8));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    /**
     * Stops accepting, lets requests in flight finish within the grace period, then closes the model. An idle server
     * stops at once: the JDK's HttpServer.stop waits its whole delay even with nothing in flight (before JDK 22), so
     * the waiting is done here, on our own count of exchanges, and the server is stopped with no delay after it.
     */
    @Override
    public void close() {
        closing = true;
        long deadline = System.nanoTime() + config.shutdownGrace().toNanos();
        while (inFlight.get() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        http.stop(0);
        timers.shutdownNow();
        threads.shutdownNow();
        Phi2Model m = model;
        if (m != null) {
            m.close();
        }
    }
}
