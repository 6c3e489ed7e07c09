package phi2j.format.safetensors;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.stream.JsonReader;
import phi2j.BadModelFileException;
import phi2j.format.GgmlType;

import java.io.EOFException;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One safetensors file, header read and checked; tensor data stays on disk and is read through the
 * offsets given here.
 * <pre>
 * safetensors layout:
 *   uint64 N (little-endian)           length of the header
 *   N bytes of UTF-8 JSON              { "name": {"dtype": "F16", "shape": [rows, cols], "data_offsets": [begin, end]},
 *                                        ..., "__metadata__": {"format": "pt", ...} }
 *   data                               offsets are relative to byte 8 + N; end - begin = product(shape) x dtype size
 * </pre>
 */
public record SafetensorsFile(Path path, long dataStart, Map<String, Tensor> tensors, Map<String, String> metadata) {

    /** Header lengths past this are damage, not data (real headers are well under 1 MB). */
    static final long MAX_HEADER = 100L << 20;

    /** dtypes the converter reads, mapped to ggml types; the others are named in errors. */
    public enum Dtype {
        F32(GgmlType.F32, 4), F16(GgmlType.F16, 2), BF16(GgmlType.BF16, 2),
        F64(null, 8), I64(null, 8), I32(null, 4), I16(null, 2), I8(null, 1), U8(null, 1), BOOL(null, 1),
        F8_E4M3(null, 1), F8_E5M2(null, 1);

        private final GgmlType ggml;
        private final int size;

        Dtype(GgmlType ggml, int size) {
            this.ggml = ggml;
            this.size = size;
        }

        public GgmlType ggml() {
            return ggml;
        }

        public int size() {
            return size;
        }
    }

    /** One tensor; {@code offset} is absolute in the file. {@code shape} is in PyTorch order (rows first). */
    public record Tensor(String name, Dtype dtype, long[] shape, long offset, long byteSize) {
        public long elements() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }
    }

    public SafetensorsFile {
        tensors = Collections.unmodifiableMap(tensors);
        metadata = Collections.unmodifiableMap(metadata);
    }

    public static SafetensorsFile read(Path path) {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw bad(path, "not a safetensors file (" + size + " bytes)");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long n = lenBuf.flip().getLong();
            if (n <= 1 || n > MAX_HEADER || n > size - 8) {
                throw bad(path, "header length " + Long.toUnsignedString(n) + " is past the end of the file (" + size + " bytes)");
            }
            ByteBuffer header = ByteBuffer.allocate((int) n);
            readFully(ch, header, 8);
            String json = new String(header.array(), StandardCharsets.UTF_8);
            return parse(path, json, 8 + n, size);
        } catch (NoSuchFileException e) {
            throw bad(path, "no such file");
        } catch (IOException e) {
            throw new BadModelFileException(path, "cannot read: " + e.getMessage(), e);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b, at + b.position()) < 0) {
                throw new EOFException();
            }
        }
    }

    private static SafetensorsFile parse(Path path, String json, long dataStart, long size) {
        JsonObject root;
        try {
            JsonReader r = new JsonReader(new StringReader(json.stripTrailing()));
            JsonElement e = JsonParser.parseReader(r);
            if (!e.isJsonObject()) {
                throw bad(path, "header is not a JSON object");
            }
            root = e.getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw bad(path, "header is not valid JSON: " + e.getMessage());
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        long available = size - dataStart;
        for (Map.Entry<String, JsonElement> e : root.entrySet()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                if (e.getValue().isJsonObject()) {
                    e.getValue().getAsJsonObject().entrySet().forEach(m -> metadata.put(m.getKey(),
                            m.getValue().isJsonPrimitive() ? m.getValue().getAsString() : m.getValue().toString()));
                }
                continue;
            }
            if (!e.getValue().isJsonObject()) {
                throw bad(path, "tensor '" + name + "': entry is not an object");
            }
            JsonObject t = e.getValue().getAsJsonObject();
            Dtype dtype;
            try {
                dtype = Dtype.valueOf(t.get("dtype").getAsString());
            } catch (RuntimeException ex) {
                throw bad(path, "tensor '" + name + "': unknown dtype " + t.get("dtype"));
            }
            long[] shape;
            long begin;
            long end;
            try {
                shape = toLongs(t.getAsJsonArray("shape"));
                long[] off = toLongs(t.getAsJsonArray("data_offsets"));
                if (off.length != 2) {
                    throw new IllegalStateException("data_offsets needs two numbers");
                }
                begin = off[0];
                end = off[1];
            } catch (RuntimeException ex) {
                throw bad(path, "tensor '" + name + "': bad shape or data_offsets (" + ex.getMessage() + ")");
            }
            long elements = 1;
            for (long d : shape) {
                if (d < 0) {
                    throw bad(path, "tensor '" + name + "': negative dimension in " + java.util.Arrays.toString(shape));
                }
                elements = Math.multiplyExact(elements, d);
            }
            if (begin < 0 || end < begin || end > available) {
                throw bad(path, "tensor '" + name + "': data_offsets [" + begin + ", " + end + "] are out of range (" + available + " data bytes)");
            }
            if (end - begin != elements * dtype.size()) {
                throw bad(path, "tensor '" + name + "': " + (end - begin) + " bytes for shape " + java.util.Arrays.toString(shape)
                        + " of " + dtype + ", expected " + elements * dtype.size());
            }
            tensors.put(name, new Tensor(name, dtype, shape, dataStart + begin, end - begin));
        }
        List<Tensor> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort((a, b) -> Long.compare(a.offset(), b.offset()));
        for (int i = 1; i < byOffset.size(); i++) {
            Tensor prev = byOffset.get(i - 1);
            Tensor cur = byOffset.get(i);
            if (cur.offset() < prev.offset() + prev.byteSize()) {
                throw bad(path, "tensors '" + prev.name() + "' and '" + cur.name() + "' overlap");
            }
        }
        return new SafetensorsFile(path, dataStart, tensors, metadata);
    }

    private static long[] toLongs(com.google.gson.JsonArray a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsLong();
        }
        return out;
    }

    private static BadModelFileException bad(Path p, String problem) {
        return new BadModelFileException(p, problem);
    }
}
