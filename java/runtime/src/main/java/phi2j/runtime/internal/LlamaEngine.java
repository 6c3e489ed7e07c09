package phi2j.runtime.internal;

import de.kherud.llama.InferenceParameters;
import de.kherud.llama.LlamaIterator;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.LlamaOutput;
import de.kherud.llama.ModelParameters;
import de.kherud.llama.args.GpuSplitMode;
import phi2j.runtime.GenerationOptions;

import java.util.Locale;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

/**
 * The one place that drives {@code de.kherud:llama}. It runs inside the runner process only: the binding
 * never frees a model and its native thread keeps a JVM alive, so the process itself is the unit of cleanup.
 */
public final class LlamaEngine {

    /** Receives text pieces as llama.cpp releases them (pieces may hold several tokens). */
    public interface TextSink {
        void text(String piece) throws java.io.IOException;
    }

    private final LlamaModel model;

    private LlamaEngine(LlamaModel model) {
        this.model = model;
    }

    public static LlamaEngine load(Messages.Load req) {
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
        return new LlamaEngine(new LlamaModel(p));
    }

    public int countTokens(String text) {
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
    public Messages.Done generate(Messages.Generate req, TextSink sink, BooleanSupplier cancelled) throws java.io.IOException {
        int promptTokens = countTokens(req.prompt());
        GenerationOptions opts = new GenerationOptions(req.maxLength(), req.maxNewTokens(), req.temperature(), req.topK(),
                req.topP(), req.minP(), req.repetitionPenalty(), req.seed(), req.stopStrings(), req.ignoreEndOfText(), req.cachePrompt());
        int budget = opts.newTokenBudget(promptTokens, req.contextSize());
        InferenceParameters ip = new InferenceParameters(req.prompt())
                .setNPredict(budget)
                // reusing a cached prefix changes batch shapes, and with them greedy ties: off unless asked for
                .setCachePrompt(req.cachePrompt())
                .setIgnoreEos(req.ignoreEndOfText())
                .setTemperature(req.temperature())
                .setTopK(req.topK())
                .setTopP(req.topP())
                .setMinP(req.minP())
                .setRepeatPenalty(req.repetitionPenalty());
        if (req.seed() != null) {
            ip.setSeed(req.seed().intValue());
        }
        if (!req.stopStrings().isEmpty()) {
            ip.setStopStrings(req.stopStrings().toArray(String[]::new));
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
                sink.text(out.text);
            }
            chunks++;
        }
        return new Messages.Done(req.id(), promptTokens, budget, wasCancelled, chunks);
    }
}
