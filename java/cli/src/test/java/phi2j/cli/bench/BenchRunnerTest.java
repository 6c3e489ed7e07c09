package phi2j.cli.bench;

import org.junit.jupiter.api.Test;
import phi2j.format.GgufReader;
import phi2j.runtime.FlashAttention;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.TestModels;

import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class BenchRunnerTest {
    @Test
    void theSweepIsOneFlatListWithLoadParametersOutermost() {
        Path a = Path.of("a.gguf");
        Path b = Path.of("b.gguf");
        List<BenchCase> tests = new BenchCase.Sweep(List.of(a, b), List.of(0, 99), List.of(4), List.of(0), List.of(FlashAttention.AUTO),
                List.of(0, 512), List.of(64, 0), List.of(16), 1, 1).tests();
        assertEquals(2 * 2 * 2 * 2, tests.size(), "models x ngl x depths x (pp64, tg16); 0 means no test");
        assertEquals(4, tests.stream().map(BenchCase::load).distinct().count());
        for (int i = 1; i < tests.size(); i++) { // each load's tests are consecutive, so it opens once
            BenchCase.Load l = tests.get(i).load();
            assertTrue(l.equals(tests.get(i - 1).load()) || tests.subList(0, i).stream().noneMatch(t -> t.load().equals(l)), tests.toString());
        }
        assertEquals(List.of("pp64", "tg16", "pp64 @ d512", "tg16 @ d512"), tests.subList(0, 4).stream().map(BenchCase::name).toList());
    }

    @Test
    void consecutiveTestsWithEqualLoadsShareTheRunnerAndEveryRunnerIsClosed() {
        Path tiny = TestModels.tiny();
        List<BenchCase> tests = new BenchCase.Sweep(List.of(tiny), List.of(0), List.of(1, 2), List.of(0), List.of(FlashAttention.AUTO),
                List.of(0, 16), List.of(8), List.of(4), 1, 1).tests();
        List<BenchCase.Load> loads = new ArrayList<>();
        List<Phi2Model> opened = new ArrayList<>();
        BenchRunner runner = new BenchRunner(1, new PrintWriter(Writer.nullWriter()), load -> {
            loads.add(load);
            Phi2Model m = Phi2Model.open(tiny, ModelOptions.builder().contextSize(256).threads(load.threads()).build());
            opened.add(m);
            return List.of(m);
        }, Map.of(tiny, GgufReader.read(tiny)));
        List<BenchResult> seen = new ArrayList<>();
        List<BenchResult> results = runner.run(tests, seen::add);
        assertEquals(List.of(1, 2), loads.stream().map(BenchCase.Load::threads).toList(), "one open per distinct load");
        assertEquals(tests.stream().map(BenchCase::name).toList(), results.stream().map(BenchResult::test).toList());
        assertEquals(results, seen, "each result handed on as it was measured");
        assertTrue(results.stream().allMatch(r -> r.mean() > 0), results.toString());
        for (Phi2Model m : opened) {
            assertFalse(m.isOpen(), "the runner of a finished load is closed");
        }
        assertNotNull(runner.build());
    }
}
