package phi2j.runtime;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Where opening a model went, in the order it happens. The stages add up to {@link ModelInfo#loadTime()}; those an
 * engine cannot report (the binding says nothing of llama.cpp's stages) are null.
 *
 * @param fileCheck   the GGUF file read and checked in Java
 * @param runnerStart the runner process started and connected (its JVM's start), and the frames' way there and back
 * @param engine      the engine's library and its backends loaded in the runner
 * @param model       llama.cpp's model load: the file mapped and read, weights placed (and repacked for the CPU)
 * @param context     llama.cpp's context: the KV cache and the compute buffers
 * @param warmup      one warm-up decode, as llama.cpp's own tools do, so the first request does not pay for it
 */
public record LoadBreakdown(Duration fileCheck, Duration runnerStart, Duration engine, Duration model, Duration context, Duration warmup) {
    /** "file check 0.02 s, runner start 0.41 s, engine 0.05 s, model 2.80 s, context 0.10 s, warm-up 0.40 s". */
    public String summary() {
        List<String> parts = new ArrayList<>();
        String[] names = {"file check", "runner start", "engine", "model", "context", "warm-up"};
        Duration[] values = {fileCheck, runnerStart, engine, model, context, warmup};
        for (int i = 0; i < names.length; i++) {
            if (values[i] != null) {
                parts.add(String.format(Locale.ROOT, "%s %.2f s", names[i], values[i].toNanos() / 1e9));
            }
        }
        return String.join(", ", parts);
    }

    /** The sum of the stages reported. */
    public Duration total() {
        Duration t = Duration.ZERO;
        for (Duration d : new Duration[] {fileCheck, runnerStart, engine, model, context, warmup}) {
            t = d == null ? t : t.plus(d);
        }
        return t;
    }
}
