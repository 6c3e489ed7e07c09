package phi2j.runtime.internal;

import de.kherud.llama.InferenceParameters;
import de.kherud.llama.LlamaIterator;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.LlamaOutput;
import de.kherud.llama.ModelParameters;
import de.kherud.llama.args.GpuSplitMode;
import phi2j.InvalidOptionException;
import phi2j.runtime.GenerationOptions;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * The one place that drives {@code de.kherud:llama}. It runs inside the runner process only: the binding
 * never frees a model and its native thread keeps a JVM alive, so the process itself is the unit of cleanup.
 * Exact token counts and llama.cpp's timings are not in its API: the caller reads them from the log.
 */
public final class BindingEngine implements Engine {
    private final LlamaModel model;
    private final ExecutorService worker;
    private final Set<Integer> cancelled = ConcurrentHashMap.newKeySet();
    private final int contextPerSequence;

    private BindingEngine(LlamaModel model, int parallel, int contextSize) {
        this.model = model;
        this.contextPerSequence = contextSize / Math.max(1, parallel);
        // one worker per llama.cpp slot: that many generations can be in flight at once
        this.worker = Executors.newFixedThreadPool(Math.max(1, parallel), r -> {
            Thread t = new Thread(r, "phi2-runner-generate");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Loads the library named by {@code libraryDir} (a custom libjllama build) ourselves first: the binding,
     * when that fails, quietly falls back to its bundled CPU copy, and a user who built for the GPU must hear
     * that it failed.
     */
    public static BindingEngine load(Messages.Load req) {
        String dir = System.getProperty("de.kherud.llama.lib.path");
        if (dir != null) {
            System.load(Path.of(dir, System.mapLibraryName("jllama")).toAbsolutePath().toString());
        }
        ModelParameters p = new ModelParameters()
                .setModel(req.path())
                .setCtxSize(req.contextSize())
                .setThreads(req.threads())
                .setThreadsBatch(req.threads())
                .setGpuLayers(req.gpuLayers() < 0 ? 9999 : req.gpuLayers())
                .setSplitMode(GpuSplitMode.valueOf(req.splitMode()))
                .setMainGpu(req.mainGpu())
                .setParallel(Math.max(1, req.parallel()))
                // Render control tokens, so the end-of-text token reaches the caller as <|endoftext|> and the
                // stop reason is known rather than guessed; the caller cuts the marker from the text.
                .enableSpecial();
        if (!req.tensorSplit().isEmpty()) {
            p.setTensorSplit(req.tensorSplit().stream().map(f -> String.format(Locale.ROOT, "%s", f)).collect(Collectors.joining(",")));
        }
        if (req.seed() != null) {
            p.setSeed(req.seed());
        }
        if (req.batchSize() > 0) {
            p.setBatchSize(req.batchSize());
        }
        if (req.embeddings()) {
            // the last token's final hidden state (after the output norm), which predicts the next token
            p.enableEmbedding().setPoolingType(de.kherud.llama.args.PoolingType.LAST);
        }
        return new BindingEngine(new LlamaModel(p), req.parallel(), req.contextSize());
    }

    @Override
    public int contextPerSequence() {
        return contextPerSequence;
    }

    @Override
    public phi2j.runtime.EngineBackends backends() {
        return phi2j.runtime.EngineBackends.LINKED_CPU;
    }

    @Override
    public String kind() {
        return "binding";
    }

    @Override
    public String llamaCpp() {
        return "b4916";
    }

    @Override
    public String systemInfo() {
        return "see the log";
    }

    @Override
    public void submit(Messages.Generate req, Sink sink) {
        if (req.options().logprobs() > 0) {
            sink.error(new Messages.Error(req.id(), Messages.ErrorKind.OPTION, "logprobs",
                    "needs the native engine (de.kherud:llama 4.2.0 aborts the process when asked for probabilities)"));
            sink.flush();
            return;
        }
        worker.submit(() -> {
            try {
                Messages.Done done = generate(req, piece -> {
                    sink.text(req.id(), piece);
                    sink.flush();
                }, () -> cancelled.contains(req.id()));
                cancelled.remove(req.id());
                sink.done(done);
            } catch (InvalidOptionException e) {
                sink.error(new Messages.Error(req.id(), Messages.ErrorKind.OPTION, e.option(), e.problem()));
            } catch (RuntimeException e) {
                sink.error(new Messages.Error(req.id(), Messages.ErrorKind.NATIVE, null, String.valueOf(e.getMessage())));
            }
            sink.flush();
        });
    }

    @Override
    public void cancel(int id) {
        cancelled.add(id);
    }

    @Override
    public void call(Messages.Call call, Consumer<Messages.Reply> reply) {
        // on the worker, so a call waits for the generation in flight, as it always has
        worker.submit(() -> reply.accept(Messages.Reply.answer(call, this::tokenize, this::detokenize, this::embed)));
    }

    @Override
    public void close() {
        worker.shutdownNow(); // the process ends right after; the binding frees nothing anyway
    }

    private int countTokens(String text) {
        return model.encode(text).length;
    }

    public int[] tokenize(String text) {
        return model.encode(text);
    }

    public String detokenize(int[] tokens) {
        return model.decode(tokens);
    }

    /** L2-normalized by llama.cpp's server, as every pooled embedding. */
    public float[] embed(String text) {
        return model.embed(text);
    }

    /**
     * Generates for {@code req}, handing every text piece to {@code sink}; stops early when {@code cancelled}
     * turns true. Cancelling happens on this thread between pieces: the binding's blocking receive would
     * otherwise wait forever for a task that a cancel from another thread had removed.
     */
    private Messages.Done generate(Messages.Generate req, Consumer<String> sink, BooleanSupplier cancelled) {
        int promptTokens = countTokens(req.prompt());
        GenerationOptions o = req.options();
        int budget = o.newTokenBudget(promptTokens, req.contextSize());
        InferenceParameters ip = new InferenceParameters(req.prompt())
                .setNPredict(budget)
                // reusing a cached prefix changes batch shapes, and with them greedy ties: off unless asked for
                .setCachePrompt(o.cachePrompt())
                .setIgnoreEos(o.ignoreEndOfText())
                .setTemperature(o.temperature())
                .setTopK(o.topK())
                .setTopP(o.topP())
                .setMinP(o.minP())
                .setRepeatPenalty(o.repetitionPenalty());
        if (o.seed() != null) {
            ip.setSeed(o.seed().intValue());
        }
        if (!o.stopStrings().isEmpty()) {
            ip.setStopStrings(o.stopStrings().toArray(String[]::new));
        }
        LlamaIterator it = model.generate(ip).iterator();
        int chunks = 0;
        boolean wasCancelled = false;
        while (it.hasNext()) {
            if (cancelled.getAsBoolean()) {
                it.cancel();
                wasCancelled = true;
                break;
            }
            LlamaOutput out = it.next();
            if (!out.text.isEmpty()) {
                sink.accept(out.text);
            }
            chunks++;
        }
        return Messages.Done.fromLog(req.id(), promptTokens, budget, wasCancelled, chunks);
    }
}
