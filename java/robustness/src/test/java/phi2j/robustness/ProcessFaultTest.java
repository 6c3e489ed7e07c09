package phi2j.robustness;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.runtime.RunnerCrashedException;
import phi2j.runtime.TokenStream;
import phi2j.testkit.SyntheticPhi2;
import phi2j.testkit.TestModels;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** SIGKILL at every stage, the caller dying, and 50 open/close cycles: nothing leaks, nothing is orphaned. */
@EnabledOnOs(OS.LINUX)
class ProcessFaultTest {
    static final ModelOptions OPTS = ModelOptions.defaults().withContextSize(2048).withThreads(1);

    static List<ProcessHandle> runners() {
        return ProcessHandle.current().descendants().filter(ProcessHandle::isAlive)
                .filter(p -> p.info().commandLine().orElse("").contains("phi2j.runtime.internal.RunnerMain")).toList();
    }

    @AfterEach
    void noOrphans() throws InterruptedException {
        for (int i = 0; i < 50 && !runners().isEmpty(); i++) {
            Thread.sleep(100);
        }
        assertEquals(List.of(), runners(), "runner processes left behind");
    }

    static void assertReopens() {
        try (Phi2Model m = Phi2Model.open(TestModels.tiny(), OPTS)) {
            assertEquals(4, m.generate("Hello", GenerationOptions.greedy().withMaxNewTokens(4)).generatedTokens());
        }
    }

    @Test
    void killedWhileLoading() throws Exception {
        // a model big enough that loading takes a moment: 1024 wide, 8 blocks, about 400 MB in F32
        Path big = TestModels.dir().resolve("load-kill-phi2.gguf");
        if (!Files.exists(big)) {
            new SyntheticPhi2(1024, 8, 8, 4096, 2048, 3, 0f, 0, phi2j.format.GgmlType.F32).write(big);
        }
        int killedWhileLoading = 0;
        for (int delay : new int[] {0, 150, 400, 800}) {
            CompletableFuture<Phi2Model> opening = CompletableFuture.supplyAsync(() -> Phi2Model.open(big, OPTS));
            Optional<ProcessHandle> runner = Optional.empty();
            for (int i = 0; i < 500 && runner.isEmpty() && !opening.isDone(); i++) {
                runner = runners().stream().findFirst();
                Thread.sleep(2);
            }
            Thread.sleep(delay);
            runner.ifPresent(ProcessHandle::destroyForcibly);
            try {
                Phi2Model m = opening.get(120, TimeUnit.SECONDS);
                // loading won the race: the model must then report the crash on use
                assertThrows(RunnerCrashedException.class, () -> m.generate("Hi", GenerationOptions.greedy().withMaxNewTokens(2)));
                m.close();
            } catch (java.util.concurrent.ExecutionException e) {
                assertInstanceOf(RunnerCrashedException.class, e.getCause(), "delay " + delay + ": " + e.getCause());
                killedWhileLoading++;
            }
        }
        // the claim is about a kill during loading: at least one (the one without delay) must have landed there
        assertTrue(killedWhileLoading >= 1, "no kill landed while the model was loading");
        assertReopens();
    }

    @Test
    void killedDuringPromptProcessingAndDuringGeneration() {
        String longPrompt = "The" + " the".repeat(1900);
        for (boolean duringPrompt : new boolean[] {true, false}) {
            Phi2Model m = Phi2Model.open(TestModels.tiny(), OPTS);
            TokenStream s = m.stream(duringPrompt ? longPrompt : "Once", GenerationOptions.greedy().withMaxNewTokens(duringPrompt ? 10 : 1900));
            if (!duringPrompt) {
                assertTrue(s.hasNext());
            }
            ProcessHandle.of(m.runnerPid()).orElseThrow().destroyForcibly();
            RunnerCrashedException e = assertThrows(RunnerCrashedException.class, s::result);
            assertEquals(137, e.exitStatus());
            m.close();
            assertReopens();
        }
    }

    private static long startCallerAndGetRunnerPid(String mode, Process[] caller) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), CallerMain.class.getName(), TestModels.tiny().toString(), mode);
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        caller[0] = pb.start();
        BufferedReader r = new BufferedReader(new InputStreamReader(caller[0].getInputStream()));
        String line = r.readLine();
        assertNotNull(line, "the caller printed its runner's pid");
        return Long.parseLong(line.substring("runner ".length()).trim());
    }

    @Test
    void runnersEndWhenTheirCallerDiesEvenBySigkill() throws Exception {
        for (String mode : List.of("kill", "exit")) {
            Process[] caller = new Process[1];
            long pid = startCallerAndGetRunnerPid(mode, caller);
            ProcessHandle runner = ProcessHandle.of(pid).orElseThrow();
            long t0 = System.nanoTime();
            if (mode.equals("kill")) {
                caller[0].destroyForcibly(); // SIGKILL: no shutdown hooks, no close()
            }
            assertTrue(caller[0].waitFor(30, TimeUnit.SECONDS));
            runner.onExit().get(10, TimeUnit.SECONDS);
            System.err.printf("caller %s: its runner exited %.2f s later%n", mode.equals("kill") ? "killed by SIGKILL" : "exited without close()",
                    (System.nanoTime() - t0) / 1e9);
            assertFalse(runner.isAlive());
        }
    }

    static long fds() throws IOException {
        try (var l = Files.list(Path.of("/proc/self/fd"))) {
            return l.count();
        }
    }

    static long rssKb() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmRSS:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("[^0-9]", ""))).findFirst().orElseThrow();
    }

    @Test
    void fiftyCyclesKeepMemoryDescriptorsAndThreadsFlat() throws IOException {
        var threads = ManagementFactory.getThreadMXBean();
        long[] first = null;
        long[] last = null;
        for (int i = 1; i <= 50; i++) {
            try (Phi2Model m = Phi2Model.open(TestModels.tiny(), OPTS)) {
                m.generate("Hello", GenerationOptions.greedy().withMaxNewTokens(3));
            }
            System.gc();
            long[] now = {rssKb(), fds(), threads.getThreadCount()};
            if (i == 1) {
                first = now;
            }
            last = now;
        }
        System.err.printf("50 open/generate/close cycles: RSS %d -> %d kB, open fds %d -> %d, threads %d -> %d%n",
                first[0], last[0], first[1], last[1], first[2], last[2]);
        assertTrue(last[0] - first[0] < 100 * 1024, "RSS grew " + (last[0] - first[0]) + " kB");
        assertTrue(last[1] - first[1] <= 4, "file descriptors grew from " + first[1] + " to " + last[1]);
        assertTrue(last[2] - first[2] <= 4, "threads grew from " + first[2] + " to " + last[2]);
    }
}
