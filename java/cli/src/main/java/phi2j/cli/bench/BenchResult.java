package phi2j.cli.bench;

import java.util.List;
import phi2j.report.BenchChart;

/**
 * One llama-bench-style measurement: a model, a configuration, a test ({@code pp512}, {@code tg128}, at a
 * context depth), and tokens/s of each repetition.
 */
public record BenchResult(String model, String modelFile, long sizeBytes, long params, String backend, int gpuLayers,
                          int threads, int batchSize, int runners, int depth, int nPrompt, int nGen, List<Double> samples,
                          int parallel, List<Double> perSequence) {

    /** Without parallel sequences: one sequence, and its tokens/s are the samples. */
    public BenchResult(String model, String modelFile, long sizeBytes, long params, String backend, int gpuLayers, int threads,
                       int batchSize, int runners, int depth, int nPrompt, int nGen, List<Double> samples) {
        this(model, modelFile, sizeBytes, params, backend, gpuLayers, threads, batchSize, runners, depth, nPrompt, nGen, samples, 1, samples);
    }

    public String test() {
        String t = nPrompt > 0 ? "pp" + nPrompt : "tg" + nGen;
        if (parallel > 1) {
            t += " x" + parallel;
        }
        return depth > 0 ? t + " @ d" + depth : t;
    }

    /** Mean tokens/s of one sequence, when several ran at once. */
    public double perSequenceMean() {
        return perSequence.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    public double mean() {
        return samples.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    /** Sample standard deviation (n - 1), as llama-bench reports it. */
    public double stddev() {
        if (samples.size() < 2) {
            return 0;
        }
        double m = mean();
        return Math.sqrt(samples.stream().mapToDouble(x -> (x - m) * (x - m)).sum() / (samples.size() - 1));
    }

    /** The results as chart bars: one series per model and load, one category per test. */
    public static List<BenchChart.Bar> bars(List<BenchResult> results) {
        return results.stream().map(r -> new BenchChart.Bar(r.model() + (r.gpuLayers() != 0 ? " ngl" + r.gpuLayers() : "")
                + " t" + r.threads() + (r.runners() > 1 ? " x" + r.runners() : ""), r.test(), r.mean(), r.stddev())).toList();
    }
}
