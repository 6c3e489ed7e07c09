package phi2j.cli.bench;

import phi2j.Phi2Exception;
import phi2j.format.GgufFile;
import phi2j.format.GgufReader;
import phi2j.runtime.EngineKind;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * Runs llama-bench's tests through the runtime. {@code ppN}: a prompt of N tokens (after {@code depth} tokens
 * already in the KV cache) timed by llama.cpp's prompt-evaluation clock. {@code tgN}: N generated tokens (past
 * any end-of-text) timed by llama.cpp's decode clock. Each configuration gets a warm-up, then the repetitions.
 * With several runners the same test runs on all of them at once and tokens/s add up.
 */
public final class BenchRunner {
    /** One configuration of the sweep. */
    public record Config(Path model, int gpuLayers, int threads, int batchSize, int depth, int runners, int parallel,
                         phi2j.runtime.FlashAttention flashAttention) {
    }

    private final int repetitions;
    private final PrintWriter progress;
    private final Function<Config, ModelOptions> options;

    public BenchRunner(int repetitions, PrintWriter progress, Function<Config, ModelOptions> options) {
        this.repetitions = repetitions;
        this.progress = progress;
        this.options = options;
    }

    /** A prompt of exactly {@code n} tokens for this model (" the" is one token in Phi-2's vocabulary and ours). */
    static String promptOf(Phi2Model m, int n) {
        if (n <= 0) {
            return "";
        }
        StringBuilder sb = new StringBuilder("The");
        int have = m.tokenize(sb.toString()).length;
        while (have < n) {
            sb.append(" the".repeat(n - have));
            have = m.tokenize(sb.toString()).length;
        }
        if (have != n) {
            throw new Phi2Exception("could not build a prompt of exactly " + n + " tokens for " + m.info().path() + " (got " + have + ")");
        }
        return sb.toString();
    }

    /** The backend column names the engine and its llama.cpp too: "CPU native 0.5.0 (de3ff81)", "CPU binding b4916". */
    static String backend(Phi2Model m) {
        String lib = m.info().nativeLibrary();
        String device;
        if (m.info().engine() == EngineKind.NATIVE) {
            java.util.regex.Matcher preset = java.util.regex.Pattern.compile("\\((cpu|cuda|hip[^)]*|vulkan)\\)").matcher(lib);
            String p = preset.find() ? preset.group(1) : "cpu";
            device = p.startsWith("hip") ? "ROCm" : p.equals("cuda") ? "CUDA" : p.equals("vulkan") ? "Vulkan" : "CPU";
        } else {
            device = lib.startsWith("bundled CPU") ? "CPU" : "custom";
        }
        return device + " " + m.info().engine().label() + " " + m.nativeBuild();
    }

    public List<BenchResult> run(Config c, List<Integer> pp, List<Integer> tg, BenchReport.Build[] build) {
        List<Phi2Model> models = new ArrayList<>();
        try {
            for (int i = 0; i < c.runners(); i++) {
                ModelOptions o = options.apply(c);
                if (c.runners() > 1) {
                    o = o.withVisibleDevices(String.valueOf(i)); // one runner per GPU
                }
                models.add(Phi2Model.open(c.model(), o));
            }
            Phi2Model first = models.get(0);
            if (build[0] == null) {
                build[0] = new BenchReport.Build(first.nativeBuild(), first.info().engine() == EngineKind.NATIVE
                        ? "phi2j native engine" : "de.kherud:llama 4.2.0", first.info().nativeLibrary(), first.cpuFeatures(), List.of());
            }
            GgufFile f = GgufReader.read(c.model());
            // flash attention, when set, is part of the backend column: "CUDA native 0.5.0 (de3ff81) fa=1"
            String backend = backend(first) + (c.flashAttention() == phi2j.runtime.FlashAttention.AUTO ? "" : " fa=" + c.flashAttention().llamaValue());
            String name = f.getString("general.name").orElse(c.model().getFileName().toString());
            String depthPrompt = promptOf(first, c.depth());
            List<BenchResult> out = new ArrayList<>();
            // warm-up: page the weights in and let threads spin up
            measure(models, depthPrompt, 8, 4, c.depth());
            if (c.parallel() > 1) {
                for (int n : pp) {
                    out.add(parallelSeries(c, f, name, backend, models.get(0), n, 0));
                }
                for (int n : tg) {
                    out.add(parallelSeries(c, f, name, backend, models.get(0), 0, n));
                }
                return out;
            }
            for (int n : pp) {
                out.add(result(c, f, name, backend, n, 0, series(models, depthPrompt, n, 0, c)));
            }
            for (int n : tg) {
                out.add(result(c, f, name, backend, 0, n, series(models, depthPrompt, 0, n, c)));
            }
            return out;
        } finally {
            models.forEach(Phi2Model::close);
        }
    }

    /**
     * {@code parallel} sequences at once in one runner's slots: aggregate tokens/s is all their tokens over the wall
     * time until the last finishes; per-sequence tokens/s is each one's tokens over its own time.
     */
    private BenchResult parallelSeries(Config c, GgufFile f, String name, String backend, Phi2Model m, int nPrompt, int nGen) {
        List<Double> aggregate = new ArrayList<>();
        List<Double> perSeq = new ArrayList<>();
        String prompt = nPrompt > 0 ? promptOf(m, nPrompt) : "The";
        GenerationOptions o = GenerationOptions.greedy().withMaxNewTokens(nPrompt > 0 ? 1 : nGen).withIgnoreEndOfText(true);
        for (int r = 0; r < repetitions; r++) {
            progress.printf("bench: %s %s x%d: repetition %d/%d%n", c.model().getFileName(), nPrompt > 0 ? "pp" + nPrompt : "tg" + nGen,
                    c.parallel(), r + 1, repetitions);
            progress.flush();
            long t0 = System.nanoTime();
            List<CompletableFuture<Double>> seqs = new ArrayList<>();
            for (int s = 0; s < c.parallel(); s++) {
                seqs.add(CompletableFuture.supplyAsync(() -> {
                    long s0 = System.nanoTime();
                    GenerationResult res = m.generate(prompt, o);
                    double secs = (System.nanoTime() - s0) / 1e9;
                    return (nPrompt > 0 ? res.promptTokens() : res.generatedTokens()) / secs;
                }));
            }
            seqs.forEach(s -> perSeq.add(s.join()));
            double wall = (System.nanoTime() - t0) / 1e9;
            aggregate.add((double) c.parallel() * (nPrompt > 0 ? nPrompt : nGen) / wall);
        }
        return new BenchResult(name, c.model().getFileName().toString(), f.tensorBytes(), f.parameterCount(), backend, c.gpuLayers(),
                c.threads(), c.batchSize(), c.runners(), c.depth(), nPrompt, nGen, aggregate, c.parallel(), perSeq);
    }

    private BenchResult result(Config c, GgufFile f, String name, String backend, int nPrompt, int nGen, List<Double> samples) {
        return new BenchResult(name, c.model().getFileName().toString(), f.tensorBytes(), f.parameterCount(), backend,
                c.gpuLayers(), c.threads(), c.batchSize(), c.runners(), c.depth(), nPrompt, nGen, samples);
    }

    private List<Double> series(List<Phi2Model> models, String depthPrompt, int nPrompt, int nGen, Config c) {
        List<Double> samples = new ArrayList<>();
        // Discarded runs of the test itself first, as llama-bench warms up each test, for at least a second: a tiny
        // model's run takes milliseconds, and the runner JVM's JIT compiler, still busy for the first few hundred
        // milliseconds, would otherwise take a core from llama.cpp's threads during the measured runs.
        long warmUntil = System.nanoTime() + 1_000_000_000L;
        for (int w = 0; w < 50 && (w == 0 || System.nanoTime() < warmUntil); w++) {
            measure(models, depthPrompt, nPrompt, nGen, c.depth());
        }
        String test = (nPrompt > 0 ? "pp" + nPrompt : "tg" + nGen) + (c.depth() > 0 ? " @ d" + c.depth() : "");
        for (int r = 0; r < repetitions; r++) {
            progress.printf("bench: %s %s ngl %d t %d: repetition %d/%d%n", c.model().getFileName(), test, c.gpuLayers(), c.threads(), r + 1, repetitions);
            progress.flush();
            samples.add(measure(models, depthPrompt, nPrompt, nGen, c.depth()));
        }
        return samples;
    }

    /** One repetition on every runner at once; the sum of their tokens/s. */
    private double measure(List<Phi2Model> models, String depthPrompt, int nPrompt, int nGen, int depth) {
        List<CompletableFuture<Double>> all = new ArrayList<>();
        for (Phi2Model m : models) {
            all.add(CompletableFuture.supplyAsync(() -> once(m, depthPrompt, nPrompt, nGen, depth)));
        }
        return all.stream().mapToDouble(CompletableFuture::join).sum();
    }

    private static double once(Phi2Model m, String depthPrompt, int nPrompt, int nGen, int depth) {
        if (nPrompt > 0) {
            String prompt;
            GenerationOptions o = GenerationOptions.greedy().withMaxNewTokens(1).withIgnoreEndOfText(true);
            if (depth > 0) {
                // fill the cache with the depth prefix, then time only the new part of the prompt
                m.generate(depthPrompt, o.withCachePrompt(false));
                prompt = depthPrompt + promptOf(m, nPrompt + 1).substring(3);
                o = o.withCachePrompt(true);
            } else {
                prompt = promptOf(m, nPrompt);
            }
            GenerationResult r = m.generate(prompt, o);
            return r.timings().promptTokensPerSecond();
        }
        String prompt = depth > 0 ? depthPrompt : "The";
        // llama-bench's tgN times N decodes. The native engine times the decodes after the first new token (which
        // the prompt's logits give), so it generates one more; the binding's log counts every token over that time.
        int n = m.info().engine() == EngineKind.NATIVE ? nGen + 1 : nGen;
        GenerationResult r = m.generate(prompt, GenerationOptions.greedy().withMaxNewTokens(n).withIgnoreEndOfText(true));
        return r.timings().tokensPerSecond();
    }
}
