package phi2j.runtime.internal;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class NativeLogTest {
    @Test
    void readsLlamaCppTimingBlock() throws InterruptedException {
        NativeLog log = new NativeLog();
        log.accept("slot      release: id  0 | task 0 | stop processing: n_past = 48, truncated = 0");
        log.accept("slot print_timing: id  0 | task 0 | ");
        log.accept("prompt eval time =       1.12 ms /     9 tokens (    0.12 ms per token,  8057.30 tokens per second)");
        log.accept("       eval time =     124.45 ms /    40 tokens (    3.11 ms per token,   321.40 tokens per second)");
        log.accept("      total time =     125.57 ms /    49 tokens");
        NativeLog.SlotTiming t = log.awaitTiming(10);
        assertNotNull(t);
        assertEquals(9, t.promptTokens());
        assertEquals(40, t.evalTokens());
        assertEquals(124.45, t.evalMillis(), 1e-9);
        assertNull(log.awaitTiming(1), "one block, one timing");
        assertEquals(5, log.tail().size());
    }

    @Test
    void evalLineWithoutPromptLineIsIgnoredAndTailIsBounded() throws InterruptedException {
        NativeLog log = new NativeLog();
        log.accept("       eval time =     1.00 ms /     4 tokens");
        assertNull(log.awaitTiming(1));
        for (int i = 0; i < 100; i++) {
            log.accept("line " + i);
        }
        assertEquals(40, log.tail().size());
        assertEquals("line 99", log.tail().get(39));
    }
}
