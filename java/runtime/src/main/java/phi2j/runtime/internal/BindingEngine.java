package phi2j.runtime.internal;

import de.kherud.llama.InferenceParameters;
import de.kherud.llama.LlamaIterator;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.LlamaOutput;
import de.kherud.llama.ModelParameters;
import de.kherud.llama.args.GpuSplitMode;
import phi2j.InvalidOptionException;
import phi2j.format.GgufReader;
import phi2j.format.Phi2Layout;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.SplitMode;
import phi2j.runtime.StopReason;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

/**
 * The one place that drives {@code de.kherud:llama}, inside the runner process only: the binding never frees a model
 * and its native thread keeps a JVM alive, so the process itself is the unit of cleanup. It speaks the engine events
 * the native engine speaks, so nothing above {@link Engine} tells the two apart: its queue is a worker per slot and
 * their queue; the end-of-text marker, which the binding renders as text, is cut here; counts, clocks and the stop
 * reason are settled here.
 *
 * <p>How exact that is: the binding streams text, not tokens, so token ids are -1 and log-probabilities are refused.
 * The prompt count is the binding's own tokenization; the generated count is exact when a generation reaches its
 * length limit, and otherwise the number of pieces streamed (a piece carries several tokens where a character or a
 * stop string spans them). Its clocks are the runner's, around the binding's calls, not llama.cpp's: the prompt's
 * time runs to the first piece, the decodes' from the first piece to the last; when a single piece carried every
 * token, no clock separates them, and the decode time is then the whole run's (a lower bound on the speed).
 */
public final class BindingEngine implements Engine {
    private final LlamaModel model;
    private final ExecutorService worker;
    private final Set<Integer> cancelled = ConcurrentHashMap.newKeySet();
    private final int contextPerSequence;
    private final int parallel;
    private final String endOfText;

    private BindingEngine(LlamaModel model, int parallel, int contextSize, String endOfText) {
        this.model = model;
        this.parallel = Math.max(1, parallel);
        this.contextPerSequence = contextSize / this.parallel;
        this.endOfText = endOfText;
        // one worker per llama.cpp slot: that many generations run at once, the rest wait in the executor's queue
        this.worker = Executors.newFixedThreadPool(this.parallel, r -> {
            Thread t = new Thread(r, "phi2-runner-generate");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Loads the library named by {@code de.kherud.llama.lib.path} (a custom libjllama build) ourselves first: the binding,
     * when that fails, quietly falls back to its bundled CPU copy, and a user who built for the GPU must hear that it
     * failed. A split or main GPU that names devices the library does not have is refused here, naming the field.
     */
    public static BindingEngine load(EngineParams req) {
        String dir = System.getProperty("de.kherud.llama.lib.path");
        Path library = dir != null ? Path.of(dir, System.mapLibraryName("jllama")) : null;
        if (library != null) {
            System.load(library.toAbsolutePath().toString());
        }
        checkDevices(req, library);
        if (req.cacheRamMib() > 0) {
            throw new InvalidOptionException("cacheRamMib", "is the native engine's host cache of sequence states; de.kherud:llama 4.2.0 has none");
        }
        ModelParameters p = new ModelParameters()
                .setModel(req.path())
                .setCtxSize(req.contextSize())
                .setThreads(req.threads())
                .setThreadsBatch(req.threads())
                .setGpuLayers(req.gpuLayers() < 0 ? 9999 : req.gpuLayers())
                .setSplitMode(GpuSplitMode.valueOf(SplitMode.values()[req.splitMode()].name()))
                .setMainGpu(req.mainGpu())
                .setParallel(Math.max(1, req.parallel()))
                // Render control tokens, so the end-of-text token reaches us as <|endoftext|> and the stop reason is
                // known rather than guessed; the marker is cut from the text here.
                .enableSpecial();
        if (req.tensorSplit().length > 0) {
            StringBuilder split = new StringBuilder();
            for (float f : req.tensorSplit()) {
                split.append(split.length() == 0 ? "" : ",").append(String.format(Locale.ROOT, "%s", f));
            }
            p.setTensorSplit(split.toString());
        }
        if (req.batchSize() > 0) {
            p.setBatchSize(req.batchSize());
        }
        if (req.embeddings()) {
            // the last token's final hidden state (after the output norm), which predicts the next token
            p.enableEmbedding().setPoolingType(de.kherud.llama.args.PoolingType.LAST);
        }
        String endOfText = Phi2Layout.vocabulary(GgufReader.read(Path.of(req.path()))).eosText();
        return new BindingEngine(new LlamaModel(p), req.parallel(), req.contextSize(), endOfText);
    }

    /** A split or main GPU that names devices the library does not have is an error here, not a surprise in llama.cpp. */
    private static void checkDevices(EngineParams req, Path library) {
        if (req.tensorSplit().length == 0 && req.mainGpu() == 0 && req.gpuLayers() == 0) {
            return;
        }
        Path lib = library != null ? library : phi2j.nativelib.NativeLibrary.bundled();
        long gpus = DeviceProbe.report(lib).devices().stream().filter(d -> !d.type().equals("CPU")).count();
        if (req.gpuLayers() != 0 && gpus == 0) {
            String why = "asks for " + (req.gpuLayers() < 0 ? "all layers" : req.gpuLayers() + " layer(s)") + " on a GPU, but the binding's "
                    + "llama.cpp library " + lib + " sees no GPU device (its bundled build is CPU-only: build the native engine for "
                    + "the GPU, scripts/build-native.sh cuda, hip or vulkan)";
            if (!req.allowCpuFallback()) {
                throw new InvalidOptionException("gpuLayers", why + "; or allow the CPU with allowCpuFallback (phi2 --allow-cpu-fallback)");
            }
            System.err.println("warning: gpuLayers " + why + "; running on the CPU (allowCpuFallback)");
        }
        if (req.tensorSplit().length > Math.max(1, gpus)) {
            throw new InvalidOptionException("tensorSplit", "lists " + req.tensorSplit().length + " devices, but the llama.cpp library sees "
                    + gpus + " GPU(s) (see phi2 devices)");
        }
        if (req.mainGpu() > 0 && req.mainGpu() >= gpus) {
            throw new InvalidOptionException("mainGpu", "is " + req.mainGpu() + ", but the llama.cpp library sees " + gpus
                    + " GPU(s), numbered from 0 (see phi2 devices)");
        }
    }

    @Override
    public int contextPerSequence() {
        return contextPerSequence;
    }

    @Override
    public int parallel() {
        return parallel;
    }

    @Override
    public phi2j.runtime.LayerPlacement placement() {
        return phi2j.runtime.LayerPlacement.UNKNOWN; // de.kherud:llama does not say
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

    /** Null: the binding prints its system_info line in the log, where the caller reads it. */
    @Override
    public String systemInfo() {
        return null;
    }

    @Override
    public void submit(Messages.Generate req, Sink sink) {
        String field = BindingOptions.unsupported(req.options());
        if (field != null) { // Phi2Model refuses these before sending; a runner driven otherwise still refuses them
            failed(sink, req.id(), Messages.ErrorKind.OPTION, field, BindingOptions.why(field));
            return;
        }
        worker.submit(() -> {
            try {
                generate(req, sink);
            } catch (InvalidOptionException e) {
                failed(sink, req.id(), Messages.ErrorKind.OPTION, e.option(), e.problem());
            } catch (RuntimeException e) {
                failed(sink, req.id(), Messages.ErrorKind.NATIVE, null, String.valueOf(e.getMessage()));
            }
        });
    }

    private static void failed(Sink sink, int id, Messages.ErrorKind kind, String field, String message) {
        sink.events(new EventCodec.Writer().failed(id, kind, field, message).take());
        sink.flush();
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
     * Generates for {@code req}, each piece an event; stops early once it was cancelled. Cancelling happens on this
     * thread between pieces: the binding's blocking receive would otherwise wait forever for a task that a cancel from
     * another thread had removed.
     */
    private void generate(Messages.Generate req, Sink sink) {
        long start = System.nanoTime();
        int id = req.id();
        int promptTokens = model.encode(req.prompt()).length;
        EventCodec.Writer w = new EventCodec.Writer();
        if (cancelled.remove(id)) { // cancelled while it waited: never admitted
            sink.events(w.done(id, StopReason.CANCELLED, promptTokens, 0, 0, 0, 0, "").take());
            sink.flush();
            return;
        }
        GenerationOptions o = req.options();
        int budget = o.newTokenBudget(promptTokens, contextPerSequence);
        sink.events(w.admitted(id, -1, 0).take());
        InferenceParameters ip = new InferenceParameters(req.prompt())
                .setNPredict(budget)
                // reusing a cached prefix changes batch shapes, and with them greedy ties: off unless asked for
                .setCachePrompt(o.cachePrompt())
                .setIgnoreEos(o.ignoreEndOfText())
                .setTemperature(o.temperature())
                .setTopK(o.topK())
                .setTopP(o.topP())
                .setMinP(o.minP())
                .setRepeatPenalty(o.repetitionPenalty())
                .setPresencePenalty(o.presencePenalty());
        if (o.seed() != null) {
            ip.setSeed(o.seed().intValue());
        }
        if (!o.stopStrings().isEmpty()) {
            ip.setStopStrings(o.stopStrings().toArray(String[]::new));
        }
        MarkerFilter marker = o.ignoreEndOfText() ? null : new MarkerFilter(endOfText);
        LlamaIterator it = model.generate(ip).iterator();
        int pieces = 0;
        long first = 0;
        long last = 0;
        boolean wasCancelled = false;
        while (it.hasNext()) {
            if (cancelled.contains(id)) {
                it.cancel();
                wasCancelled = true;
                break;
            }
            LlamaOutput out = it.next();
            last = System.nanoTime();
            if (first == 0) {
                first = last;
            }
            pieces++;
            String text = marker == null ? out.text : marker.feed(out.text);
            sink.events(w.token(id, -1, Float.NaN, out.text, List.of(), text).take());
            sink.flush();
            if (marker != null && marker.found()) {
                it.cancel(); // the marker came as text and the model went on: the real end-of-text token ends by itself
                break;
            }
        }
        cancelled.remove(id);
        String rest = marker == null ? "" : marker.flush();
        // The stop reason, and the count where the pieces do not give it: a run that ended neither by the marker, a
        // cancel nor a stop string reached its budget (which fits the context), and the budget is then its count.
        StopReason reason;
        int generated = pieces; // one per token unless a piece spanned several (see the class comment)
        if (marker != null && marker.found()) {
            reason = StopReason.END_OF_TEXT;
        } else if (wasCancelled) {
            reason = StopReason.CANCELLED;
        } else if (o.stopStrings().isEmpty() || pieces >= budget) {
            reason = StopReason.LENGTH;
            generated = budget;
        } else {
            reason = StopReason.STOP_STRING;
        }
        if (first == 0) {
            first = last = System.nanoTime();
        }
        long promptNanos = first - start;
        long decodeNanos = last - first;
        if (pieces < 2 && generated > 1) { // one piece held every token: the decodes cannot be told from the prompt
            promptNanos = 0;
            decodeNanos = last - start;
        }
        sink.events(w.done(id, reason, promptTokens, promptTokens, generated, promptNanos, decodeNanos, rest).take());
        sink.flush();
    }
}
