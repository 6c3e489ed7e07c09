package phi2j.runtime.internal.overhead;

import de.kherud.llama.InferenceParameters;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.LlamaOutput;
import de.kherud.llama.ModelParameters;

import java.nio.file.Path;

/**
 * A plain {@code de.kherud.llama} loop in the calling JVM, with none of this project's layers: the baseline
 * the runner's overhead is measured against. For benchmarks only: the binding never frees the model, and
 * its native thread keeps the JVM from exiting by itself, which is why real use goes through a runner.
 */
public final class InProcessBaseline {
    private final LlamaModel model;

    public InProcessBaseline(Path gguf, int contextSize, int threads) {
        model = new LlamaModel(new ModelParameters().setModel(gguf.toString()).setCtxSize(contextSize)
                .setThreads(threads).setThreadsBatch(threads).setParallel(1).enableSpecial());
    }

    /** Greedy generation of up to {@code newTokens} tokens; returns the text. */
    public String generate(String prompt, int newTokens) {
        InferenceParameters p = new InferenceParameters(prompt).setNPredict(newTokens).setTemperature(0f)
                .setCachePrompt(false).setRepeatPenalty(1f);
        StringBuilder sb = new StringBuilder();
        for (LlamaOutput o : model.generate(p)) {
            sb.append(o.text);
        }
        return sb.toString();
    }
}
