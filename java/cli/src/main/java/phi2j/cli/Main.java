package phi2j.cli;

import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;
import picocli.CommandLine;

/** Entry point of the {@code phi2} command; the only place that calls {@link System#exit}. */
public final class Main {
    /**
     * Exit codes: 0 success, 1 a check ran and failed (phi2 verify), 2 bad usage or input, 3 runtime or native failure,
     * 130 interrupted by Ctrl-C.
     */
    public static final int OK = 0;
    public static final int CHECK_FAILED = 1;
    public static final int BAD_INPUT = 2;
    public static final int FAILURE = 3;
    public static final int INTERRUPTED = 130;

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /**
     * The flag that sets API field {@code field} in the command that ran: the option whose Java field (in the command
     * or its mixins) has the API field's name, spelled as the user typed it, else by its longest name; null when no
     * option sets it. The library reports errors by API field; the CLI's option fields carry the same names.
     */
    static String flag(CommandLine line, java.util.List<String> typed, String field) {
        for (CommandLine.Model.OptionSpec o : line.getCommandSpec().options()) {
            if (o.userObject() instanceof java.lang.reflect.Field f && f.getName().equals(field)) {
                return java.util.Arrays.stream(o.names()).filter(n -> typed.stream().anyMatch(a -> a.equals(n) || a.startsWith(n + "=")))
                        .findFirst().orElse(o.longestName());
            }
        }
        return null;
    }

    /** {@code e}'s message with the flag in place of the API field, where an option of the command sets it. */
    static String describe(CommandLine line, java.util.List<String> typed, InvalidOptionException e) {
        String flag = flag(line, typed, e.option());
        return flag != null ? flag + ": " + e.problem() : e.getMessage();
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
            if (ex instanceof InvalidOptionException ioe) {
                // the library names its API fields; the command line names its flags
                line.getErr().println("phi2: " + describe(line, parseResult.originalArgs(), ioe));
                return BAD_INPUT;
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
