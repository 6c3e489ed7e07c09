package demo;

import phi2j.runtime.EngineChoice;
import phi2j.runtime.EngineKind;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.ModelInfo;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.runtime.StopReason;

import java.nio.file.Path;

/**
 * A Java application that depends on phi2j, as a user writes one: opens a model, generates 16 tokens greedily, and
 * checks where its engine came from. Usage: App MODEL.gguf native|binding. Throws (exit status 1) when the engine is
 * not the expected one; prints one line a consumer check compares across the ways of starting it.
 */
public final class App {
    public static void main(String[] args) {
        if (args.length != 2) {
            throw new IllegalArgumentException("usage: App MODEL.gguf native|binding");
        }
        run(Path.of(args[0]), args[1]);
    }

    public static void run(Path model, String expected) {
        int gpuLayers = System.getenv("PHI2_CONSUMER_GPU") != null ? -1 : 0; // all layers on a GPU backend, when one is added
        try (Phi2Model m = Phi2Model.open(model, ModelOptions.builder().contextSize(256).threads(2).gpuLayers(gpuLayers).build())) {
            GenerationResult r = m.generate("Instruct: What is a GPU?\nOutput:", GenerationOptions.greedy().withMaxNewTokens(16));
            ModelInfo i = m.info();
            System.out.println("consumer: engine=" + i.engine().label() + " origin=" + i.engineOrigin().label()
                    + " backends=" + i.backends().summary() + " placement=" + i.placement().summary().replace(' ', '_')
                    + " tokens=" + r.generatedTokens() + " stop=" + r.stopReason()
                    + " text=" + r.text().codePoints().mapToObj(c -> String.format("%x", c)).reduce((a, b) -> a + "." + b).orElse(""));
            if (expected.equals("native")) {
                check(i.engine() == EngineKind.NATIVE, "the native engine runs, not " + i.engine() + " (" + i.nativeLibrary() + ")");
                check(i.engineOrigin() == EngineChoice.Origin.CLASSPATH, "the engine came from the phi2-native jar, not " + i.engineOrigin());
                check(r.generatedTokens() == 16 && r.stopReason() == StopReason.LENGTH, "16 tokens to the length limit, not "
                        + r.generatedTokens() + " " + r.stopReason());
            } else {
                check(i.engine() == EngineKind.BINDING, "the binding runs without phi2-native, not " + i.engine());
                check(i.advice().contains(EngineChoice.ARTIFACT), "ModelInfo says how to get the native engine: '" + i.advice() + "'");
                System.out.println("consumer: advice=" + i.advice());
            }
        }
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException("consumer check failed: " + what);
        }
    }
}
