package phi2j.cli;

import phi2j.convert.FileType;
import phi2j.convert.QuantMix;
import phi2j.convert.Quantizer;
import phi2j.format.GgmlType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

@Command(name = "quantize", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Quantize a Phi-2 GGUF with llama.cpp's per-tensor mixes.",
        description = {"Quantize or re-type a Phi-2 GGUF with ggml's own kernels and llama.cpp's per-tensor mixes.",
                "TYPE: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, F16, BF16, F32."})
public final class QuantizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LoggingMixin logging;

    @Parameters(index = "0", paramLabel = "IN", description = "Source GGUF (F32, F16 or BF16; quantized needs --allow-requantize).")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT", description = "Output GGUF; written under a temporary name and renamed when complete.")
    Path out;

    @Parameters(index = "2", paramLabel = "TYPE", description = "File type, for example Q4_K_M.")
    String type;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "Threads (default: all cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--dry-run", description = "Print the per-tensor type table and exit without writing.")
    boolean dryRun;

    @Option(names = "--allow-requantize", description = "Accept an already quantized input (quality suffers).")
    boolean allowRequantize;

    @Option(names = "--force", description = "Replace OUT if it exists.")
    boolean force;

    @Mixin
    GgmlLibraryMixin lib;

    @Override
    public Integer call() {
        logging.apply();
        FileType ft = FileType.parse(type);
        PrintWriter o = spec.commandLine().getOut();
        if (dryRun) {
            printPlan(o, Quantizer.plan(in, ft), ft);
            return Main.OK;
        }
        Quantizer.Options opts = new Quantizer.Options(ft, threads, allowRequantize, force, lib.resolve());
        Quantizer.Report r;
        try (TerminalProgress p = new TerminalProgress("quantize " + ft, "M weights", 1_000_000)) {
            r = Quantizer.quantize(in, out, opts, p);
        }
        o.printf(Locale.ROOT, "wrote %s: %s, %s -> %s in %.1f s (%s)%n", r.output(), ft, Format.bytes(r.inputBytes()),
                Format.bytes(r.outputBytes()), r.time().toNanos() / 1e9, summary(r.plan()));
        o.flush();
        return Main.OK;
    }

    static String summary(List<QuantMix.Choice> plan) {
        Map<GgmlType, Long> count = new TreeMap<>();
        plan.forEach(c -> count.merge(c.type(), 1L, Long::sum));
        return count.entrySet().stream().map(e -> e.getValue() + " " + e.getKey()).collect(Collectors.joining(", "));
    }

    static void printPlan(PrintWriter o, List<QuantMix.Choice> plan, FileType ft) {
        int w = plan.stream().mapToInt(c -> c.tensor().name().length()).max().orElse(10);
        o.printf("%s (general.file_type %d): per-tensor types%n", ft, ft.id());
        o.printf("  %-" + w + "s  %-6s  %-6s  %s%n", "tensor", "from", "to", "why");
        for (QuantMix.Choice c : plan) {
            o.printf("  %-" + w + "s  %-6s  %-6s  %s%n", c.tensor().name(), c.tensor().type(), c.type(), c.reason());
        }
        o.println("  totals: " + summary(plan));
        o.flush();
    }
}
