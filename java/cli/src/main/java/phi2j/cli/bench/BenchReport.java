package phi2j.cli.bench;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import phi2j.report.MarkdownTable;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * Renders results as llama-bench does, through one {@link Printer} per format (markdown table, CSV, one JSON
 * document, JSON lines), all reading the one column list {@link #FIELDS}.
 */
public final class BenchReport {
    /** Facts about the build that produced the numbers. */
    public record Build(String llamaCpp, String binding, String library, String cpuFeatures, List<String> gpus) {
    }

    /** One column: its name in CSV and JSON (llama-bench's, where it has one) and its value. */
    public record Field(String name, Function<BenchResult, Object> value) {
    }

    /** The columns, in llama-bench's order; CSV and JSON print all of them, markdown a readable subset. */
    public static final List<Field> FIELDS = List.of(
            new Field("model", BenchResult::model),
            new Field("model_filename", BenchResult::modelFile),
            new Field("model_size", BenchResult::sizeBytes),
            new Field("model_n_params", BenchResult::params),
            new Field("backends", BenchResult::backend),
            new Field("n_gpu_layers", BenchResult::gpuLayers),
            new Field("n_threads", BenchResult::threads),
            new Field("n_batch", BenchResult::batchSize),
            new Field("runners", BenchResult::runners),
            new Field("n_parallel", BenchResult::parallel),
            new Field("n_depth", BenchResult::depth),
            new Field("n_prompt", BenchResult::nPrompt),
            new Field("n_gen", BenchResult::nGen),
            new Field("test", BenchResult::test),
            new Field("avg_ts", BenchResult::mean),
            new Field("stddev_ts", BenchResult::stddev),
            new Field("avg_ts_per_sequence", BenchResult::perSequenceMean));

    /** How a format prints: each result as it is measured (JSON lines), and everything at the end. */
    public interface Printer {
        default void result(BenchResult r, Build b, PrintWriter out) {
        }

        void end(List<BenchResult> results, Build b, PrintWriter out);
    }

    /** The printer for {@code -o}: md, csv, json or jsonl. */
    public static Printer printer(String format) {
        return switch (format) {
            case "csv" -> (rs, b, out) -> out.print(csv(rs));
            case "json" -> (rs, b, out) -> out.print(json(rs, b));
            case "jsonl" -> new Printer() {
                @Override
                public void result(BenchResult r, Build b, PrintWriter out) {
                    out.println(COMPACT.toJson(json(r, b)));
                    out.flush();
                }

                @Override
                public void end(List<BenchResult> results, Build b, PrintWriter out) {
                }
            };
            case "md" -> (rs, b, out) -> {
                out.println(markdown(rs));
                out.println();
                out.println("build: " + b.llamaCpp() + ", " + b.binding() + ", " + b.library());
            };
            default -> throw new IllegalArgumentException("no printer for '" + format + "'");
        };
    }

    private static final Gson COMPACT = new GsonBuilder().disableHtmlEscaping().serializeSpecialFloatingPointValues().create();
    private static final Gson PRETTY = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().serializeSpecialFloatingPointValues().create();

    private BenchReport() {
    }

    /** llama-bench's units (binary), scaled so a small model is not "0.00 GiB". */
    public static String size(long bytes) {
        return phi2j.cli.Format.bytes(bytes);
    }

    static String params(long n) {
        return n >= 1e9 ? String.format(Locale.ROOT, "%.2f B", n / 1e9) : String.format(Locale.ROOT, "%.2f M", n / 1e6);
    }

    /** llama-bench's markdown table: runners and per-sequence speed appear only when some result has them. */
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
        return MarkdownTable.render(head, rows, 4); // numbers from the fifth column on, right-aligned as llama-bench does
    }

    public static String csv(List<BenchResult> results) {
        StringBuilder sb = new StringBuilder(String.join(",", FIELDS.stream().map(Field::name).toList())).append('\n');
        for (BenchResult r : results) {
            sb.append(String.join(",", FIELDS.stream().map(f -> csvValue(f.value().apply(r))).toList())).append('\n');
        }
        return sb.toString();
    }

    private static String csvValue(Object v) {
        if (v instanceof Double d) {
            return String.format(Locale.ROOT, "%.4f", d);
        }
        String s = String.valueOf(v);
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
        for (Field f : FIELDS) {
            Object v = f.value().apply(r);
            if (v instanceof Number n) {
                o.addProperty(f.name(), n);
            } else {
                o.addProperty(f.name(), String.valueOf(v));
            }
        }
        JsonArray s = new JsonArray();
        r.samples().forEach(s::add);
        o.add("samples_ts", s);
        return o;
    }

    public static String json(List<BenchResult> results, Build b) {
        JsonArray a = new JsonArray();
        results.forEach(r -> a.add(json(r, b)));
        return PRETTY.toJson(a) + "\n";
    }
}
