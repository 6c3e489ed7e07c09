package phi2j.cli;

import phi2j.Phi2Exception;
import phi2j.format.GgufFile;
import phi2j.format.GgufReader;
import phi2j.format.GgufTensorInfo;
import phi2j.format.GgufValue;
import phi2j.format.Phi2Layout;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "inspect", mixinStandardHelpOptions = true, header = "Print a GGUF file's metadata and tensors, and check its layout.",
        description = "Print a GGUF file's metadata and tensor table, and check it against Phi-2's layout.")
public final class InspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LoggingMixin logging;

    @Parameters(paramLabel = "FILE", description = "A GGUF file.")
    Path file;

    @Override
    public Integer call() {
        logging.apply();
        GgufFile f = GgufReader.read(file);
        PrintWriter out = spec.commandLine().getOut();
        out.printf("file:      %s%n", f.path());
        out.printf("format:    GGUF v%d, alignment %d, %d metadata keys, %d tensors, data from byte %d, %s in all%n",
                f.version(), f.alignment(), f.metadata().size(), f.tensors().size(), f.dataOffset(), Format.bytes(f.fileSize()));
        out.println();
        out.println("metadata:");
        int kw = f.metadata().keySet().stream().mapToInt(String::length).max().orElse(10);
        for (Map.Entry<String, GgufValue> e : f.metadata().entrySet()) {
            out.printf("  %-" + kw + "s  %-7s  %s%n", e.getKey(), e.getValue().type().name().toLowerCase(), e.getValue().display());
        }
        out.println();
        out.printf("tensors (%,d parameters, %s):%n", f.parameterCount(), Format.bytes(f.tensorBytes()));
        int nw = f.tensors().stream().mapToInt(t -> t.name().length()).max().orElse(10);
        out.printf("  %-" + nw + "s  %-6s  %-16s  %s%n", "name", "type", "shape", "bytes");
        for (GgufTensorInfo t : f.tensors()) {
            out.printf("  %-" + nw + "s  %-6s  %-16s  %,d%n", t.name(), t.type(), Arrays.toString(t.shape()), t.byteSize());
        }
        out.println();
        try {
            Phi2Layout.Hparams hp = Phi2Layout.check(f);
            out.printf("phi2 check: OK (context %d, embedding %d, feed-forward %d, %d blocks, %d heads, head size %d, rope dims %d, vocabulary %d)%n",
                    hp.contextLength(), hp.embedding(), hp.feedForward(), hp.blocks(), hp.heads(), hp.headSize(), hp.ropeDims(), hp.vocabulary());
        } catch (Phi2Exception e) {
            out.println("phi2 check: not a runnable Phi-2 model: " + e.getMessage());
        }
        out.flush();
        return Main.OK;
    }
}
