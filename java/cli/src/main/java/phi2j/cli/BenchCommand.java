package phi2j.cli;

import phi2j.report.MarkdownTable;
import phi2j.InvalidOptionException;
import phi2j.report.BenchChart;
import phi2j.cli.bench.BenchReport;
import phi2j.cli.bench.BenchResult;
import phi2j.cli.bench.BenchRunner;
import phi2j.cli.bench.BenchCase;
import phi2j.format.GgufFile;
import phi2j.format.GgufReader;
import phi2j.format.Phi2Layout;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Measure prompt and generation throughput as llama-bench does.",
        description = {"Measure throughput as llama.cpp's llama-bench does: prompt processing (ppN) and generation (tgN),",
                "mean ± standard deviation of tokens/s over repetitions, for every combination of the listed values."})
public final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LoggingMixin logging;

    @Option(names = {"-m", "--model"}, split = ",", paramLabel = "FILE", description = "Models (comma-separated or repeated; default: the catalog's default).")
    List<Path> models = new ArrayList<>();

    @Option(names = {"-p", "--n-prompt"}, split = ",", paramLabel = "N", description = "Prompt sizes for pp tests (default: 512; 0 = none).")
    List<Integer> nPrompt = new ArrayList<>(List.of(512));

    @Option(names = {"-n", "--n-gen"}, split = ",", paramLabel = "N", description = "Generated tokens for tg tests (default: 128; 0 = none).")
    List<Integer> nGen = new ArrayList<>(List.of(128));

    @Option(names = {"-r", "--repetitions"}, paramLabel = "N", description = "Repetitions of each test after a warm-up (default: ${DEFAULT-VALUE}).")
    int repetitions = 5;

    @Option(names = {"-ngl", "--n-gpu-layers"}, split = ",", paramLabel = "N", description = "GPU layers (default: 0).")
    List<Integer> gpuLayers = new ArrayList<>(List.of(0));

    @Option(names = {"-fa", "--flash-attn"}, split = ",", paramLabel = "0|1", description = "Flash attention off (0) or on (1), as a list to compare (default: llama.cpp's auto).")
    List<Integer> flashAttention = new ArrayList<>();

    @Option(names = {"-t", "--threads"}, split = ",", paramLabel = "N", description = "CPU threads (default: all cores).")
    List<Integer> threads = new ArrayList<>(List.of(Runtime.getRuntime().availableProcessors()));

    @Option(names = {"-b", "--batch-size"}, split = ",", paramLabel = "N", description = "Logical batch size (default: llama.cpp's 2048).")
    List<Integer> batch = new ArrayList<>(List.of(0));

    @Option(names = {"-d", "--n-depth"}, split = ",", paramLabel = "N", description = "Tokens already in the context before each test (default: 0).")
    List<Integer> depth = new ArrayList<>(List.of(0));

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "md (default), csv, json or jsonl.")
    String output = "md";

    @Option(names = "--runners", paramLabel = "N", description = "Runner processes, each pinned to its own GPU (index i) through the visible-devices variables; tokens/s add up.")
    int runners = 1;

    @Option(names = "--parallel", paramLabel = "N", description = "N sequences at once in one runner (llama.cpp slots); aggregate and per-sequence tokens/s.")
    int parallel = 1;

    @Option(names = "--plot", paramLabel = "FILE.png", description = "Also draw the results as a bar chart with error bars.")
    Path plot;

    @Option(names = "--demo", description = "Time the walkthrough's six prompts (greedy, max_length 500) beside its MI210 seconds instead.")
    boolean demo;

    @Mixin
    LibraryMixin lib;

    @Override
    public Integer call() {
        logging.apply();
        checkFlags();
        if (models.isEmpty()) {
            models.add(Catalog.load().defaultModelPath());
        }
        Map<Path, GgufFile> headers = new LinkedHashMap<>();
        for (Path m : models) { // each header read once; bad files fail before any run
            GgufFile f = GgufReader.read(m);
            Phi2Layout.check(f);
            headers.put(m, f);
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Path library = lib.library();
        if (demo) {
            return demo(out, err, library);
        }
        List<BenchCase> tests = new BenchCase.Sweep(models, gpuLayers, threads, batch, flashAttentionModes(), depth, nPrompt, nGen,
                runners, parallel).tests();
        BenchRunner runner = new BenchRunner(repetitions, err, opener(tests, library), headers);
        BenchReport.Printer printer = BenchReport.printer(output);
        List<BenchResult> results = runner.run(tests, r -> printer.result(r, runner.build(), out));
        BenchReport.Build b = runner.build() == null ? new BenchReport.Build("unknown", "de.kherud:llama 4.2.0", "none", "unknown", List.of())
                : runner.build();
        b = new BenchReport.Build(b.llamaCpp(), b.binding(), b.library(), b.cpuFeatures(), gpuNames());
        printer.end(results, b, out);
        out.flush();
        if (plot != null) {
            BenchChart.write(BenchResult.bars(results), "phi2 bench (" + b.llamaCpp() + ")", plot);
            err.println("bench: chart written to " + plot);
        }
        return Main.OK;
    }

    private void checkFlags() {
        if (repetitions < 1) {
            throw new InvalidOptionException("-r", "must be at least 1, not " + repetitions);
        }
        if (parallel < 1 || parallel > 256) {
            throw new InvalidOptionException("--parallel", "must be 1 to 256, not " + parallel);
        }
        if (parallel > 1 && depth.stream().anyMatch(d -> d > 0)) {
            throw new InvalidOptionException("--parallel", "cannot be combined with a context depth (-d)");
        }
        if (runners < 1) {
            throw new InvalidOptionException("--runners", "must be at least 1, not " + runners);
        }
        if (!List.of("md", "csv", "json", "jsonl").contains(output)) {
            throw new InvalidOptionException("-o", "must be md, csv, json or jsonl, not '" + output + "'");
        }
        if (flashAttention.stream().anyMatch(v -> v != 0 && v != 1)) {
            throw new InvalidOptionException("-fa", "values are 0 (off) or 1 (on), not " + flashAttention);
        }
        for (List<Integer> l : List.of(nPrompt, nGen, depth, batch)) {
            if (l.stream().anyMatch(v -> v < 0)) {
                throw new InvalidOptionException("-p/-n/-d/-b", "values must not be negative: " + l);
            }
        }
        if (threads.stream().anyMatch(v -> v < 1)) {
            throw new InvalidOptionException("-t", "thread counts must be at least 1: " + threads);
        }
    }

    /**
     * Opens a load's runners, with a context that holds the deepest test's prompt (one runner per GPU with
     * --runners); tells stderr each time, so a sweep shows how often it loads.
     */
    private BenchRunner.Opener opener(List<BenchCase> tests, Path library) {
        int ctx = Math.max(64, tests.stream().mapToInt(t -> t.depth() + Math.max(t.nPrompt(), t.nGen())).max().orElse(0) + 16);
        PrintWriter err = spec.commandLine().getErr();
        return load -> {
            err.printf("bench: loading %s (ngl %d, threads %d, batch %d, fa %s, runners %d, parallel %d)%n", load.model().getFileName(),
                    load.gpuLayers(), load.threads(), load.batchSize(), load.flashAttention(), load.runners(), load.parallel());
            err.flush();
            ModelOptions.Builder o = ModelOptions.builder().contextSize(ctx * load.parallel()).threads(load.threads())
                    .gpuLayers(load.gpuLayers()).batchSize(load.batchSize()).nativeLibrary(library).engine(lib.engine())
                    .parallel(load.parallel()).flashAttention(load.flashAttention());
            List<Phi2Model> open = new ArrayList<>();
            try {
                for (int i = 0; i < load.runners(); i++) {
                    open.add(Phi2Model.open(load.model(), load.runners() > 1 ? o.visibleDevices(String.valueOf(i)).build() : o.build()));
                }
            } catch (RuntimeException e) {
                open.forEach(Phi2Model::close);
                throw e;
            }
            return open;
        };
    }

    private List<phi2j.runtime.FlashAttention> flashAttentionModes() {
        if (flashAttention.isEmpty()) {
            return List.of(phi2j.runtime.FlashAttention.AUTO);
        }
        return flashAttention.stream().map(v -> v == 1 ? phi2j.runtime.FlashAttention.ON : phi2j.runtime.FlashAttention.OFF).toList();
    }

    private List<String> gpuNames() {
        try {
            return phi2j.runtime.Devices.list(lib.options()).stream().filter(d -> !d.type().equals("CPU"))
                    .map(d -> d.name() + " (" + d.description() + ")").toList();
        } catch (RuntimeException e) {
            return List.of();
        }
    }

    /** The walkthrough's six prompts on each model, beside its MI210 seconds (the loop is phi2 demo's). */
    private Integer demo(PrintWriter out, PrintWriter err, Path library) {
        List<String[]> rows = new ArrayList<>();
        for (Path m : models) {
            ModelOptions o = ModelOptions.builder().threads(threads.get(0)).gpuLayers(gpuLayers.get(0)).nativeLibrary(library).engine(lib.engine()).build();
            try (Phi2Model model = Phi2Model.open(m, o)) {
                DemoRunner.run(model, DemoPrompts.TASKS, GenerationOptions.greedy().withMaxLength(500), new DemoRunner.Listener() {
                    @Override
                    public void before(DemoPrompts.Task task) {
                        err.printf("bench --demo: %s task %d/%d%n", m.getFileName(), task.id(), DemoPrompts.TASKS.size());
                        err.flush();
                    }

                    @Override
                    public void after(DemoRunner.TaskResult t) {
                        rows.add(new String[] {m.getFileName().toString(), String.valueOf(t.task().id()), t.task().title(),
                                String.valueOf(t.result().generatedTokens()), String.format(Locale.ROOT, "%.2f", t.seconds()), t.walkthroughSeconds(),
                                t.speedUp(), Format.stop(t.result().stopReason())});
                    }
                });
            }
        }
        out.println(MarkdownTable.render(List.of("model", "#", "task", "new tok", "seconds", "MI210 walkthrough s", "speed-up", "stop"), rows));
        out.flush();
        return Main.OK;
    }
}
