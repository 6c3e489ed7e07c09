package phi2j.report;

import java.util.List;

/** A markdown table with padded columns: the one table renderer of the CLI's and the benchmarks' reports. */
public final class MarkdownTable {
    private MarkdownTable() {
    }

    /** Every column left-aligned. */
    public static String render(List<String> header, List<String[]> rows) {
        return render(header, rows, Integer.MAX_VALUE);
    }

    /** Columns from index {@code firstNumeric} on are right-aligned (and their separator says so: {@code ---:}). */
    public static String render(List<String> header, List<String[]> rows, int firstNumeric) {
        int[] w = new int[header.size()];
        for (int c = 0; c < w.length; c++) {
            w[c] = Math.max(c >= firstNumeric ? 2 : 1, header.get(c).length()); // "-:" needs two
            for (String[] r : rows) {
                w[c] = Math.max(w[c], r[c].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        line(sb, header.toArray(String[]::new), w, Integer.MAX_VALUE);
        String[] dashes = new String[w.length];
        for (int c = 0; c < w.length; c++) {
            dashes[c] = c >= firstNumeric ? "-".repeat(w[c] - 1) + ":" : "-".repeat(w[c]);
        }
        line(sb, dashes, w, Integer.MAX_VALUE);
        for (String[] r : rows) {
            line(sb, r, w, firstNumeric);
        }
        return sb.toString().stripTrailing();
    }

    private static void line(StringBuilder sb, String[] cells, int[] w, int firstRight) {
        sb.append('|');
        for (int c = 0; c < w.length; c++) {
            String pad = " ".repeat(w[c] - cells[c].length());
            sb.append(' ').append(c >= firstRight ? pad + cells[c] : cells[c] + pad).append(" |");
        }
        sb.append('\n');
    }
}
