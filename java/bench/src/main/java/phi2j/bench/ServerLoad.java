package phi2j.bench;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import phi2j.Timer;
import phi2j.report.MarkdownTable;
import phi2j.runtime.ChatFormat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Load runs against {@code phi2 serve}, started as its own process.
 *
 * <p>Streaming mode (the default): N clients stream chat completions back to back for a fixed time; reports requests
 * completed, errors by status, time to first token and total latency (p50, p99), and the server's memory (its JVM and
 * its runner) at the start and the end.
 *
 * <p>Chat mode ({@code --chat-turns T}): N clients each hold a conversation of T turns, re-sending the growing history
 * every turn as a conversation client does (rendered as Phi-2's chat by {@link ChatFormat}, sent to /v1/completions so
 * that every server sees the same tokens), greedy, {@code --max-tokens} per answer, each client running
 * {@code --conversations} of them one after another, starting {@code --stagger-ms} after the one before and waiting
 * {@code --think-ms} after each answer (a user reading it; 0: the next turn at once). Reports the
 * mean time to first token per turn, the prompt tokens the server evaluated (those it did not take from a cache), and
 * the aggregate generated tokens per second. With {@code --peer NAME=COMMAND} another
 * server (llama-server) runs the same conversations in the same run, interleaved over {@code --rounds}, the order
 * alternating; each run starts its server afresh. COMMAND's placeholders: {model} {port} {parallel} {ctx} (all
 * sequences) {ctxseq} (one sequence's) {key}. {@code --grammar GBNF} constrains the answers (both servers take
 * llama-server's {@code grammar} field): on a model with random weights, a grammar of whole words makes its answers text
 * that tokenizes back to the tokens it generated, as a real model's answers do, rather than byte soup that does not.
 *
 * <pre>
 * java -cp 'java/bench/target/classes:java/bench/target/lib/*' phi2j.bench.ServerLoad \
 *     --model TINY.gguf [--clients 32] [--seconds 60] [--parallel 4] [--queue 64] [--max-tokens 64] [--server-heap 128m]
 *     [--server-jvm-options "-XX:TieredStopAtLevel=1 -Dphi2.runner.jit=c1"] [--ctx 512] [--serve-options "--cache-ram 2048"]
 *     [--chat-turns 6 [--rounds 3] [--peer "llama-server=chroot /srv/sid /usr/bin/llama-server -m {model} --port {port}
 *      -np {parallel} -c {ctx} -t 2 --api-key {key}"]]
 * </pre>
 */
public final class ServerLoad {
    private ServerLoad() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>(Map.of("--clients", "32", "--seconds", "60", "--parallel", "4", "--queue", "64",
                "--max-tokens", "64", "--server-heap", "128m", "--ctx", "512", "--rounds", "1"));
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i], args[i + 1]);
        }
        if (!a.containsKey("--model")) {
            throw new IllegalArgumentException("--model FILE is required");
        }
        if (a.containsKey("--chat-turns")) {
            chat(a);
        } else {
            streaming(a);
        }
    }

    // --- the servers ---

    /** A server process, ready: its base URL and key. Closing stops it with SIGTERM (the graceful path). */
    record Server(String name, Process process, String base, String key) implements AutoCloseable {
        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
    }

    static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    /** phi2 serve from this class path, on a port of its choosing (it prints its URL first). */
    static Server startPhi2(Map<String, String> a) throws IOException, InterruptedException {
        String key = "load-" + System.nanoTime();
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx" + a.get("--server-heap")));
        command.addAll(words(a.getOrDefault("--server-jvm-options", "")));
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), "phi2j.cli.Main", "serve", "-m", a.get("--model"), "--port", "0",
                "-c", a.get("--ctx"), "--parallel", a.get("--parallel"), "--queue", a.get("--queue")));
        command.addAll(words(a.getOrDefault("--serve-options", "")));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("PHI2_API_KEY", key);
        Process server = pb.start();
        BufferedReader err = new BufferedReader(new InputStreamReader(server.getErrorStream(), StandardCharsets.UTF_8));
        Matcher m = Pattern.compile("http://127\\.0\\.0\\.1:(\\d+)/v1").matcher(String.valueOf(err.readLine()));
        if (!m.find()) {
            server.destroyForcibly();
            throw new IllegalStateException("phi2 serve did not start");
        }
        drain(server.getErrorStream());
        return ready(new Server("phi2 serve", server, "http://127.0.0.1:" + m.group(1), key));
    }

    /** Another server from a command template (see the class comment), on a free port. */
    static Server startPeer(String name, String template, Map<String, String> a) throws IOException, InterruptedException {
        String key = "load-" + System.nanoTime();
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        int parallel = Integer.parseInt(a.get("--parallel"));
        String command = template.replace("{model}", Path.of(a.get("--model")).toAbsolutePath().toString()).replace("{port}", Integer.toString(port))
                .replace("{parallel}", Integer.toString(parallel)).replace("{ctxseq}", a.get("--ctx"))
                .replace("{ctx}", Integer.toString(parallel * Integer.parseInt(a.get("--ctx"))))
                .replace("{key}", key);
        Process p = new ProcessBuilder(words(command)).redirectErrorStream(true).start();
        drain(p.getInputStream());
        return ready(new Server(name, p, "http://127.0.0.1:" + port, key));
    }

    static Server ready(Server s) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
        while (System.nanoTime() < deadline) {
            if (!s.process().isAlive()) {
                throw new IllegalStateException(s.name() + " exited with " + s.process().exitValue() + " before it was ready");
            }
            try {
                if (CLIENT.send(HttpRequest.newBuilder(URI.create(s.base() + "/ready")).build(), HttpResponse.BodyHandlers.ofString()).statusCode() == 200) {
                    return s;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        s.process().destroyForcibly();
        throw new IllegalStateException(s.name() + " was not ready within 5 minutes");
    }

    static List<String> words(String s) {
        return s.isBlank() ? List.of() : List.of(s.trim().split("\\s+"));
    }

    static void drain(InputStream in) {
        Thread t = new Thread(() -> {
            try {
                in.transferTo(java.io.OutputStream.nullOutputStream());
            } catch (IOException gone) {
                // the server was stopped
            }
        });
        t.setDaemon(true);
        t.start();
    }

    // --- streaming mode ---

    static void streaming(Map<String, String> a) throws Exception {
        int clients = Integer.parseInt(a.get("--clients"));
        int seconds = Integer.parseInt(a.get("--seconds"));
        Server server = startPhi2(a);
        long rssStart = rssKb(server.process().toHandle());
        long rssStartJvm = rssKb(server.process().toHandle(), false);
        String body = "{\"model\": \"phi-2\", \"temperature\": 0.8, \"max_tokens\": " + a.get("--max-tokens") + ", \"stream\": true, "
                + "\"messages\": [{\"role\": \"user\", \"content\": \"Write a short poem about the sea.\"}]}";
        Map<String, AtomicLong> outcomes = new ConcurrentHashMap<>();
        List<Double> ttft = Collections.synchronizedList(new ArrayList<>());
        List<Double> total = Collections.synchronizedList(new ArrayList<>());
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            Thread t = new Thread(() -> {
                while (System.nanoTime() < end) {
                    Timer sinceRequest = Timer.start();
                    String outcome;
                    try {
                        HttpResponse<InputStream> r = CLIENT.send(HttpRequest.newBuilder(URI.create(server.base() + "/v1/chat/completions"))
                                .header("Authorization", "Bearer " + server.key()).timeout(Duration.ofSeconds(120))
                                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofInputStream());
                        outcome = String.valueOf(r.statusCode());
                        BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
                        String line;
                        boolean first = true;
                        boolean done = false;
                        while ((line = in.readLine()) != null) {
                            if (first && line.startsWith("data: ") && line.contains("\"content\":\"") && !line.contains("\"content\":\"\"")) {
                                ttft.add(sinceRequest.seconds());
                                first = false;
                            }
                            if (line.contains("\"error\"")) {
                                outcome = "error event";
                            }
                            done |= line.equals("data: [DONE]");
                        }
                        if (r.statusCode() == 200 && !done) {
                            outcome = "200 without [DONE]";
                        }
                        if (outcome.equals("200")) {
                            total.add(sinceRequest.seconds());
                        } else if (outcome.equals("503") || outcome.equals("429")) {
                            Thread.sleep(1000); // Retry-After
                        }
                    } catch (Exception e) {
                        outcome = e.getClass().getSimpleName();
                    }
                    outcomes.computeIfAbsent(outcome, k -> new AtomicLong()).incrementAndGet();
                }
            });
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        long rssEnd = rssKb(server.process().toHandle());
        long rssEndJvm = rssKb(server.process().toHandle(), false);
        server.close();
        System.out.printf(Locale.ROOT, "%d streaming clients for %d s on %s (%s slots, queue %s, %s tokens per answer, server heap %s%s)%n",
                clients, seconds, Path.of(a.get("--model")).getFileName(), a.get("--parallel"), a.get("--queue"), a.get("--max-tokens"),
                a.get("--server-heap"), a.containsKey("--server-jvm-options") ? ", JVM options " + a.get("--server-jvm-options") : "");
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"requests completed (200 with [DONE])", String.valueOf(total.size())});
        new TreeMap<>(outcomes).forEach((k, v) -> rows.add(new String[] {"outcome " + k, String.valueOf(v.get())}));
        rows.add(new String[] {"time to first token p50 / p99", String.format(Locale.ROOT, "%.3f / %.3f s", pct(ttft, 50), pct(ttft, 99))});
        rows.add(new String[] {"total latency p50 / p99", String.format(Locale.ROOT, "%.3f / %.3f s", pct(total, 50), pct(total, 99))});
        rows.add(new String[] {"server RSS (JVM + runner) start / end", String.format(Locale.ROOT, "%.1f / %.1f MB", rssStart / 1024.0, rssEnd / 1024.0)});
        rows.add(new String[] {"of which the server's JVM, start / end",
                String.format(Locale.ROOT, "%.1f / %.1f MB", rssStartJvm / 1024.0, rssEndJvm / 1024.0)});
        System.out.println(MarkdownTable.render(List.of("measure", "value"), rows, 1));
    }

    // --- chat mode ---

    /** One chat run's figures: time to first token per turn (every client's), generated tokens, wall time, failures. */
    record ChatRun(String server, int round, List<List<Double>> ttftByTurn, List<List<Integer>> evaluatedByTurn, long tokens, double seconds,
                   Map<String, Long> failures) {
        /** The mean time to first token at this turn, over every client's conversations. */
        double ttft(int turn) {
            return ttftByTurn.get(turn).stream().mapToDouble(d -> d).average().orElse(Double.NaN);
        }

        double lastOverFirst() {
            return ttft(ttftByTurn.size() - 1) / ttft(0);
        }

        double tokensPerSecond() {
            return tokens / seconds;
        }

        /** Mean prompt tokens the server evaluated (not from its cache) at this turn, or NaN when it does not say. */
        double evaluated(int turn) {
            return evaluatedByTurn.get(turn).stream().filter(n -> n >= 0).mapToInt(n -> n).average().orElse(Double.NaN);
        }
    }

    static void chat(Map<String, String> a) throws Exception {
        int turns = Integer.parseInt(a.get("--chat-turns"));
        int rounds = Integer.parseInt(a.get("--rounds"));
        String peer = a.get("--peer");
        List<ChatRun> runs = new ArrayList<>();
        for (int round = 1; round <= rounds; round++) {
            List<String> order = new ArrayList<>(List.of("phi2 serve"));
            if (peer != null) {
                order.add(round % 2 == 1 ? 1 : 0, peer.substring(0, peer.indexOf('=')));
            }
            for (String name : order) {
                try (Server s = name.equals("phi2 serve") ? startPhi2(a) : startPeer(name, peer.substring(peer.indexOf('=') + 1), a)) {
                    ChatRun r = chatRun(s, round, Integer.parseInt(a.get("--clients")), Integer.parseInt(a.getOrDefault("--conversations", "1")),
                            turns, Integer.parseInt(a.get("--max-tokens")), a.get("--grammar"), Long.parseLong(a.getOrDefault("--stagger-ms", "0")),
                            Long.parseLong(a.getOrDefault("--think-ms", "0")));
                    runs.add(r);
                    System.err.printf(Locale.ROOT, "round %d, %s: %.2f t/s, first token turn 1 %.3f s, turn %d %.3f s%n", round, name,
                            r.tokensPerSecond(), r.ttft(0), turns, r.ttft(turns - 1));
                }
            }
        }
        System.out.printf(Locale.ROOT, "%s clients x %s conversation(s) x %d turns, started %s ms apart, %s ms between turns, on %s (%s slots, "
                        + "%s tokens of context per slot, %s greedy tokens per answer%s%s), %d round(s)%s%n", a.get("--clients"),
                a.getOrDefault("--conversations", "1"), turns, a.getOrDefault("--stagger-ms", "0"), a.getOrDefault("--think-ms", "0"),
                Path.of(a.get("--model")).getFileName(), a.get("--parallel"), a.get("--ctx"),
                a.get("--max-tokens"), a.containsKey("--grammar") ? " under the grammar " + a.get("--grammar") : "",
                a.containsKey("--serve-options") ? ", phi2 serve " + a.get("--serve-options") : "", rounds,
                peer != null ? ", interleaved with " + peer.substring(0, peer.indexOf('=')) + ", order alternating" : "");
        List<String> header = new ArrayList<>(List.of("server", "round"));
        for (int t = 1; t <= turns; t++) {
            header.add("TTFT turn " + t + " (mean, s)");
        }
        header.addAll(List.of("turn " + turns + " / turn 1", "evaluated tokens turn 1 / " + turns, "aggregate t/s", "failures"));
        List<String[]> rows = new ArrayList<>();
        for (ChatRun r : runs) {
            List<String> row = new ArrayList<>(List.of(r.server(), Integer.toString(r.round())));
            for (int t = 0; t < turns; t++) {
                row.add(String.format(Locale.ROOT, "%.3f", r.ttft(t)));
            }
            row.add(String.format(Locale.ROOT, "%.2f", r.lastOverFirst()));
            row.add(String.format(Locale.ROOT, "%.0f / %.0f", r.evaluated(0), r.evaluated(turns - 1)));
            row.add(String.format(Locale.ROOT, "%.2f", r.tokensPerSecond()));
            row.add(r.failures().isEmpty() ? "0" : r.failures().toString());
            rows.add(row.toArray(String[]::new));
        }
        System.out.println(MarkdownTable.render(header, rows, 1));
        if (peer != null) {
            List<Double> ratios = new ArrayList<>();
            for (int round = 1; round <= rounds; round++) {
                final int rd = round;
                ChatRun ours = runs.stream().filter(r -> r.round() == rd && r.server().equals("phi2 serve")).findFirst().orElseThrow();
                ChatRun theirs = runs.stream().filter(r -> r.round() == rd && !r.server().equals("phi2 serve")).findFirst().orElseThrow();
                ratios.add(ours.tokensPerSecond() / theirs.tokensPerSecond());
            }
            double mean = ratios.stream().mapToDouble(d -> d).average().orElse(Double.NaN);
            double sd = Math.sqrt(ratios.stream().mapToDouble(d -> (d - mean) * (d - mean)).sum() / Math.max(1, ratios.size() - 1));
            System.out.printf(Locale.ROOT, "aggregate t/s, phi2 serve / %s, paired per round: %.3f ± %.3f (%s)%n", peer.substring(0, peer.indexOf('=')),
                    mean, sd, ratios.stream().map(d -> String.format(Locale.ROOT, "%.3f", d)).toList());
        }
    }

    /** Every client's {@code conversations} conversations of {@code turns} turns on {@code s}, the clients at once. */
    static ChatRun chatRun(Server s, int round, int clients, int conversations, int turns, int maxTokens, String grammar, long staggerMs,
                           long thinkMs) throws InterruptedException {
        List<List<Double>> ttft = new ArrayList<>();
        List<List<Integer>> evaluated = new ArrayList<>();
        for (int t = 0; t < turns; t++) {
            ttft.add(Collections.synchronizedList(new ArrayList<>()));
            evaluated.add(Collections.synchronizedList(new ArrayList<>()));
        }
        AtomicLong tokens = new AtomicLong();
        Map<String, Long> failures = new ConcurrentHashMap<>();
        Timer wall = Timer.start();
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            final int client = c;
            Thread thread = new Thread(() -> {
                try {
                    Thread.sleep(client * staggerMs); // clients that do not all start at once, as users do not
                } catch (InterruptedException e) {
                    return;
                }
                for (int k = 0; k < conversations; k++) {
                    List<ChatFormat.Message> history = new ArrayList<>();
                    for (int t = 0; t < turns; t++) {
                        history.add(new ChatFormat.Message("user", "I am client " + client + " in conversation " + k + ". Question " + (t + 1)
                                + ": tell me something about the number " + (client * 100 + k * 10 + t) + ", and why it matters."));
                        try {
                            Answer answer = complete(s, ChatFormat.render(history), maxTokens, grammar);
                            ttft.get(t).add(answer.ttftSeconds());
                            evaluated.get(t).add(answer.evaluated());
                            tokens.addAndGet(answer.tokens());
                            history.add(new ChatFormat.Message("assistant", answer.text().strip()));
                            Thread.sleep(thinkMs); // the user reads the answer and types the next question
                        } catch (Exception e) {
                            failures.merge(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(), 1L, Long::sum);
                            break;
                        }
                    }
                }
            });
            threads.add(thread);
            thread.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        return new ChatRun(s.name(), round, ttft, evaluated, tokens.get(), wall.seconds(), new TreeMap<>(failures));
    }

    /** An answer: its text, tokens, time to first token, and the prompt tokens the server evaluated (-1: not said). */
    record Answer(String text, int tokens, double ttftSeconds, int evaluated) {
    }

    /** One streamed, greedy completion of exactly {@code maxTokens} tokens (ignore_eos, as llama.cpp's benchmarks). */
    static Answer complete(Server s, String prompt, int maxTokens, String grammar) throws IOException, InterruptedException {
        JsonObject body = new JsonObject();
        body.addProperty("model", "phi-2");
        body.addProperty("prompt", prompt);
        body.addProperty("max_tokens", maxTokens);
        body.addProperty("temperature", 0);
        body.addProperty("ignore_eos", true);
        body.addProperty("stream", true);
        JsonObject options = new JsonObject();
        options.addProperty("include_usage", true);
        body.add("stream_options", options);
        JsonArray stop = new JsonArray();
        stop.add(ChatFormat.STOP);
        body.add("stop", stop);
        if (grammar != null) {
            body.addProperty("grammar", grammar);
        }
        Timer since = Timer.start();
        HttpRequest request = HttpRequest.newBuilder(URI.create(s.base() + "/v1/completions")).header("Authorization", "Bearer " + s.key())
                .timeout(Duration.ofSeconds(600)).POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
        HttpResponse<InputStream> r;
        try {
            r = CLIENT.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException dropped) {
            // a kept-alive connection the server had closed (llama-server does): nothing was sent back, send it again once
            since = Timer.start();
            r = CLIENT.send(request, HttpResponse.BodyHandlers.ofInputStream());
        }
        if (r.statusCode() != 200) {
            throw new IOException("status " + r.statusCode() + ": " + new String(r.body().readAllBytes(), StandardCharsets.UTF_8).strip());
        }
        StringBuilder text = new StringBuilder();
        double ttft = Double.NaN;
        int chunks = 0;
        int usage = -1;
        int evaluated = -1;
        boolean done = false;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (!line.startsWith("data: ")) {
                    continue;
                }
                String data = line.substring("data: ".length());
                if (data.equals("[DONE]")) {
                    done = true;
                    continue;
                }
                JsonObject o = JsonParser.parseString(data).getAsJsonObject();
                if (o.has("error")) {
                    throw new IOException("error event: " + o.get("error"));
                }
                JsonArray choices = o.has("choices") ? o.getAsJsonArray("choices") : new JsonArray();
                if (!choices.isEmpty() && choices.get(0).getAsJsonObject().has("text")) {
                    String piece = choices.get(0).getAsJsonObject().get("text").getAsString();
                    if (!piece.isEmpty()) {
                        if (Double.isNaN(ttft)) {
                            ttft = since.seconds();
                        }
                        text.append(piece);
                        chunks++;
                    }
                }
                if (o.has("usage") && o.get("usage").isJsonObject()) {
                    JsonObject u = o.getAsJsonObject("usage");
                    usage = u.get("completion_tokens").getAsInt();
                    if (u.has("prompt_tokens_details") && u.get("prompt_tokens_details").isJsonObject()
                            && u.getAsJsonObject("prompt_tokens_details").has("cached_tokens")) {
                        evaluated = u.get("prompt_tokens").getAsInt() - u.getAsJsonObject("prompt_tokens_details").get("cached_tokens").getAsInt();
                    }
                }
            }
        }
        if (!done) {
            throw new IOException("the stream ended without [DONE]");
        }
        return new Answer(text.toString(), usage >= 0 ? usage : chunks, Double.isNaN(ttft) ? since.seconds() : ttft, evaluated);
    }

    static double pct(List<Double> v, int p) {
        List<Double> s = new ArrayList<>(v);
        Collections.sort(s);
        return s.isEmpty() ? Double.NaN : s.get(Math.min(s.size() - 1, (int) Math.ceil(p / 100.0 * s.size()) - 1));
    }

    /** VmRSS of a process and its descendants (the runner), from /proc. */
    static long rssKb(ProcessHandle h) {
        return rssKb(h, true);
    }

    static long rssKb(ProcessHandle h, boolean withDescendants) {
        long sum = 0;
        List<ProcessHandle> all = new ArrayList<>(withDescendants ? h.descendants().toList() : List.of());
        all.add(h);
        for (ProcessHandle p : all) {
            try {
                for (String line : Files.readAllLines(Path.of("/proc", Long.toString(p.pid()), "status"))) {
                    if (line.startsWith("VmRSS:")) {
                        sum += Long.parseLong(line.replaceAll("[^0-9]", ""));
                    }
                }
            } catch (Exception e) {
                // gone meanwhile
            }
        }
        return sum;
    }
}
