package phi2j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** What the README says the environment does, each in a CLI process of its own with exactly that environment. */
@EnabledOnOs({OS.LINUX, OS.MAC})
class EnvironmentTest {
    record Run(int exit, String out, String err) {
    }

    static Run phi2(Map<String, String> env, List<String> jvm, String... args) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(ProcessTest.cli(jvm, args));
        for (String v : List.of("PHI2_NATIVE_LIB", "PHI2_CACHE_DIR", "XDG_CACHE_HOME", "PHI2_ENGINE")) {
            pb.environment().remove(v);
        }
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        return new Run(p.exitValue(), out, err);
    }

    /** --lib, then PHI2_NATIVE_LIB, then -Dphi2.native.lib: the error names the folder (and the setting) that was used. */
    @Test
    void theNativeLibraryIsChosenByFlagThenVariableThenProperty(@TempDir Path flag, @TempDir Path env, @TempDir Path prop) throws Exception {
        Map<String, String> withEnv = Map.of("PHI2_NATIVE_LIB", env.toString());
        List<String> withProp = List.of("-Dphi2.native.lib=" + prop);
        Run all = phi2(withEnv, withProp, "devices", "--lib", flag.toString());
        assertEquals(2, all.exit());
        assertTrue(all.err().contains("--lib") && all.err().contains(flag.toString()), all.err());
        Run envAndProp = phi2(withEnv, withProp, "devices");
        assertEquals(2, envAndProp.exit());
        assertTrue(envAndProp.err().contains("$PHI2_NATIVE_LIB") && envAndProp.err().contains(env.toString()), envAndProp.err());
        Run propOnly = phi2(Map.of(), withProp, "devices");
        assertEquals(2, propOnly.exit());
        assertTrue(propOnly.err().contains("-Dphi2.native.lib") && propOnly.err().contains(prop.toString()), propOnly.err());
    }

    /** The bundled library is copied into PHI2_CACHE_DIR, else $XDG_CACHE_HOME/phi2j, into owner-only folders. */
    @Test
    @EnabledOnOs(OS.LINUX)
    void theBundledLibraryIsCachedWhereTheVariablesSay(@TempDir Path xdg, @TempDir Path cache) throws Exception {
        Run x = phi2(Map.of("XDG_CACHE_HOME", xdg.toString()), List.of(), "devices", "--engine", "binding", "--json");
        assertEquals(0, x.exit(), x.err());
        assertTrue(x.out().contains(xdg.resolve("phi2j").resolve("binding").toString()), x.out());
        try (var found = Files.walk(xdg.resolve("phi2j"))) {
            List<Path> libs = found.filter(f -> f.getFileName().toString().equals("libjllama.so")).toList();
            assertEquals(1, libs.size(), "one verified copy: " + libs);
            assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(libs.get(0).getParent())));
        }
        Run c = phi2(Map.of("XDG_CACHE_HOME", xdg.toString(), "PHI2_CACHE_DIR", cache.toString()), List.of(), "devices", "--engine", "binding", "--json");
        assertEquals(0, c.exit(), c.err());
        assertTrue(c.out().contains(cache.resolve("binding").toString()), "PHI2_CACHE_DIR wins over XDG_CACHE_HOME: " + c.out());
    }
}
