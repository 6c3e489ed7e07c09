package phi2j.robustness;

import phi2j.runtime.GenerationOptions;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;

import java.nio.file.Path;

/** A caller JVM for the tests: opens a model, prints its runner's pid, generates, then waits to be killed or exits without closing. */
public final class CallerMain {
    private CallerMain() {
    }

    public static void main(String[] args) throws Exception {
        Phi2Model m = Phi2Model.open(Path.of(args[0]), ModelOptions.defaults().withContextSize(128).withThreads(1));
        m.generate("Hi", GenerationOptions.greedy().withMaxNewTokens(2));
        System.out.println("runner " + m.runnerPid());
        System.out.flush();
        if (args.length > 1 && args[1].equals("exit")) {
            Runtime.getRuntime().halt(0); // dies without closing the model
        }
        Thread.sleep(600_000);
    }
}
