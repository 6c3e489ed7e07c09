package phi2j.runtime.internal.overhead;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.TestModels;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Per-token cost of the runner: one operation generates {@code tokens} tokens greedily, through the runner
 * process or through a plain in-process loop. Tokens per second = score x tokens; the ratio of the two
 * scores is the runner's overhead. Each benchmark runs in its own fork, which loads its model afresh.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 5, time = 10)
public class RunnerOverheadBenchmark {
    static final String PROMPT = "Instruct: Write a detailed analogy between mathematics and a lighthouse.\nOutput:";

    @State(Scope.Benchmark)
    public static class Config {
        /** A GGUF path; empty for the tiny synthetic model. */
        @Param({""})
        public String model;

        @Param({"64"})
        public int tokens;

        Path path() {
            return model.isEmpty() ? TestModels.tiny() : Path.of(model);
        }
    }

    @State(Scope.Benchmark)
    public static class Runner {
        Phi2Model model;
        GenerationOptions options;

        @Setup(Level.Trial)
        public void open(Config c) {
            model = Phi2Model.open(c.path(), ModelOptions.defaults().withEngine(phi2j.runtime.EngineKind.BINDING).withContextSize(1024));
            options = GenerationOptions.greedy().withMaxNewTokens(c.tokens);
        }

        @TearDown(Level.Trial)
        public void close() {
            model.close();
        }
    }

    @State(Scope.Benchmark)
    public static class InProcess {
        InProcessBaseline model;
        int tokens;

        @Setup(Level.Trial)
        public void open(Config c) {
            model = new InProcessBaseline(c.path(), 1024, Runtime.getRuntime().availableProcessors());
            tokens = c.tokens;
        }
    }

    @Benchmark
    public int runner(Runner r) {
        return r.model.generate(PROMPT, r.options).generatedTokens();
    }

    @Benchmark
    public String inProcess(InProcess p) {
        return p.model.generate(PROMPT, p.tokens);
    }
}
