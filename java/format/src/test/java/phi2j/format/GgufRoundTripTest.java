package phi2j.format;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class GgufRoundTripTest {
    @TempDir
    Path dir;

    private static GgufWriter.TensorData floats(float start) {
        return (info, sink) -> {
            ByteBuffer b = ByteBuffer.allocate((int) info.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < info.elements(); i++) {
                b.putFloat(start + i);
            }
            b.flip();
            sink.write(b);
        };
    }

    @Test
    void everyValueTypeSurvivesAWriteAndARead() {
        GgufWriter w = new GgufWriter(64)
                .put("u8", new GgufValue(GgufValueType.UINT8, 255L))
                .put("i8", new GgufValue(GgufValueType.INT8, -7L))
                .put("u16", new GgufValue(GgufValueType.UINT16, 65535L))
                .put("i16", new GgufValue(GgufValueType.INT16, -300L))
                .put("u32", GgufValue.uint32(4_000_000_000L))
                .put("i32", GgufValue.int32(-5L))
                .put("f32", GgufValue.float32(1.5f))
                .put("bool", GgufValue.bool(true))
                .put("str", GgufValue.string("héllo\n"))
                .put("u64", GgufValue.uint64(-1L))
                .put("i64", new GgufValue(GgufValueType.INT64, Long.MIN_VALUE))
                .put("f64", new GgufValue(GgufValueType.FLOAT64, Math.PI))
                .put("arr", GgufValue.array(GgufValueType.STRING, List.of("a", "", "ccc")))
                .put("nested", GgufValue.array(GgufValueType.ARRAY,
                        List.of(new GgufValue.GgufArray(GgufValueType.INT32, List.of(1L, 2L)))))
                .addTensor("a", GgmlType.F32, new long[] {3}, floats(0))
                .addTensor("b", GgmlType.F32, new long[] {4, 2}, floats(10));
        Path p = dir.resolve("t.gguf");
        w.write(p, false);

        GgufFile f = GgufReader.read(p);
        assertEquals(3, f.version());
        assertEquals(64, f.alignment());
        assertEquals(List.of("general.alignment", "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "u64",
                "i64", "f64", "arr", "nested"), List.copyOf(f.metadata().keySet()));
        assertEquals(255L, f.get("u8").orElseThrow().asLong());
        assertEquals(-7L, f.get("i8").orElseThrow().asLong());
        assertEquals(4_000_000_000L, f.get("u32").orElseThrow().asLong());
        assertEquals(-300L, f.get("i16").orElseThrow().asLong());
        assertEquals(1.5, f.get("f32").orElseThrow().asDouble());
        assertTrue(f.get("bool").orElseThrow().asBool());
        assertEquals("héllo\n", f.get("str").orElseThrow().asString());
        assertEquals(-1L, f.get("u64").orElseThrow().asLong());
        assertEquals(Long.MIN_VALUE, f.get("i64").orElseThrow().asLong());
        assertEquals(Math.PI, f.get("f64").orElseThrow().asDouble());
        assertEquals(List.of("a", "", "ccc"), f.get("arr").orElseThrow().asArray().values());
        assertEquals(GgufValueType.ARRAY, f.get("nested").orElseThrow().asArray().elementType());

        assertEquals(2, f.tensors().size());
        GgufTensorInfo b = f.tensor("b").orElseThrow();
        assertArrayEquals(new long[] {4, 2}, b.shape());
        assertEquals(0, f.dataOffset() % 64);
        assertEquals(0, b.offset() % 64);
        assertEquals(64, b.offset(), "a takes 12 bytes, padded to the 64-byte alignment");
        assertEquals(f.dataOffset() + b.offset() + b.byteSize(), f.fileSize() - padAfter(f, b));
    }

    private static long padAfter(GgufFile f, GgufTensorInfo last) {
        long end = f.dataOffset() + last.offset() + last.byteSize();
        return GgufReader.alignUp(end, f.alignment()) - end;
    }

    @Test
    void tensorBytesLandAtTheirOffsets() throws IOException {
        Path p = dir.resolve("d.gguf");
        new GgufWriter().addTensor("x", GgmlType.F32, new long[] {5}, floats(1))
                .addTensor("y", GgmlType.F32, new long[] {2}, floats(100)).write(p, false);
        GgufFile f = GgufReader.read(p);
        ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        GgufTensorInfo y = f.tensor("y").orElseThrow();
        assertEquals(100f, all.getFloat((int) (f.dataOffset() + y.offset())));
        assertEquals(101f, all.getFloat((int) (f.dataOffset() + y.offset() + 4)));
    }

    @Test
    void refusesToOverwriteWithoutPermissionAndLeavesNoTemporaryFile() throws IOException {
        Path p = dir.resolve("o.gguf");
        Files.writeString(p, "keep me");
        GgufWriter w = new GgufWriter().addTensor("x", GgmlType.F32, new long[] {1}, floats(0));
        var e = assertThrows(phi2j.InvalidOptionException.class, () -> w.write(p, false));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        assertEquals("keep me", Files.readString(p));
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count());
        }
    }

    @Test
    void aFailingTensorSourceLeavesNothingBehind() throws IOException {
        Path p = dir.resolve("fail.gguf");
        GgufWriter w = new GgufWriter().addTensor("x", GgmlType.F32, new long[] {1 << 20}, (info, sink) -> {
            sink.write(ByteBuffer.allocate(1 << 16));
            throw new IOException("No space left on device (simulated)");
        });
        var e = assertThrows(phi2j.Phi2Exception.class, () -> w.write(p, false));
        assertTrue(e.getMessage().contains("No space left"), e.getMessage());
        try (var files = Files.list(dir)) {
            assertEquals(0, files.count(), "no partial or temporary file");
        }
    }

    @Test
    void ggmlTypesAreInGgmlIdOrder() {
        assertEquals(0, GgmlType.F32.id());
        assertEquals(8, GgmlType.Q8_0.id());
        assertEquals(12, GgmlType.Q4_K.id());
        assertEquals(14, GgmlType.Q6_K.id());
        assertEquals(30, GgmlType.BF16.id());
        assertEquals(35, GgmlType.TQ2_0.id());
        assertTrue(GgmlType.byId(4).isEmpty(), "retired id");
        assertEquals(144, GgmlType.Q4_K.bytesFor(256));
        assertThrows(IllegalArgumentException.class, () -> GgmlType.Q4_0.bytesFor(33));
    }
}
