package phi2j.cli;

import phi2j.report.MarkdownTable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "list", mixinStandardHelpOptions = true, header = "Show the catalog's models and which are present.",
        description = "Show the catalog's models and which are present in the models folder.")
public final class ListCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelsDirMixin modelsDir;

    @Override
    public Integer call() throws IOException {
        modelsDir.apply();
        Catalog c = Catalog.load();
        List<String[]> rows = new ArrayList<>();
        for (Catalog.Entry e : c.models()) {
            Path p = c.dir().resolve(e.file());
            String present = "-";
            String verified = "";
            if (Files.isRegularFile(p)) {
                present = Format.decimalBytes(Files.size(p)); // the catalog's sizes are decimal too
                Path sidecar = p.resolveSibling(p.getFileName() + ".sha256");
                String recorded = Files.isRegularFile(sidecar) ? Files.readString(sidecar).split("\\s+")[0] : null;
                verified = e.sha256() == null ? "no checksum in catalog" : recorded == null ? "not verified"
                        : recorded.equalsIgnoreCase(e.sha256()) ? "verified" : "MISMATCH";
            }
            rows.add(new String[] {e.name() + (e.name().equals(c.defaultName()) ? " (default)" : ""), e.type(), e.size(), present, verified});
        }
        PrintWriter out = spec.commandLine().getOut();
        out.println("models folder: " + c.dir().toAbsolutePath());
        out.println(MarkdownTable.render(List.of("name", "type", "size", "present", "checksum"), rows));
        out.flush();
        return Main.OK;
    }
}
