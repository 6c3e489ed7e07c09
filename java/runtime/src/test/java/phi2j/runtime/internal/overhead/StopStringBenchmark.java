package phi2j.runtime.internal.overhead;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import phi2j.runtime.internal.MarkerFilter;

import java.util.concurrent.TimeUnit;

/**
 * The caller-side cost per streamed piece of watching for {@code <|endoftext|>} split across pieces: one
 * operation feeds one typical piece (a word, or the start of the marker) to the filter.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Thread)
public class StopStringBenchmark {
    private static final String[] PIECES = {" the", " model", " answers", ".", "\n", " <|", "endo", " and", " 42", "ftext"};
    private MarkerFilter filter;
    private int i;

    @Setup
    public void setup() {
        filter = new MarkerFilter("<|endoftext|>");
    }

    @Benchmark
    public String perPiece() {
        if (filter.found()) {
            filter = new MarkerFilter("<|endoftext|>");
        }
        return filter.feed(PIECES[i++ % PIECES.length]);
    }
}
