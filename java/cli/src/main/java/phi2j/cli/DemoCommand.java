package phi2j.cli;

import phi2j.report.MarkdownTable;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.Phi2Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
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

        List<DemoPrompts.Task> chosen = DemoPrompts.TASKS.stream().filter(t -> only == null || only == t.id()).toList();
        List<DemoRunner.TaskResult> done;
        try (Phi2Model m = Phi2Model.open(model.modelPath(), modelOptions)) {
            err.println("Model " + m.info().name() + " (" + m.info().path() + "), engine " + m.info().engine().label() + " " + m.info().llamaCpp()
                    + ", " + m.info().placement().summary());
            err.flush();
            out.println("Loaded in " + Format.seconds(m.loadTime()) + " seconds");
            out.flush();
            done = DemoRunner.run(m, chosen, options, printer(out));
        }
        List<String[]> rows = done.stream().map(t -> new String[] {String.valueOf(t.task().id()), t.task().title(),
                String.valueOf(t.result().promptTokens()), String.valueOf(t.result().generatedTokens()), Format.seconds(t.result().timings().total()),
                Format.rate(t.result().timings().tokensPerSecond()), Format.stop(t.result().stopReason()), t.walkthroughSeconds(), t.speedUp()}).toList();
        out.println();
        out.println(MarkdownTable.render(List.of("#", "task", "prompt tok", "new tok", "seconds", "tok/s", "stop", "walkthrough MI210 s", "speed-up"), rows));
        out.flush();
        boolean all = done.size() == chosen.size() && done.stream().noneMatch(t -> t.result().stopReason() == phi2j.runtime.StopReason.CANCELLED);
        return all ? Main.OK : Main.INTERRUPTED;
    }

    /**
     * What the walkthrough printed per task: "Generated in N seconds", then the prompt and its answer (with --stream the
     * text as it comes, then the line); with --compare how close the answer is to the published one.
     */
    private DemoRunner.Listener printer(PrintWriter out) {
        return new DemoRunner.Listener() {
            @Override
            public void before(DemoPrompts.Task task) {
                if (stream && !answersOnly) {
                    out.print(task.prompt());
                }
            }

            @Override
            public void piece(String text) {
                if (stream) {
                    out.print(text);
                    out.flush();
                }
            }

            @Override
            public void after(DemoRunner.TaskResult t) {
                String generated = "Generated in " + Format.seconds(t.result().timings().total()) + " seconds";
                if (stream) {
                    out.println();
                    out.println(generated);
                } else {
                    out.println(generated);
                    out.println((answersOnly ? "" : t.task().prompt()) + t.result().text());
                }
                if (compare) {
                    double sim = DemoPrompts.answerSimilarity(t.task(), t.result().text());
                    out.println(String.format(Locale.ROOT, "Compared with the walkthrough's answer: %.0f%% of its words in the same order",
                            100 * sim));
                }
                out.flush();
            }
        };
    }
}
