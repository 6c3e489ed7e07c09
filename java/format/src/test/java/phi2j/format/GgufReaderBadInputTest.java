package phi2j.format;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.BadModelFileException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/** Every malformed header ends in a {@link BadModelFileException} that names the file and the problem. */
class GgufReaderBadInputTest {
    @TempDir
    Path dir;

    private Path valid() {
        Path p = dir.resolve("valid.gguf");
        new GgufWriter().putString("general.architecture", "phi2").putUInt32("x", 1)
                .addTensor("t", GgmlType.F32, new long[] {8}, (info, sink) -> sink.write(ByteBuffer.allocate(32)))
                .write(p, true);
        return p;
    }

    private String failure(Path p) {
        BadModelFileException e = assertThrows(BadModelFileException.class, () -> GgufReader.read(p));
        assertTrue(e.getMessage().startsWith(p.toString()), "names the file: " + e.getMessage());
        return e.getMessage();
    }

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    /** magic, version, tensor count, kv count. */
    private static ByteBuffer header(int version, long tensors, long kvs) {
        ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(GgufFile.MAGIC).putInt(version).putLong(tensors).putLong(kvs);
        return b;
    }

    private static void putString(ByteBuffer b, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        b.putLong(bytes.length).put(bytes);
    }

    private static byte[] bytes(ByteBuffer b) {
        return Arrays.copyOf(b.array(), b.position());
    }

    @Test
    void missingFile() {
        assertTrue(failure(dir.resolve("nope.gguf")).contains("no such file"));
    }

    @Test
    void directory() {
        assertTrue(failure(dir).contains("directory"));
    }

    @Test
    void notAGguf() throws IOException {
        assertTrue(failure(write("text.gguf", "this is plain text, not a model file at all".getBytes())).contains("not a GGUF"));
        assertTrue(failure(write("tiny.gguf", new byte[3])).contains("not a GGUF"));
    }

    @Test
    void unsupportedVersion() throws IOException {
        assertTrue(failure(write("v9.gguf", bytes(header(9, 0, 0).putLong(0)))).contains("version 9"));
    }

    @Test
    void truncatedAtEverySection() throws IOException {
        byte[] whole = Files.readAllBytes(valid());
        GgufFile f = GgufReader.read(valid());
        long[] cuts = {4, 12, 23, 30, 60, f.dataOffset() - 1, f.dataOffset() + 5, whole.length - 1};
        for (long cut : cuts) {
            Path p = write("cut" + cut + ".gguf", Arrays.copyOf(whole, (int) cut));
            String m = failure(p);
            assertTrue(m.contains("truncated") || m.contains("not a GGUF") || m.contains("more than the file")
                    || m.contains("cannot fit") || m.contains("past the end"), "cut at " + cut + ": " + m);
        }
    }

    @Test
    void hugeCountsAreRefusedBeforeAllocation() throws IOException {
        assertTrue(failure(write("tc.gguf", bytes(header(3, Long.MAX_VALUE / 2, 0).putLong(0)))).contains("tensor count"));
        assertTrue(failure(write("kc.gguf", bytes(header(3, 0, 1L << 40).putLong(0)))).contains("metadata count"));
        ByteBuffer b = header(3, 0, 1);
        b.putLong(Long.MAX_VALUE); // key length
        assertTrue(failure(write("kl.gguf", bytes(b.putLong(0)))).contains("more than the file holds"));
        b = header(3, 0, 1);
        putString(b, "k");
        b.putInt(GgufValueType.ARRAY.id()).putInt(GgufValueType.UINT32.id()).putLong(1L << 50);
        assertTrue(failure(write("al.gguf", bytes(b.putLong(0)))).contains("elements"));
    }

    @Test
    void unknownTypesAndDuplicates() throws IOException {
        ByteBuffer b = header(3, 0, 1);
        putString(b, "k");
        b.putInt(99);
        assertTrue(failure(write("vt.gguf", bytes(b.putLong(0)))).contains("unknown value type 99"));

        b = header(3, 0, 2);
        putString(b, "k");
        b.putInt(GgufValueType.UINT32.id()).putInt(1);
        putString(b, "k");
        b.putInt(GgufValueType.UINT32.id()).putInt(2);
        assertTrue(failure(write("dk.gguf", bytes(b.putLong(0)))).contains("duplicate metadata key 'k'"));

        b = header(3, 1, 0);
        putString(b, "t");
        b.putInt(1).putLong(8).putInt(77).putLong(0);
        assertTrue(failure(write("tt.gguf", bytes(b.putLong(0)))).contains("unknown ggml type 77"));

        b = header(3, 2, 0);
        for (int i = 0; i < 2; i++) {
            putString(b, "t");
            b.putInt(1).putLong(8).putInt(0).putLong(0);
        }
        assertTrue(failure(write("dt.gguf", bytes(b.putLong(0)))).contains("duplicate tensor 't'"));
    }

    @Test
    void offsetsPastTheEndMisalignedOrOverlapping() throws IOException {
        ByteBuffer b = header(3, 1, 0);
        putString(b, "t");
        b.putInt(1).putLong(8).putInt(0).putLong(1L << 40);
        assertTrue(failure(write("past.gguf", bytes(b.put(new byte[64])))).contains("past the end"));

        b = header(3, 1, 0);
        putString(b, "t");
        b.putInt(1).putLong(8).putInt(0).putLong(3);
        assertTrue(failure(write("mis.gguf", bytes(b))).contains("alignment"));

        b = header(3, 2, 0);
        putString(b, "a");
        b.putInt(1).putLong(16).putInt(0).putLong(0);
        putString(b, "b");
        b.putInt(1).putLong(16).putInt(0).putLong(32);
        while (b.position() % 32 != 0) {
            b.put((byte) 0);
        }
        b.put(new byte[256]);
        String ov = failure(write("ov.gguf", bytes(b)));
        assertTrue(ov.contains("overlap"), ov);
    }

    @Test
    void badDimensions() throws IOException {
        ByteBuffer b = header(3, 1, 0);
        putString(b, "t");
        b.putInt(7);
        assertTrue(failure(write("nd.gguf", bytes(b.put(new byte[64])))).contains("dimensions"));
        b = header(3, 1, 0);
        putString(b, "t");
        b.putInt(1).putLong(0).putInt(0).putLong(0);
        assertTrue(failure(write("zd.gguf", bytes(b.put(new byte[64])))).contains("dimension 0"));
        b = header(3, 1, 0);
        putString(b, "t");
        b.putInt(1).putLong(33).putInt(GgmlType.Q4_0.id()).putLong(0);
        assertTrue(failure(write("blk.gguf", bytes(b.put(new byte[64])))).contains("block"));
    }
}
