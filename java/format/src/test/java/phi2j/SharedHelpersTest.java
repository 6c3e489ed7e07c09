package phi2j;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/** The one sha256, the one owner-only file helper and the one progress type. */
class SharedHelpersTest {
    @Test
    void sha256OfBytesAndOfAFileAreTheStandardDigest(@TempDir Path dir) throws Exception {
        String abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; // FIPS 180-2, "abc"
        assertEquals(abc, Sha256.of("abc".getBytes(StandardCharsets.US_ASCII)));
        Path f = Files.write(dir.resolve("abc"), "abc".getBytes(StandardCharsets.US_ASCII));
        assertEquals(abc, Sha256.of(f));
        byte[] big = new byte[(3 << 20) + 7]; // spans several of the file reader's 1 MiB pieces
        new java.util.Random(1).nextBytes(big);
        assertEquals(Sha256.of(big), Sha256.of(Files.write(dir.resolve("big"), big)));
    }

    @Test
    @EnabledOnOs({OS.LINUX, OS.MAC})
    void ownerOnlyFilesAndFoldersAreClosedToEveryoneElse(@TempDir Path dir) throws Exception {
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(OwnerOnly.createDirectory(dir.resolve("d")))));
        Path tmp = OwnerOnly.createTempDirectory("phi2j-test-");
        try {
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tmp)));
        } finally {
            Files.delete(tmp);
        }
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(OwnerOnly.createFile(dir.resolve("f")))));
    }

    @Test
    void timerCountsUpAndProgressNoneIgnoresUpdates() throws Exception {
        Timer t = Timer.start();
        Thread.sleep(5);
        assertTrue(t.nanos() >= 5_000_000, "at least the 5 ms slept");
        assertEquals(t.elapsed().toNanos() / 1e9, t.seconds(), 0.05);
        AtomicLong last = new AtomicLong();
        Progress p = (done, total, item) -> last.set(done);
        p.update(7, 10, "x");
        Progress.NONE.update(9, 10, "x");
        assertEquals(7, last.get());
    }
}
