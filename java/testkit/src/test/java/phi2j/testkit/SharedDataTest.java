package phi2j.testkit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** Where the reference data is looked for, as the README says: PHI2_SHARED_DATA first, even where Maven set the property. */
class SharedDataTest {
    /** Prints SharedData.dir() in a JVM of its own, so the environment can be chosen. */
    public static final class Print {
        public static void main(String[] args) {
            System.out.print(SharedData.dir());
        }
    }

    static String dirIn(String env, String property) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                property == null ? "-Dnothing=1" : "-Dphi2.shared.data=" + property, "-cp", System.getProperty("java.class.path"), Print.class.getName());
        pb.environment().remove("PHI2_SHARED_DATA");
        if (env != null) {
            pb.environment().put("PHI2_SHARED_DATA", env);
        }
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        return out;
    }

    @Test
    void theVariableWinsOverMavensPropertyWhichWinsOverTheDefault(@TempDir Path a, @TempDir Path b) throws Exception {
        assertEquals(a.toString(), dirIn(a.toString(), b.toString()), "PHI2_SHARED_DATA beats -Dphi2.shared.data");
        assertEquals(b.toString(), dirIn(null, b.toString()), "the property, where the variable is unset");
        assertEquals(Path.of("../shared/data").toAbsolutePath().normalize().toString(), dirIn(null, null), "else ../shared/data");
    }
}
