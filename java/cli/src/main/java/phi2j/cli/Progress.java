package phi2j.cli;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;

/** A progress bar on stderr (never stdout), shown only when stderr is a terminal or when asked. */
final class Progress implements AutoCloseable {
    private final ProgressBar bar;

    Progress(String task, long total, String unit, long unitSize) {
        PrintStream err = System.err;
        boolean show = System.console() != null || Boolean.getBoolean("phi2.progress");
        bar = show ? new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                .setUnit(unit, unitSize).showSpeed().setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(err))
                .build() : null;
    }

    void max(long total) {
        if (bar != null && bar.getMax() != total) {
            bar.maxHint(total);
        }
    }

    void update(long done, String extra) {
        if (bar != null) {
            bar.stepTo(done);
            bar.setExtraMessage(extra.length() > 28 ? extra.substring(0, 28) : extra);
        }
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
