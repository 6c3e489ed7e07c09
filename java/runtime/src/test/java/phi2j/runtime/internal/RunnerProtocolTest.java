package phi2j.runtime.internal;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;
import phi2j.runtime.EngineKind;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.ModelClosedException;
import phi2j.runtime.RunnerCrashedException;
import phi2j.runtime.StopReason;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The runner protocol end to end, launch to close, with {@link FakeEngine} in llama.cpp's place. */
class RunnerProtocolTest {
    @BeforeAll
    static void fake() {
        System.setProperty(RunnerLauncher.FAKE_ENGINE, FakeEngine.class.getName());
    }

    @AfterAll
    static void real() {
        System.clearProperty(RunnerLauncher.FAKE_ENGINE);
    }

    /** What one generation's listener was told. */
    static final class Seen implements RunnerProcess.Listener {
        final List<String> texts = new CopyOnWriteArrayList<>();
        final CompletableFuture<EngineEvent.Done> done = new CompletableFuture<>();
        final CompletableFuture<EngineEvent.Failed> error = new CompletableFuture<>();
        final CompletableFuture<Phi2Exception> gone = new CompletableFuture<>();
        volatile boolean admitted;

        @Override
        public void onEvent(EngineEvent e) {
            if (e instanceof EngineEvent.Token t) {
                assertTrue(admitted, "admitted before its first token");
                texts.add(t.text());
            } else if (e instanceof EngineEvent.Admitted) {
                admitted = true;
            } else if (e instanceof EngineEvent.Done d) {
                done.complete(d);
            } else if (e instanceof EngineEvent.Failed f) {
                error.complete(f);
            }
        }

        @Override
        public void onGone(Phi2Exception why) {
            gone.complete(why);
        }
    }

    static EngineParams load(String path) {
        return new EngineParams(path, 64, 1, 0, 1, new float[0], 0, 0, 1, -1, false, EngineKind.BINDING, null, null, 0, false);
    }

    static Seen generate(RunnerProcess rp, int id, String prompt, int maxNew) {
        Seen s = new Seen();
        rp.register(id, s);
        rp.generate(new Messages.Generate(id, prompt, GenerationOptions.greedy().withMaxNewTokens(maxNew), true));
        return s;
    }

    @Test
    void framesReachTheirGenerationCallsTheirCallerAndCancelStopsAGeneration() throws Exception {
        try (RunnerProcess rp = RunnerProcess.start(null, Map.of())) {
            Messages.Loaded loaded = rp.load(load("ok.gguf"), Duration.ofSeconds(60));
            assertEquals(List.of("fake", "fake 1", 64), List.of(loaded.engine(), loaded.llamaCpp(), loaded.contextPerSequence()));

            Seen a = generate(rp, 1, "one two three", 5);
            Seen b = generate(rp, 2, "x y", 3); // two at once: each frame goes to its own listener
            EngineEvent.Done da = a.done.get(30, TimeUnit.SECONDS);
            b.done.get(30, TimeUnit.SECONDS);
            assertEquals(List.of("one", "two", "three", "one", "two"), a.texts);
            assertEquals(List.of("x", "y", "x"), b.texts);
            assertEquals(List.of(5, StopReason.LENGTH, 3), List.of(da.generatedTokens(), da.stop(), da.promptTokens()));

            assertArrayEquals("hé!".codePoints().toArray(), rp.call(Messages.CallKind.TOKENIZE, "hé!", null).tokens());
            assertEquals("hé!", rp.call(Messages.CallKind.DETOKENIZE, null, "hé!".codePoints().toArray()).text());
            assertArrayEquals(new float[] {3}, rp.call(Messages.CallKind.EMBED, "abc", null).floats());

            Seen failing = generate(rp, 3, "fail", 4);
            EngineEvent.Failed e = failing.error.get(30, TimeUnit.SECONDS);
            assertEquals(Messages.ErrorKind.NATIVE, e.kind());
            assertEquals("the fake engine failed", e.message());

            Seen slow = generate(rp, 4, "slow and steady", 1_000_000);
            long until = System.nanoTime() + 30_000_000_000L;
            while (slow.texts.size() < 3 && System.nanoTime() < until) {
                Thread.sleep(5);
            }
            rp.cancel(4);
            EngineEvent.Done ds = slow.done.get(30, TimeUnit.SECONDS);
            assertEquals(StopReason.CANCELLED, ds.stop(), ds.toString());
            assertTrue(ds.generatedTokens() >= 3 && ds.generatedTokens() < 1_000_000, ds.toString());
            assertEquals(ds.generatedTokens(), slow.texts.size(), "every piece before the end arrived");
        }
    }

    @Test
    void loadErrorsBecomeTheExceptionTheirKindNames() {
        try (RunnerProcess rp = RunnerProcess.start(null, Map.of())) {
            InvalidOptionException e = assertThrows(InvalidOptionException.class, () -> rp.load(load("bad-option.gguf"), Duration.ofSeconds(60)));
            assertEquals("contextSize", e.option());
        }
        try (RunnerProcess rp = RunnerProcess.start(null, Map.of())) {
            Phi2Exception e = assertThrows(Phi2Exception.class, () -> rp.load(load("broken.gguf"), Duration.ofSeconds(60)));
            assertTrue(e.getMessage().startsWith("llama.cpp could not load the model: not a model"), e.getMessage());
            assertFalse(e instanceof InvalidOptionException);
        }
    }

    @Test
    void aRunnerThatDiesIsACrashWithItsExitStatusAndClosingIsNot() throws Exception {
        RunnerProcess rp = RunnerProcess.start(null, Map.of());
        rp.load(load("ok.gguf"), Duration.ofSeconds(60));
        Seen dying = generate(rp, 1, "die", 4);
        Phi2Exception why = dying.gone.get(30, TimeUnit.SECONDS);
        RunnerCrashedException crash = assertInstanceOf(RunnerCrashedException.class, why);
        assertEquals(3, crash.exitStatus());
        assertFalse(rp.isAlive());
        assertThrows(RunnerCrashedException.class, () -> rp.call(Messages.CallKind.TOKENIZE, "x", null), "the next request says so too");
        rp.close();

        RunnerProcess closing = RunnerProcess.start(null, Map.of());
        closing.load(load("ok.gguf"), Duration.ofSeconds(60));
        Seen inFlight = generate(closing, 1, "slow but sure", 1_000_000);
        closing.close();
        assertInstanceOf(ModelClosedException.class, inFlight.gone.get(30, TimeUnit.SECONDS), "closed on purpose, not crashed");
    }
}
