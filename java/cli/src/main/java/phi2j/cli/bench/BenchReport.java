package phi2j.cli.bench;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Renders results as llama-bench does: markdown table, CSV, one JSON document, or JSON lines. */
public final class BenchReport {
    /** Facts about the build that produced the numbers. */
    public record Build(String llamaCpp, String binding, String library, String cpuFeatures, List<String> gpus) {
    }

    private BenchReport() {
    }

    static String size(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / 1073741824.0);
    }

    static String params(long n) {
        return n >= 1e9 ? String.format(Locale.ROOT, "%.2f B", n / 1e9) : String.format(Locale.ROOT, "%.2f M", n / 1e6);
    }

    public static String markdown(List<BenchResult> results) {
        boolean runners = results.stream().anyMatch(r -> r.runners() > 1);
        boolean parallel = results.stream().anyMatch(r -> r.parallel() > 1);
        List<String> head = new ArrayList<>(List.of("model", "size", "params", "backend", "ngl", "threads"));
        if (runners) {
            head.add("runners");
        }
        head.addAll(List.of("test", "t/s"));
        if (parallel) {
            head.add("t/s per sequence");
        }
        List<String[]> rows = new ArrayList<>();
        for (BenchResult r : results) {
            List<String> row = new ArrayList<>(List.of(r.model(), size(r.sizeBytes()), params(r.params()), r.backend(),
                    String.valueOf(r.gpuLayers()), String.valueOf(r.threads())));
            if (runners) {
                row.add(String.valueOf(r.runners()));
            }
            row.add(r.test());
            row.add(String.format(Locale.ROOT, "%.2f ± %.2f", r.mean(), r.stddev()));
            if (parallel) {
                row.add(String.format(Locale.ROOT, "%.2f", r.perSequenceMean()));
            }
            rows.add(row.toArray(String[]::new));
        }
        int[] w = new int[head.size()];
        for (int c = 0; c < w.length; c++) {
            w[c] = head.get(c).length();
            for (String[] r : rows) {
                w[c] = Math.max(w[c], r[c].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        line(sb, head.toArray(String[]::new), w, false);
        String[] dash = new String[w.length];
        for (int c = 0; c < w.length; c++) {
            dash[c] = "-".repeat(w[c] - 1) + (c >= 4 ? ":" : "-");
        }
        line(sb, dash, w, false);
        for (String[] r : rows) {
            line(sb, r, w, true);
        }
        return sb.toString();
    }

    private static void line(StringBuilder sb, String[] cells, int[] w, boolean alignNumbers) {
        sb.append('|');
        for (int c = 0; c < w.length; c++) {
            String pad = " ".repeat(w[c] - cells[c].length());
            sb.append(' ').append(alignNumbers && c >= 4 ? pad + cells[c] : cells[c] + pad).append(" |");
        }
        sb.append('\n');
    }

    public static String csv(List<BenchResult> results) {
        StringBuilder sb = new StringBuilder("model,model_file,size_bytes,params,backend,n_gpu_layers,n_threads,n_batch,runners,n_depth,n_prompt,n_gen,test,avg_ts,stddev_ts\n");
        for (BenchResult r : results) {
            sb.append(String.join(",", quote(r.model()), quote(r.modelFile()), String.valueOf(r.sizeBytes()), String.valueOf(r.params()),
                    quote(r.backend()), String.valueOf(r.gpuLayers()), String.valueOf(r.threads()), String.valueOf(r.batchSize()),
                    String.valueOf(r.runners()), String.valueOf(r.depth()), String.valueOf(r.nPrompt()), String.valueOf(r.nGen()),
                    quote(r.test()), String.format(Locale.ROOT, "%.4f", r.mean()), String.format(Locale.ROOT, "%.4f", r.stddev()))).append('\n');
        }
        return sb.toString();
    }

    private static String quote(String s) {
        return s.contains(",") || s.contains("\"") ? '"' + s.replace("\"", "\"\"") + '"' : s;
    }

    static JsonObject json(BenchResult r, Build b) {
        JsonObject o = new JsonObject();
        o.addProperty("build_commit", b.llamaCpp());
        o.addProperty("binding", b.binding());
        o.addProperty("library", b.library());
        o.addProperty("cpu_info", b.cpuFeatures());
        JsonArray gpus = new JsonArray();
        b.gpus().forEach(gpus::add);
        o.add("gpu_info", gpus);
        o.addProperty("model", r.model());
        o.addProperty("model_filename", r.modelFile());
        o.addProperty("model_size", r.sizeBytes());
        o.addProperty("model_n_params", r.params());
        o.addProperty("backends", r.backend());
        o.addProperty("n_gpu_layers", r.gpuLayers());
        o.addProperty("n_threads", r.threads());
        o.addProperty("n_batch", r.batchSize());
        o.addProperty("runners", r.runners());
        o.addProperty("n_parallel", r.parallel());
        o.addProperty("avg_ts_per_sequence", r.perSequenceMean());
        o.addProperty("n_depth", r.depth());
        o.addProperty("n_prompt", r.nPrompt());
        o.addProperty("n_gen", r.nGen());
        o.addProperty("test", r.test());
        o.addProperty("avg_ts", r.mean());
        o.addProperty("stddev_ts", r.stddev());
        JsonArray s = new JsonArray();
        r.samples().forEach(s::add);
        o.add("samples_ts", s);
        return o;
    }

    public static String json(List<BenchResult> results, Build b) {
        JsonArray a = new JsonArray();
        results.forEach(r -> a.add(json(r, b)));
        return new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().serializeSpecialFloatingPointValues().create().toJson(a) + "\n";
    }

    public static String jsonLines(List<BenchResult> results, Build b) {
        StringBuilder sb = new StringBuilder();
        results.forEach(r -> sb.append(new GsonBuilder().disableHtmlEscaping().serializeSpecialFloatingPointValues().create().toJson(json(r, b))).append('\n'));
        return sb.toString();
    }
}
