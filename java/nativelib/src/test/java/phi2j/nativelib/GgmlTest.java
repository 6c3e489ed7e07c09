package phi2j.nativelib;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.format.GgmlType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** ggml through JNA: one instance per library file, the quantization entry points, the backend device list. */
class GgmlTest {
    @Test
    void oneInstancePerLibraryFileNotOnePerJvm(@TempDir Path dir) throws Exception {
        Ggml bundled = Ggml.get(null);
        assertSame(bundled, Ggml.get(null));
        Path bundledFile = NativeLibrary.bundled();
        assertSame(bundled, Ggml.load(bundledFile), "the same file is the same instance");
        Path copy = Files.copy(bundledFile, Files.createDirectory(dir.resolve("custom")).resolve(NativeLibrary.fileName()));
        Ggml custom = Ggml.get(copy.getParent());
        assertNotSame(bundled, custom, "a custom library is its own instance, not the first one loaded");
        assertEquals(bundled.rowSize(GgmlType.Q4_0, 256), custom.rowSize(GgmlType.Q4_0, 256));
        assertEquals(144, bundled.rowSize(GgmlType.Q4_0, 256), "8 blocks of 32 weights, 18 bytes each");
    }

    @Test
    void theBundledLibraryListsItsCpuDeviceAndFeatures() {
        Ggml g = Ggml.load(NativeLibrary.bundled());
        List<Ggml.BackendDevice> devices = g.devices();
        assertFalse(devices.isEmpty());
        assertEquals(0, devices.get(0).type(), "GGML_BACKEND_DEVICE_TYPE_CPU");
        assertTrue(g.systemInfo().contains("CPU"), g.systemInfo());
    }

    @Test
    void aFileThatIsNotALibraryIsNamed(@TempDir Path dir) throws Exception {
        Path bogus = Files.writeString(dir.resolve("libjllama.so"), "not a library");
        var e = assertThrows(NativeLibraryException.class, () -> Ggml.load(bogus));
        assertTrue(e.getMessage().contains(bogus.toString()), e.getMessage());
    }
}
