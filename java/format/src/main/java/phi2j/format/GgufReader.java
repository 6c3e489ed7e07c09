package phi2j.format;

import phi2j.BadModelFileException;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads and checks a GGUF header so that nothing malformed reaches native code. Every count, length and
 * offset is checked against the bytes that are really there before it is trusted.
 *
 * <pre>
 * GGUF layout (all little-endian):
 *   uint32 magic "GGUF" | uint32 version (2 or 3) | uint64 tensor_count | uint64 metadata_kv_count
 *   metadata_kv_count x { gguf_string key | uint32 value_type | value }
 *   tensor_count      x { gguf_string name | uint32 n_dims | n_dims x uint64 ne | uint32 ggml_type | uint64 offset }
 *   padding to general.alignment (default 32)
 *   tensor data; each tensor's offset is relative to here and a multiple of the alignment
 * gguf_string = uint64 length | UTF-8 bytes (no terminator)
 * array value = uint32 element_type | uint64 count | count x element
 * </pre>
 */
public final class GgufReader {
    /** ggml's GGML_MAX_DIMS. */
    public static final int MAX_DIMS = 4;
    /** No key, token or template in a sane file is longer; bigger claims are damage, not data. */
    private static final long MAX_STRING_BYTES = 64L << 20;
    private static final int MAX_ARRAY_NESTING = 4;

    private final Path path;
    private final FileChannel channel;
    private final long size;
    private final ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    private long bufStart; // file position of buf[0]

    private GgufReader(Path path, FileChannel channel) throws IOException {
        this.path = path;
        this.channel = channel;
        this.size = channel.size();
        buf.limit(0);
    }

    /** Reads and checks the header of {@code path}; every problem is a {@link BadModelFileException} naming the file. */
    public static GgufFile read(Path path) {
        if (Files.isDirectory(path)) {
            throw new BadModelFileException(path, "is a directory, not a GGUF model file");
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            return new GgufReader(path, ch).readFile();
        } catch (NoSuchFileException e) {
            throw new BadModelFileException(path, "no such file");
        } catch (EOFException e) {
            throw new BadModelFileException(path, "truncated GGUF: " + e.getMessage());
        } catch (IOException e) {
            throw new BadModelFileException(path, "cannot read: " + e, e);
        } catch (ArithmeticException e) {
            throw new BadModelFileException(path, "not a valid GGUF: sizes overflow (" + e.getMessage() + ")");
        }
    }

    private GgufFile readFile() throws IOException {
        if (size < 24) {
            throw bad("not a GGUF file (only " + size + " bytes)");
        }
        int magic = readInt();
        if (magic != GgufFile.MAGIC) {
            throw bad(String.format("not a GGUF file (magic 0x%08x, expected 0x%08x \"GGUF\")", magic, GgufFile.MAGIC));
        }
        int version = readInt();
        if (version != 2 && version != 3) {
            throw bad("unsupported GGUF version " + Integer.toUnsignedString(version) + " (this reader takes 2 and 3)");
        }
        long tensorCount = readLong();
        long kvCount = readLong();
        // The smallest possible entries bound the counts before anything is allocated for them.
        if (tensorCount < 0 || tensorCount > (size - position()) / 28) {
            throw bad("tensor count " + Long.toUnsignedString(tensorCount) + " cannot fit in a file of " + size + " bytes");
        }
        if (kvCount < 0 || kvCount > (size - position()) / 13) {
            throw bad("metadata count " + Long.toUnsignedString(kvCount) + " cannot fit in a file of " + size + " bytes");
        }

        Map<String, GgufValue> metadata = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = readString("metadata key #" + i);
            long typeId = readUInt32();
            GgufValueType type = GgufValueType.byId(typeId)
                    .orElseThrow(() -> bad("metadata key '" + key + "' has unknown value type " + typeId));
            GgufValue value = readValue(type, key, 0);
            if (metadata.putIfAbsent(key, value) != null) {
                throw bad("duplicate metadata key '" + key + "'");
            }
        }

        long alignment = GgufFile.DEFAULT_ALIGNMENT;
        GgufValue align = metadata.get(GgufFile.KEY_ALIGNMENT);
        if (align != null) {
            if (!(align.value() instanceof Long a) || a <= 0 || Long.bitCount(a) != 1 || a > (1 << 20)) {
                throw bad(GgufFile.KEY_ALIGNMENT + " must be a power of two, found " + align.display());
            }
            alignment = a;
        }

        List<GgufTensorInfo> tensors = new ArrayList<>((int) Math.min(tensorCount, 100_000));
        Set<String> names = new HashSet<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = readString("tensor name #" + i);
            if (!names.add(name)) {
                throw bad("duplicate tensor '" + name + "'");
            }
            long nDims = readUInt32();
            if (nDims < 1 || nDims > MAX_DIMS) {
                throw bad("tensor '" + name + "' has " + nDims + " dimensions (1 to " + MAX_DIMS + " allowed)");
            }
            long[] shape = new long[(int) nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                shape[d] = readLong();
                if (shape[d] <= 0 || shape[d] > (1L << 40)) {
                    throw bad("tensor '" + name + "' has dimension " + d + " of " + Long.toUnsignedString(shape[d]));
                }
                elements = Math.multiplyExact(elements, shape[d]);
            }
            long typeId = readUInt32();
            GgmlType type = GgmlType.byId(typeId)
                    .orElseThrow(() -> bad("tensor '" + name + "' has unknown ggml type " + typeId));
            if (shape[0] % type.blockSize() != 0) {
                throw bad("tensor '" + name + "' rows of " + shape[0] + " are not a multiple of " + type + "'s block of " + type.blockSize());
            }
            long offset = readLong();
            if (offset < 0 || offset % alignment != 0) {
                throw bad("tensor '" + name + "' offset " + Long.toUnsignedString(offset) + " is not a multiple of the alignment " + alignment);
            }
            tensors.add(new GgufTensorInfo(name, shape, type, offset));
        }

        long dataOffset = alignUp(position(), alignment);
        if (dataOffset > size) {
            throw bad("truncated: the data section would start at byte " + dataOffset + " of " + size);
        }
        checkTensorData(tensors, dataOffset);
        return new GgufFile(path, version, alignment, metadata, tensors, dataOffset, size);
    }

    private void checkTensorData(List<GgufTensorInfo> tensors, long dataOffset) {
        long available = size - dataOffset;
        List<GgufTensorInfo> byOffset = new ArrayList<>(tensors);
        byOffset.sort((a, b) -> Long.compare(a.offset(), b.offset()));
        long end = 0;
        String previous = null;
        for (GgufTensorInfo t : byOffset) {
            long bytes = t.byteSize();
            if (t.offset() > available || bytes > available - t.offset()) {
                throw bad("truncated or damaged: tensor '" + t.name() + "' (" + bytes + " bytes at data offset " + t.offset()
                        + ") ends past the end of the file (" + available + " data bytes)");
            }
            if (t.offset() < end) {
                throw bad("tensors '" + previous + "' and '" + t.name() + "' overlap");
            }
            end = t.offset() + bytes;
            previous = t.name();
        }
    }

    static long alignUp(long pos, long alignment) {
        return Math.addExact(pos, alignment - 1) / alignment * alignment;
    }

    private GgufValue readValue(GgufValueType type, String key, int depth) throws IOException {
        return switch (type) {
            case UINT8 -> new GgufValue(type, (long) (readByte() & 0xff));
            case INT8 -> new GgufValue(type, (long) readByte());
            case UINT16 -> new GgufValue(type, (long) (readShort() & 0xffff));
            case INT16 -> new GgufValue(type, (long) readShort());
            case UINT32 -> new GgufValue(type, readUInt32());
            case INT32 -> new GgufValue(type, (long) readInt());
            case UINT64, INT64 -> new GgufValue(type, readLong());
            case FLOAT32 -> new GgufValue(type, Float.intBitsToFloat(readInt()));
            case FLOAT64 -> new GgufValue(type, Double.longBitsToDouble(readLong()));
            case BOOL -> {
                byte b = readByte();
                if (b != 0 && b != 1) {
                    throw bad("metadata key '" + key + "' has bool value " + b);
                }
                yield new GgufValue(type, b == 1);
            }
            case STRING -> new GgufValue(type, readString("value of '" + key + "'"));
            case ARRAY -> {
                if (depth >= MAX_ARRAY_NESTING) {
                    throw bad("metadata key '" + key + "' nests arrays deeper than " + MAX_ARRAY_NESTING);
                }
                long elemId = readUInt32();
                GgufValueType elem = GgufValueType.byId(elemId)
                        .orElseThrow(() -> bad("metadata key '" + key + "' is an array of unknown type " + elemId));
                long count = readLong();
                long minElem = elem.size() > 0 ? elem.size() : 8;
                if (count < 0 || count > (size - position()) / minElem) {
                    throw bad("metadata key '" + key + "' claims " + Long.toUnsignedString(count) + " elements, more than the file holds");
                }
                List<Object> values = new ArrayList<>((int) count);
                for (long i = 0; i < count; i++) {
                    values.add(readValue(elem, key, depth + 1).value());
                }
                yield GgufValue.array(elem, values);
            }
        };
    }

    private String readString(String what) throws IOException {
        long len = readLong();
        if (len < 0 || len > MAX_STRING_BYTES || len > size - position()) {
            throw bad(what + " claims a length of " + Long.toUnsignedString(len) + " bytes, more than the file holds");
        }
        byte[] bytes = new byte[(int) len];
        readFully(bytes);
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw bad(what + " is not valid UTF-8");
        }
    }

    private BadModelFileException bad(String problem) {
        return new BadModelFileException(path, problem);
    }

    // --- buffered little-endian primitives over the channel ---

    private long position() {
        return bufStart + buf.position();
    }

    private void ensure(int n) throws IOException {
        if (buf.remaining() >= n) {
            return;
        }
        long pos = position();
        if (pos + n > size) {
            throw new EOFException("needed " + n + " bytes at offset " + pos + ", the file ends at " + size);
        }
        buf.compact(); // unread bytes move to the front
        long readFrom = pos + buf.position();
        while (buf.position() < n) {
            int r = channel.read(buf, readFrom);
            if (r < 0) {
                throw new EOFException("unexpected end of file at offset " + readFrom);
            }
            readFrom += r;
        }
        buf.flip();
        bufStart = pos;
    }

    private byte readByte() throws IOException {
        ensure(1);
        return buf.get();
    }

    private short readShort() throws IOException {
        ensure(2);
        return buf.getShort();
    }

    private int readInt() throws IOException {
        ensure(4);
        return buf.getInt();
    }

    private long readUInt32() throws IOException {
        return readInt() & 0xffffffffL;
    }

    private long readLong() throws IOException {
        ensure(8);
        return buf.getLong();
    }

    private void readFully(byte[] dst) throws IOException {
        int off = 0;
        while (off < dst.length) {
            if (!buf.hasRemaining()) {
                ensure(Math.min(buf.capacity(), dst.length - off));
            }
            int n = Math.min(buf.remaining(), dst.length - off);
            buf.get(dst, off, n);
            off += n;
        }
    }
}
