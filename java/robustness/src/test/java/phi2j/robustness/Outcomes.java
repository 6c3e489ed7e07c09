package phi2j.robustness;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** Counts of outcomes per fuzzing run, and the slowest case, printed as the run's report. */
final class Outcomes {
    private final String name;
    private final Map<String, Integer> counts = new LinkedHashMap<>();
    private long slowestNanos;
    private String slowest = "";
    private int cases;

    Outcomes(String name) {
        this.name = name;
    }

    synchronized void add(String outcome, String caseName, long nanos) {
        cases++;
        counts.merge(outcome, 1, Integer::sum);
        if (nanos > slowestNanos) {
            slowestNanos = nanos;
            slowest = caseName;
        }
    }

    int cases() {
        return cases;
    }

    int count(String outcome) {
        return counts.getOrDefault(outcome, 0);
    }

    String report() {
        return String.format(Locale.ROOT, "%s: %d cases %s; slowest %.2f s (%s)", name, cases, counts, slowestNanos / 1e9, slowest);
    }
}
