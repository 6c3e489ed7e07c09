package phi2j.bench;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
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
 * A load run against {@code phi2 serve}: starts the server as its own process, then N clients stream chat completions
 * back to back for a fixed time, and reports requests completed, errors by status, time to first token and total
 * latency (p50, p99), and the server's memory (its JVM and its runner) at the start and the end.
 *
 * <pre>
 * java -cp 'java/bench/target/classes:java/bench/target/lib/*' phi2j.bench.ServerLoad \
 *     --model TINY.gguf [--clients 32] [--seconds 60] [--parallel 4] [--queue 64] [--max-tokens 64] [--server-heap 128m]
 *     [--server-jvm-options "-XX:TieredStopAtLevel=1 -Dphi2.runner.jit=c1"]
 * </pre>
 */
public final class ServerLoad {
    private ServerLoad() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>(Map.of("--clients", "32", "--seconds", "60", "--parallel", "4", "--queue", "64",
                "--max-tokens", "64", "--server-heap", "128m"));
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i], args[i + 1]);
        }
        if (!a.containsKey("--model")) {
            throw new IllegalArgumentException("--model FILE is required");
        }
        int clients = Integer.parseInt(a.get("--clients"));
        int seconds = Integer.parseInt(a.get("--seconds"));
        String key = "load-" + System.nanoTime();
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx" + a.get("--server-heap")));
        for (String o : a.getOrDefault("--server-jvm-options", "").split(" ")) {
            if (!o.isBlank()) {
                command.add(o);
            }
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), "phi2j.cli.Main", "serve", "-m", a.get("--model"), "--port", "0",
                "-c", "512", "--parallel", a.get("--parallel"), "--queue", a.get("--queue")));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("PHI2_API_KEY", key);
        Process server = pb.start();
        BufferedReader err = new BufferedReader(new InputStreamReader(server.getErrorStream(), StandardCharsets.UTF_8));
        Matcher m = Pattern.compile("http://127\\.0\\.0\\.1:(\\d+)/v1").matcher(String.valueOf(err.readLine()));
        if (!m.find()) {
            server.destroyForcibly();
            throw new IllegalStateException("phi2 serve did not start");
        }
        Thread drain = new Thread(() -> {
            try {
                err.lines().forEach(l -> { });
            } catch (java.io.UncheckedIOException gone) {
                // the server was stopped
            }
        });
        drain.setDaemon(true);
        drain.start();
        String base = "http://127.0.0.1:" + m.group(1);
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        while (client.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(), HttpResponse.BodyHandlers.ofString()).statusCode() != 200) {
            Thread.sleep(50);
        }
        long rssStart = rssKb(server.toHandle());
        long rssStartJvm = rssKb(server.toHandle(), false);
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
                    phi2j.Timer sinceRequest = phi2j.Timer.start();
                    String outcome;
                    try {
                        HttpResponse<InputStream> r = client.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                                .header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(120))
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
        long rssEnd = rssKb(server.toHandle());
        long rssEndJvm = rssKb(server.toHandle(), false);
        server.destroy(); // SIGTERM: the graceful path
        server.waitFor();
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
        System.out.println(phi2j.report.MarkdownTable.render(List.of("measure", "value"), rows, 1));
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
