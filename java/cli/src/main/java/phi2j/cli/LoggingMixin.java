package phi2j.cli;

import picocli.CommandLine.Option;

import java.util.logging.ConsoleHandler;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/** {@code --verbose}: llama.cpp's log (from the runner) and stack traces on stderr. Quiet otherwise. */
public final class LoggingMixin {
    private static final Logger PROJECT = Logger.getLogger("phi2j");

    @Option(names = {"-v", "--verbose"}, description = "Show llama.cpp's log lines and stack traces on stderr.")
    boolean verbose;

    /** Applies the setting; called by each command before it works. */
    public void apply() {
        for (Handler h : PROJECT.getHandlers()) {
            PROJECT.removeHandler(h);
        }
        PROJECT.setUseParentHandlers(false);
        ConsoleHandler h = new ConsoleHandler(); // writes to stderr, never stdout
        h.setFormatter(new SimpleFormatter() {
            @Override
            public String format(LogRecord r) {
                String src = r.getLoggerName().equals("phi2j.runner") ? "[llama.cpp] " : "[" + r.getLevel() + "] ";
                return src + r.getMessage() + System.lineSeparator();
            }
        });
        Level level = verbose ? Level.ALL : Level.WARNING;
        h.setLevel(level);
        PROJECT.setLevel(level);
        PROJECT.addHandler(h);
    }
}
