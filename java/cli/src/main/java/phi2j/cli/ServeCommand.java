package phi2j.cli;

import phi2j.InvalidOptionException;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.server.Phi2Server;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Serve the model over an OpenAI-compatible HTTP API.",
        description = {"POST /v1/chat/completions and /v1/completions (streaming with stream: true), GET /v1/models, /health",
                "(liveness), /ready (readiness) and /metrics. Binds 127.0.0.1 unless --host says otherwise; with --api-key (or",
                "PHI2_API_KEY) every API call needs 'Authorization: Bearer KEY'. SIGTERM or Ctrl-C drains: /ready turns 503, new",
                "requests get 503 with Retry-After, requests in flight finish within --drain-timeout (then are cut, a stream with",
                "an error chunk), the model closes and the exit status is 0."})
public final class ServeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelMixin model;

    @Mixin
    LoggingMixin logging;

    @Option(names = "--host", paramLabel = "ADDRESS", description = "Address to bind (default: ${DEFAULT-VALUE}, this machine only).")
    String host = "127.0.0.1";

    @Option(names = "--port", paramLabel = "N", description = "Port (default: ${DEFAULT-VALUE}; 0 for any free one).")
    int port = 8080;

    @Option(names = "--api-key", paramLabel = "KEY", description = "Require this bearer token (default: $PHI2_API_KEY; none when unset).")
    String apiKey;

    @Option(names = "--model-id", paramLabel = "NAME", description = "The model's name in the API (default: ${DEFAULT-VALUE}).")
    String modelId = "phi-2";

    @Option(names = "--parallel", paramLabel = "N", description = "Generations at once, in llama.cpp's slots (default: ${DEFAULT-VALUE}).")
    int parallel = 4;

    @Option(names = "--queue", paramLabel = "N", description = "Requests that may wait for a slot; more get 503 (default: ${DEFAULT-VALUE}).")
    int queue = 16;

    @Option(names = "--timeout", paramLabel = "SECONDS", description = "Longest generation before it is cancelled with 504 (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds = 300;

    @Option(names = "--max-body", paramLabel = "BYTES", description = "Largest request body; larger ones get 413 (default: ${DEFAULT-VALUE}).")
    long maxBody = 1 << 20;

    @Option(names = "--embeddings", description = "Answer POST /v1/embeddings (the model is opened with embeddings; off by default, as llama-server's).")
    boolean embeddings;

    @Option(names = "--cache-ram", paramLabel = "MIB", description = "Host memory for the caches of conversations that leave their "
            + "slot, so that more conversations than slots resume without evaluating their history again (llama-server's --cache-ram; "
            + "native engine; default: ${DEFAULT-VALUE}, off).")
    int cacheRamMib = 0;

    @Option(names = {"--drain-timeout", "--grace"}, paramLabel = "SECONDS", description = "How long a drain (SIGTERM) waits for requests in "
            + "flight before it cuts them; keep the orchestrator's grace period above it (default: ${DEFAULT-VALUE}).")
    long graceSeconds = 10;

    @Override
    public Integer call() throws IOException, InterruptedException {
        logging.apply();
        if (parallel < 1 || parallel > 64) {
            throw new InvalidOptionException("--parallel", "must be 1 to 64, not " + parallel);
        }
        if (port < 0 || port > 65535) {
            throw new InvalidOptionException("--port", "must be 0 to 65535, not " + port);
        }
        if (queue < 0) {
            throw new InvalidOptionException("--queue", "must not be negative, not " + queue);
        }
        if (timeoutSeconds < 1 || graceSeconds < 0 || maxBody < 1024) {
            throw new InvalidOptionException(timeoutSeconds < 1 ? "--timeout" : graceSeconds < 0 ? "--drain-timeout" : "--max-body", "is out of range");
        }
        String key = apiKey != null ? apiKey : System.getenv("PHI2_API_KEY");
        Path file = model.modelPath();
        ModelOptions base = model.options();
        int perSequence = base.contextSize() > 0 ? base.contextSize() : 2048;
        ModelOptions o = base.withParallel(parallel).withContextSize(perSequence * parallel).withEmbeddings(embeddings).withCacheRamMib(cacheRamMib);
        Phi2Server.Config config = new Phi2Server.Config(host, port, key == null || key.isBlank() ? null : key, modelId, queue,
                maxBody, Duration.ofSeconds(timeoutSeconds), Duration.ofSeconds(graceSeconds));
        PrintWriter err = spec.commandLine().getErr();
        Phi2Server server;
        try {
            server = Phi2Server.start(config, () -> Phi2Model.open(file, o));
        } catch (java.net.BindException e) {
            throw new InvalidOptionException("--port", "cannot bind " + host + ":" + port + " (" + e.getMessage() + ")");
        }
        CountDownLatch stopped = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean stopping = new java.util.concurrent.atomic.AtomicBoolean();
        Runnable stop = () -> {
            if (stopping.compareAndSet(false, true)) {
                err.println("serve: stopping (waiting up to " + graceSeconds + " s for requests in flight)");
                err.flush();
                server.close();
            }
            stopped.countDown();
        };
        // SIGTERM and Ctrl-C are the way to stop a server: a graceful stop, then exit status 0 (as llama-server), where
        // the JVM's own handling would exit 143; any other end of the JVM still closes the server through the hook
        for (String sig : new String[] {"TERM", "INT"}) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(sig), s -> new Thread(stop, "phi2-serve-stop").start());
            } catch (IllegalArgumentException | UnsupportedOperationException e) {
                // no such signal here: the shutdown hook below stops the server
            }
        }
        Runtime.getRuntime().addShutdownHook(new Thread(stop, "phi2-serve-shutdown"));
        err.println("serve: " + file.getFileName() + " as '" + modelId + "' on http://" + host + ":" + server.port() + "/v1 ("
                + parallel + " slots, queue " + queue + (config.apiKey() == null ? ", no API key" : ", API key required") + ")");
        err.flush();
        stopped.await();
        return Main.OK;
    }
}
