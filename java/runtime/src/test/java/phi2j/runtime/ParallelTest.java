package phi2j.runtime;

import org.junit.jupiter.api.Test;
import phi2j.testkit.TestModels;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

class ParallelTest {
    @Test
    void severalSequencesRunAtOnceInOneRunner() throws Exception {
        try (Phi2Model m = Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(3 * 256).withParallel(3))) {
            List<CompletableFuture<GenerationResult>> runs = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                int n = 20 + i;
                runs.add(CompletableFuture.supplyAsync(() -> m.generate("Sequence " + n, GenerationOptions.greedy().withMaxNewTokens(n))));
            }
            for (int i = 0; i < runs.size(); i++) {
                GenerationResult r = runs.get(i).get(60, TimeUnit.SECONDS);
                assertEquals(StopReason.LENGTH, r.stopReason());
                assertEquals(20 + i, r.generatedTokens(), "the budget, as llama.cpp stopped at it");
            }
            // each slot holds a third of the context
            var e = assertThrows(phi2j.InvalidOptionException.class, () -> m.generate("x", GenerationOptions.greedy().withMaxNewTokens(300)));
            assertEquals("maxNewTokens", e.option());
        }
        assertEquals("parallel", assertThrows(phi2j.InvalidOptionException.class,
                () -> ModelOptions.defaults().withParallel(0).validate()).option());
    }
}
