package phi2j.bench;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code phi2 bench} on both engines against llama.cpp's own {@code llama-bench} and {@code llama-batched-bench} of
 * the same native build, on the same files, interleaved round by round (the order rotates each round), so drifts in
 * machine load hit every side alike. Ratios are paired per round, then averaged.
 *
 * <pre>
 * scripts/build-native.sh cpu --with-tools
 * java -cp 'java/bench/target/classes:java/bench/target/lib/*' phi2j.bench.EngineComparison \
 *     --tiny TINY.gguf --shaped PHI2_SHAPED_Q4_K_M.gguf [--rounds 3] [--reps 3] [--parallel 4] [--parallel-tg 128] [--binding true] [--root .]
 * </pre>
 * On a GPU build: {@code --build native/build/cuda --models F16,Q8_0,Q4_K_M --pp 512 --tg 128 --ngl 99 [--phi2 LAUNCHER]
 * [--json FILE] [--plot FILE.png]}: each model's pp and tg through phi2 bench (native engine, all layers on the GPU)
 * and through the same build's llama-bench, interleaved; scripts/gpu-check.sh gives {@code --tools DIR} (llama-bench's
 * folder) instead of {@code --build}, and phi2 finds its engine in its package's jars.
 *
 * <p>Builds against each other ({@code --engines clang=native/build/cpu,gcc=native/build/cpu-gcc}: phi2 bench on each
 * native build) and against other llama.cpp tools ({@code --llama-benches debian=chroot:/srv/sid}: another root's
 * {@code llama-bench}, run through chroot, with the models bind-mounted at the same path inside it; or a path to a
 * llama-bench binary), with {@code --reference NAME} the tool the ratios divide by (default: the first llama.cpp tool),
 * {@code --binding false} and {@code --parallel 1} to leave those rows out.
 */
public final class EngineComparison {
    /** One measurement: which tool, which test, tokens/s. */
    record Sample(int round, String test, String tool, double tps) {
    }

    private final Path root;
    private final Path tools;
    private final int reps;
    private final String phi2;
    private final Path build;
    private final int ngl;
    private final List<Sample> samples = new ArrayList<>();

    private EngineComparison(Map<String, String> a) {
        this.root = Path.of(a.get("--root")).toAbsolutePath().normalize();
        this.build = a.containsKey("--build") ? Path.of(a.get("--build")).toAbsolutePath().normalize() : null;
        this.tools = a.containsKey("--tools") ? Path.of(a.get("--tools")).toAbsolutePath().normalize()
                : (build != null ? build : root.resolve("native/build/cpu")).resolve("cmake/bin");
        this.reps = Integer.parseInt(a.get("--reps"));
        this.phi2 = a.getOrDefault("--phi2", root.resolve("phi2").toString());
        this.ngl = Integer.parseInt(a.get("--ngl"));
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>(Map.of("--rounds", "3", "--reps", "3", "--parallel", "4", "--root", ".", "--binding", "true",
                "--parallel-tg", "128", "--ngl", "0", "--pp", "512", "--tg", "128"));
        if (args.length % 2 != 0) {
            throw new IllegalArgumentException("options come in pairs (--name value), not: " + String.join(" ", args));
        }
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i], args[i + 1]);
        }
        EngineComparison c = new EngineComparison(a);
        int rounds = Integer.parseInt(a.get("--rounds"));
        int parallel = Integer.parseInt(a.get("--parallel"));
        String tiny = a.get("--tiny");
        String shaped = a.get("--shaped");
        boolean binding = Boolean.parseBoolean(a.get("--binding"));
        int parallelTg = Integer.parseInt(a.get("--parallel-tg"));
        Map<String, String> engines = pairs(a.get("--engines"));
        Map<String, String> benches = pairs(a.get("--llama-benches"));
        c.reference = a.get("--reference");
        for (int r = 1; r <= rounds; r++) {
            List<Runnable> steps = new ArrayList<>();
            int round = r;
            List<String[]> singleTests = new ArrayList<>();
            if (tiny != null) {
                singleTests.add(new String[] {tiny, "0", "256"});
            }
            if (shaped != null) {
                singleTests.add(new String[] {shaped, "512", "32"});
            }
            for (String[] t : singleTests) {
                String model = t[0];
                int pp = Integer.parseInt(t[1]);
                int tg = Integer.parseInt(t[2]);
                if (engines.isEmpty()) {
                    steps.add(() -> c.phi2(round, model, "native", null, "phi2 native", pp, tg, 1));
                    steps.add(() -> c.llamaBench(round, model, List.of(c.tools.resolve("llama-bench").toString()), "llama-bench", pp, tg));
                } else {
                    engines.forEach((label, dir) -> steps.add(() -> c.phi2(round, model, "native", Path.of(dir), "phi2 " + label, pp, tg, 1)));
                }
                benches.forEach((label, cmd) -> steps.add(() -> c.llamaBench(round, model, benchCommand(cmd), "llama-bench " + label, pp, tg)));
                if (binding) {
                    steps.add(() -> c.phi2(round, model, "binding", null, "phi2 binding", pp, tg, 1));
                }
            }
            if (shaped != null && parallel > 1) {
                steps.add(() -> c.phi2(round, shaped, "native", null, "phi2 native", 0, parallelTg, parallel));
                steps.add(() -> c.batchedBench(round, shaped, parallelTg, parallel));
            }
            if (a.containsKey("--models")) {
                int pp = Integer.parseInt(a.get("--pp"));
                int tg = Integer.parseInt(a.get("--tg"));
                for (String m : a.get("--models").split(",")) {
                    steps.add(() -> c.phi2(round, m, "native", c.build, "phi2 native", pp, tg, 1));
                    steps.add(() -> c.llamaBench(round, m, List.of(c.tools.resolve("llama-bench").toString()), "llama-bench", pp, tg));
                }
            }
            for (int i = 0; i < steps.size(); i++) {
                steps.get((i + r - 1) % steps.size()).run(); // rotate the order every round
            }
        }
        System.out.print(c.report());
        if (a.containsKey("--json")) {
            Files.writeString(Path.of(a.get("--json")), new com.google.gson.GsonBuilder().setPrettyPrinting().create().toJson(c.samples));
        }
        if (a.containsKey("--plot")) {
            Map<String, Map<String, List<Double>>> bars = new LinkedHashMap<>();
            for (Sample s : c.samples) {
                String label = s.test().replace("synthetic-phi2-", "").replace(".gguf", ""); // short enough for the axis
                bars.computeIfAbsent(s.tool(), k -> new LinkedHashMap<>()).computeIfAbsent(label, k -> new ArrayList<>()).add(s.tps());
            }
            phi2j.report.BenchChart.bars(bars, "phi2 bench and llama-bench, same build, interleaved", Path.of(a.get("--plot")));
        }
    }

    /** NAME=VALUE,NAME=VALUE as a map, in order; empty for null. */
    private static Map<String, String> pairs(String list) {
        Map<String, String> m = new LinkedHashMap<>();
        if (list != null) {
            for (String item : list.split(",")) {
                String[] kv = item.split("=", 2);
                if (kv.length != 2 || kv[0].isBlank() || kv[1].isBlank()) {
                    throw new IllegalArgumentException("expected NAME=VALUE, not '" + item + "'");
                }
                m.put(kv[0], kv[1]);
            }
        }
        return m;
    }

    /** A llama-bench command: a path, or chroot:ROOT for ROOT's /usr/bin/llama-bench (the models visible at the same path there). */
    private static List<String> benchCommand(String spec) {
        return spec.startsWith("chroot:") ? List.of("chroot", spec.substring("chroot:".length()), "/usr/bin/llama-bench") : List.of(spec);
    }

    private String reference;

    private void phi2(int round, String model, String engine, Path lib, String tool, int pp, int tg, int parallel) {
        List<String> cmd = new ArrayList<>(List.of(phi2, "bench", "-m", model, "-p", String.valueOf(pp),
                "-n", String.valueOf(tg), "-r", String.valueOf(reps), "-o", "json", "--engine", engine, "-ngl", String.valueOf(ngl)));
        if (lib != null && engine.equals("native")) {
            cmd.addAll(List.of("--lib", lib.toString()));
        }
        if (parallel > 1) {
            cmd.addAll(List.of("--parallel", String.valueOf(parallel)));
        }
        for (JsonElement e : JsonParser.parseString(run(cmd)).getAsJsonArray()) {
            JsonObject o = e.getAsJsonObject();
            String test = name(model, o.get("n_prompt").getAsInt(), o.get("n_gen").getAsInt(), parallel);
            add(new Sample(round, test, tool, o.get("avg_ts").getAsDouble()));
        }
    }

    private void llamaBench(int round, String model, List<String> command, String tool, int pp, int tg) {
        List<String> cmd = new ArrayList<>(command);
        cmd.addAll(List.of("-m", model, "-p", String.valueOf(pp), "-n", String.valueOf(tg),
                "-r", String.valueOf(reps), "-o", "json", "-ngl", String.valueOf(ngl)));
        for (JsonElement e : JsonParser.parseString(run(cmd)).getAsJsonArray()) {
            JsonObject o = e.getAsJsonObject();
            String test = name(model, o.get("n_prompt").getAsInt(), o.get("n_gen").getAsInt(), 1);
            add(new Sample(round, test, tool, o.get("avg_ts").getAsDouble()));
        }
    }

    /** llama-batched-bench's generation speed (S_TG) for {@code parallel} sequences of one prompt token each, as phi2 bench runs them. */
    private void batchedBench(int round, String model, int tg, int parallel) {
        double sum = 0;
        for (int i = 0; i < reps; i++) {
            String out = run(List.of(tools.resolve("llama-batched-bench").toString(), "-m", model, "-c", "2048", "-b", "2048", "-ub", "512",
                    "-npp", "1", "-ntg", String.valueOf(tg), "-npl", String.valueOf(parallel), "--output-format", "jsonl"));
            JsonObject last = null;
            for (String line : out.lines().filter(l -> l.startsWith("{")).toList()) {
                last = JsonParser.parseString(line).getAsJsonObject();
            }
            if (last == null) {
                throw new IllegalStateException("llama-batched-bench printed no result:\n" + out);
            }
            sum += last.get("speed_tg").getAsDouble();
        }
        add(new Sample(round, name(model, 0, tg, parallel), "llama-batched-bench", sum / reps));
    }

    private static String name(String model, int pp, int tg, int parallel) {
        String file = Path.of(model).getFileName().toString();
        return file + " " + (pp > 0 ? "pp" + pp : "tg" + tg) + (parallel > 1 ? " x" + parallel : "");
    }

    private void add(Sample s) {
        samples.add(s);
        System.err.printf(Locale.ROOT, "round %d  %-45s %-22s %10.2f t/s%n", s.round(), s.test(), s.tool(), s.tps());
    }

    private static String run(List<String> cmd) {
        try {
            Path log = Files.createTempFile("phi2j-bench-", ".err");
            Process p = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + " failed:\n" + Files.readString(log));
            }
            Files.delete(log);
            return out;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Per test: each tool's mean ± sd over rounds, and each phi2 engine's ratio to llama.cpp's tool, paired by round. */
    private String report() {
        List<String[]> rows = new ArrayList<>();
        Map<String, Map<String, List<Sample>>> byTest = new LinkedHashMap<>();
        for (Sample s : samples) {
            byTest.computeIfAbsent(s.test(), k -> new LinkedHashMap<>()).computeIfAbsent(s.tool(), k -> new ArrayList<>()).add(s);
        }
        for (var test : byTest.entrySet()) {
            List<Sample> ref = test.getValue().entrySet().stream()
                    .filter(e -> reference != null ? e.getKey().equals(reference) : e.getKey().startsWith("llama-")).map(Map.Entry::getValue)
                    .findFirst().orElse(List.of());
            for (var tool : test.getValue().entrySet()) {
                double[] v = tool.getValue().stream().mapToDouble(Sample::tps).toArray();
                String ratio = "";
                if (!ref.isEmpty() && tool.getValue() != ref) {
                    List<Double> ratios = new ArrayList<>();
                    for (Sample s : tool.getValue()) {
                        ref.stream().filter(x -> x.round() == s.round()).findFirst().ifPresent(x -> ratios.add(s.tps() / x.tps()));
                    }
                    double[] rv = ratios.stream().mapToDouble(Double::doubleValue).toArray();
                    ratio = String.format(Locale.ROOT, "%.3f ± %.3f", mean(rv), sd(rv));
                }
                rows.add(new String[] {test.getKey(), tool.getKey(), String.format(Locale.ROOT, "%.2f ± %.2f", mean(v), sd(v)), ratio});
            }
        }
        return phi2j.report.MarkdownTable.render(List.of("test", "tool", "t/s (mean ± sd over rounds)",
                        "ratio to " + (reference != null ? reference : "llama.cpp's tool") + " (paired)"),
                rows, 2) + "\n";
    }

    private static double mean(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return v.length == 0 ? Double.NaN : s / v.length;
    }

    private static double sd(double[] v) {
        if (v.length < 2) {
            return 0;
        }
        double m = mean(v);
        double s = 0;
        for (double x : v) {
            s += (x - m) * (x - m);
        }
        return Math.sqrt(s / (v.length - 1));
    }
}
