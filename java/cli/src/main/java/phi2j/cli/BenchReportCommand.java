package phi2j.cli;

import phi2j.report.MarkdownTable;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import phi2j.InvalidOptionException;
import phi2j.report.BenchChart;
import phi2j.cli.bench.BenchResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "bench-report", mixinStandardHelpOptions = true,
        header = "Compare bench results with the memory-bandwidth bound.",
        description = {"Summarize 'phi2 bench -o json' results next to the memory-bandwidth bound for generation:",
                "each generated token reads every weight once, so tg t/s cannot exceed bandwidth / model bytes."})
public final class BenchReportCommand implements Callable<Integer> {
    /** Peak memory bandwidth in bytes/s of the devices the sweep is for (per GCD for MI250). */
    static final Map<String, Double> BANDWIDTH = Map.of(
            "mi250", 1.6e12, "mi250x", 1.6e12, "mi210", 1.6e12, "mi300x", 5.3e12, "mi300a", 5.3e12, "h100", 3.35e12, "h200", 4.8e12);

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "RESULTS.json", description = "Output of phi2 bench -o json.")
    Path results;

    @Option(names = "--device", paramLabel = "NAME", description = "mi250 (1.6 TB/s per GCD), mi300x (5.3 TB/s), h100 (3.35 TB/s, SXM), h200 (4.8 TB/s), or a bandwidth in bytes/s.")
    String device = "mi250";

    @Option(names = "--plot", paramLabel = "FILE.png", description = "Also draw the chart.")
    Path plot;

    static double bandwidth(String device) {
        Double b = BANDWIDTH.get(device.toLowerCase(Locale.ROOT));
        if (b != null) {
            return b;
        }
        try {
            double v = Double.parseDouble(device);
            if (v > 0) {
                return v;
            }
        } catch (NumberFormatException ignored) {
            // falls through to the error
        }
        throw new InvalidOptionException("--device", "'" + device + "' is not one of " + BANDWIDTH.keySet() + " or a bandwidth in bytes/s");
    }

    @Override
    public Integer call() throws IOException {
        double bw = bandwidth(device);
        JsonArray rows;
        try {
            rows = JsonParser.parseString(Files.readString(results)).getAsJsonArray();
        } catch (RuntimeException e) {
            throw new phi2j.BadModelFileException(results, "is not phi2 bench JSON output: " + e.getMessage());
        }
        List<String[]> table = new ArrayList<>();
        List<BenchResult> parsed = new ArrayList<>();
        for (JsonElement e : rows) {
            JsonObject o = e.getAsJsonObject();
            List<Double> samples = new ArrayList<>();
            o.getAsJsonArray("samples_ts").forEach(s -> samples.add(s.getAsDouble()));
            BenchResult r = new BenchResult(o.get("model").getAsString(), o.get("model_filename").getAsString(), o.get("model_size").getAsLong(),
                    o.get("model_n_params").getAsLong(), o.get("backends").getAsString(), o.get("n_gpu_layers").getAsInt(), o.get("n_threads").getAsInt(),
                    o.get("n_batch").getAsInt(), o.get("runners").getAsInt(), o.get("n_depth").getAsInt(), o.get("n_prompt").getAsInt(),
                    o.get("n_gen").getAsInt(), samples);
            parsed.add(r);
            String bound = "";
            String eff = "";
            if (r.nGen() > 0) {
                double perRunner = bw / r.sizeBytes();
                double b = perRunner * r.runners();
                bound = String.format(Locale.ROOT, "%.1f", b);
                eff = String.format(Locale.ROOT, "%.0f%%", 100 * r.mean() / b);
            }
            table.add(new String[] {r.modelFile(), String.format(Locale.ROOT, "%.2f GiB", r.sizeBytes() / 1073741824.0), r.backend(), String.valueOf(r.gpuLayers()),
                    String.valueOf(r.runners()), r.test(), String.format(Locale.ROOT, "%.2f ± %.2f", r.mean(), r.stddev()), bound, eff});
        }
        spec.commandLine().getOut().println(MarkdownTable.render(List.of("model", "size", "backend", "ngl", "runners", "test", "t/s",
                "bandwidth bound t/s", "of bound"), table));
        spec.commandLine().getOut().printf(Locale.ROOT, "bound: %.2f TB/s (%s) / weight bytes per token, x runners%n", bw / 1e12, device);
        spec.commandLine().getOut().flush();
        if (plot != null) {
            BenchChart.write(BenchResult.bars(parsed), "phi2 bench", plot);
        }
        return Main.OK;
    }
}
