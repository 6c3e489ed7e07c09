package phi2j.runtime.internal;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class NativeLogTest {
    @Test
    void readsTheBindingsBuildAndSystemInfoAndKeepsABoundedTail() {
        NativeLog log = new NativeLog();
        log.accept("build: 4916 (c6af2161) with cc for x86_64-linux-gnu");
        log.accept("system_info: n_threads = 2 (n_threads_batch = 2) / 2 | CPU : SSE3 = 1 | AVX2 = 1 |");
        assertEquals("4916 (c6af2161)", log.build());
        assertEquals("CPU : SSE3 = 1 | AVX2 = 1 |", log.systemInfo());
        for (int i = 0; i < 100; i++) {
            log.accept("line " + i);
        }
        assertEquals(40, log.tail().size());
        assertEquals("line 99", log.tail().get(39));
    }
}
