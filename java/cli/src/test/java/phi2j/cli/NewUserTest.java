package phi2j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * What a new user tripped on in their first ten minutes (fresh clone, the README's commands, every CLI example, the
 * server by curl): each point is a test of its own.
 */
class NewUserTest {
    static final Path ROOT = Path.of(System.getProperty("phi2.home", "../..")).toAbsolutePath().normalize();

    @Test
    void everyScriptTheReadmeNamesIsExecutableInGit() throws Exception {
        Set<String> named = new LinkedHashSet<>();
        Matcher m = Pattern.compile("scripts/[A-Za-z0-9_.-]+\\.(?:sh|py)").matcher(Files.readString(ROOT.resolve("README.md")));
        while (m.find()) {
            named.add(m.group());
        }
        assertTrue(named.size() >= 6, "the README names its scripts: " + named);
        List<String> notExecutable = new ArrayList<>();
        for (String script : named) {
            Process p = new ProcessBuilder("git", "-C", ROOT.toString(), "ls-files", "-s", "--", script).start();
            String line = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            assertFalse(line.isEmpty(), script + " is named by the README but not in git");
            if (!line.startsWith("100755 ")) {
                notExecutable.add(script + " (" + line.split(" ")[0] + ")");
            }
        }
        assertEquals(List.of(), notExecutable, "scripts committed without their run bit");
    }

    @Test
    void theTinyModelAdviceIsOneTextWithPullsAndWithNoDownload(@TempDir Path models) {
        String advice = Advice.tryTheTinyModel();
        assertTrue(advice.contains(" synth -o " + Catalog.modelsDir().resolve("synthetic-phi2-tiny.gguf")), advice);
        assertTrue(phi2j.cli.pull.Downloader.noNetworkAdvice().contains(advice), "the offline pull gives the same advice");
        CliTest.Run r = CliTest.run("demo", "--no-download", "--models-dir", models.toString());
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().contains(models.resolve("synthetic-phi2-tiny.gguf").toString()), "the advice puts the tiny model in the models "
                + "folder, not in the working directory: " + r.err());
        assertTrue(r.err().contains(" synth -o " + models.resolve("synthetic-phi2-tiny.gguf") + " && "), r.err());
    }

    @Test
    void devicesWithTheNativeEngineAskedForNeverListsTheBinding(@TempDir Path elsewhere) {
        String home = System.getProperty("phi2.home");
        System.setProperty("phi2.home", elsewhere.toString()); // no checkout build here, and no phi2-native jar on this class path
        try {
            CliTest.Run r = CliTest.run("devices", "--engine", "native");
            assertEquals(2, r.exit(), "no native engine: an error, not the binding's devices\n" + r.out() + r.err());
            assertFalse(r.out().contains("libjllama"), r.out());
            assertTrue(r.err().contains("io.github.phi2j:phi2-native") && r.err().contains("PHI2_NATIVE_LIB"), r.err());
        } finally {
            System.setProperty("phi2.home", home);
        }
        Path gfx90a = elsewhere.resolve("native/build/hip-gfx90a");
        CliTest.Run r = CliTest.run("devices", "--engine", "native", "--lib", gfx90a.toString());
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().contains(gfx90a.toString()) && r.err().contains("scripts/build-native.sh hip-gfx90a"), r.err());
    }

    @Test
    void libsHelpSaysWhatEachCommandLoadsFromIt() {
        for (String command : List.of("generate", "chat", "devices", "serve", "bench", "verify")) {
            CliTest.Run r = CliTest.run(command, "--help");
            assertTrue(r.out().contains("native engine build folder") && r.out().contains("phi2-native"), command + ": " + r.out());
        }
        for (String command : List.of("convert", "quantize")) {
            CliTest.Run r = CliTest.run(command, "--help");
            String lib = r.out().substring(r.out().indexOf("--lib"));
            assertTrue(lib.contains("libjllama whose ggml quantizes"), command + ": " + lib);
        }
    }

    @Test
    void theDemosComparisonScoresTheAnswerNotThePromptsWords() {
        for (DemoPrompts.Task t : DemoPrompts.TASKS) {
            int promptWords = DemoPrompts.cleanUpTokenization(t.prompt()).strip().split("\\s+").length;
            assertTrue(DemoPrompts.promptWordsLeadingThePublishedText(t) >= promptWords - 1,
                    "task " + t.id() + ": the blog's text starts with the prompt (one word may be missing)");
            assertEquals(0.0, DemoPrompts.answerSimilarity(t, ""), "task " + t.id() + ": an empty answer earns nothing for the prompt's words");
            assertEquals(1.0, DemoPrompts.answerSimilarity(t, DemoPrompts.publishedAnswer(t)), 1e-12, "task " + t.id());
            assertTrue(DemoPrompts.answerSimilarity(t, "the the the the") < 0.05, "task " + t.id() + ": noise scores near zero");
        }
        CliTest.Run r = CliTest.run("demo", "-m", TestModels.tiny().toString(), "--only", "5", "--max-length", "400", "--compare");
        assertEquals(0, r.exit(), r.err());
        Matcher m = Pattern.compile("Compared with the walkthrough's answer: (\\d+)%").matcher(r.out());
        assertTrue(m.find(), r.out());
        assertTrue(Integer.parseInt(m.group(1)) <= 5, "the tiny model's noise scores " + m.group(1) + "% (it was 58% with the prompt counted)");
    }

    @Test
    void sizesKeepOneUnitSystemPerTable() {
        assertEquals("2.86 MB", Format.decimalBytes(2_861_600));
        assertEquals("1.79 GB", Format.decimalBytes(1_790_000_000L));
        assertEquals("2.73 MiB", phi2j.cli.bench.BenchReport.size(2_861_600), "bench: the tiny model is not 0.00 GiB");
    }

    /** A served tiny model: SIGTERM with nothing in flight ends it at once, not after the whole --grace. */
    @Test
    void anIdleServerStopsAtOnceOnSigterm() throws Exception {
        Process p = new ProcessBuilder(ProcessTest.cli(List.of(), "serve", "-m", TestModels.tiny().toString(), "--port", "0", "-c", "256",
                "--parallel", "1", "--grace", "30")).redirectErrorStream(true).start();
        java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line;
        int port = -1;
        while ((line = out.readLine()) != null) {
            Matcher m = Pattern.compile("http://127\\.0\\.0\\.1:(\\d+)/v1").matcher(line);
            if (m.find()) {
                port = Integer.parseInt(m.group(1));
                break;
            }
        }
        assertTrue(port > 0, "the server announced its port");
        awaitReady(port, 60);
        long t0 = System.nanoTime();
        new ProcessBuilder("kill", "-TERM", String.valueOf(p.pid())).start().waitFor();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS), "the server ended");
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertTrue(seconds < 10, "idle, it stopped in " + seconds + " s, not after the 30 s grace");
        assertEquals(Main.OK, p.exitValue(), "a graceful stop: the server closed, then exit status 0 (not the JVM's 143)");
    }

    private static void awaitReady(int port, int seconds) throws Exception {
        java.net.http.HttpClient c = java.net.http.HttpClient.newHttpClient();
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            try {
                var resp = c.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port + "/ready")).build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString());
                if (resp.statusCode() == 200) {
                    return;
                }
            } catch (IOException ignored) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        fail("the server was not ready within " + seconds + " s");
    }

    /**
     * The JIT each command gets, as measured (README, Benchmarks): C1 alone everywhere, the server and its runner too,
     * since on a small machine the full JIT's compiler threads take cores from llama.cpp's. A server started here is
     * looked at through /proc: its JVM and its runner run with TieredStopAtLevel=1.
     */
    @Test
    void theServerAndItsRunnerRunWithTheJitTheMeasurementChose() throws Exception {
        for (Path launcher : List.of(ROOT.resolve("phi2"), ROOT.resolve("scripts/package.sh"))) {
            String text = Files.readString(launcher);
            assertTrue(text.contains("-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dphi2.home="), launcher + " starts every command with C1");
        }
        Process p = new ProcessBuilder(ProcessTest.cli(List.of("-XX:TieredStopAtLevel=1"), "serve", "-m", TestModels.tiny().toString(),
                "--port", "0", "-c", "256", "--parallel", "1")).redirectErrorStream(true).start();
        try {
            java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line;
            int port = -1;
            while (port < 0 && (line = out.readLine()) != null) {
                Matcher m = Pattern.compile("http://127\\.0\\.0\\.1:(\\d+)/v1").matcher(line);
                if (m.find()) {
                    port = Integer.parseInt(m.group(1));
                }
            }
            awaitReady(port, 60);
            List<String> runners = new java.util.ArrayList<>();
            for (ProcessHandle h : p.toHandle().descendants().toList()) {
                String cmdline = Files.readString(Path.of("/proc", Long.toString(h.pid()), "cmdline")).replace('\0', ' ');
                if (cmdline.contains("RunnerMain")) {
                    runners.add(cmdline);
                }
            }
            assertEquals(1, runners.size(), "one runner holds the model: " + runners);
            assertTrue(runners.get(0).contains("-XX:TieredStopAtLevel=1"), "the runner runs with C1: " + runners.get(0));
        } finally {
            p.destroy();
            p.waitFor(20, TimeUnit.SECONDS);
        }
    }
}
