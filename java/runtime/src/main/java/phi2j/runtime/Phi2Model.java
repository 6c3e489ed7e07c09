package phi2j.runtime;

import phi2j.nativelib.NativeLibrary;
import phi2j.BadModelFileException;
import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;
import phi2j.format.GgufFile;
import phi2j.format.GgufReader;
import phi2j.format.Phi2Layout;
import phi2j.runtime.internal.EngineParams;
import phi2j.runtime.internal.FilePrefetch;
import phi2j.runtime.internal.Generation;
import phi2j.runtime.internal.Messages;
import phi2j.runtime.internal.RunnerProcess;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * An open Phi-2 model. The file is checked in Java first, then loaded by llama.cpp in a runner process of
 * its own, which {@link #close()} ends, so memory is returned and a native crash cannot take the caller down.
 *
 * <p>Thread-safe. Generations on one model run one at a time, in arrival order, and later ones wait in the engine's
 * queue; with {@link ModelOptions#withParallel} up to that many run at once in llama.cpp's slots. The engine in the
 * runner owns the slots and the queue; {@link #tryStream} admits only while the queue is short enough.
 *
 * <pre>{@code
 * try (Phi2Model model = Phi2Model.open(Path.of("models-gguf/phi-2.Q4_K_M.gguf"), ModelOptions.defaults())) {
 *     GenerationResult r = model.generate(Prompts.qa("What is a GPU?"), GenerationOptions.greedy());
 *     System.out.println(r.text());
 * }
 * }</pre>
 */
public final class Phi2Model implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("phi2j");

    /**
     * The stages of an open: the file check here, the runner's start (what the wait for LOADED took beyond the engine's
     * own load), the engine library and backends, and llama.cpp's model, context and warm-up where the engine says.
     */
    private static LoadBreakdown breakdown(Duration fileCheck, Duration loadTime, Messages.Loaded loaded) {
        Duration engineLoad = Duration.ofMillis(loaded.nativeLoadMillis());
        Duration runnerStart = loadTime.minus(fileCheck).minus(engineLoad);
        long[] us = loaded.stagesMicros();
        if (us == null || us.length != 3) {
            return new LoadBreakdown(fileCheck, runnerStart, engineLoad, null, null, null);
        }
        Duration model = Duration.ofNanos(us[0] * 1000);
        Duration context = Duration.ofNanos(us[1] * 1000);
        Duration warmup = Duration.ofNanos(us[2] * 1000);
        Duration engine = engineLoad.minus(model).minus(context).minus(warmup);
        return new LoadBreakdown(fileCheck, runnerStart, engine.isNegative() ? Duration.ZERO : engine, model, context, warmup);
    }

    /** Whether the binding fallback has been announced in this process. */
    private static final java.util.concurrent.atomic.AtomicBoolean FALLBACK_SAID = new java.util.concurrent.atomic.AtomicBoolean();

    private final RunnerProcess runner;
    private final ModelInfo info;
    private final Phi2Layout.Vocabulary vocabulary;
    private final ModelOptions options;
    private final int parallel;
    private final AtomicInteger ids = new AtomicInteger();
    /** Generations started and not ended: running in a slot, or waiting in the engine's queue. */
    private final InFlight inFlight = new InFlight();
    private volatile boolean closed;

    private Phi2Model(RunnerProcess runner, ModelInfo info, Phi2Layout.Vocabulary vocabulary, ModelOptions options, int parallel) {
        this.runner = runner;
        this.info = info;
        this.vocabulary = vocabulary;
        this.options = options;
        this.parallel = parallel;
    }

    /**
     * Checks {@code gguf} and loads it. Throws {@link BadModelFileException} for a file that is missing, not a
     * GGUF, damaged or not Phi-2; {@link InvalidOptionException} for bad options; {@link RunnerCrashedException}
     * when the runner dies or hangs while loading.
     */
    public static Phi2Model open(Path gguf, ModelOptions options) {
        phi2j.Timer timer = phi2j.Timer.start();
        // the runner's start (its JVM, 0.4-0.5 s) and the file's read into the page cache go on beside the file check;
        // a bad file is still reported before a bad engine choice, and the runner started for it is ended
        EngineChoice choice;
        Library lib;
        RuntimeException refused = null;
        CompletableFuture<RunnerProcess> starting = null;
        FilePrefetch prefetch = FilePrefetch.start(gguf);
        try {
            choice = EngineChoice.of(options);
            lib = library(choice);
            // a missing file is reported at once; a damaged one after the runner started for it is ended
            starting = java.nio.file.Files.isRegularFile(gguf) ? startRunner(lib, options) : null;
        } catch (RuntimeException e) {
            choice = null;
            lib = null;
            refused = e;
        }
        GgufFile file;
        Phi2Layout.Hparams hp;
        Phi2Layout.Vocabulary vocab;
        try {
            file = GgufReader.read(gguf);
            hp = Phi2Layout.check(file);
            vocab = Phi2Layout.vocabulary(file);
        } catch (RuntimeException e) {
            prefetch.close();
            endStarted(starting);
            throw e;
        }
        if (refused != null) {
            prefetch.close();
            throw refused;
        }
        Duration fileCheck = timer.elapsed();
        int context = options.contextSize() == 0 ? (int) hp.contextLength() : options.contextSize();
        int threads = options.threads() == 0 ? Runtime.getRuntime().availableProcessors() : options.threads();

        if (!choice.advice().isEmpty() && FALLBACK_SAID.compareAndSet(false, true)) {
            // once per process: AUTO found no native engine (ModelInfo.advice() keeps the same words)
            System.getLogger("phi2j").log(System.Logger.Level.WARNING, "phi2j: " + choice.advice());
        }
        EngineKind engine = choice.kind();
        RunnerProcess runner;
        try {
            runner = starting != null ? started(starting) : RunnerProcess.start(lib.bindingDir(), visibleDevices(options));
        } catch (RuntimeException e) {
            prefetch.close();
            throw e;
        }
        runner.libraryHint(lib.rebuild());
        runner.stallTimeout(options.stallTimeout());
        try (prefetch) {
            Messages.Loaded loaded = runner.load(EngineParams.of(gguf, options, context, threads, engine,
                    engine == EngineKind.NATIVE ? choice.build().library() : null), options.loadTimeout());
            Duration loadTime = timer.elapsed();
            LoadBreakdown stages = breakdown(fileCheck, loadTime, loaded);
            LOG.log(System.Logger.Level.INFO, () -> String.format(java.util.Locale.ROOT, "loaded %s in %.2f s: %s", gguf.getFileName(),
                    loadTime.toNanos() / 1e9, stages.summary()));
            if (loaded.systemInfo() != null) {
                runner.log().systemInfo(loaded.systemInfo());
            }
            ModelInfo info = new ModelInfo(gguf.toAbsolutePath(), file.getString("general.name").orElse(gguf.getFileName().toString()),
                    file.fileSize(), file.parameterCount(), context, (int) hp.contextLength(), vocab.size(), vocab.eosText(),
                    loadTime, Duration.ofMillis(loaded.nativeLoadMillis()), lib.label(), engine, loaded.llamaCpp(),
                    loaded.contextPerSequence(), choice.origin(), loaded.backends() == null ? EngineBackends.LINKED_CPU : loaded.backends(),
                    choice.advice(), loaded.placement() == null ? LayerPlacement.UNKNOWN : loaded.placement(), stages);
            return new Phi2Model(runner, info, vocab, options, loaded.parallel());
        } catch (RuntimeException e) {
            runner.close();
            throw e;
        }
    }

    /** Starts the runner on a thread of its own, so that the caller checks the file meanwhile. */
    private static CompletableFuture<RunnerProcess> startRunner(Library lib, ModelOptions options) {
        CompletableFuture<RunnerProcess> f = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                f.complete(RunnerProcess.start(lib.bindingDir(), visibleDevices(options)));
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        }, "phi2-runner-start");
        t.setDaemon(true);
        t.start();
        return f;
    }

    /** Ends the runner {@link #startRunner} is starting for a file that failed its check, before the caller hears of it. */
    private static void endStarted(CompletableFuture<RunnerProcess> starting) {
        if (starting == null) {
            return;
        }
        try {
            starting.get().close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            starting.thenAccept(RunnerProcess::close);
        } catch (ExecutionException | RuntimeException e) {
            // the file's error is the one to report
        }
    }

    /** The runner {@link #startRunner} started, or its failure rethrown with the caller's stack. */
    private static RunnerProcess started(CompletableFuture<RunnerProcess> starting) {
        try {
            return starting.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            starting.thenAccept(RunnerProcess::close);
            throw new ModelClosedException("interrupted while the runner started");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Phi2Exception pe) {
                throw RunnerProcess.inCaller(pe);
            }
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new Phi2Exception("could not start the runner process: " + e.getCause(), e.getCause());
        }
    }

    /**
     * Where llama.cpp comes from: the native engine's build, or the binding's libjllama folder ({@code bindingDir}),
     * with the label ModelInfo shows and the hint a load failure gives.
     */
    private record Library(Path bindingDir, String engineLibrary, String label, String rebuild) {
    }

    private static Library library(EngineChoice choice) {
        if (choice.kind() == EngineKind.NATIVE) {
            NativeEngineBuild build = choice.build();
            return new Library(null, build.library().toString(), choice.describe(),
                    " (library " + build.library() + " " + choice.origin().describe() + "; rebuild it with "
                            + NativeEngineBuild.buildCommand(build.preset()) + ")");
        }
        Path dir = NativeLibrary.resolve(choice.dir());
        Path file = dir.resolve(NativeLibrary.fileName());
        return new Library(dir, null, (choice.dir() != null ? "custom " : "bundled CPU build, ") + file, " (library " + file + ")");
    }

    /** The GPUs the runner may see, in each vendor's variable; empty to inherit the caller's. */
    private static java.util.Map<String, String> visibleDevices(ModelOptions options) {
        java.util.Map<String, String> env = new java.util.HashMap<>();
        if (options.visibleDevices() != null) {
            for (String v : List.of("HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")) {
                env.put(v, options.visibleDevices());
            }
        }
        return env;
    }

    public ModelInfo info() {
        return info;
    }

    /** Seconds the caller waited for the model to open, as the walkthrough's "Loaded in X seconds". */
    public Duration loadTime() {
        return info.loadTime();
    }

    /** Generates to the end and returns the result. */
    public GenerationResult generate(String prompt, GenerationOptions options) {
        // nobody reads the pieces: the runner need not push them while it decodes (each push wakes this JVM's threads,
        // which on a small machine take cores from llama.cpp's)
        try (TokenStream s = start(prompt, options, false, Integer.MAX_VALUE)) {
            return s.result();
        }
    }

    /** Generates, handing each piece of text to {@code onText} as it arrives, and returns the result. */
    public GenerationResult generate(String prompt, GenerationOptions options, Consumer<String> onText) {
        try (TokenStream s = stream(prompt, options)) {
            for (String piece : s.pieces()) {
                onText.accept(piece);
            }
            return s.result();
        }
    }

    /**
     * Starts a generation and returns its stream; it waits in the engine's queue while the slots are busy. Options are
     * checked here; a prompt too long for the context, or a maxLength not above the prompt's length, fails with
     * {@link InvalidOptionException} when the stream is read.
     */
    public TokenStream stream(String prompt, GenerationOptions options) {
        return start(prompt, options, true, Integer.MAX_VALUE);
    }

    /**
     * Starts a generation unless {@code maxWaiting} or more already wait for a slot: null then (the server's 503). The
     * slots and the queue are the engine's; this reads how many generations it holds.
     */
    public TokenStream tryStream(String prompt, GenerationOptions options, int maxWaiting) {
        return start(prompt, options, true, parallel + Math.max(0, maxWaiting));
    }

    /** The engine's slots, the generations running in them and those waiting in its queue. */
    public record Load(int slots, int running, int waiting) {
    }

    /** What the engine holds now. */
    public Load load() {
        return inFlight.load(parallel);
    }

    /**
     * How full the KV cache is: the cells the running generations hold (their prompts and generated tokens) out of
     * all cells of the context, shared by the slots.
     *
     * @param usedCells  cells held by running generations; a slot's cached prefix kept for reuse is not counted
     * @param totalCells the context's cells
     */
    public record KvCacheUse(int usedCells, int totalCells) {
        public KvCacheUse {
            if (usedCells < 0 || totalCells < 1 || usedCells > totalCells) {
                throw new IllegalArgumentException("KV cells " + usedCells + " of " + totalCells);
            }
        }

        /** Used over total, 0 to 1. */
        public double ratio() {
            return (double) usedCells / totalCells;
        }
    }

    /**
     * The KV cache's use now, read from the engine without waiting for the generations in flight; empty on the
     * binding, which cannot tell.
     */
    public java.util.Optional<KvCacheUse> kvCache() {
        ensureOpen();
        if (info.engine() != EngineKind.NATIVE) {
            return java.util.Optional.empty();
        }
        int[] cells = runner.call(Messages.CallKind.KV_CACHE, null, null).tokens();
        return java.util.Optional.of(new KvCacheUse(cells[0], cells[1]));
    }

    /**
     * The calls in flight, as the engine's events move them: waiting in its queue until a slot takes one, then running
     * until its end. One lock, so a reading never sees a call leave a slot after the next call entered it.
     */
    private static final class InFlight implements Generation.Owner {
        private final Set<Generation> waiting = new HashSet<>();
        private final Set<Generation> running = new HashSet<>();

        /** Books {@code g} as waiting unless {@code limit} or more are in flight. */
        synchronized boolean started(Generation g, int limit) {
            if (waiting.size() + running.size() >= limit) {
                return false;
            }
            return waiting.add(g);
        }

        @Override
        public synchronized void admitted(Generation g) {
            if (waiting.remove(g)) {
                running.add(g);
            }
        }

        @Override
        public synchronized void finished(Generation g) {
            waiting.remove(g);
            running.remove(g);
        }

        synchronized Load load(int slots) {
            return new Load(slots, running.size(), waiting.size());
        }
    }

    /** Starts a generation unless {@code limit} or more are in flight (null then); the books are kept before it starts. */
    private TokenStream start(String prompt, GenerationOptions options, boolean streaming, int limit) {
        if (prompt == null || prompt.isEmpty()) {
            throw new InvalidOptionException("prompt", "is empty");
        }
        ensureOpen();
        if (info.engine() == EngineKind.BINDING) {
            // what the binding cannot do is known at open: refused here, in the caller's thread, with the fix
            phi2j.runtime.internal.BindingOptions.check(options, !info.advice().isEmpty() ? info.advice()
                    : "ask for the native engine (ModelOptions.withEngine(EngineKind.NATIVE), phi2 --engine native)");
        }
        Long seed = options.seed() != null ? options.seed() : this.options.seed();
        Messages.Generate req = new Messages.Generate(ids.incrementAndGet(), prompt, options.withSeed(seed), streaming);
        Generation g = new Generation(req, runner, info.engine().label() + " " + info.llamaCpp(), inFlight);
        if (!inFlight.started(g, limit)) {
            return null;
        }
        try {
            g.start();
        } catch (RuntimeException e) {
            inFlight.finished(g);
            throw e;
        }
        return g;
    }

    /** The model's token ids for {@code text}, as llama.cpp tokenizes a prompt (no BOS for Phi-2). */
    public int[] tokenize(String text) {
        ensureOpen();
        return runner.call(Messages.CallKind.TOKENIZE, text, null).tokens();
    }

    /** The text of {@code tokens}. */
    public String detokenize(int[] tokens) {
        ensureOpen();
        for (int t : tokens) {
            if (t < 0 || t >= info.vocabularySize()) {
                throw new InvalidOptionException("tokens", "id " + t + " is outside the vocabulary of " + info.vocabularySize());
            }
        }
        return runner.call(Messages.CallKind.DETOKENIZE, null, tokens).text();
    }

    /**
     * The final hidden state of the last token of {@code text} (after the output norm), L2-normalized, as
     * llama.cpp's server returns pooled embeddings. Needs a model opened with {@link ModelOptions#withEmbeddings}.
     */
    public float[] embedding(String text) {
        ensureOpen();
        if (!options.embeddings()) {
            throw new InvalidOptionException("embeddings", "open the model with ModelOptions.withEmbeddings(true) to get embeddings");
        }
        if (text == null || text.isEmpty()) {
            throw new InvalidOptionException("text", "is empty");
        }
        return runner.call(Messages.CallKind.EMBED, text, null).floats();
    }

    private void ensureOpen() {
        if (closed) {
            throw new ModelClosedException("the model " + info.path() + " is closed");
        }
    }

    /** True until {@link #close()}, or until the runner has died. */
    public boolean isOpen() {
        return !closed && runner.isAlive();
    }

    /** The llama.cpp that runs this model: "0.5.0 (de3ff81)" for the native engine, "b4916" for the binding. */
    public String nativeBuild() {
        return info.llamaCpp();
    }

    /** The CPU features llama.cpp reported (its system_info line), or "unknown". */
    public String cpuFeatures() {
        return runner.log().systemInfo();
    }

    /** The runner's process id, for monitoring. */
    public long runnerPid() {
        return runner.pid();
    }

    /**
     * Ends the runner process and with it the model's memory. A generation in flight ends with
     * {@link ModelClosedException}. Closing twice does nothing.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        runner.close();
    }
}
