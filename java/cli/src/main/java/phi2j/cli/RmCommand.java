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

@Command(name = "rm", mixinStandardHelpOptions = true, header = "Delete a model from the models folder.",
        description = {"Delete a catalog model's file (and its partial download) from the models folder, or any other GGUF file",
                "there by its file name, as phi2 list shows it."})
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
        Catalog.Entry e = c.find(name).orElse(null);
        if (e == null) {
            return removeFile(c);
        }
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

    /** NAME is not a catalog name: a GGUF file of the models folder, by its file name alone. */
    private int removeFile(Catalog c) throws IOException {
        if (!name.endsWith(".gguf") || name.contains("/") || name.contains("\\") || name.startsWith(".")) {
            throw new InvalidOptionException("NAME", "'" + name + "' is neither in the catalog nor a GGUF file name of the models folder "
                    + c.dir() + " (phi2 list shows both)");
        }
        Path p = c.dir().resolve(name);
        if (!Files.isRegularFile(p)) {
            throw new InvalidOptionException("NAME", name + " is not present in " + c.dir());
        }
        Files.delete(p);
        Files.deleteIfExists(p.resolveSibling(name + ".sha256"));
        spec.commandLine().getOut().println("removed " + p);
        return Main.OK;
    }
}
