package phi2j.server;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.DoubleAdder;

/** Counters in Prometheus' text format: requests by path and status, tokens, time to first token, tokens/s, queue. */
final class Metrics {
    private final Map<String, AtomicLong> requests = new TreeMap<>();
    private final AtomicLong promptTokens = new AtomicLong();
    private final AtomicLong cachedTokens = new AtomicLong();
    private final AtomicLong completionTokens = new AtomicLong();
    private final AtomicLong firstTokens = new AtomicLong();
    private final DoubleAdder firstTokenSeconds = new DoubleAdder();
    private final AtomicLong generations = new AtomicLong();
    private final AtomicLong abandoned = new AtomicLong();
    private final DoubleAdder tokensPerSecond = new DoubleAdder();

    synchronized void request(String path, int status) {
        requests.computeIfAbsent("path=\"" + path.replace("\"", "") + "\",status=\"" + status + "\"", k -> new AtomicLong()).incrementAndGet();
    }

    void firstToken(double seconds) {
        firstTokens.incrementAndGet();
        firstTokenSeconds.add(seconds);
    }

    void generated(int prompt, int cached, int completion, double tps) {
        promptTokens.addAndGet(prompt);
        cachedTokens.addAndGet(cached);
        completionTokens.addAndGet(completion);
        generations.incrementAndGet();
        tokensPerSecond.add(tps);
    }

    /** A generation stopped early because its client went away (its slot was freed once the runner confirmed). */
    void abandoned() {
        abandoned.incrementAndGet();
    }

    synchronized String render(int queueDepth) {
        StringBuilder sb = new StringBuilder();
        sb.append("# HELP phi2_requests_total HTTP requests by path and status.\n# TYPE phi2_requests_total counter\n");
        requests.forEach((labels, n) -> sb.append("phi2_requests_total{").append(labels).append("} ").append(n.get()).append('\n'));
        line(sb, "phi2_prompt_tokens_total", "counter", "Prompt tokens, cached or evaluated.", promptTokens.get());
        line(sb, "phi2_prompt_tokens_cached_total", "counter", "Prompt tokens taken from a slot's or the host cache, not evaluated.",
                cachedTokens.get());
        line(sb, "phi2_completion_tokens_total", "counter", "Tokens generated.", completionTokens.get());
        line(sb, "phi2_generations_abandoned_total", "counter", "Generations cancelled because the client disconnected.", abandoned.get());
        line(sb, "phi2_queue_depth", "gauge", "Requests waiting for a slot.", queueDepth);
        sb.append("# HELP phi2_time_to_first_token_seconds Time from request to first token.\n")
                .append("# TYPE phi2_time_to_first_token_seconds summary\n")
                .append(String.format(Locale.ROOT, "phi2_time_to_first_token_seconds_sum %.6f%n", firstTokenSeconds.sum()))
                .append("phi2_time_to_first_token_seconds_count ").append(firstTokens.get()).append('\n');
        long g = generations.get();
        sb.append("# HELP phi2_tokens_per_second Mean generation speed over finished generations.\n# TYPE phi2_tokens_per_second gauge\n")
                .append(String.format(Locale.ROOT, "phi2_tokens_per_second %.3f%n", g == 0 ? 0 : tokensPerSecond.sum() / g));
        return sb.toString();
    }

    private static void line(StringBuilder sb, String name, String type, String help, long v) {
        sb.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(' ').append(type).append('\n')
                .append(name).append(' ').append(v).append('\n');
    }
}
