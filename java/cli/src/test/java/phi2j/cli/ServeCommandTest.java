package phi2j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import phi2j.testkit.TestModels;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/** phi2 serve as a process: loopback by default, the API key from PHI2_API_KEY, and a graceful stop on SIGTERM. */
@EnabledOnOs({OS.LINUX, OS.MAC})
class ServeCommandTest {
    @Test
    void servesOnLoopbackAndStopsGracefullyOnSigterm() throws Exception {
        ProcessBuilder pb = new ProcessBuilder(ProcessTest.cli(List.of(),
                "serve", "-m", TestModels.tiny().toString(), "--port", "0", "-c", "1024", "--parallel", "2", "--grace", "20",
                "--engine", "native", "--embeddings")); // exact counts and stop reasons: the proof that the request ran to its end
        pb.environment().put("PHI2_API_KEY", "secret-key");
        Process p = pb.start();
        BufferedReader err = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8));
        String line = err.readLine();
        Matcher m = Pattern.compile("on http://(127\\.0\\.0\\.1):(\\d+)/v1 .*API key required").matcher(String.valueOf(line));
        assertTrue(m.find(), "the serve line names a loopback address and the key: " + line);
        int port = Integer.parseInt(m.group(2));
        StringBuilder rest = new StringBuilder();
        Thread drain = new Thread(() -> err.lines().forEach(l -> rest.append(l).append('\n')));
        drain.start();
        HttpClient c = HttpClient.newHttpClient();
        long end = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < end) {
            if (c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/ready")).build(), HttpResponse.BodyHandlers.ofString())
                    .statusCode() == 200) {
                break;
            }
            Thread.sleep(50);
        }
        List<ProcessHandle> runners = p.toHandle().descendants().filter(h -> h.info().commandLine().orElse("").contains("RunnerMain")).toList();
        assertEquals(1, runners.size(), "one runner holds the model");
        HttpResponse<String> emb = c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/embeddings"))
                .header("Authorization", "Bearer secret-key")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\": \"phi-2\", \"input\": \"Hello\"}")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, emb.statusCode(), "--embeddings opens the model with embeddings: " + emb.body());
        assertTrue(emb.body().contains("\"object\":\"embedding\""), emb.body());
        String ask = "{\"model\": \"phi-2\", \"temperature\": 0, \"max_tokens\": 600, \"stream\": true, \"ignore_eos\": true, "
                + "\"stream_options\": {\"include_usage\": true}, "
                + "\"messages\": [{\"role\": \"user\", \"content\": \"Tell me a long story.\"}]}";
        HttpResponse<InputStream> r = c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
                .header("Authorization", "Bearer secret-key").POST(HttpRequest.BodyPublishers.ofString(ask)).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        BufferedReader body = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
        assertTrue(body.readLine().startsWith("data: "), "the stream started");
        new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).start().waitFor();
        CompletableFuture<String> remaining = CompletableFuture.supplyAsync(() -> body.lines().reduce("", (a, b) -> a + b + "\n"));
        String tail = remaining.get(60, TimeUnit.SECONDS);
        assertTrue(tail.contains("\"finish_reason\":\"length\"") && tail.contains("\"completion_tokens\":600")
                        && tail.trim().endsWith("data: [DONE]"),
                "the request in flight finished within the grace period: " + tail.substring(Math.max(0, tail.length() - 400)));
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the server exited after its requests");
        assertEquals(Main.OK, p.exitValue(), "a graceful stop on SIGTERM exits 0, not the JVM's 143");
        drain.join(5000);
        assertTrue(rest.toString().contains("serve: stopping"), rest.toString());
        for (ProcessHandle h : runners) {
            h.onExit().get(10, TimeUnit.SECONDS);
            assertFalse(h.isAlive(), "the runner is gone");
        }
        for (String[] bad : new String[][] {{"--parallel", "0"}, {"--port", "70000"}, {"--queue", "-1"}, {"--timeout", "0"}}) {
            CliTest.Run refused = CliTest.run("serve", "-m", TestModels.tiny().toString(), bad[0], bad[1]);
            assertEquals(Main.BAD_INPUT, refused.exit(), String.join(" ", bad));
            assertTrue(refused.err().contains(bad[0]), String.join(" ", bad) + ": " + refused.err());
        }
    }
}
