package phi2j.bench;

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
import phi2j.convert.FileType;
import phi2j.convert.Quantizer;
import phi2j.format.GgufFile;
import phi2j.format.GgufReader;
import phi2j.format.Phi2Layout;
import phi2j.testkit.SyntheticPhi2;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Format-side throughput: parsing and checking a Phi-2-shaped GGUF header (51,200-token vocabulary, 453
 * tensors), and quantizing a model to Q8_0 and Q4_K_M (score in seconds per operation; GB/s = input size /
 * score). The quantization input is the 25 MB K-quant test model by default; pass -p model=FILE for another.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@State(Scope.Benchmark)
public class FormatBenchmark {
    /** The GGUF to parse and quantize; empty: a synthetic model written in setup. */
    @Param({""})
    public String model;

    @Param({"Q8_0", "Q4_K_M"})
    public String type;

    private Path in;
    private Path dir;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        dir = Files.createTempDirectory("phi2j-bench");
        in = model.isEmpty() ? SyntheticPhi2.quantTest().write(dir.resolve("in.gguf")) : Path.of(model);
        System.out.printf("%ninput %s: %.1f MB%n", in, Files.size(in) / 1e6);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Benchmark
    public Phi2Layout.Hparams parseAndCheckHeader() {
        GgufFile f = GgufReader.read(in);
        return Phi2Layout.check(f);
    }

    @Benchmark
    public long quantize() throws IOException {
        Path out = dir.resolve("out.gguf");
        Quantizer.quantize(in, out, new Quantizer.Options(FileType.parse(type), Runtime.getRuntime().availableProcessors(), true, true, null),
                (d, t, n) -> { });
        return Files.size(out);
    }
}
