package phi2j.convert;

import phi2j.nativelib.Ggml;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.format.GgmlType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.junit.jupiter.api.Assertions.*;

/** The converter's own contract with its worker threads, apart from any file format. */
class TensorConverterTest {
    @TempDir
    Path tmp;

    /**
     * A part that fails ggml's validation must not be reported while the other part is still quantizing into the
     * shared native buffers: the caller closes the converter on the failure, which frees them. The race was seen as
     * a JVM abort in CI; here the converter is asked directly whether any worker is still running, many times over.
     */
    @Test
    void aFailedPartIsReportedOnlyAfterEveryPartHasStopped() throws IOException {
        int rowLen = 4096;
        int rows = 1024; // one chunk, two parts of 512 rows
        Path file = tmp.resolve("inf-first.f32");
        ByteBuffer values = ByteBuffer.allocate(rowLen * rows * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < rowLen * rows; i++) {
            values.putFloat(i, i == 0 ? Float.POSITIVE_INFINITY : (i % 97) / 97f);
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(values);
        }
        var source = new TensorConverter.Source("blk.0.ffn_up.weight", new long[] {rowLen, rows}, GgmlType.F32, file, 0);
        for (int attempt = 0; attempt < 30; attempt++) {
            try (TensorConverter conv = new TensorConverter(Ggml.get(null), 2)) {
                IOException e = assertThrows(IOException.class, () -> conv.convert(source, GgmlType.Q8_0, b -> { }, n -> { }));
                assertTrue(e.getMessage().contains("blk.0.ffn_up.weight"), e.getMessage());
                assertTrue(conv.idle(), "attempt " + attempt + ": a worker was still running when the failure was reported");
            }
        }
    }
}
