package phi2j.runtime;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import phi2j.BadModelFileException;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** Opening, closing, crashing: the caller survives everything and nothing is left running. */
class LifecycleTest {
    private static final ModelOptions OPTS = ModelOptions.defaults().withContextSize(2048).withThreads(2);
    private static final String PROMPT = "Alice: Tell me a long story.\nBob:";

    private static long rssKb() throws IOException {
        System.gc(); // what the process holds, not what the collector has not yet reclaimed
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS");
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static long runnerChildren() {
        return ProcessHandle.current().children().filter(ProcessHandle::isAlive)
                .filter(p -> p.info().commandLine().orElse("").contains("RunnerMain")).count();
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void fiveOpenCloseCyclesKeepTheCallersMemoryFlat() throws IOException {
        long[] rss = new long[6];
        rss[0] = rssKb();
        for (int i = 1; i <= 5; i++) {
            long runner;
            try (Phi2Model m = Phi2Model.open(TestModels.tiny(), OPTS)) {
                assertEquals(10, m.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(10)).generatedTokens());
                runner = m.runnerPid();
                assertNotEquals(ProcessHandle.current().pid(), runner, "the model lives in another process");
                assertTrue(Files.exists(Path.of("/proc", Long.toString(runner), "status")), "the runner holds the model while open");
            }
            for (int w = 0; w < 100 && ProcessHandle.of(runner).map(ProcessHandle::isAlive).orElse(false); w++) {
                sleep(50);
            }
            assertFalse(ProcessHandle.of(runner).map(ProcessHandle::isAlive).orElse(false), "the runner and its memory are gone after close");
            rss[i] = rssKb();
        }
        long growthKb = rss[5] - rss[1];
        System.err.println("caller RSS over 5 open/generate/close cycles (kB): " + Arrays.toString(rss) + ", growth after the first " + growthKb + " kB");
        assertTrue(growthKb < 10 * 1024, "the caller's RSS grew " + growthKb + " kB: the model's memory belongs to the runner");
        assertEquals(0, runnerChildren(), "every runner has exited");
    }

    @Test
    void killingTheRunnerMidGenerationGivesTheDocumentedExceptionAndTheModelOpensAgain() {
        Phi2Model m = Phi2Model.open(TestModels.tiny(), OPTS);
        TokenStream s = m.stream(PROMPT, GenerationOptions.greedy().withMaxNewTokens(1900));
        assertTrue(s.hasNext());
        s.next();
        ProcessHandle.of(m.runnerPid()).orElseThrow().destroyForcibly();
        RunnerCrashedException e = assertThrows(RunnerCrashedException.class, () -> {
            while (s.hasNext()) {
                s.next();
            }
        });
        assertEquals(137, e.exitStatus(), "SIGKILL");
        assertTrue(e.getMessage().contains("killed by signal 9"), e.getMessage());
        assertFalse(m.isOpen());
        assertThrows(RunnerCrashedException.class, () -> m.generate(PROMPT, GenerationOptions.greedy()));
        m.close();
        m.close(); // twice is fine

        try (Phi2Model again = Phi2Model.open(TestModels.tiny(), OPTS)) {
            assertEquals(8, again.generate(PROMPT, GenerationOptions.greedy().withMaxNewTokens(8)).generatedTokens());
        }
    }

    @Test
    void closingDuringAGenerationEndsItWithModelClosed() throws Exception {
        Phi2Model m = Phi2Model.open(TestModels.tiny(), OPTS);
        TokenStream s = m.stream(PROMPT, GenerationOptions.greedy().withMaxNewTokens(1900));
        assertTrue(s.hasNext());
        CompletableFuture.runAsync(m::close).get(30, TimeUnit.SECONDS);
        assertThrows(ModelClosedException.class, () -> {
            while (s.hasNext()) {
                s.next();
            }
        });
        assertThrows(ModelClosedException.class, () -> m.generate(PROMPT, GenerationOptions.greedy()));
        m.close();
        assertEquals(0, runnerChildren());
    }

    @Test
    void badFilesAreRefusedInJavaAndLeaveNoRunnerBehind(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        Path missing = dir.resolve("missing.gguf");
        assertTrue(assertThrows(BadModelFileException.class, () -> Phi2Model.open(missing, OPTS)).getMessage().contains("no such file"));
        Path text = Files.writeString(dir.resolve("notes.gguf"), "not a model");
        assertTrue(assertThrows(BadModelFileException.class, () -> Phi2Model.open(text, OPTS)).getMessage().contains("not a GGUF"));
        byte[] whole = Files.readAllBytes(TestModels.tiny());
        Path cut = Files.write(dir.resolve("cut.gguf"), Arrays.copyOf(whole, whole.length / 2));
        assertTrue(assertThrows(BadModelFileException.class, () -> Phi2Model.open(cut, OPTS)).getMessage().contains("past the end"));
        // the runner starts beside the file check; one started for a damaged file has ended before the caller hears of it
        assertEquals(0, runnerChildren());
    }

    @Test
    void aBadFileIsReportedBeforeABadEngineChoice(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        byte[] whole = Files.readAllBytes(TestModels.tiny());
        Path cut = Files.write(dir.resolve("cut.gguf"), Arrays.copyOf(whole, whole.length / 2));
        ModelOptions noEngine = OPTS.withNativeLibrary(Files.createDirectory(dir.resolve("empty")));
        assertThrows(phi2j.nativelib.NativeLibraryException.class, () -> Phi2Model.open(TestModels.tiny(), noEngine),
                "the control: this engine choice is refused for a good file");
        BadModelFileException e = assertThrows(BadModelFileException.class, () -> Phi2Model.open(cut, noEngine));
        assertTrue(e.getMessage().contains("past the end"), e.getMessage());
        assertEquals(0, runnerChildren());
    }
}
