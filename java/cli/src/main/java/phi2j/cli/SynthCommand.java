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

@Command(name = "synth", mixinStandardHelpOptions = true, description = {"Write a random-weight model in Phi-2's architecture (its answers are noise).",
        "For trying the tools and for tests, without downloading anything."})
public final class SynthCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "Where to write the GGUF.")
    Path output;

    @Option(names = "--seed", paramLabel = "N", description = "Weight seed (default: ${DEFAULT-VALUE}).")
    long seed = 42;

    @Option(names = "--force", description = "Replace an existing file.")
    boolean force;

    @Override
    public Integer call() {
        if (!force && Files.exists(output)) {
            throw new InvalidOptionException("--output", output + " already exists (use --force to replace it)");
        }
        SyntheticPhi2.tiny().withSeed(seed).write(output);
        spec.commandLine().getOut().println("wrote " + output + " (" + Format.bytes(output.toFile().length()) + ")");
        return Main.OK;
    }
}
