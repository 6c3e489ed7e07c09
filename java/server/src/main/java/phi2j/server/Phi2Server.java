package phi2j.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import phi2j.InvalidOptionException;
import phi2j.runtime.Phi2Model;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import com.google.gson.JsonObject;

/**
 * An OpenAI-compatible HTTP server over one model: {@code POST /v1/chat/completions}, {@code POST /v1/completions},
 * {@code POST /v1/embeddings}, {@code GET /v1/models}, {@code GET /health} (liveness: the process serves),
 * {@code GET /ready} (readiness: the model is open and the server is not draining), {@code GET /metrics}, and
 * llama-server's {@code POST /tokenize} and {@code /detokenize}. Generations run in the model's parallel slots;
 * beyond them the engine's queue holds up to {@code queue} more, and past that a request gets 503 with Retry-After. A
 * client that goes away cancels its generation. A runner that dies fails the requests in flight (500, or 504 when it
 * stalled) and is opened again for the next request. Built on the JDK's own HTTP server: one thread per connection is
 * what streaming needs, the load is bounded by the slots and the queue, and it adds no dependency.
 *
 * <p>This class routes, checks the key and stops; {@link Completions} answers completions, {@link Embeddings} and
 * {@link Tokens} the rest, {@link Requests} parses
 * them, {@link OpenAiResponses} renders OpenAI's JSON, {@link ModelSupervisor} keeps the model, {@link HttpIo} reads
 * and writes HTTP.
 */
public final class Phi2Server implements AutoCloseable {
    /**
     * @param host          the address to bind: 127.0.0.1 unless the operator says otherwise
     * @param port          0 for any free port
     * @param apiKey        required as {@code Authorization: Bearer KEY} when not null
     * @param modelId       the name clients use in {@code model}
     * @param queue         requests that may wait for a slot; more get 503
     * @param maxBodyBytes  larger request bodies get 413
     * @param requestTimeout a generation running longer is cancelled (504)
     * @param drainTimeout  how long closing (SIGTERM) waits for requests in flight; generations still running then are
     *                      cut, a stream with a final error chunk
     */
    public record Config(String host, int port, String apiKey, String modelId, int queue, long maxBodyBytes,
                         Duration requestTimeout, Duration drainTimeout) {
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
            if (queue < 0 || maxBodyBytes < 1024) {
                throw new InvalidOptionException(queue < 0 ? "queue" : "maxBodyBytes", "is out of range");
            }
            if (requestTimeout == null || requestTimeout.isNegative() || requestTimeout.isZero()) {
                throw new InvalidOptionException("requestTimeout", "must be positive");
            }
            if (drainTimeout == null || drainTimeout.isNegative()) {
                throw new InvalidOptionException("drainTimeout", "must be 0 or more");
            }
        }
    }

    private final Config config;
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
    private final Metrics metrics;
    private final ModelSupervisor models;
    private final Completions completions;
    /** Exchanges being handled now, and whether close() has begun: shutdown waits for the first, refuses new work by the second. */
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile boolean closing;
    private final long created = System.currentTimeMillis() / 1000;

    private Phi2Server(Config config, Supplier<Phi2Model> opener) throws IOException {
        this.config = config;
        this.models = new ModelSupervisor(opener, threads);
        this.metrics = new Metrics(models::openModel, models::load);
        this.completions = new Completions(config, models, metrics, timers);
        this.http = HttpServer.create(new InetSocketAddress(config.host(), config.port()), 64);
        http.setExecutor(threads);
        http.createContext("/", this::handle);
    }

    /** Binds, starts serving (health says "loading" until then), and opens the model in the background. */
    public static Phi2Server start(Config config, Supplier<Phi2Model> opener) throws IOException {
        Phi2Server s = new Phi2Server(config, opener);
        s.http.start();
        s.models.openSoon();
        return s;
    }

    public int port() {
        return http.getAddress().getPort();
    }

    /** The runner process of the open model, or -1 (for operators' tooling and fault tests). */
    public long runnerPid() {
        return models.runnerPid();
    }

    /** The engine's slots, running and waiting generations now, or null while no model is open (for operators' tooling and tests). */
    public Phi2Model.Load load() {
        return models.load();
    }

    /** Room for more generations, from the engine's own counts: slots plus queue when idle (for the fault tests). */
    int freePermits() {
        Phi2Model.Load l = models.load();
        return l == null ? 0 : l.slots() + config.queue() - l.running() - l.waiting();
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        int status = 200;
        inFlight.incrementAndGet();
        try {
            switch (path) { // liveness and readiness answer while draining; everything else is refused then
                case "/health" -> status = health(ex);
                case "/ready" -> status = ready(ex);
                default -> {
                    if (closing) {
                        throw new ApiError(503, "server_error", null, "shutting_down", "The server is shutting down");
                    }
                }
            }
            switch (path) {
                case "/health", "/ready" -> {
                    // answered above
                }
                case "/metrics" -> {
                    Metrics.Scrape scrape = metrics.scrape(ex.getRequestHeaders().getFirst("Accept"));
                    HttpIo.send(ex, 200, scrape.contentType(), scrape.body());
                }
                case "/v1/models" -> {
                    authorize(ex);
                    method(ex, "GET");
                    HttpIo.sendJson(ex, 200, OpenAiResponses.models(config.modelId(), created));
                }
                case "/v1/chat/completions", "/v1/completions" -> {
                    authorize(ex);
                    method(ex, "POST");
                    completions.handle(ex, path.endsWith("chat/completions"));
                }
                case "/v1/embeddings" -> {
                    authorize(ex);
                    method(ex, "POST");
                    JsonObject body = HttpIo.body(ex, config.maxBodyBytes());
                    Embeddings.handle(ex, body, config.modelId(), models.forRequest());
                }
                case "/tokenize", "/detokenize" -> {
                    authorize(ex);
                    method(ex, "POST");
                    JsonObject body = HttpIo.body(ex, config.maxBodyBytes());
                    if (path.equals("/tokenize")) {
                        Tokens.tokenize(ex, body, models.forRequest());
                    } else {
                        Tokens.detokenize(ex, body, models.forRequest());
                    }
                }
                default -> throw new ApiError(404, "invalid_request_error", null, "unknown_url", "Unknown path " + path);
            }
        } catch (ApiError e) {
            status = e.status;
            if (status == 503) {
                ex.getResponseHeaders().add("Retry-After", "1");
            }
            HttpIo.sendJson(ex, e.status, e.body());
        } catch (IOException e) {
            status = 499; // the client went away
        } catch (RuntimeException e) {
            status = 500;
            HttpIo.sendJson(ex, 500, new ApiError(500, "server_error", null, null, "internal error: " + e).body());
        } finally {
            metrics.request(path, status);
            ex.close();
            inFlight.decrementAndGet();
        }
    }

    /** What the server can do now: ok (ready), loading (the model is being opened, first or again), draining. */
    private String state() {
        return closing ? "draining" : models.ready() ? "ok" : "loading";
    }

    /** Liveness: 200 while the process serves, whatever its state (an orchestrator restarts it only when this fails). */
    private int health(HttpExchange ex) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("status", state());
        HttpIo.sendJson(ex, 200, o);
        return 200;
    }

    /** Readiness: 200 when the model is open and the server is not draining, else 503 (send no traffic here). */
    private int ready(HttpExchange ex) throws IOException {
        String state = state();
        int status = state.equals("ok") ? 200 : 503;
        JsonObject o = new JsonObject();
        o.addProperty("status", state);
        if (status == 503) {
            ex.getResponseHeaders().add("Retry-After", "1");
        }
        HttpIo.sendJson(ex, status, o);
        return status;
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

    /**
     * Drains: readiness fails at once and new requests get 503 with Retry-After (liveness still answers), requests in
     * flight finish within the drain timeout, generations still running then are cut (a stream ends with an error
     * chunk), then the model closes. An idle server stops at once: the JDK's HttpServer.stop waits its whole delay even
     * with nothing in flight (before JDK 22), so the waiting is done here, on our own count of exchanges.
     */
    @Override
    public void close() {
        closing = true;
        long deadline = System.nanoTime() + config.drainTimeout().toNanos();
        waitForRequests(deadline);
        if (inFlight.get() > 0) {
            completions.cutAll();
            waitForRequests(System.nanoTime() + 5_000_000_000L); // their error chunks and ends are written
        }
        http.stop(0);
        timers.shutdownNow();
        threads.shutdownNow();
        models.close();
    }

    /** Waits until only liveness/readiness probes (or nothing) are in flight, or the deadline. */
    private void waitForRequests(long deadline) {
        while (inFlight.get() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
    }
}
