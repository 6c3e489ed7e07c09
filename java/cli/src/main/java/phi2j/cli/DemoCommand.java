package phi2j.cli;

import phi2j.runtime.GenerationOptions;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.Phi2Model;
import phi2j.runtime.TokenStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;

@Command(name = "demo", mixinStandardHelpOptions = true, description = {"Run the walkthrough's six prompts (greedy, max_length 500) and time each answer.",
        "Default model: the catalog's Phi-2 Q4_K_M in the models folder."}, sortOptions = false)
public final class DemoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelMixin model;

    @Mixin
    LoggingMixin logging;

    @Option(names = "--max-length", paramLabel = "N", description = "Prompt plus generated tokens per answer (default: ${DEFAULT-VALUE}, as the walkthrough).")
    int maxLength = 500;

    @Option(names = "--only", paramLabel = "N", description = "Run only task N (1-6).")
    Integer only;

    @Override
    public Integer call() {
        logging.apply();
        if (only != null && (only < 1 || only > DemoPrompts.TASKS.size())) {
            throw new phi2j.InvalidOptionException("--only", "must be 1 to " + DemoPrompts.TASKS.size() + ", not " + only);
        }
        GenerationOptions options = GenerationOptions.greedy().withMaxLength(maxLength);
        options.validate();
        var modelOptions = model.options();
        PrintWriter out = spec.commandLine().getOut();

        List<String[]> rows = new ArrayList<>();
        try (Phi2Model m = Phi2Model.open(model.modelPath(), modelOptions)) {
            out.println("Model " + m.info().name() + " (" + m.info().path() + ")");
            out.println("Loaded in " + Format.seconds(m.loadTime()) + " seconds");
            AtomicReference<TokenStream> current = new AtomicReference<>();
            Interrupts.onCtrlC(() -> {
                TokenStream s = current.get();
                if (s != null) {
                    s.cancel();
                }
            });
            try {
                for (int i = 0; i < DemoPrompts.TASKS.size(); i++) {
                    if (only != null && only != i + 1) {
                        continue;
                    }
                    DemoPrompts.Task task = DemoPrompts.TASKS.get(i);
                    out.println();
                    out.println("=== [" + (i + 1) + "/" + DemoPrompts.TASKS.size() + "] " + task.title());
                    out.println(task.prompt().stripTrailing());
                    out.println("---");
                    out.flush();
                    GenerationResult r;
                    try (TokenStream s = m.stream(task.prompt(), options)) {
                        current.set(s);
                        while (s.hasNext()) {
                            out.print(s.next());
                            out.flush();
                        }
                        r = s.result();
                    }
                    out.println();
                    out.println("Generated in " + Format.seconds(r.timings().total()) + " seconds (" + r.generatedTokens()
                            + " tokens, " + Format.rate(r.timings().tokensPerSecond()) + " tokens/s, stop: " + Format.stop(r.stopReason()) + ")");
                    rows.add(new String[] {String.valueOf(i + 1), task.title(), String.valueOf(r.promptTokens()),
                            String.valueOf(r.generatedTokens()), Format.seconds(r.timings().total()),
                            Format.rate(r.timings().tokensPerSecond()), Format.stop(r.stopReason()),
                            String.format(Locale.ROOT, "%.2f", task.walkthroughSeconds())});
                    if (r.stopReason() == phi2j.runtime.StopReason.CANCELLED) {
                        break;
                    }
                }
            } finally {
                Interrupts.reset();
            }
            out.println();
            out.println(table(List.of("#", "task", "prompt tok", "new tok", "seconds", "tok/s", "stop", "walkthrough MI210 s"), rows));
            out.flush();
        }
        return rows.size() == (only == null ? DemoPrompts.TASKS.size() : 1) ? Main.OK : Main.INTERRUPTED;
    }

    /** A markdown table with padded columns. */
    static String table(List<String> header, List<String[]> rows) {
        int[] w = new int[header.size()];
        for (int c = 0; c < w.length; c++) {
            w[c] = header.get(c).length();
            for (String[] r : rows) {
                w[c] = Math.max(w[c], r[c].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        line(sb, header.toArray(String[]::new), w);
        String[] dashes = new String[w.length];
        for (int c = 0; c < w.length; c++) {
            dashes[c] = "-".repeat(w[c]);
        }
        line(sb, dashes, w);
        for (String[] r : rows) {
            line(sb, r, w);
        }
        return sb.toString().stripTrailing();
    }

    private static void line(StringBuilder sb, String[] cells, int[] w) {
        sb.append('|');
        for (int c = 0; c < w.length; c++) {
            sb.append(' ').append(cells[c]).append(" ".repeat(w[c] - cells[c].length())).append(" |");
        }
        sb.append('\n');
    }
}
