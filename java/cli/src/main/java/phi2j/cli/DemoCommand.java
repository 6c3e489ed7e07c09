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

@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Run the walkthrough's six prompts and time each answer.",
        description = {"Run the walkthrough's six prompts verbatim (greedy, max_length 500) and print what it printed: "
                + "\"Loaded in N seconds\", then for each prompt \"Generated in N seconds\" and the prompt with its answer, "
                + "cut at the first <|endoftext|>; then a table beside the walkthrough's MI210 seconds.",
                "Default model: the catalog's Phi-2 Q4_K_M in the models folder."})
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

    @Option(names = "--answers-only", description = "Print each answer without its prompt.")
    boolean answersOnly;

    @Option(names = "--stream", description = "Print each answer as it is generated (then its \"Generated in\" line).")
    boolean stream;

    @Option(names = "--compare", description = "Say how close each answer is to the walkthrough's published one (share of its words in the same order).")
    boolean compare;

    @Override
    public Integer call() {
        logging.apply();
        int tasks = DemoPrompts.TASKS.size();
        if (only != null && (only < 1 || only > tasks)) {
            throw new phi2j.InvalidOptionException("--only", "must be 1 to " + tasks + ", not " + only);
        }
        if (maxLength < 2) {
            throw new phi2j.InvalidOptionException("--max-length", "must be at least 2 (prompt plus one new token), not " + maxLength);
        }
        GenerationOptions options = GenerationOptions.greedy().withMaxLength(maxLength);
        var modelOptions = model.options();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();

        List<String[]> rows = new ArrayList<>();
        try (Phi2Model m = Phi2Model.open(model.modelPath(), modelOptions)) {
            err.println("Model " + m.info().name() + " (" + m.info().path() + "), engine " + m.info().engine().label() + " " + m.info().llamaCpp());
            err.flush();
            out.println("Loaded in " + Format.seconds(m.loadTime()) + " seconds");
            out.flush();
            for (DemoPrompts.Task task : DemoPrompts.TASKS) {
                if (only != null && only != task.id()) {
                    continue;
                }
                GenerationResult r = run(m, task, options, out);
                String text = (answersOnly ? "" : task.prompt()) + r.text();
                if (stream) {
                    out.println();
                    out.println("Generated in " + Format.seconds(r.timings().total()) + " seconds");
                } else {
                    out.println("Generated in " + Format.seconds(r.timings().total()) + " seconds");
                    out.println(text);
                }
                if (compare) {
                    double sim = DemoPrompts.similarity(task.prompt() + r.text(), task.answer());
                    out.println(String.format(Locale.ROOT, "Compared with the walkthrough's answer: %.0f%% of its words in the same order",
                            100 * sim));
                }
                out.flush();
                double seconds = r.timings().total().toNanos() / 1e9;
                rows.add(new String[] {String.valueOf(task.id()), task.title(), String.valueOf(r.promptTokens()),
                        String.valueOf(r.generatedTokens()), Format.seconds(r.timings().total()),
                        Format.rate(r.timings().tokensPerSecond()), Format.stop(r.stopReason()),
                        String.format(Locale.ROOT, "%.2f", task.walkthroughSeconds()),
                        String.format(Locale.ROOT, "%.1fx", task.walkthroughSeconds() / Math.max(seconds, 1e-9))});
                if (r.stopReason() == phi2j.runtime.StopReason.CANCELLED) {
                    break;
                }
            }
            out.println();
            out.println(MarkdownTable.render(List.of("#", "task", "prompt tok", "new tok", "seconds", "tok/s", "stop", "walkthrough MI210 s", "speed-up"), rows));
            out.flush();
        }
        return rows.size() == (only == null ? tasks : 1) ? Main.OK : Main.INTERRUPTED;
    }

    /** One task's generation; with --stream its text is printed as it comes (the prompt first). */
    private GenerationResult run(Phi2Model m, DemoPrompts.Task task, GenerationOptions options, PrintWriter out) {
        try (TokenStream s = m.stream(task.prompt(), options)) {
            if (stream && !answersOnly) {
                out.print(task.prompt());
            }
            return Interrupts.drain(s, piece -> {
                if (stream) {
                    out.print(piece);
                    out.flush();
                }
            });
        }
    }
}
