package phi2j.runtime;

import phi2j.Phi2Exception;

import java.util.List;

/**
 * The runner process that held a model died, was killed, or stopped answering. The model is unusable;
 * open it again. The message carries the exit status and the last lines the runner logged.
 */
public class RunnerCrashedException extends Phi2Exception {
    private final Integer exitStatus;
    private final List<String> logTail;

    public RunnerCrashedException(String what, Integer exitStatus, List<String> logTail) {
        super(what + (exitStatus == null ? "" : " (exit status " + exitStatus + describe(exitStatus) + ")")
                + "; open the model again" + (logTail.isEmpty() ? "" : ". Last runner log lines:\n  " + String.join("\n  ", logTail)));
        this.exitStatus = exitStatus;
        this.logTail = List.copyOf(logTail);
    }

    private static String describe(int status) {
        return status > 128 && status < 160 ? ", killed by signal " + (status - 128) : "";
    }

    /** The runner's exit status, or null when it was still running (a hang). */
    public Integer exitStatus() {
        return exitStatus;
    }

    public List<String> logTail() {
        return logTail;
    }
}
