package phi2j.runtime.internal.overhead;

import phi2j.Timer;
import phi2j.runtime.EngineKind;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.NativeEngineBuild;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.TestModels;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.IntSupplier;

/**
 * Tokens per second through the runner divided by tokens per second of a plain in-process loop, on the same
 * model in the same JVM, runs interleaved so that drifts in machine load hit both sides alike. Both sides
 * time the whole call (prompt processing included) by the same wall clock.
 *
 * <pre>java -cp "java/runtime/target/test-classes:java/runtime/target/classes:$(cat java/runtime/target/test-classpath.txt)" \
 *     phi2j.runtime.internal.overhead.RunnerOverhead [MODEL.gguf] [tokens] [rounds] [binding|native]</pre>
 * (after {@code mvn -q -pl java/runtime -am test-compile}; it lives beside the runtime's tests because the in-process
 * baselines drive the engines' internals, which only the runtime may touch)
 *
 * With {@code native}, both sides are the native engine: the in-process side drives it directly (no runner, no socket,
 * no stream), so the difference per token is what the runner process and the Java layers cost.
 */
public final class RunnerOverhead {
    private RunnerOverhead() {
    }

    public static void main(String[] args) {
        Path model = args.length > 0 ? Path.of(args[0]) : TestModels.tiny();
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        int threads = Runtime.getRuntime().availableProcessors();
        boolean nativeEngine = args.length > 3 && args[3].equals("native");
        if (nativeEngine) {
            nativeEngine(model, tokens, rounds, threads);
            return;
        }
        String prompt = "Instruct: Write a detailed analogy between mathematics and a lighthouse.\nOutput:";
        System.out.printf(Locale.ROOT, "model %s, %d new tokens, %d rounds, %d threads%n", model, tokens, rounds, threads);

        InProcessBaseline base = new InProcessBaseline(model, 1024, threads);
        try (Phi2Model m = Phi2Model.open(model, ModelOptions.defaults().withEngine(EngineKind.BINDING).withContextSize(1024).withThreads(threads))) {
            GenerationOptions o = GenerationOptions.greedy().withMaxNewTokens(tokens);
            m.generate(prompt, o); // warm-up, both sides
            base.generate(prompt, tokens);
            int[] count = {0};
            rounds(rounds, () -> count[0] = m.generate(prompt, o).generatedTokens(), () -> {
                base.generate(prompt, tokens);
                return count[0]; // no end-of-text on these models within the budget: the baseline made the same count
            });
        }
        System.exit(0); // the in-process baseline's native thread would keep the JVM alive
    }

    /** The native engine through the runner against the same engine in this JVM; prints the overhead per token. */
    private static void nativeEngine(Path model, int tokens, int rounds, int threads) {
        String prompt = "The";
        NativeEngineBuild build = NativeEngineBuild.read(NativeEngineBuild.defaultDir().orElseThrow());
        System.out.printf(Locale.ROOT, "native engine %s, model %s, %d new tokens, %d rounds, %d threads%n", build.llamaCpp(), model, tokens,
                rounds, threads);
        try (NativeInProcessBaseline base = new NativeInProcessBaseline(model, build, 1024, threads);
             Phi2Model m = Phi2Model.open(model, ModelOptions.defaults().withEngine(EngineKind.NATIVE).withNativeLibrary(build.dir())
                     .withContextSize(1024).withThreads(threads))) {
            GenerationOptions o = GenerationOptions.greedy().withMaxNewTokens(tokens).withIgnoreEndOfText(true);
            long warmUntil = System.nanoTime() + 2_000_000_000L;
            for (int w = 0; w < 3 || System.nanoTime() < warmUntil; w++) { // warm-up, both sides, 2 s at least: the JITs
                m.generate(prompt, o);
                base.generate(prompt, tokens);
            }
            rounds(rounds, () -> m.generate(prompt, o).generatedTokens(), () -> base.generate(prompt, tokens));
        }
        System.exit(0);
    }

    /**
     * Interleaved rounds, the runner first, then the in-process baseline, each its tokens over its own wall time; prints
     * each round, then the means, their ratio and the overhead per token.
     */
    private static void rounds(int rounds, IntSupplier viaRunner, IntSupplier inThisJvm) {
        List<Double> runner = new ArrayList<>();
        List<Double> inProcess = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            Timer t = Timer.start();
            runner.add(viaRunner.getAsInt() / t.seconds());
            Timer b = Timer.start();
            inProcess.add(inThisJvm.getAsInt() / b.seconds());
            System.out.printf(Locale.ROOT, "round %d: runner %.2f t/s, in-process %.2f t/s%n", r + 1, runner.get(r), inProcess.get(r));
        }
        double rm = mean(runner);
        double im = mean(inProcess);
        System.out.printf(Locale.ROOT, "runner      %.2f ± %.2f tokens/s%n", rm, sd(runner));
        System.out.printf(Locale.ROOT, "in-process  %.2f ± %.2f tokens/s%n", im, sd(inProcess));
        System.out.printf(Locale.ROOT, "ratio runner / in-process = %.3f; overhead per token = %.1f µs (from the means)%n", rm / im,
                (1 / rm - 1 / im) * 1e6);
    }

    static double mean(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    static double sd(List<Double> xs) {
        double m = mean(xs);
        return Math.sqrt(xs.stream().mapToDouble(x -> (x - m) * (x - m)).sum() / Math.max(1, xs.size() - 1));
    }
}
