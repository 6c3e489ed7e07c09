package phi2j.cli;

import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.util.concurrent.Callable;

/** The bash/zsh completion script for phi2, made by picocli from the commands themselves, so it never goes stale. */
@Command(name = "completion", mixinStandardHelpOptions = true, header = "Print a bash/zsh completion script for phi2.",
        description = {"Print a bash/zsh completion script for phi2. Install it with:",
                "  ./phi2 completion > ~/.local/share/bash-completion/completions/phi2",
                "or for this shell only:  source <(./phi2 completion)"})
public final class CompletionCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        String script = AutoComplete.bash("phi2", spec.root().commandLine());
        spec.commandLine().getOut().print(script);
        spec.commandLine().getOut().flush();
        return Main.OK;
    }
}
