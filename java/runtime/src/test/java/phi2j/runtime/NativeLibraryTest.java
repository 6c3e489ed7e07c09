package phi2j.runtime;

import phi2j.nativelib.NativeLibraryException;
import phi2j.nativelib.NativeLibrary;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The bundled library is used from a private, verified, never-rewritten copy. */
@EnabledOnOs(OS.LINUX)
class NativeLibraryTest {
    @TempDir
    Path cache;

    @BeforeEach
    void privateCache() {
        System.setProperty("phi2.cache.dir", cache.resolve("phi2j").toString());
    }

    @AfterEach
    void restore() {
        System.clearProperty("phi2.cache.dir");
    }

    @Test
    void sixteenRunnersStartingTogetherShareOneUntouchedCopy() throws Exception {
        Path lib = NativeLibrary.bundled();
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(cache.resolve("phi2j"))));
        Object inode = Files.getAttribute(lib, "unix:ino");
        FileTime mtime = Files.getLastModifiedTime(lib);

        int n = 16;
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<Integer>> runs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            runs.add(CompletableFuture.supplyAsync(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                try (Phi2Model m = Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withEngine(EngineKind.BINDING).withContextSize(256).withThreads(1))) {
                    assertTrue(m.info().nativeLibrary().contains(lib.toString()), m.info().nativeLibrary());
                    return m.generate("Hello", GenerationOptions.greedy().withMaxNewTokens(4)).generatedTokens();
                }
            }, java.util.concurrent.Executors.newFixedThreadPool(n)));
        }
        go.countDown();
        for (CompletableFuture<Integer> r : runs) {
            assertEquals(4, r.get(300, TimeUnit.SECONDS));
        }
        assertEquals(inode, Files.getAttribute(lib, "unix:ino"), "never rewritten");
        assertEquals(mtime, Files.getLastModifiedTime(lib));
        assertEquals(lib, NativeLibrary.bundled());
    }

    @Test
    void aCacheFolderOthersCanWriteIsRefusedByName() throws IOException {
        Path root = Files.createDirectories(cache.resolve("phi2j"));
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxrwxrwx"));
        NativeLibraryException e = assertThrows(NativeLibraryException.class, NativeLibrary::bundled);
        assertTrue(e.getMessage().contains(root.toString()) && e.getMessage().contains("writable by other users"), e.getMessage());
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxrwx---"));
        assertThrows(NativeLibraryException.class, NativeLibrary::bundled, "group-writable too");
    }

    @Test
    void aPlantedFileWithTheWrongHashIsReplacedAndALinkIsRefused() throws IOException {
        Path lib = NativeLibrary.bundled();
        byte[] good = Files.readAllBytes(lib);
        Files.writeString(lib, "not the library");
        assertEquals(lib, NativeLibrary.bundled());
        assertArrayEquals(good, Files.readAllBytes(lib), "ours but stale: replaced with the verified bytes");

        Files.delete(lib);
        Path elsewhere = Files.write(cache.resolve("evil.so"), good);
        Files.createSymbolicLink(lib, elsewhere);
        NativeLibraryException e = assertThrows(NativeLibraryException.class, NativeLibrary::bundled);
        assertTrue(e.getMessage().contains("symbolic link"), e.getMessage());
    }

    @Test
    void theBindingsCpuBuildRefusesGpuLayersUnlessTheFallbackIsAllowedAndCannotSayWhereLayersWent() {
        ModelOptions o = ModelOptions.defaults().withEngine(EngineKind.BINDING).withContextSize(256).withThreads(1).withGpuLayers(-1);
        phi2j.InvalidOptionException e = assertThrows(phi2j.InvalidOptionException.class, () -> Phi2Model.open(TestModels.tiny(), o).close());
        assertEquals("gpuLayers", e.option());
        assertTrue(e.problem().contains("no GPU device") && e.problem().contains("allowCpuFallback"), e.problem());
        try (Phi2Model m = Phi2Model.open(TestModels.tiny(), o.withAllowCpuFallback(true))) {
            assertEquals(LayerPlacement.UNKNOWN, m.info().placement());
            assertEquals(4, m.generate("Hello", GenerationOptions.greedy().withMaxNewTokens(4)).generatedTokens());
        }
    }

    @Test
    void aRefusedOptionPointsAtTheCallersLine() {
        try (Phi2Model m = Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withEngine(EngineKind.BINDING).withContextSize(256))) {
            phi2j.InvalidOptionException e = assertThrows(phi2j.InvalidOptionException.class,
                    () -> m.generate("Hello", GenerationOptions.greedy().withMaxNewTokens(2).withLogprobs(2)));
            assertEquals("logprobs", e.option());
            assertTrue(e.problem().contains("needs the native engine") && e.problem().contains("runs on the binding"), e.problem());
            assertTrue(java.util.Arrays.stream(e.getStackTrace()).anyMatch(f -> f.getClassName().equals(NativeLibraryTest.class.getName())),
                    "the stack holds the caller's line, not only the runner's reader thread: " + java.util.Arrays.toString(e.getStackTrace()));
        }
    }

    @Test
    void aCustomLibraryFolderWithoutTheLibraryIsAClearError(@TempDir Path custom) {
        NativeLibraryException e = assertThrows(NativeLibraryException.class,
                () -> Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withEngine(EngineKind.BINDING).withNativeLibrary(custom)));
        assertTrue(e.getMessage().contains("no libjllama.so in " + custom), e.getMessage());
    }

    @Test
    void aCustomLibraryThatDoesNotLoadIsReportedNotSilentlyReplaced(@TempDir Path custom) throws IOException {
        Files.writeString(custom.resolve(NativeLibrary.fileName()), "not a shared object");
        NativeLibraryException e = assertThrows(NativeLibraryException.class,
                () -> Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withEngine(EngineKind.BINDING).withNativeLibrary(custom)));
        assertTrue(e.getMessage().contains("could not be loaded"), e.getMessage());
    }
}
