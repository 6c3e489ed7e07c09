package phi2j.runtime;

import java.util.List;

/**
 * The runner stopped showing signs of life for longer than {@link ModelOptions#stallTimeout()} while work was
 * waiting on it (stopped, hung, or starved), so it was killed. The model is unusable; open it again.
 */
public class RunnerStalledException extends RunnerCrashedException {
    public RunnerStalledException(String what, Integer exitStatus, List<String> logTail) {
        super(what, exitStatus, logTail);
    }
}
