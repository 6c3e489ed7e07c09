package phi2j.cli;

import phi2j.format.GgmlType;
import phi2j.runtime.TokenLogprob;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The arithmetic of {@code phi2 verify}: two next-token distributions per position (each as its top-N log-probabilities)
 * compared by top-1 agreement, the largest probability difference and the KL divergence, against tolerances per
 * weight type. The lists are top-N only, so the rest of each distribution is one bucket: a token missing from a list
 * counts with probability 0 in |dp| (an over-estimate of at most that list's smallest entry) and, in the KL, with
 * that list's smallest probability; the KL is then taken over the reference's tokens plus the remaining mass.
 */
final class Verification {
    /** How far two runs may differ for a weight type: per-position |dp|, mean KL over all positions. */
    record Tolerance(double maxAbsDp, double meanKl) {
        Tolerance {
            if (!(maxAbsDp > 0 && meanKl > 0)) {
                throw new IllegalArgumentException("tolerances must be positive");
            }
        }
    }

    /** The tolerance table, most precise first; a type not listed gets the last (loosest) row. */
    private static final List<Map.Entry<List<GgmlType>, Tolerance>> TOLERANCES = List.of(
            Map.entry(List.of(GgmlType.F32), new Tolerance(2e-3, 1e-4)),
            Map.entry(List.of(GgmlType.F16, GgmlType.BF16), new Tolerance(1e-2, 1e-3)),
            Map.entry(List.of(GgmlType.Q8_0), new Tolerance(5e-2, 1e-2)),
            Map.entry(List.of(GgmlType.Q6_K, GgmlType.Q5_K, GgmlType.Q5_0, GgmlType.Q5_1), new Tolerance(8e-2, 3e-2)),
            Map.entry(List.of(), new Tolerance(0.15, 0.1)));

    static Tolerance tolerance(GgmlType type) {
        for (var row : TOLERANCES) {
            if (row.getKey().contains(type)) {
                return row.getValue();
            }
        }
        return TOLERANCES.get(TOLERANCES.size() - 1).getValue();
    }

    /** The looser of two types' tolerances: a comparison is as precise as its less precise side. */
    static Tolerance tolerance(GgmlType a, GgmlType b) {
        Tolerance x = tolerance(a);
        Tolerance y = tolerance(b);
        return x.maxAbsDp() >= y.maxAbsDp() ? x : y;
    }

    /** One position: which prompt, how many of its tokens were the context, and what the two sides said. */
    record Position(int prompt, int contextTokens, boolean top1Agrees, boolean confidentDisagreement, double maxAbsDp, double kl,
                    String referenceTop, String testedTop) {
    }

    /**
     * Compares one position. {@code reference} and {@code tested} are the candidates, most likely first. A top-1
     * disagreement is confident when the reference's first choice leads its second by more than {@code tol.maxAbsDp}:
     * a near tie may flip on rounding alone.
     */
    static Position compare(int prompt, int contextTokens, List<TokenLogprob.Alternative> reference, List<TokenLogprob.Alternative> tested,
                            Tolerance tol) {
        if (reference.isEmpty() || tested.isEmpty()) {
            throw new IllegalArgumentException("no candidates at prompt " + prompt + ", position " + contextTokens);
        }
        Map<Integer, Double> r = probabilities(reference);
        Map<Integer, Double> t = probabilities(tested);
        double dp = 0;
        for (int token : union(r, t)) {
            dp = Math.max(dp, Math.abs(r.getOrDefault(token, 0.0) - t.getOrDefault(token, 0.0)));
        }
        double tMin = t.values().stream().mapToDouble(Double::doubleValue).min().orElse(0);
        double kl = 0;
        double rMass = 0;
        double tMass = 0;
        for (var e : r.entrySet()) {
            double p = e.getValue();
            double q = Math.max(t.getOrDefault(e.getKey(), tMin), 1e-12);
            kl += p * Math.log(p / q);
            rMass += p;
            tMass += q;
        }
        double rTail = Math.max(1 - rMass, 1e-12);
        double tTail = Math.max(1 - tMass, 1e-12);
        kl += rTail * Math.log(rTail / tTail);
        boolean agrees = reference.get(0).token() == tested.get(0).token();
        double lead = reference.size() > 1 ? Math.exp(reference.get(0).logprob()) - Math.exp(reference.get(1).logprob()) : 1;
        return new Position(prompt, contextTokens, agrees, !agrees && lead > tol.maxAbsDp(), dp, Math.max(0, kl),
                reference.get(0).text(), tested.get(0).text());
    }

    private static Map<Integer, Double> probabilities(List<TokenLogprob.Alternative> top) {
        Map<Integer, Double> m = new HashMap<>();
        for (TokenLogprob.Alternative a : top) {
            m.putIfAbsent(a.token(), Math.exp(a.logprob()));
        }
        return m;
    }

    private static List<Integer> union(Map<Integer, Double> a, Map<Integer, Double> b) {
        List<Integer> all = new ArrayList<>(a.keySet());
        b.keySet().stream().filter(k -> !a.containsKey(k)).forEach(all::add);
        return all;
    }

    /** The verdict over every position. */
    record Summary(int positions, int top1Agreements, double worstAbsDp, double meanKl, Tolerance tolerance, List<Position> failures) {
        boolean passed() {
            return failures.isEmpty() && meanKl <= tolerance.meanKl();
        }
    }

    static Summary summarize(List<Position> positions, Tolerance tol) {
        if (positions.isEmpty()) {
            throw new IllegalArgumentException("no positions were compared");
        }
        int agree = 0;
        double worst = 0;
        double kl = 0;
        List<Position> failures = new ArrayList<>();
        for (Position p : positions) {
            agree += p.top1Agrees() ? 1 : 0;
            worst = Math.max(worst, p.maxAbsDp());
            kl += p.kl();
            if (p.maxAbsDp() > tol.maxAbsDp() || p.confidentDisagreement()) {
                failures.add(p);
            }
        }
        return new Summary(positions.size(), agree, worst, kl / positions.size(), tol, List.copyOf(failures));
    }

    private Verification() {
    }
}
