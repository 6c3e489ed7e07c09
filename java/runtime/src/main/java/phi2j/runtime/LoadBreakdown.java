package phi2j.runtime;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Where opening a model went, in the order it happens. The stages add up to {@link ModelInfo#loadTime()}; those an
 * engine cannot report (the binding says nothing of llama.cpp's stages) are null.
 *
 * @param fileCheck   the GGUF file read and checked in Java (the runner starts meanwhile, and the file is read into
 *                    the page cache beside both)
 * @param runnerStart the wait for the runner process beyond the file check: its JVM's start and connection, and the
 *                    frames' way there and back
 * @param engine      the engine's library and its backends loaded in the runner
 * @param model       llama.cpp's model load: the file mapped and read, weights placed (and repacked for the CPU)
 * @param context     llama.cpp's context: the KV cache and the compute buffers
 * @param warmup      one warm-up decode, as llama.cpp's own tools do, so the first request does not pay for it
 */
public record LoadBreakdown(Duration fileCheck, Duration runnerStart, Duration engine, Duration model, Duration context, Duration warmup) {
    /** One stage: its key (as in JSON, {@code runnerStart}), its words ({@code runner start}) and its duration. */
    public record Stage(String key, String words, Duration duration) {
    }

    /** The stages reported, in the order they happen; the one list the summary, the total and JSON output read. */
    public List<Stage> stages() {
        List<Stage> all = new ArrayList<>();
        add(all, "fileCheck", "file check", fileCheck);
        add(all, "runnerStart", "runner start", runnerStart);
        add(all, "engine", "engine", engine);
        add(all, "model", "model", model);
        add(all, "context", "context", context);
        add(all, "warmup", "warm-up", warmup);
        return List.copyOf(all);
    }

    private static void add(List<Stage> all, String key, String words, Duration d) {
        if (d != null) {
            all.add(new Stage(key, words, d));
        }
    }

    /** "file check 0.02 s, runner start 0.41 s, engine 0.05 s, model 2.80 s, context 0.10 s, warm-up 0.40 s". */
    public String summary() {
        List<String> parts = new ArrayList<>();
        for (Stage s : stages()) {
            parts.add(String.format(Locale.ROOT, "%s %.2f s", s.words(), s.duration().toNanos() / 1e9));
        }
        return String.join(", ", parts);
    }

    /** The sum of the stages reported. */
    public Duration total() {
        return stages().stream().map(Stage::duration).reduce(Duration.ZERO, Duration::plus);
    }
}
