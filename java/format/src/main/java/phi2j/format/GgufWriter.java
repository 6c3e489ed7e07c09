package phi2j.format;

import phi2j.Phi2Exception;
import phi2j.Progress;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Writes a GGUF version 3 file: header, metadata, tensor table, then tensor data streamed one tensor at a
 * time from {@link TensorData} sources, each padded to the alignment. The file is written through
 * {@link AtomicOutputFile}, so it appears only when complete.
 */
public final class GgufWriter {

    /** Produces one tensor's bytes, exactly {@code info.byteSize()} of them, in ggml's row-major layout. */
    @FunctionalInterface
    public interface TensorData {
        void writeTo(GgufTensorInfo info, ByteSink sink) throws IOException;
    }

    /** Where tensor bytes go; buffers are consumed whole. */
    public interface ByteSink {
        void write(ByteBuffer bytes) throws IOException;
    }

    private record Pending(String name, long[] shape, GgmlType type, TensorData data) {
    }

    private final long alignment;
    private final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    private final List<Pending> tensors = new ArrayList<>();

    public GgufWriter() {
        this(GgufFile.DEFAULT_ALIGNMENT);
    }

    public GgufWriter(long alignment) {
        if (alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment must be a power of two: " + alignment);
        }
        this.alignment = alignment;
        if (alignment != GgufFile.DEFAULT_ALIGNMENT) {
            metadata.put(GgufFile.KEY_ALIGNMENT, GgufValue.uint32(alignment));
        }
    }

    public GgufWriter put(String key, GgufValue value) {
        if (metadata.putIfAbsent(Objects.requireNonNull(key), Objects.requireNonNull(value)) != null) {
            throw new IllegalArgumentException("duplicate metadata key " + key);
        }
        return this;
    }

    /** A phi2 key, with the type {@link Phi2Key} gives it. */
    public GgufWriter put(Phi2Key key, Object value) {
        return put(key.key(), key.value(value));
    }

    public GgufWriter putString(String key, String value) {
        return put(key, GgufValue.string(value));
    }

    public GgufWriter putUInt32(String key, long value) {
        return put(key, GgufValue.uint32(value));
    }

    public GgufWriter putFloat32(String key, float value) {
        return put(key, GgufValue.float32(value));
    }

    public GgufWriter putBool(String key, boolean value) {
        return put(key, GgufValue.bool(value));
    }

    public GgufWriter addTensor(String name, GgmlType type, long[] shape, TensorData data) {
        if (tensors.stream().anyMatch(t -> t.name.equals(name))) {
            throw new IllegalArgumentException("duplicate tensor " + name);
        }
        if (shape.length < 1 || shape.length > GgufReader.MAX_DIMS) {
            throw new IllegalArgumentException(name + ": 1 to 4 dimensions, not " + shape.length);
        }
        tensors.add(new Pending(name, shape.clone(), type, data));
        return this;
    }

    /** The tensor table as it will be written, offsets included. */
    public List<GgufTensorInfo> layout() {
        List<GgufTensorInfo> infos = new ArrayList<>();
        long offset = 0;
        for (Pending p : tensors) {
            GgufTensorInfo info = new GgufTensorInfo(p.name, p.shape, p.type, offset);
            infos.add(info);
            offset = GgufReader.alignUp(offset + info.byteSize(), alignment);
        }
        return infos;
    }

    public void write(Path out, boolean overwrite) {
        write(out, overwrite, Progress.NONE);
    }

    /** Writes the file; {@code progress} is told after each tensor, in bytes of tensor data. */
    public void write(Path out, boolean overwrite, Progress progress) {
        try (AtomicOutputFile file = AtomicOutputFile.open(out, overwrite)) {
            writeTo(file.channel(), progress);
            file.commit();
        } catch (IOException e) {
            throw new Phi2Exception("writing " + out + " failed: " + e.getMessage(), e);
        }
    }

    private void writeTo(FileChannel ch, Progress progress) throws IOException {
        List<GgufTensorInfo> infos = layout();
        ChannelSink sink = new ChannelSink(ch);
        sink.putInt(GgufFile.MAGIC);
        sink.putInt(3);
        sink.putLong(infos.size());
        sink.putLong(metadata.size());
        for (Map.Entry<String, GgufValue> e : metadata.entrySet()) {
            sink.putString(e.getKey());
            sink.putInt(e.getValue().type().id());
            putValue(sink, e.getValue().type(), e.getValue().value());
        }
        for (GgufTensorInfo info : infos) {
            sink.putString(info.name());
            long[] shape = info.shape();
            sink.putInt(shape.length);
            for (long d : shape) {
                sink.putLong(d);
            }
            sink.putInt(info.type().id());
            sink.putLong(info.offset());
        }
        sink.pad(alignment);
        long dataStart = sink.position();
        long total = infos.isEmpty() ? 0 : infos.get(infos.size() - 1).offset() + infos.get(infos.size() - 1).byteSize();
        for (int i = 0; i < infos.size(); i++) {
            GgufTensorInfo info = infos.get(i);
            long before = sink.position();
            tensors.get(i).data.writeTo(info, sink);
            long written = sink.position() - before;
            if (written != info.byteSize()) {
                throw new IllegalStateException("tensor " + info.name() + ": wrote " + written + " bytes, expected " + info.byteSize());
            }
            sink.pad(alignment);
            progress.update(sink.position() - dataStart, total, info.name());
        }
        sink.flush();
    }

    private static void putValue(ChannelSink sink, GgufValueType type, Object v) throws IOException {
        switch (type) {
            case UINT8, INT8 -> sink.putByte((byte) (long) (Long) v);
            case UINT16, INT16 -> sink.putShort((short) (long) (Long) v);
            case UINT32, INT32 -> sink.putInt((int) (long) (Long) v);
            case UINT64, INT64 -> sink.putLong((Long) v);
            case FLOAT32 -> sink.putInt(Float.floatToRawIntBits((Float) v));
            case FLOAT64 -> sink.putLong(Double.doubleToRawLongBits((Double) v));
            case BOOL -> sink.putByte((byte) ((Boolean) v ? 1 : 0));
            case STRING -> sink.putString((String) v);
            case ARRAY -> {
                GgufValue.GgufArray a = (GgufValue.GgufArray) v;
                sink.putInt(a.elementType().id());
                sink.putLong(a.values().size());
                for (Object o : a.values()) {
                    putValue(sink, a.elementType(), o);
                }
            }
        }
    }

    /** Little-endian buffered writes onto a channel, with position tracking for padding. */
    private static final class ChannelSink implements ByteSink {
        private final FileChannel ch;
        private final ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        private long flushed;

        ChannelSink(FileChannel ch) {
            this.ch = ch;
        }

        long position() {
            return flushed + buf.position();
        }

        void room(int n) throws IOException {
            if (buf.remaining() < n) {
                flush();
            }
        }

        void flush() throws IOException {
            buf.flip();
            while (buf.hasRemaining()) {
                flushed += ch.write(buf);
            }
            buf.clear();
        }

        void putByte(byte b) throws IOException {
            room(1);
            buf.put(b);
        }

        void putShort(short s) throws IOException {
            room(2);
            buf.putShort(s);
        }

        void putInt(int i) throws IOException {
            room(4);
            buf.putInt(i);
        }

        void putLong(long l) throws IOException {
            room(8);
            buf.putLong(l);
        }

        void putString(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            putLong(b.length);
            write(ByteBuffer.wrap(b));
        }

        void pad(long alignment) throws IOException {
            long pad = GgufReader.alignUp(position(), alignment) - position();
            for (long i = 0; i < pad; i++) {
                putByte((byte) 0);
            }
        }

        @Override
        public void write(ByteBuffer bytes) throws IOException {
            if (bytes.remaining() <= buf.remaining()) {
                buf.put(bytes);
                return;
            }
            flush();
            if (bytes.remaining() >= buf.capacity()) {
                while (bytes.hasRemaining()) {
                    flushed += ch.write(bytes);
                }
            } else {
                buf.put(bytes);
            }
        }
    }
}
