package phi2j.runtime.internal;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The runner's log, read line by line: kept as a short tail for crash reports, and scanned for the binding's build
 * and system_info lines (the native engine reports both directly).
 */
public final class NativeLog {
    private static final int TAIL = 40;

    private final ArrayDeque<String> tail = new ArrayDeque<>();
    private static final Pattern BUILD = Pattern.compile("^build: (\\d+ \\([0-9a-f]+\\))");
    private static final Pattern SYSTEM = Pattern.compile("^system_info: .*?\\| (.*)$");
    private volatile String build = "unknown";
    private volatile String systemInfo = "unknown";

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
}
