package phi2j.cli.bench;

import phi2j.runtime.FlashAttention;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One test of the sweep, as llama-bench's {@code cmd_params_instance}: what opening the runners depends on
 * ({@link Load}), then the test itself ({@code ppN} or {@code tgN} at a context depth).
 */
public record BenchCase(Load load, int depth, int nPrompt, int nGen) {

    /** The load parameters: consecutive tests with equal loads run on the same open runners. */
    public record Load(Path model, int gpuLayers, int threads, int batchSize, FlashAttention flashAttention, int runners, int parallel) {
    }

    /** The parameter lists of a sweep, each value a separate run (llama-bench's comma lists). */
    public record Sweep(List<Path> models, List<Integer> gpuLayers, List<Integer> threads, List<Integer> batchSizes,
                        List<FlashAttention> flashAttention, List<Integer> depths, List<Integer> prompts, List<Integer> generations,
                        int runners, int parallel) {

        /**
         * The sweep as one flat list: load parameters outermost (model, ngl, threads, batch, flash attention), then
         * depth, then the prompt tests and the generation tests; so each load's tests are consecutive and it opens once.
         */
        public List<BenchCase> tests() {
            List<BenchCase> out = new ArrayList<>();
            for (Path m : models) {
                for (int ngl : gpuLayers) {
                    for (int t : threads) {
                        for (int b : batchSizes) {
                            for (FlashAttention fa : flashAttention) {
                                Load load = new Load(m, ngl, t, b, fa, runners, parallel);
                                for (int d : depths) {
                                    prompts.stream().filter(n -> n > 0).forEach(n -> out.add(new BenchCase(load, d, n, 0)));
                                    generations.stream().filter(n -> n > 0).forEach(n -> out.add(new BenchCase(load, d, 0, n)));
                                }
                            }
                        }
                    }
                }
            }
            return out;
        }
    }

    /** "pp512", "tg128 x4", "pp512 @ d4096": llama-bench's test column. */
    public String name() {
        String t = (nPrompt > 0 ? "pp" + nPrompt : "tg" + nGen) + (load.parallel() > 1 ? " x" + load.parallel() : "");
        return depth > 0 ? t + " @ d" + depth : t;
    }
}
