package phi2j.runtime;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import phi2j.testkit.TestModels;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** A runner that stops making progress (here: SIGSTOP) fails the call within the stall timeout instead of hanging it. */
@EnabledOnOs({OS.LINUX, OS.MAC})
class StallTest {
    static final ModelOptions OPTS = ModelOptions.defaults().withContextSize(2048).withThreads(1).withStallTimeout(Duration.ofSeconds(3));

    static void signal(String sig, long pid) throws Exception {
        assertEquals(0, new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).start().waitFor());
    }

    @Test
    void aStoppedRunnerFailsTheGenerationWithinTheStallTimeoutAndIsKilled() throws Exception {
        Phi2Model m = Phi2Model.open(TestModels.tiny(), OPTS);
        long pid = m.runnerPid();
        try (TokenStream s = m.stream("Once upon a time", GenerationOptions.greedy().withMaxNewTokens(1900).withIgnoreEndOfText(true))) {
            assertTrue(s.hasNext());
            s.next();
            signal("STOP", pid);
            long t0 = System.nanoTime();
            RunnerStalledException e = assertThrows(RunnerStalledException.class, () -> {
                while (s.hasNext()) {
                    s.next();
                }
                s.result();
            });
            double waited = (System.nanoTime() - t0) / 1e9;
            assertTrue(waited >= 2.5 && waited < 15, "failed after " + waited + " s, for a 3 s stall timeout");
            assertTrue(e.getMessage().contains("no sign of life for 3 s"), e.getMessage());
        } finally {
            m.close();
        }
        ProcessHandle.of(pid).ifPresent(h -> h.onExit().orTimeout(10, TimeUnit.SECONDS).join());
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "the stalled runner was killed");
        try (Phi2Model again = Phi2Model.open(TestModels.tiny(), OPTS)) {
            assertEquals(4, again.generate("Hello", GenerationOptions.greedy().withMaxNewTokens(4)).generatedTokens());
        }
    }

    @Test
    void aPauseShorterThanTheTimeoutIsNotAStall() throws Exception {
        try (Phi2Model m = Phi2Model.open(TestModels.tiny(), OPTS)) {
            try (TokenStream s = m.stream("Once upon a time", GenerationOptions.greedy().withMaxNewTokens(300).withIgnoreEndOfText(true))) {
                assertTrue(s.hasNext());
                s.next();
                signal("STOP", m.runnerPid());
                Thread.sleep(1500);
                signal("CONT", m.runnerPid());
                while (s.hasNext()) {
                    s.next();
                }
                assertEquals(300, s.result().generatedTokens());
            }
        }
    }

    @Test
    void theTimeoutMustLeaveRoomForTheHeartbeat() {
        var e = assertThrows(phi2j.InvalidOptionException.class, () -> ModelOptions.defaults().withStallTimeout(Duration.ofMillis(500)));
        assertEquals("stallTimeout", e.option());
        assertEquals(Duration.ofSeconds(30), ModelOptions.defaults().stallTimeout(), "on by default");
    }
}
