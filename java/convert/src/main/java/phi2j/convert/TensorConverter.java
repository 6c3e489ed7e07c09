package phi2j.convert;

import phi2j.nativelib.Ggml;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import phi2j.format.GgmlType;
import phi2j.format.GgufWriter;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Turns tensors stored in files (GGUF or safetensors: a type, a shape and an offset) into another ggml type,
 * a bounded chunk of rows at a time. Rows of a chunk are split across threads; each part is converted to
 * floats and quantized by ggml, then checked by ggml's own validator. The buffers are allocated once and
 * reused for every tensor, so memory stays the same for a tiny model and for Phi-2.
 */
public final class TensorConverter implements AutoCloseable {
    /** Rows are processed in chunks of about this many values. */
    static final long CHUNK_VALUES = 4L << 20;

    /** A tensor in a file: {@code shape} in ggml order (row length first), {@code offset} absolute. */
    public record Source(String name, long[] shape, GgmlType type, Path file, long offset) {
        long rowLength() {
            return shape[0];
        }

        long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private final Ggml ggml;
    private final int threads;
    private final ThreadPoolExecutor pool;
    /** Parts between their first and last instruction: what {@link #idle()} reports. */
    private final java.util.concurrent.atomic.AtomicInteger running = new java.util.concurrent.atomic.AtomicInteger();
    private final Map<Path, FileChannel> channels = new HashMap<>();
    private final ByteBuffer src = ByteBuffer.allocateDirect((int) (CHUNK_VALUES * 4));
    private final Pointer srcPtr = Native.getDirectBufferPointer(src);
    private final Memory floats = new Memory(CHUNK_VALUES * 4);
    private final Memory dst = new Memory(CHUNK_VALUES * 4);

    /**
     * Adds every tensor of {@code plan} to {@code w}, converted from its source as the file is written, and writes
     * it to {@code out}; {@code progress} counts weights (tensor elements). The one write loop of convert and quantize.
     */
    static void writeAll(GgufWriter w, List<QuantMix.Choice> plan, java.util.function.Function<String, Source> sources, Path out,
                         boolean overwrite, Ggml ggml, int threads, phi2j.Progress progress) {
        long total = plan.stream().mapToLong(c -> c.tensor().elements()).sum();
        java.util.concurrent.atomic.AtomicLong done = new java.util.concurrent.atomic.AtomicLong();
        try (TensorConverter conv = new TensorConverter(ggml, threads)) {
            for (QuantMix.Choice c : plan) {
                Source s = sources.apply(c.tensor().name());
                w.addTensor(s.name(), c.type(), s.shape(), (info, sink) -> conv.convert(s, c.type(), sink,
                        n -> progress.update(done.addAndGet(n), total, s.name())));
            }
            w.write(out, overwrite);
        }
    }

    public TensorConverter(Ggml ggml, int threads) {
        this.ggml = ggml;
        this.threads = threads;
        this.pool = (ThreadPoolExecutor) Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "phi2-convert");
            t.setDaemon(true);
            return t;
        });
    }

    private FileChannel channel(Path p) throws IOException {
        FileChannel ch = channels.get(p);
        if (ch == null) {
            ch = FileChannel.open(p, StandardOpenOption.READ);
            channels.put(p, ch);
        }
        return ch;
    }

    /** Writes {@code s} as {@code to} into {@code sink}; {@code progress} is told the values done after each chunk. */
    public void convert(Source s, GgmlType to, GgufWriter.ByteSink sink, java.util.function.LongConsumer progress) throws IOException {
        GgmlType from = s.type();
        long rowLen = s.rowLength();
        long rows = s.elements() / rowLen;
        long srcRowBytes = from.bytesFor(rowLen);
        long dstRowBytes = to.bytesFor(rowLen);
        FileChannel ch = channel(s.file());
        if (from == to) {
            copy(ch, s.offset(), srcRowBytes * rows, sink);
            progress.accept(s.elements());
            return;
        }
        // Row lengths beyond a chunk (not in Phi-2) are taken one row at a time.
        long rowsPerChunk = Math.max(1, CHUNK_VALUES / rowLen);
        if (rowLen > CHUNK_VALUES) {
            throw new IOException(s.name() + ": rows of " + rowLen + " values are longer than the converter's chunk");
        }
        for (long r0 = 0; r0 < rows; r0 += rowsPerChunk) {
            long n = Math.min(rowsPerChunk, rows - r0);
            src.clear().limit((int) (n * srcRowBytes));
            long pos = s.offset() + r0 * srcRowBytes;
            while (src.hasRemaining()) {
                if (ch.read(src, pos + src.position()) < 0) {
                    throw new IOException("unexpected end of " + s.file() + " in tensor " + s.name());
                }
            }
            long per = (n + threads - 1) / threads;
            List<Future<?>> parts = new ArrayList<>();
            for (long p0 = 0; p0 < n; p0 += per) {
                long first = p0;
                long count = Math.min(per, n - p0);
                parts.add(pool.submit(() -> {
                    running.incrementAndGet();
                    try {
                        convertPart(s, from, to, first, count, rowLen, srcRowBytes, dstRowBytes);
                    } finally {
                        running.decrementAndGet();
                    }
                    return null;
                }));
            }
            awaitAll(parts, s.name());
            sink.write(dst.getByteBuffer(0, n * dstRowBytes));
            progress.accept(n * rowLen);
        }
    }

    /** Converts rows {@code first .. first + count} of the chunk in {@code src} into {@code dst}. */
    private void convertPart(Source s, GgmlType from, GgmlType to, long first, long count, long rowLen,
                             long srcRowBytes, long dstRowBytes) {
        Pointer in = srcPtr.share(first * srcRowBytes);
        Pointer f = from == GgmlType.F32 ? in : floats.share(first * rowLen * 4);
        if (from != GgmlType.F32) {
            ggml.toFloat(from, in, f, count * rowLen);
        }
        Pointer d = dst.share(first * dstRowBytes);
        if (to == GgmlType.F32) {
            d.write(0, f.getByteArray(0, (int) (count * rowLen * 4)), 0, (int) (count * rowLen * 4));
        } else {
            long written = ggml.api().ggml_quantize_chunk(to.id(), f, d, 0, count, rowLen, null);
            if (written != count * dstRowBytes) {
                throw new IllegalStateException("ggml wrote " + written + " bytes for " + count + " rows of " + s.name());
            }
            if (ggml.api().ggml_validate_row_data(to.id(), d, written) == 0) {
                throw new IllegalStateException("converted data of " + s.name() + " from " + s.file()
                        + " failed ggml's validation (NaN or infinity in the source?)");
            }
        }
    }

    /**
     * Waits for every part, even after one failed: the others still write into {@code floats} and {@code dst}, and
     * a caller that closes this converter on the failure would free that memory under them (a crash seen in CI).
     */
    private static void awaitAll(List<Future<?>> parts, String tensor) throws IOException {
        Throwable failure = null;
        boolean interrupted = false;
        for (Future<?> f : parts) {
            while (true) {
                try {
                    f.get();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // native code cannot be stopped midway: wait on, then report
                } catch (ExecutionException e) {
                    if (failure == null) {
                        failure = e.getCause();
                    }
                    break;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while converting " + tensor);
        }
        if (failure != null) {
            throw new IOException(failure.getMessage(), failure);
        }
    }

    /** True when no part of a conversion is running. */
    boolean idle() {
        return running.get() == 0;
    }

    private void copy(FileChannel ch, long at, long bytes, GgufWriter.ByteSink sink) throws IOException {
        long done = 0;
        while (done < bytes) {
            src.clear().limit((int) Math.min(src.capacity(), bytes - done));
            while (src.hasRemaining()) {
                if (ch.read(src, at + done + src.position()) < 0) {
                    throw new IOException("unexpected end of input");
                }
            }
            src.flip();
            done += src.remaining();
            sink.write(src);
        }
    }

    @Override
    public void close() {
        pool.shutdown();
        boolean interrupted = false;
        while (true) {
            try {
                if (pool.awaitTermination(1, TimeUnit.DAYS)) {
                    break;
                }
            } catch (InterruptedException e) {
                interrupted = true; // the native buffers below must outlive every worker
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        for (FileChannel ch : channels.values()) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // read-only channels: nothing is lost
            }
        }
        floats.close();
        dst.close();
    }
}
