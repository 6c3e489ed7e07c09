package phi2j.cli;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;

/** A progress bar on stderr (never stdout), shown only when stderr is a terminal or when asked. */
final class TerminalProgress implements phi2j.Progress, AutoCloseable {
    private final ProgressBar bar;

    TerminalProgress(String task, String unit, long unitSize) {
        PrintStream err = System.err;
        boolean show = System.console() != null || Boolean.getBoolean("phi2.progress");
        bar = show ? new ProgressBarBuilder().setTaskName(task).setInitialMax(1).setStyle(ProgressBarStyle.ASCII)
                .setUnit(unit, unitSize).showSpeed().setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(err))
                .build() : null;
    }

    @Override
    public void update(long done, long total, String extra) {
        if (bar != null) {
            if (total > 0 && bar.getMax() != total) {
                bar.maxHint(total);
            }
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
