package phi2j.cli;

import phi2j.InvalidOptionException;
import phi2j.testkit.SyntheticPhi2;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "synth", mixinStandardHelpOptions = true, header = "Write a random-weight model in Phi-2's layout.",
        description = {"Write a random-weight model in Phi-2's architecture (its answers are noise).",
        "For trying the tools and for tests, without downloading anything."})
public final class SynthCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "PATH", description = "Where to write the GGUF (or, with --checkpoint, the folder).")
    Path output;

    @Option(names = "--checkpoint", description = {"Write a Hugging Face checkpoint folder instead (config, Phi-2's real tokenizer from the",
            "shared data folder, safetensors shards with an index), for 'phi2 convert'. Shapes tiny or phi2 (5.56 GB fp16)."})
    boolean checkpoint;

    @Option(names = "--seed", paramLabel = "N", description = "Weight seed (default: ${DEFAULT-VALUE}).")
    long seed = 42;

    @Option(names = "--force", description = "Replace an existing file.")
    boolean force;

    /** The sizes on offer. */
    enum Shape { tiny, kquant, phi2 }

    @Option(names = "--shape", paramLabel = "SHAPE", description = {"tiny (default; 2.7 MiB, 160 wide, 2 blocks),",
            "kquant (25 MiB, 256 wide, 8 blocks: every K-quant mix applies),",
            "phi2 (Phi-2's full shape: 2560 wide, 32 blocks, 51200 vocabulary rows, F16 weights, 5.6 GB)."})
    Shape shape = Shape.tiny;

    @Override
    public Integer call() {
        // an existing GGUF is kept when it holds exactly what this command writes (the README's one-liners run twice)
        boolean sameIfEqual = !force && !checkpoint && Files.isRegularFile(output);
        if (!force && Files.exists(output) && !sameIfEqual) {
            throw new InvalidOptionException("--output", output + " already exists (use --force to replace it)");
        }
        if (checkpoint) {
            phi2j.testkit.SyntheticCheckpoint c = switch (shape) {
                case tiny -> phi2j.testkit.SyntheticCheckpoint.tiny();
                case kquant -> throw new InvalidOptionException("--shape", "kquant has no checkpoint form; use tiny or phi2");
                case phi2 -> phi2j.testkit.SyntheticCheckpoint.phi2Shape();
            };
            c.write(output);
            spec.commandLine().getOut().println("wrote checkpoint folder " + output);
            return Main.OK;
        }
        SyntheticPhi2 model = switch (shape) {
            case tiny -> SyntheticPhi2.tiny();
            case kquant -> SyntheticPhi2.quantTest();
            case phi2 -> SyntheticPhi2.phi2Shape();
        };
        if (sameIfEqual) {
            Path fresh = output.resolveSibling("." + output.getFileName() + ".synth-" + ProcessHandle.current().pid());
            try {
                model.withSeed(seed).write(fresh);
                if (Files.mismatch(fresh, output) != -1) {
                    throw new InvalidOptionException("--output", output + " already exists and holds another model (use --force to replace it)");
                }
            } catch (java.io.IOException e) {
                throw new phi2j.Phi2Exception("cannot compare " + output + " with a fresh synth: " + e.getMessage(), e);
            } finally {
                fresh.toFile().delete();
            }
            spec.commandLine().getOut().println(output + " already holds this model (" + Format.bytes(output.toFile().length()) + "): kept");
            return Main.OK;
        }
        model.withSeed(seed).write(output);
        spec.commandLine().getOut().println("wrote " + output + " (" + Format.bytes(output.toFile().length()) + ")");
        return Main.OK;
    }
}
