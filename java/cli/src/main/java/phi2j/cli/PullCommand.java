package phi2j.cli;

import phi2j.InvalidOptionException;
import phi2j.cli.pull.Downloader;
import phi2j.cli.pull.Pulls;
import phi2j.convert.Converter;
import phi2j.convert.FileType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "pull", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Download a catalog model or a Hugging Face checkpoint.",
        description = {"Download a catalog model (default: the catalog's default, Phi-2 Q4_K_M) into the models folder,",
                "or with --hf a Hugging Face checkpoint for 'phi2 convert'. Resumes interrupted downloads, retries",
                "transient errors, and keeps a file only when its sha256 matches."})
public final class PullCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LoggingMixin logging;

    @Mixin
    ModelsDirMixin modelsDir;

    @Parameters(arity = "0..1", paramLabel = "NAME", description = "A catalog name (see 'phi2 list').")
    String name;

    @Option(names = "--hf", paramLabel = "REPO", description = "A Hugging Face repository, for example microsoft/phi-2.")
    String repo;

    @Option(names = "--revision", paramLabel = "REV", description = "Branch, tag or commit (default: main).")
    String revision = "main";

    @Option(names = {"-o", "--output"}, paramLabel = "DIR", description = "Folder for --hf (default: MODELS/<repo name>).")
    Path output;

    @Option(names = "--convert", paramLabel = "TYPE", description = "After --hf, convert (and quantize) to MODELS/<repo name>.<TYPE>.gguf.")
    String convert;

    @Option(names = "--endpoint", paramLabel = "URL", description = "Hub address (default: $HF_ENDPOINT or https://huggingface.co).")
    String endpoint;

    @Override
    public Integer call() {
        logging.apply();
        modelsDir.apply();
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter out = spec.commandLine().getOut();
        Downloader d = Pulls.downloader(err);
        if (repo == null) {
            if (convert != null) {
                throw new InvalidOptionException("--convert", "goes with --hf");
            }
            Catalog c = Catalog.load();
            String n = name != null ? name : c.defaultName();
            Downloader.Result r;
            try (TerminalProgress p = new TerminalProgress("pull " + n, "MB", 1_000_000)) {
                r = Pulls.model(c, n, d, err, p);
            }
            out.println((r.alreadyPresent() ? "already have " : "pulled ") + r.file() + " (" + Format.bytes(r.bytes()) + ", sha256 " + r.sha256()
                    + " checked against the " + r.checksumSource() + ")");
            out.flush();
            return Main.OK;
        }
        if (name != null) {
            throw new InvalidOptionException("NAME", "give a catalog name or --hf, not both");
        }
        FileType ft = convert == null ? null : FileType.parse(convert);
        String base = repo.substring(repo.indexOf('/') + 1);
        Path dir = output != null ? output : Catalog.modelsDir().resolve(base);
        Pulls.checkpoint(Pulls.endpoint(endpoint), repo, revision, dir, d, err);
        out.println("pulled " + repo + "@" + revision + " into " + dir);
        if (ft != null) {
            Path gguf = Catalog.modelsDir().resolve(base + "." + ft.name() + ".gguf");
            Converter.Report r = Converter.convert(dir, gguf, new Converter.Options(ft, Runtime.getRuntime().availableProcessors(), true, null),
                    (a, b, c) -> { });
            out.println("converted to " + r.output() + " (" + Format.bytes(r.bytesWritten()) + ")");
        }
        out.flush();
        return Main.OK;
    }
}
