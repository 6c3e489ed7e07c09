package phi2j.cli;

import phi2j.Phi2Exception;
import picocli.CommandLine;

/** Entry point of the {@code phi2} command; the only place that calls {@link System#exit}. */
public final class Main {
    /** Exit codes: 0 success, 2 bad usage or input, 3 runtime or native failure, 130 interrupted by Ctrl-C. */
    public static final int OK = 0;
    public static final int BAD_INPUT = 2;
    public static final int FAILURE = 3;
    public static final int INTERRUPTED = 130;

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code; tests call this. */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Phi2Command());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionExceptionHandler((ex, line, parseResult) -> {
            boolean verbose = parseResult.originalArgs().contains("--verbose") || parseResult.originalArgs().contains("-v");
            if (verbose) {
                ex.printStackTrace(line.getErr());
            }
            if (ex instanceof Phi2Exception pe) {
                line.getErr().println("phi2: " + pe.getMessage());
                return pe.isUserError() ? BAD_INPUT : FAILURE;
            }
            line.getErr().println("phi2: internal error: " + ex + (verbose ? "" : " (run with --verbose for the stack trace)"));
            return FAILURE;
        });
        cl.setExitCodeExceptionMapper(ex -> BAD_INPUT);
        return cl;
    }
}
