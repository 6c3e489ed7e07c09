package phi2j.cli;

import picocli.CommandLine.Command;

@Command(name = "phi2",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "Run Microsoft Phi-2 through llama.cpp on the JVM.",
        subcommands = {picocli.CommandLine.HelpCommand.class, GenerateCommand.class, DemoCommand.class, ChatCommand.class, ServeCommand.class, DevicesCommand.class, VerifyCommand.class, InspectCommand.class, BenchCommand.class, BenchReportCommand.class, ConvertCommand.class, QuantizeCommand.class, PullCommand.class, ListCommand.class, RmCommand.class, SynthCommand.class, CompletionCommand.class},
        footer = {"", "Exit codes: 0 success, 1 a check failed (verify), 2 bad usage or input, 3 runtime or native failure, 130 interrupted."})
public final class Phi2Command {
}
