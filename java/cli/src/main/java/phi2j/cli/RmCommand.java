package phi2j.cli;

import phi2j.InvalidOptionException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "rm", mixinStandardHelpOptions = true, header = "Delete a downloaded model.",
        description = "Delete a catalog model's file (and its partial download) from the models folder.")
public final class RmCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelsDirMixin modelsDir;

    @Parameters(paramLabel = "NAME")
    String name;

    @Override
    public Integer call() throws IOException {
        modelsDir.apply();
        Catalog c = Catalog.load();
        Catalog.Entry e = c.find(name).orElseThrow(() -> new InvalidOptionException("NAME", "'" + name + "' is not in the catalog"));
        Path p = c.dir().resolve(e.file());
        boolean any = false;
        for (Path f : new Path[] {p, p.resolveSibling(p.getFileName() + ".part"), p.resolveSibling(p.getFileName() + ".sha256")}) {
            any |= Files.deleteIfExists(f);
        }
        if (!any) {
            throw new InvalidOptionException("NAME", e.name() + " is not present in " + c.dir());
        }
        spec.commandLine().getOut().println("removed " + p);
        return Main.OK;
    }
}
