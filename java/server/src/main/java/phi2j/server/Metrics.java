package phi2j.server;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import phi2j.runtime.Phi2Model;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * {@code /metrics} through the Prometheus Java client, in the text format or OpenMetrics as the scraper's Accept header
 * asks. The gauges the Gateway API Inference Extension's endpoint picker scores a model server on, under phi2j's names
 * ({@code deploy/kubernetes/} maps them): {@code phi2_requests_waiting}, {@code phi2_requests_running},
 * {@code phi2_kv_cache_usage_ratio} (cells the running requests hold over all, from the engine), with
 * {@code phi2_slots}; counters of requests, tokens and abandoned generations; time to first token as a histogram, so
 * that replicas aggregate. Each server has a registry of its own.
 */
final class Metrics {
    /** Time to first token, seconds: from a request's arrival to its first generated token. */
    private static final double[] FIRST_TOKEN_BUCKETS = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final ExpositionFormats formats = ExpositionFormats.init();
    private final Counter requests;
    private final Counter promptTokens;
    private final Counter cachedTokens;
    private final Counter completionTokens;
    private final Counter abandoned;
    private final Histogram firstToken;
    private final Gauge tokensPerSecond;

    /** {@code model}: the open model, or null while none is (its gauges are then left out). */
    Metrics(Supplier<Phi2Model> model, Supplier<Phi2Model.Load> load) {
        requests = Counter.builder().name("phi2_requests").help("HTTP requests by path and status.").labelNames("path", "status").register(registry);
        promptTokens = Counter.builder().name("phi2_prompt_tokens").help("Prompt tokens, cached or evaluated.").register(registry);
        cachedTokens = Counter.builder().name("phi2_prompt_tokens_cached")
                .help("Prompt tokens taken from a slot's or the host cache, not evaluated.").register(registry);
        completionTokens = Counter.builder().name("phi2_completion_tokens").help("Tokens generated.").register(registry);
        abandoned = Counter.builder().name("phi2_generations_abandoned").help("Generations cancelled because the client disconnected.")
                .register(registry);
        firstToken = Histogram.builder().name("phi2_time_to_first_token_seconds").help("Time from a request's arrival to its first token.")
                .classicOnly().classicUpperBounds(FIRST_TOKEN_BUCKETS).register(registry);
        tokensPerSecond = Gauge.builder().name("phi2_tokens_per_second").help("Generation speed of the last finished generation.")
                .register(registry);
        GaugeWithCallback.builder().name("phi2_requests_waiting").help("Requests waiting for a slot in the engine's queue.")
                .callback(cb -> Optional.ofNullable(load.get()).ifPresent(l -> cb.call(l.waiting()))).register(registry);
        GaugeWithCallback.builder().name("phi2_requests_running").help("Requests being generated in the engine's slots.")
                .callback(cb -> Optional.ofNullable(load.get()).ifPresent(l -> cb.call(l.running()))).register(registry);
        GaugeWithCallback.builder().name("phi2_slots").help("The engine's slots: generations that run at once.")
                .callback(cb -> Optional.ofNullable(load.get()).ifPresent(l -> cb.call(l.slots()))).register(registry);
        GaugeWithCallback.builder().name("phi2_kv_cache_usage_ratio")
                .help("KV cache cells held by the running requests over all cells of the context (native engine), 0 to 1.")
                .callback(cb -> kvCache(model.get()).ifPresent(kv -> cb.call(kv.ratio()))).register(registry);
    }

    private static Optional<Phi2Model.KvCacheUse> kvCache(Phi2Model m) {
        if (m == null || !m.isOpen()) {
            return Optional.empty();
        }
        try {
            return m.kvCache();
        } catch (RuntimeException e) { // the runner went away between the check and the call: no reading this time
            return Optional.empty();
        }
    }

    void request(String path, int status) {
        requests.labelValues(path, Integer.toString(status)).inc();
    }

    void firstToken(double seconds) {
        firstToken.observe(seconds);
    }

    void generated(int prompt, int cached, int completion, double tps) {
        promptTokens.inc(prompt);
        cachedTokens.inc(cached);
        completionTokens.inc(completion);
        tokensPerSecond.set(tps);
    }

    /** A generation stopped early because its client went away (its slot was freed once the runner confirmed). */
    void abandoned() {
        abandoned.inc();
    }

    /** A scrape, written as {@code accept} asks (Prometheus' text format by default, OpenMetrics when asked for). */
    record Scrape(String contentType, byte[] body) {
    }

    Scrape scrape(String accept) throws IOException {
        ExpositionFormatWriter writer = formats.findWriter(accept);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        writer.write(out, registry.scrape());
        return new Scrape(writer.getContentType(), out.toByteArray());
    }
}
