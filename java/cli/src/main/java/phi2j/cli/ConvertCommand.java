package phi2j.cli;

import phi2j.convert.Converter;
import phi2j.convert.FileType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "convert", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Convert a Hugging Face Phi-2 checkpoint to GGUF, in Java.",
        description = {"Convert a Hugging Face Phi-2 checkpoint (PhiForCausalLM, safetensors) to GGUF, in Java.",
                "The folder needs config.json, tokenizer.json and model.safetensors or model.safetensors.index.json with its shards."})
public final class ConvertCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LoggingMixin logging;

    @Parameters(paramLabel = "HF_DIR", description = "The checkpoint folder.")
    Path dir;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.gguf", description = "The GGUF to write (atomically).")
    Path out;

    @Option(names = "--outtype", paramLabel = "TYPE", description = "f32, f16 (default), bf16, q8_0, or any quantize type such as q4_k_m.")
    String outType = "f16";

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "Threads for quantized output types (default: all cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--force", description = "Replace OUT if it exists.")
    boolean force;

    @Mixin
    GgmlLibraryMixin lib;

    @Override
    public Integer call() {
        logging.apply();
        FileType ft = FileType.parse(outType);
        if (threads < 1) {
            throw new phi2j.InvalidOptionException("--threads", "must be at least 1, not " + threads);
        }
        Converter.Report r;
        try (TerminalProgress p = new TerminalProgress("convert " + ft, "M weights", 1_000_000)) {
            r = Converter.convert(dir, out, new Converter.Options(ft, threads, force, lib.resolve()), p);
        }
        double s = r.time().toNanos() / 1e9;
        spec.commandLine().getOut().printf(Locale.ROOT, "wrote %s: %s, %d tensors, %s read, %s written in %.1f s (%.2f GB/s read)%n",
                r.output(), ft, r.plan().size(), Format.bytes(r.bytesRead()), Format.bytes(r.bytesWritten()), s, r.bytesRead() / 1e9 / s);
        spec.commandLine().getOut().flush();
        return Main.OK;
    }
}
