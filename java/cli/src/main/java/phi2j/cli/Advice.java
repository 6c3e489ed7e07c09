package phi2j.cli;

import java.nio.file.Path;

/** Advice the CLI gives in more than one place, written once. */
public final class Advice {
    private Advice() {
    }

    /** phi2 as the user started it (the launcher passes its $0: ./phi2 in a checkout, bin/phi2 or phi2 elsewhere). */
    public static String phi2() {
        return System.getProperty("phi2.launcher", "phi2");
    }

    /** The commands that make the tiny random-weight model in the models folder and run the demo on it. */
    public static String tryTheTinyModel() {
        Path tiny = Catalog.modelsDir().resolve("synthetic-phi2-tiny.gguf");
        return phi2() + " synth -o " + tiny + " && " + phi2() + " demo -m " + tiny;
    }
}
