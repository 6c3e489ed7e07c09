package phi2j.runtime.internal;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The runner's log, read line by line: kept as a short tail for crash reports, and scanned for llama.cpp's
 * per-request timing block, which is the only place the pinned binding reports exact token counts:
 * <pre>
 * slot print_timing: id  0 | task 7 |
 * prompt eval time =       1.12 ms /     9 tokens (...)
 *        eval time =     124.45 ms /    40 tokens (...)
 * </pre>
 */
public final class NativeLog {
    /** llama.cpp's own figures for one finished request. */
    public record SlotTiming(double promptMillis, int promptTokens, double evalMillis, int evalTokens) {
    }

    private static final Pattern PROMPT = Pattern.compile("^prompt eval time =\\s*([0-9.]+) ms /\\s*(\\d+) tokens");
    private static final Pattern EVAL = Pattern.compile("^eval time =\\s*([0-9.]+) ms /\\s*(\\d+) tokens");
    private static final int TAIL = 40;

    private final ArrayDeque<String> tail = new ArrayDeque<>();
    private final BlockingQueue<SlotTiming> timings = new LinkedBlockingQueue<>();
    private static final Pattern BUILD = Pattern.compile("^build: (\\d+ \\([0-9a-f]+\\))");
    private static final Pattern SYSTEM = Pattern.compile("^system_info: .*?\\| (.*)$");
    private volatile String build = "unknown";
    private volatile String systemInfo = "unknown";
    private double promptMillis = -1;
    private int promptTokens;

    /** Takes one line of the runner's output. */
    public void accept(String line) {
        synchronized (tail) {
            if (tail.size() == TAIL) {
                tail.removeFirst();
            }
            tail.addLast(line);
        }
        String t = line.strip();
        Matcher b = BUILD.matcher(t);
        if (b.find()) {
            build = b.group(1);
            return;
        }
        Matcher si = SYSTEM.matcher(t);
        if (si.find()) {
            systemInfo = si.group(1).strip();
            return;
        }
        Matcher m = PROMPT.matcher(t);
        if (m.find()) {
            promptMillis = Double.parseDouble(m.group(1));
            promptTokens = Integer.parseInt(m.group(2));
            return;
        }
        m = EVAL.matcher(t);
        if (m.find() && promptMillis >= 0) {
            timings.add(new SlotTiming(promptMillis, promptTokens, Double.parseDouble(m.group(1)), Integer.parseInt(m.group(2))));
            promptMillis = -1;
        }
    }

    /** llama.cpp's build as its log states it, for example "4916 (c6af2161)". */
    public String build() {
        return build;
    }

    /** Sets the system_info line when the engine reports it directly rather than in the log. */
    public void systemInfo(String line) {
        Matcher si = SYSTEM.matcher("system_info: " + line);
        systemInfo = si.find() ? si.group(1).strip() : line;
    }

    /** llama.cpp's system_info line after the thread counts: the backends and CPU features. */
    public String systemInfo() {
        return systemInfo;
    }

    public List<String> tail() {
        synchronized (tail) {
            return new ArrayList<>(tail);
        }
    }

    /** Forgets timings of earlier requests, before a new one starts. */
    public void clearTimings() {
        timings.clear();
    }

    /** The next request's timing block, waiting up to {@code millis} for llama.cpp's asynchronous logger. */
    public SlotTiming awaitTiming(long millis) throws InterruptedException {
        return timings.poll(millis, TimeUnit.MILLISECONDS);
    }
}
