package phi2j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The CLI as a separate process, as a user runs it: it must end by itself, and Ctrl-C must stop it cleanly. */
class ProcessTest {
    /** The CLI's command line in a JVM of its own, on this test's class path: java JVM_OPTIONS -cp ... Main ARGS. */
    static List<String> cli(List<String> jvmOptions, String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private static Process start(String... args) throws IOException {
        return new ProcessBuilder(cli(List.of(), args)).start();
    }

    private static CompletableFuture<String> drain(InputStream in) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return e.toString();
            }
        });
    }

    @Test
    void demoOnTheTinyModelRunsAllSixPromptsAndTheProcessExitsByItself() throws Exception {
        Process p = start("demo", "-m", TestModels.tiny().toString(), "-c", "512", "--max-length", "300");
        CompletableFuture<String> out = drain(p.getInputStream());
        CompletableFuture<String> err = drain(p.getErrorStream());
        // every process under this test while the demo runs: the CLI and, below it, its runner (a grandchild)
        java.util.Map<ProcessHandle, String> seen = new java.util.concurrent.ConcurrentHashMap<>();
        Thread watcher = new Thread(() -> {
            while (p.isAlive()) {
                // a child is first seen mid-spawn (jspawnhelper, no command line yet): keep the latest line read
                ProcessHandle.current().descendants().forEach(h -> h.info().commandLine().ifPresentOrElse(
                        line -> seen.put(h, h.parent().map(ProcessHandle::pid).orElse(-1L) + " " + line),
                        () -> seen.putIfAbsent(h, h.parent().map(ProcessHandle::pid).orElse(-1L) + " ")));
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        watcher.start();
        assertTrue(p.waitFor(180, TimeUnit.SECONDS), "the demo process ended by itself");
        watcher.join();
        String text = out.get();
        assertEquals(0, p.exitValue(), err.get());
        assertTrue(text.startsWith("Loaded in "), text);
        for (DemoPrompts.Task t : DemoPrompts.TASKS) {
            assertTrue(text.contains(t.prompt()), "task " + t.id() + "'s prompt, verbatim");
        }
        assertEquals(6, text.lines().filter(l -> l.matches("Generated in \\d+\\.\\d\\d seconds")).count());
        assertTrue(text.contains("| walkthrough MI210 s |"));
        assertTrue(text.contains("| 16.42 "), "the walkthrough's figures sit beside ours");
        assertTrue(seen.values().stream().anyMatch(v -> v.startsWith(p.pid() + " ") && v.contains("RunnerMain")),
                "the demo's runner, a grandchild of this test, was seen: " + seen.values());
        for (int i = 0; i < 100 && seen.keySet().stream().anyMatch(ProcessHandle::isAlive); i++) {
            Thread.sleep(50);
        }
        assertEquals(List.of(), seen.keySet().stream().filter(ProcessHandle::isAlive).map(seen::get).toList(),
                "every descendant, the runner included, is gone after the demo exits");
    }

    /**
     * The second Ctrl-C quits at once, even when the first cannot finish: the runner is stopped (SIGSTOP), so the
     * cancellation the first press asks for never comes back, and only the second press ends the CLI.
     */
    @Test
    @EnabledOnOs(OS.LINUX)
    void aSecondCtrlCQuitsAtOnceWhenTheFirstCannotFinish() throws Exception {
        Process p = start("generate", "-m", TestModels.tiny().toString(), "-p", "Once upon a time", "-n", "1900", "--stream");
        CompletableFuture<String> err = drain(p.getErrorStream());
        InputStream stdout = p.getInputStream();
        assertEquals(1, stdout.readNBytes(1).length);
        ProcessHandle runner = p.toHandle().descendants().filter(h -> h.info().commandLine().orElse("").contains("RunnerMain"))
                .findFirst().orElseThrow();
        try {
            new ProcessBuilder("kill", "-STOP", Long.toString(runner.pid())).start().waitFor();
            new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor();
            assertFalse(p.waitFor(2, TimeUnit.SECONDS), "the first Ctrl-C waits for the (stopped) runner to cancel");
            long t0 = System.nanoTime();
            new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor();
            assertTrue(p.waitFor(5, TimeUnit.SECONDS), "the second Ctrl-C quits at once");
            assertEquals(Main.INTERRUPTED, p.exitValue(), err.get());
            assertTrue((System.nanoTime() - t0) / 1e9 < 5);
        } finally {
            runner.destroyForcibly();
            new ProcessBuilder("kill", "-CONT", Long.toString(runner.pid())).start().waitFor();
        }
    }

    /**
     * A runner that aborts from inside (not killed from outside): an engine build whose library calls abort() as it
     * loads. The CLI reports the runner's crash with its signal and exits with status 3, a runtime failure.
     */
    @Test
    @EnabledOnOs(OS.LINUX)
    void aRunnerThatAbortsFromInsideIsReportedWithExitStatusThree(@org.junit.jupiter.api.io.TempDir Path build) throws Exception {
        Path c = java.nio.file.Files.writeString(build.resolve("abort.c"),
                "#include <stdlib.h>\n__attribute__((constructor)) static void die(void) { abort(); }\n");
        Process cc = new ProcessBuilder("cc", "-shared", "-fPIC", "-o", build.resolve("libphi2j_engine.so").toString(), c.toString())
                .redirectErrorStream(true).start();
        String ccOut = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(cc.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, cc.exitValue(), "cc (a C compiler is part of the native build's prerequisites): " + ccOut);
        java.nio.file.Files.writeString(build.resolve("manifest.json"), "{\"engine\": \"phi2j-native\", \"engineAbi\": "
                + phi2j.runtime.NativeEngineBuild.ENGINE_ABI + ", \"library\": \"libphi2j_engine.so\", \"preset\": \"cpu\", "
                + "\"backend\": \"cpu\", \"llamaCppVersion\": \"" + phi2j.runtime.NativeEngineBuild.LLAMA_CPP_VERSION + "\"}");
        Process p = start("generate", "-m", TestModels.tiny().toString(), "-p", "Hi", "-n", "2", "--engine", "native", "--lib", build.toString());
        CompletableFuture<String> out = drain(p.getInputStream());
        CompletableFuture<String> err = drain(p.getErrorStream());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(Main.FAILURE, p.exitValue(), err.get());
        assertTrue(err.get().contains("signal 6") || err.get().contains("SIGABRT"), "names the abort: " + err.get());
        assertEquals("", out.get(), "nothing on stdout");
    }

    /** No whole-file reads: with a 32 MB heap, smaller than either 34 MB shard of the tiny checkpoint, convert still works. */
    @Test
    void convertStreamsShardsLargerThanTheWholeHeap(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path ckpt = TestModels.tinyCheckpoint();
        long shard = java.nio.file.Files.size(ckpt.resolve("model-00001-of-00002.safetensors"));
        assertTrue(shard > 32L << 20, "the shard (" + shard + " bytes) is larger than the heap");
        Path out = dir.resolve("t.gguf");
        Process p = new ProcessBuilder(cli(List.of("-Xmx32m"), "convert", ckpt.toString(), "-o", out.toString(), "--outtype", "f16"))
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), log);
        assertEquals(phi2j.format.GgmlType.F16, phi2j.format.GgufReader.read(out).tensor("blk.0.ffn_up.weight").orElseThrow().type());
    }

    @Test
    void generatePrintsTheTextOnStdoutAndItsTimingLinesOnStderrAsTheReadmeSays() throws Exception {
        Process p = start("generate", "-m", TestModels.tiny().toString(), "-p", "Hello", "-n", "4");
        CompletableFuture<String> out = drain(p.getInputStream());
        CompletableFuture<String> err = drain(p.getErrorStream());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), err.get());
        assertTrue(err.get().contains("Loaded in ") && err.get().contains("Generated in "), err.get());
        assertFalse(out.get().contains("Loaded in ") || out.get().contains("Generated in "), out.get());
        assertFalse(out.get().isBlank(), "the generated text is on stdout");
    }

    @Test
    void jsonOnTheRealStandardOutputIsExactlyOneDocument() throws Exception {
        Process p = start("generate", "-m", TestModels.tiny().toString(), "-p", "Hello", "-n", "6", "--json", "--verbose");
        CompletableFuture<String> out = drain(p.getInputStream());
        CompletableFuture<String> err = drain(p.getErrorStream());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), err.get());
        com.google.gson.stream.JsonReader r = new com.google.gson.stream.JsonReader(new java.io.StringReader(out.get()));
        com.google.gson.JsonObject o = com.google.gson.JsonParser.parseReader(r).getAsJsonObject();
        assertEquals(com.google.gson.stream.JsonToken.END_DOCUMENT, r.peek(), "stdout: " + out.get());
        assertEquals(6, o.get("generatedTokens").getAsInt());
        com.google.gson.JsonObject stages = o.getAsJsonObject("timings").getAsJsonObject("loadStages");
        // the binding says nothing of llama.cpp's own stages: they are left out, never made up
        boolean nativeEngine = o.get("engine").getAsString().equals("native");
        assertEquals(nativeEngine ? java.util.Set.of("fileCheckSeconds", "runnerStartSeconds", "engineSeconds", "modelSeconds", "contextSeconds",
                "warmupSeconds") : java.util.Set.of("fileCheckSeconds", "runnerStartSeconds", "engineSeconds"), stages.keySet(), stages.toString());
        assertTrue(err.get().contains("[llama.cpp]"), "with --verbose llama.cpp's log goes to stderr");
        assertTrue(err.get().matches("(?s).*\\[INFO\\] loaded tiny-phi2\\.gguf in [0-9.]+ s: file check [0-9.]+ s, runner start [0-9.]+ s, "
                + "engine [0-9.]+ s" + (nativeEngine ? ", model [0-9.]+ s, context [0-9.]+ s, warm-up [0-9.]+ s" : "") + "\n.*"),
                "--verbose says where the load went: " + err.get());
        assertFalse(out.get().contains("Extracted"), "nothing from library loading on stdout");
    }

    @Test
    @EnabledOnOs({OS.LINUX, OS.MAC})
    void ctrlCStopsTheGenerationAndStillPrintsWhatWasGenerated() throws Exception {
        Process p = start("generate", "-m", TestModels.tiny().toString(), "-p", "Once upon a time", "-n", "1900", "--stream");
        CompletableFuture<String> err = drain(p.getErrorStream());
        InputStream stdout = p.getInputStream();
        byte[] first = stdout.readNBytes(1); // wait for the first generated text
        assertEquals(1, first.length);
        new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor();
        String rest = new String(stdout.readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(Main.INTERRUPTED, p.exitValue(), err.get());
        assertTrue(err.get().contains("stop: cancelled"), err.get());
        assertTrue(rest.endsWith("\n"));
    }
}
