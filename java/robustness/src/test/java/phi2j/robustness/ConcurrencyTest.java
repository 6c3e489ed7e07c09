package phi2j.robustness;

import org.junit.jupiter.api.Test;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.ModelClosedException;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.runtime.StopReason;
import phi2j.runtime.TokenStream;
import phi2j.testkit.TestModels;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/** Eight threads on one model with random lengths and cancellations; close() racing with generations. */
class ConcurrencyTest {
    static final List<String> PROMPTS = List.of("Alice: Hello\nBob:", "def three_sum(nums):", "Instruct: Summarize LoRA.\nOutput:", "The");
    static final int[] LENGTHS = {1, 7, 23, 48};
    static final Duration RUN = Duration.ofSeconds(Long.getLong("phi2.robustness.seconds", 60));

    @Test
    void eightThreadsGetTheirOwnCorrectResultsOrCleanCancellations() {
        assertTimeoutPreemptively(RUN.plusMinutes(3), () -> {
            try (Phi2Model m = Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(256).withThreads(2))) {
                Map<String, String> alone = new HashMap<>();
                for (String p : PROMPTS) {
                    for (int n : LENGTHS) {
                        alone.put(p + "|" + n, m.generate(p, GenerationOptions.greedy().withMaxNewTokens(n)).text());
                    }
                }
                long end = System.nanoTime() + RUN.toNanos();
                AtomicInteger complete = new AtomicInteger();
                AtomicInteger cancelled = new AtomicInteger();
                List<CompletableFuture<Void>> workers = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    long seed = t;
                    workers.add(CompletableFuture.runAsync(() -> {
                        Random rnd = new Random(seed);
                        while (System.nanoTime() < end) {
                            String p = PROMPTS.get(rnd.nextInt(PROMPTS.size()));
                            int n = LENGTHS[rnd.nextInt(LENGTHS.length)];
                            String want = alone.get(p + "|" + n);
                            int cancelAfter = rnd.nextInt(3) == 0 ? rnd.nextInt(4) : -1;
                            try (TokenStream s = m.stream(p, GenerationOptions.greedy().withMaxNewTokens(n))) {
                                StringBuilder got = new StringBuilder();
                                int pieces = 0;
                                while (s.hasNext()) {
                                    got.append(s.next().text());
                                    if (++pieces == cancelAfter) {
                                        s.cancel();
                                    }
                                }
                                GenerationResult r = s.result();
                                assertEquals(got.toString(), r.text());
                                if (r.stopReason() == StopReason.CANCELLED) {
                                    assertTrue(want.startsWith(r.text()), "a cancelled text is a prefix of the full one");
                                    cancelled.incrementAndGet();
                                } else {
                                    assertEquals(want, r.text(), "the same text as the prompt run alone");
                                    complete.incrementAndGet();
                                }
                            }
                        }
                    }));
                }
                workers.forEach(CompletableFuture::join);
                System.err.printf("8 threads for %d s: %d complete results, %d cancellations, all correct%n", RUN.toSeconds(), complete.get(), cancelled.get());
                assertTrue(complete.get() > 8);
            }
        });
    }

    @Test
    void closeRacingWithGenerationsEndsEveryCallCleanly() {
        assertTimeoutPreemptively(Duration.ofMinutes(2), () -> {
            for (int round = 0; round < 3; round++) {
                // long generations (the native engine makes thousands of tiny-model tokens a second): six of them in
                // turn outlast every sleep below, so close() always lands while some are running or waiting
                Phi2Model m = Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(2048).withThreads(2));
                List<CompletableFuture<String>> calls = new ArrayList<>();
                for (int t = 0; t < 6; t++) {
                    calls.add(CompletableFuture.supplyAsync(() -> {
                        try {
                            GenerationResult r = m.generate("Once upon a time", GenerationOptions.greedy().withMaxNewTokens(1900).withIgnoreEndOfText(true));
                            return "result " + r.stopReason();
                        } catch (ModelClosedException e) {
                            return "model closed";
                        }
                    }));
                }
                Thread.sleep(100 + 150L * round);
                m.close();
                for (CompletableFuture<String> c : calls) {
                    String s = c.join();
                    assertTrue(s.startsWith("result") || s.equals("model closed"), s);
                }
                assertTrue(calls.stream().anyMatch(c -> c.join().equals("model closed")), "close() interrupted something");
            }
        });
    }
}
