package phi2j.convert;

import phi2j.nativelib.Ggml;
import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;
import phi2j.Progress;
import phi2j.Timer;
import phi2j.format.GgufFile;
import phi2j.format.GgufReader;
import phi2j.format.GgufTensorInfo;
import phi2j.format.GgufValue;
import phi2j.format.GgufWriter;
import phi2j.format.Phi2Key;
import phi2j.format.Phi2Layout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Re-types or quantizes a phi2 GGUF with ggml's own kernels, one tensor at a time and, within a tensor, a
 * bounded chunk of rows at a time split across threads, so memory stays flat whatever the model's size.
 * The output appears under its name only when complete.
 */
public final class Quantizer {
    public record Options(FileType type, int threads, boolean allowRequantize, boolean overwrite, Path nativeLibrary) {
        public Options {
            if (threads < 1) {
                throw new InvalidOptionException("--threads", "must be at least 1, not " + threads);
            }
        }
    }

    /** What a run did. */
    public record Report(Path output, long inputBytes, long outputBytes, Duration time, List<QuantMix.Choice> plan) {
    }

    private Quantizer() {
    }

    /** The per-tensor plan for {@code in} in file type {@code type}, without writing anything. */
    public static List<QuantMix.Choice> plan(Path in, FileType type) {
        GgufFile f = GgufReader.read(in);
        Phi2Layout.Hparams hp = Phi2Layout.check(f);
        return QuantMix.plan(f.tensors(), (int) hp.blocks(), type);
    }

    public static Report quantize(Path in, Path out, Options opts, Progress progress) {
        Timer timer = Timer.start();
        if (Files.exists(out) && in.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
            throw new InvalidOptionException("OUT", "is the input file " + in + "; write to another file");
        }
        GgufFile src = GgufReader.read(in);
        Phi2Layout.Hparams hp = Phi2Layout.check(src);
        List<QuantMix.Choice> plan = QuantMix.plan(src.tensors(), (int) hp.blocks(), opts.type());
        List<String> quantized = src.tensors().stream().filter(QuantMix::quantizable).filter(t -> t.type().isQuantized())
                .map(t -> t.name() + " " + t.type()).limit(3).toList();
        if (!quantized.isEmpty() && !opts.allowRequantize()) {
            throw new InvalidOptionException("--allow-requantize", in + " is already quantized (" + String.join(", ", quantized)
                    + ", ...). Quantizing again adds a second rounding error on top of the first and gives a worse model than "
                    + "quantizing the F16/F32 original; pass --allow-requantize to do it anyway");
        }
        Ggml ggml = Ggml.get(opts.nativeLibrary());
        for (QuantMix.Choice c : plan) {
            if (c.type().isQuantized() && ggml.requiresImatrix(c.type())) {
                throw new InvalidOptionException("TYPE", c.type() + " (for " + c.tensor().name() + ") needs an importance matrix");
            }
        }

        GgufWriter w = new GgufWriter(src.alignment());
        for (Map.Entry<String, GgufValue> e : src.metadata().entrySet()) {
            if (e.getKey().equals(Phi2Key.FILE_TYPE.key())) {
                w.put(Phi2Key.FILE_TYPE, opts.type().id());
            } else if (!e.getKey().equals(GgufFile.KEY_ALIGNMENT) && !e.getKey().equals(Phi2Key.QUANTIZATION_VERSION.key())) {
                w.put(e.getKey(), e.getValue());
            }
        }
        if (src.get(Phi2Key.FILE_TYPE.key()).isEmpty()) {
            w.put(Phi2Key.FILE_TYPE, opts.type().id());
        }
        if (opts.type().isQuantized()) {
            w.put(Phi2Key.QUANTIZATION_VERSION, 2); // GGML_QNT_VERSION
        }

        TensorConverter.writeAll(w, plan, name -> {
            GgufTensorInfo t = src.tensor(name).orElseThrow();
            return new TensorConverter.Source(t.name(), t.shape(), t.type(), in, src.dataOffset() + t.offset());
        }, out, opts.overwrite(), ggml, opts.threads(), progress);
        try {
            return new Report(out, Files.size(in), Files.size(out), timer.elapsed(), plan);
        } catch (IOException e) {
            throw new Phi2Exception("cannot read back " + out + ": " + e.getMessage(), e);
        }
    }
}
