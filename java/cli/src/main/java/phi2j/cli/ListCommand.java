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

@Command(name = "list", mixinStandardHelpOptions = true, header = "Show the catalog's models and every other GGUF file.",
        description = {"Show the catalog's models and which are present in the models folder, then every other GGUF file there",
                "(a conversion, a quantization, a synthetic model) with its weight type and size."})
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
        java.util.Set<String> catalogFiles = new java.util.HashSet<>();
        c.models().forEach(e -> catalogFiles.add(e.file()));
        for (Path p : otherModels(c.dir(), catalogFiles)) {
            rows.add(new String[] {p.getFileName().toString(), weightType(p), "-", Format.decimalBytes(Files.size(p)), "not in the catalog"});
        }
        PrintWriter out = spec.commandLine().getOut();
        out.println("models folder: " + c.dir().toAbsolutePath());
        out.println(MarkdownTable.render(List.of("name", "type", "size", "present", "checksum"), rows));
        out.flush();
        return Main.OK;
    }

    /** The GGUF files in {@code dir} that no catalog entry names, by name. */
    static List<Path> otherModels(Path dir, java.util.Set<String> catalogFiles) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (var files = Files.list(dir)) {
            return files.filter(p -> Files.isRegularFile(p) && p.getFileName().toString().endsWith(".gguf")
                    && !catalogFiles.contains(p.getFileName().toString())).sorted().toList();
        }
    }

    /** The type of most weight matrices (as phi2 verify chooses tolerances), or why it cannot be read. */
    private static String weightType(Path gguf) {
        try {
            return phi2j.format.GgufReader.read(gguf).tensor("blk.0.ffn_up.weight").map(t -> t.type().name()).orElse("?");
        } catch (RuntimeException e) {
            return "unreadable";
        }
    }
}
