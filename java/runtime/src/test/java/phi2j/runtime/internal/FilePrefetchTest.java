package phi2j.runtime.internal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class FilePrefetchTest {
    private static long rssFileKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("RssFile:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no RssFile");
    }

    @Test
    void onlyFilesUpToHalfOfTheMachinesMemoryAreReadAhead() {
        assertTrue(FilePrefetch.worthReading(8L << 30, 16L << 30));
        assertFalse(FilePrefetch.worthReading((8L << 30) + 1, 16L << 30));
        assertFalse(FilePrefetch.worthReading(1, 0), "memory unknown: left alone");
        assertFalse(FilePrefetch.worthReading(0, 16L << 30), "an empty file: nothing to read");
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void theWholeFileIsReadAndItsPagesDoNotStayInTheCallersProcess(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("model.gguf");
        byte[] block = new byte[1 << 20];
        new Random(7).nextBytes(block);
        int mib = 200; // more than three 64 MiB pieces and a part
        try (OutputStream out = Files.newOutputStream(file)) {
            for (int i = 0; i < mib; i++) {
                out.write(block);
            }
        }
        long before = rssFileKb();
        FilePrefetch p = FilePrefetch.start(file);
        assertTrue(p.await(60_000), "the read ended");
        assertEquals(Files.size(file), p.bytesRead(), "every piece was read");
        long grown = rssFileKb() - before;
        assertTrue(grown < 64 * 1024, "the caller's file-backed RSS grew " + grown + " kB: the pieces were not unmapped");
        p.close();
    }

    @Test
    void aMissingFileIsLeftToTheFileCheckToReport(@TempDir Path dir) throws Exception {
        FilePrefetch p = FilePrefetch.start(dir.resolve("missing.gguf"));
        assertTrue(p.await(10_000));
        assertEquals(0, p.bytesRead());
    }
}
