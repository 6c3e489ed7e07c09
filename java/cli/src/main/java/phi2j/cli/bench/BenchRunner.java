package phi2j.cli.bench;

import phi2j.Phi2Exception;
import phi2j.Timer;
import phi2j.format.GgufFile;
import phi2j.runtime.EngineKind;
import phi2j.runtime.FlashAttention;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.Phi2Model;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * Runs the flat list of {@link BenchCase}s through the runtime, as llama-bench does: consecutive tests with the
 * same {@link BenchCase.Load} share the open runners (opened, warmed up, closed once). {@code ppN}: a prompt of N
 * tokens (after {@code depth} tokens already in the KV cache) timed by llama.cpp's prompt-evaluation clock.
 * {@code tgN}: N generated tokens (past any end-of-text) timed by llama.cpp's decode clock. Each test gets a
 * warm-up, then the repetitions. With several runners the same test runs on all of them at once and tokens/s add up.
 */
public final class BenchRunner {
    /** Opens the runners of one load: one, or one per GPU with several runners. */
    @FunctionalInterface
    public interface Opener {
        List<Phi2Model> open(BenchCase.Load load);
    }

    private final int repetitions;
    private final PrintWriter progress;
    private final Opener opener;
    private final Map<Path, GgufFile> headers;
    private BenchReport.Build build;

    /** {@code headers}: each model's GGUF header, read (and checked) once by the caller. */
    public BenchRunner(int repetitions, PrintWriter progress, Opener opener, Map<Path, GgufFile> headers) {
        this.repetitions = repetitions;
        this.progress = progress;
        this.opener = opener;
        this.headers = Map.copyOf(headers);
    }

    /** Facts about the build, from the first runner opened; null before any. */
    public BenchReport.Build build() {
        return build;
    }

    /** Runs every test in order, handing each result to {@code onResult} as it is measured; returns them all. */
    public List<BenchResult> run(List<BenchCase> tests, Consumer<BenchResult> onResult) {
        List<BenchResult> out = new ArrayList<>();
        BenchCase.Load open = null;
        List<Phi2Model> models = List.of();
        try {
            for (BenchCase t : tests) {
                if (!t.load().equals(open)) {
                    models.forEach(Phi2Model::close);
                    models = List.of();
                    models = opener.open(t.load());
                    open = t.load();
                    started(models.get(0));
                    measure(models, "", 8, 4, 0); // warm-up: page the weights in and let threads spin up
                }
                BenchResult r = run(t, models);
                out.add(r);
                onResult.accept(r);
            }
        } finally {
            models.forEach(Phi2Model::close);
        }
        return out;
    }

    private void started(Phi2Model first) {
        if (build == null) {
            build = new BenchReport.Build(first.nativeBuild(), first.info().engine() == EngineKind.NATIVE
                    ? "phi2j native engine" : "de.kherud:llama 4.2.0", first.info().nativeLibrary(), first.cpuFeatures(), List.of());
        }
    }

    private BenchResult run(BenchCase t, List<Phi2Model> models) {
        BenchCase.Load l = t.load();
        Phi2Model first = models.get(0);
        // flash attention, when set, is part of the backend column: "CUDA native 0.5.0 (de3ff81) fa=1"
        String backend = backend(first) + (l.flashAttention() == FlashAttention.AUTO ? "" : " fa=" + l.flashAttention().llamaValue());
        if (l.parallel() > 1) {
            return parallelSeries(t, backend, first);
        }
        return result(t, backend, series(models, promptOf(first, t.depth()), t), null);
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

    /**
     * The backend column says where the layers ran and names the engine and its llama.cpp: "CPU (zen4) native 0.5.0
     * (de3ff81)" (a portable build names the CPU variant ggml chose), "Vulkan0 33/33 native 0.5.0 (de3ff81)" (the devices
     * that hold layers, with their share of llama.cpp's layer count, from {@link phi2j.runtime.LayerPlacement}),
     * "CPU binding b4916".
     */
    static String backend(Phi2Model m) {
        String device;
        if (m.info().engine() == EngineKind.NATIVE) {
            phi2j.runtime.EngineBackends b = m.info().backends();
            phi2j.runtime.LayerPlacement p = m.info().placement();
            String cpu = b.cpuVariant().isEmpty() ? "CPU" : "CPU (" + b.cpuVariant() + ")";
            if (p.offloaded()) {
                List<String> parts = new ArrayList<>();
                p.layersByDevice().forEach((dev, n) -> parts.add((dev.equals("CPU") ? cpu : dev) + " " + n + "/" + p.totalLayers()));
                device = String.join(", ", parts);
            } else {
                device = cpu;
            }
        } else {
            device = m.info().engineOrigin() == phi2j.runtime.EngineChoice.Origin.BUNDLED ? "CPU" : "custom";
        }
        return device + " " + m.info().engine().label() + " " + m.nativeBuild();
    }

    /**
     * {@code parallel} sequences at once in one runner's slots: aggregate tokens/s is all their tokens over the wall
     * time until the last finishes; per-sequence tokens/s is each one's tokens over its own time.
     */
    private BenchResult parallelSeries(BenchCase t, String backend, Phi2Model m) {
        int parallel = t.load().parallel();
        List<Double> aggregate = new ArrayList<>();
        List<Double> perSeq = new ArrayList<>();
        String prompt = t.nPrompt() > 0 ? promptOf(m, t.nPrompt()) : "The";
        GenerationOptions o = GenerationOptions.greedy().withMaxNewTokens(t.nPrompt() > 0 ? 1 : t.nGen()).withIgnoreEndOfText(true);
        for (int r = 0; r < repetitions; r++) {
            progress.printf("bench: %s %s: repetition %d/%d%n", t.load().model().getFileName(), t.name(), r + 1, repetitions);
            progress.flush();
            Timer wall = Timer.start();
            List<CompletableFuture<Double>> seqs = new ArrayList<>();
            for (int s = 0; s < parallel; s++) {
                seqs.add(CompletableFuture.supplyAsync(() -> {
                    Timer own = Timer.start();
                    GenerationResult res = m.generate(prompt, o);
                    return (t.nPrompt() > 0 ? res.promptTokens() : res.generatedTokens()) / own.seconds();
                }));
            }
            seqs.forEach(s -> perSeq.add(s.join()));
            aggregate.add((double) parallel * (t.nPrompt() > 0 ? t.nPrompt() : t.nGen()) / wall.seconds());
        }
        return result(t, backend, aggregate, perSeq);
    }

    private BenchResult result(BenchCase t, String backend, List<Double> samples, List<Double> perSequence) {
        BenchCase.Load l = t.load();
        GgufFile f = headers.get(l.model());
        String name = f.getString("general.name").orElse(l.model().getFileName().toString());
        return new BenchResult(name, l.model().getFileName().toString(), f.tensorBytes(), f.parameterCount(), backend, l.gpuLayers(),
                l.threads(), l.batchSize(), l.runners(), t.depth(), t.nPrompt(), t.nGen(), samples, l.parallel(),
                perSequence == null ? samples : perSequence);
    }

    private List<Double> series(List<Phi2Model> models, String depthPrompt, BenchCase t) {
        int nPrompt = t.nPrompt();
        int nGen = t.nGen();
        List<Double> samples = new ArrayList<>();
        // Discarded runs of the test itself first, as llama-bench warms up each test, for at least a second: a tiny
        // model's run takes milliseconds, and the runner JVM's JIT compiler, still busy for the first few hundred
        // milliseconds, would otherwise take a core from llama.cpp's threads during the measured runs.
        long warmUntil = System.nanoTime() + 1_000_000_000L;
        for (int w = 0; w < 50 && (w == 0 || System.nanoTime() < warmUntil); w++) {
            measure(models, depthPrompt, nPrompt, nGen, t.depth());
        }
        BenchCase.Load l = t.load();
        for (int r = 0; r < repetitions; r++) {
            progress.printf("bench: %s %s ngl %d t %d: repetition %d/%d%n", l.model().getFileName(), t.name(), l.gpuLayers(), l.threads(), r + 1, repetitions);
            progress.flush();
            samples.add(measure(models, depthPrompt, nPrompt, nGen, t.depth()));
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
