package phi2j.cli;

import phi2j.runtime.GenerationOptions;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.Phi2Model;
import phi2j.runtime.StopReason;
import phi2j.runtime.TokenStream;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The walkthrough's tasks on one open model, one after another, each streamed with Ctrl-C cancelling it (which
 * ends the run): the one loop of {@code phi2 demo} and {@code phi2 bench --demo}.
 */
final class DemoRunner {
    /** One task's answer beside the walkthrough's MI210 time. */
    record TaskResult(DemoPrompts.Task task, GenerationResult result) {
        double seconds() {
            return result.timings().total().toNanos() / 1e9;
        }

        /** "8.3x": the walkthrough's seconds over ours. */
        String speedUp() {
            return String.format(Locale.ROOT, "%.1fx", task.walkthroughSeconds() / Math.max(seconds(), 1e-9));
        }

        String walkthroughSeconds() {
            return String.format(Locale.ROOT, "%.2f", task.walkthroughSeconds());
        }
    }

    /** Told as the run goes: before each task, each piece of its answer, and its result. */
    interface Listener {
        default void before(DemoPrompts.Task task) {
        }

        default void piece(String text) {
        }

        void after(TaskResult r);
    }

    private DemoRunner() {
    }

    /** Runs {@code tasks} in order; stops early when one is cancelled (Ctrl-C). Returns what ran. */
    static List<TaskResult> run(Phi2Model m, List<DemoPrompts.Task> tasks, GenerationOptions options, Listener listener) {
        List<TaskResult> out = new ArrayList<>();
        for (DemoPrompts.Task task : tasks) {
            listener.before(task);
            GenerationResult r;
            try (TokenStream s = m.stream(task.prompt(), options)) {
                r = Interrupts.drain(s, listener::piece);
            }
            TaskResult t = new TaskResult(task, r);
            out.add(t);
            listener.after(t);
            if (r.stopReason() == StopReason.CANCELLED) {
                break;
            }
        }
        return out;
    }
}
