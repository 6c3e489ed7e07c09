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

    /** The flag that sets each API field, for errors the library reports by field name. */
    static final java.util.Map<String, String> FLAGS = java.util.Map.ofEntries(
            java.util.Map.entry("maxLength", "--max-length"), java.util.Map.entry("maxNewTokens", "-n"),
            java.util.Map.entry("temperature", "--temperature"), java.util.Map.entry("topK", "--top-k"),
            java.util.Map.entry("topP", "--top-p"), java.util.Map.entry("minP", "--min-p"),
            java.util.Map.entry("repetitionPenalty", "--repeat-penalty"), java.util.Map.entry("seed", "--seed"),
            java.util.Map.entry("stopStrings", "--stop"), java.util.Map.entry("logprobs", "--logprobs"),
            java.util.Map.entry("prompt", "-p"), java.util.Map.entry("contextSize", "-c"), java.util.Map.entry("threads", "-t"),
            java.util.Map.entry("gpuLayers", "-ngl"), java.util.Map.entry("splitMode", "-sm"), java.util.Map.entry("tensorSplit", "-ts"),
            java.util.Map.entry("mainGpu", "-mg"), java.util.Map.entry("engine", "--engine"));

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
            if (ex instanceof InvalidOptionException ioe && FLAGS.containsKey(ioe.option())) {
                // the library names its API fields; the command line names its flags
                line.getErr().println("phi2: " + FLAGS.get(ioe.option()) + ": " + ioe.problem());
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
