package phi2j.convert;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;
import phi2j.format.GgmlType;
import phi2j.format.GgufFile;
import phi2j.format.GgufReader;
import phi2j.format.GgufTensorInfo;
import phi2j.format.GgufValue;
import phi2j.format.GgufWriter;
import phi2j.format.Phi2Layout;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Re-types or quantizes a phi2 GGUF with ggml's own kernels, one tensor at a time and, within a tensor, a
 * bounded chunk of rows at a time split across threads, so memory stays flat whatever the model's size.
 * The output appears under its name only when complete.
 */
public final class Quantizer {
    /** Rows are processed in chunks of about this many source floats. */
    private static final long CHUNK_FLOATS = 4L << 20;

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

    /** Told as data is written: bytes of tensor data done and in all. */
    @FunctionalInterface
    public interface Progress {
        void update(long done, long total, String tensor);
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
        long t0 = System.nanoTime();
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
            switch (e.getKey()) {
                case GgufFile.KEY_ALIGNMENT, "general.quantization_version" -> { }
                case "general.file_type" -> w.put(e.getKey(), GgufValue.uint32(opts.type().id()));
                default -> w.put(e.getKey(), e.getValue());
            }
        }
        if (src.get("general.file_type").isEmpty()) {
            w.put("general.file_type", GgufValue.uint32(opts.type().id()));
        }
        if (opts.type().isQuantized()) {
            w.put("general.quantization_version", GgufValue.uint32(2)); // GGML_QNT_VERSION
        }

        long total = plan.stream().mapToLong(c -> c.tensor().elements()).sum();
        long[] done = {0};
        ExecutorService pool = Executors.newFixedThreadPool(opts.threads(), r -> {
            Thread t = new Thread(r, "phi2-quantize");
            t.setDaemon(true);
            return t;
        });
        try (FileChannel ch = FileChannel.open(in, StandardOpenOption.READ)) {
            for (QuantMix.Choice c : plan) {
                GgufTensorInfo t = c.tensor();
                w.addTensor(t.name(), c.type(), t.shape(), (info, sink) -> {
                    convertTensor(ggml, ch, src.dataOffset() + t.offset(), t, c.type(), sink, pool, opts.threads());
                    done[0] += t.elements();
                    progress.update(done[0], total, t.name());
                });
            }
            w.write(out, opts.overwrite());
        } catch (IOException e) {
            throw new Phi2Exception("reading " + in + " failed: " + e.getMessage(), e);
        } finally {
            pool.shutdownNow();
        }
        try {
            return new Report(out, Files.size(in), Files.size(out), Duration.ofNanos(System.nanoTime() - t0), plan);
        } catch (IOException e) {
            throw new Phi2Exception("cannot read back " + out + ": " + e.getMessage(), e);
        }
    }

    private static void convertTensor(Ggml ggml, FileChannel ch, long at, GgufTensorInfo t, GgmlType to,
                                      GgufWriter.ByteSink sink, ExecutorService pool, int threads) throws IOException {
        GgmlType from = t.type();
        long rowLen = t.rowLength();
        long rows = t.elements() / rowLen;
        long srcRowBytes = from.bytesFor(rowLen);
        long dstRowBytes = to.bytesFor(rowLen);
        if (from == to) {
            copy(ch, at, t.byteSize(), sink);
            return;
        }
        long rowsPerChunk = Math.max(1, CHUNK_FLOATS / rowLen);
        ByteBuffer srcBuf = ByteBuffer.allocateDirect((int) (Math.min(rows, rowsPerChunk) * srcRowBytes));
        Memory dst = new Memory(Math.min(rows, rowsPerChunk) * dstRowBytes);
        Memory floats = new Memory(Math.min(rows, rowsPerChunk) * rowLen * 4);
        Pointer srcPtr = Native.getDirectBufferPointer(srcBuf);
        for (long r0 = 0; r0 < rows; r0 += rowsPerChunk) {
            long n = Math.min(rowsPerChunk, rows - r0);
            srcBuf.clear().limit((int) (n * srcRowBytes));
            long pos = at + r0 * srcRowBytes;
            while (srcBuf.hasRemaining()) {
                if (ch.read(srcBuf, pos + srcBuf.position()) < 0) {
                    throw new IOException("unexpected end of input in tensor " + t.name());
                }
            }
            // Rows of this chunk are split across threads; each part converts and quantizes its own rows.
            long per = (n + threads - 1) / threads;
            List<Future<?>> parts = new ArrayList<>();
            for (long p0 = 0; p0 < n; p0 += per) {
                long first = p0;
                long count = Math.min(per, n - p0);
                parts.add(pool.submit(() -> {
                    Pointer s = srcPtr.share(first * srcRowBytes);
                    Pointer f = from == GgmlType.F32 ? s : floats.share(first * rowLen * 4);
                    if (from != GgmlType.F32) {
                        ggml.toFloat(from, s, f, count * rowLen);
                    }
                    Pointer d = dst.share(first * dstRowBytes);
                    if (to == GgmlType.F32) {
                        d.write(0, f.getByteArray(0, (int) (count * rowLen * 4)), 0, (int) (count * rowLen * 4));
                    } else {
                        long written = ggml.api().ggml_quantize_chunk(to.id(), f, d, 0, count, rowLen, null);
                        if (written != count * dstRowBytes) {
                            throw new IllegalStateException("ggml wrote " + written + " bytes for " + count + " rows of " + t.name());
                        }
                        if (ggml.api().ggml_validate_row_data(to.id(), d, written) == 0) {
                            throw new IllegalStateException("quantized data of " + t.name() + " failed ggml's validation");
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : parts) {
                try {
                    f.get();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while quantizing " + t.name());
                } catch (ExecutionException e) {
                    throw new IOException(e.getCause().getMessage(), e.getCause());
                }
            }
            sink.write(dst.getByteBuffer(0, n * dstRowBytes));
        }
    }

    private static void copy(FileChannel ch, long at, long bytes, GgufWriter.ByteSink sink) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect((int) Math.min(bytes, 8 << 20));
        long done = 0;
        while (done < bytes) {
            buf.clear().limit((int) Math.min(buf.capacity(), bytes - done));
            while (buf.hasRemaining()) {
                if (ch.read(buf, at + done + buf.position()) < 0) {
                    throw new IOException("unexpected end of input");
                }
            }
            buf.flip();
            done += buf.remaining();
            sink.write(buf);
        }
    }
}
