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
import phi2j.convert.Converter;
import phi2j.convert.FileType;
import phi2j.testkit.SyntheticCheckpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Conversion throughput: a synthetic Hugging Face checkpoint (real tokenizer from the shared data folder,
 * set PHI2_SHARED_DATA) to GGUF. GB/s = checkpoint bytes / score. Default: the tiny checkpoint (65 MB, F32);
 * pass -p checkpoint=DIR for the full-size one (scripts/bench-convert.sh measures that against cp).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@State(Scope.Benchmark)
public class ConvertBenchmark {
    @Param({""})
    public String checkpoint;

    @Param({"F16"})
    public String outtype;

    private Path dir;
    private Path in;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        dir = Files.createTempDirectory("phi2j-convert-bench");
        in = checkpoint.isEmpty() ? SyntheticCheckpoint.tiny().write(dir.resolve("ckpt")) : Path.of(checkpoint);
        long bytes;
        try (var files = Files.list(in)) {
            bytes = files.filter(p -> p.toString().endsWith(".safetensors")).mapToLong(p -> p.toFile().length()).sum();
        }
        System.out.printf("%ncheckpoint %s: %.1f MB of safetensors%n", in, bytes / 1e6);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Benchmark
    public long convert() throws IOException {
        Path out = dir.resolve("out.gguf");
        Converter.convert(in, out, new Converter.Options(FileType.parse(outtype), Runtime.getRuntime().availableProcessors(), true, null),
                (d, t, n) -> { });
        return Files.size(out);
    }
}
