package phi2j.cli;

import java.time.Duration;
import java.util.Locale;

/** Number formatting shared by the commands. */
public final class Format {
    private Format() {
    }

    static String seconds(Duration d) {
        return String.format(Locale.ROOT, "%.2f", d.toNanos() / 1e9);
    }

    static String rate(double perSecond) {
        return String.format(Locale.ROOT, "%.1f", perSecond);
    }

    /** Binary units, as llama.cpp prints sizes: "2.73 MiB", "1.62 GiB". */
    public static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.2f %s", v, units[u]);
    }

    /** Decimal units, as the model catalog (and Hugging Face) gives sizes: "2.86 MB", "1.79 GB". */
    public static String decimalBytes(long n) {
        if (n < 1000) {
            return n + " B";
        }
        String[] units = {"kB", "MB", "GB", "TB"};
        double v = n;
        int u = -1;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return String.format(Locale.ROOT, "%.2f %s", v, units[u]);
    }

    static String stop(phi2j.runtime.StopReason r) {
        return r.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
