package phi2j.runtime;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class LoadBreakdownTest {
    private static Duration ms(long n) {
        return Duration.ofMillis(n);
    }

    @Test
    void theStagesComeInTheOrderTheyHappenAndTheSummaryAndTotalReadThem() {
        LoadBreakdown b = new LoadBreakdown(ms(20), ms(410), ms(50), ms(2800), ms(100), ms(400));
        assertEquals(List.of("fileCheck", "runnerStart", "engine", "model", "context", "warmup"),
                b.stages().stream().map(LoadBreakdown.Stage::key).toList());
        assertEquals("file check 0.02 s, runner start 0.41 s, engine 0.05 s, model 2.80 s, context 0.10 s, warm-up 0.40 s", b.summary());
        assertEquals(ms(3780), b.total());
    }

    @Test
    void stagesAnEngineCannotReportAreLeftOut() {
        LoadBreakdown b = new LoadBreakdown(ms(20), ms(410), ms(900), null, null, null);
        assertEquals(List.of("fileCheck", "runnerStart", "engine"), b.stages().stream().map(LoadBreakdown.Stage::key).toList());
        assertEquals("file check 0.02 s, runner start 0.41 s, engine 0.90 s", b.summary());
        assertEquals(ms(1330), b.total());
    }
}
