package phi2j.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;
import phi2j.runtime.NativeEngineBuild;
import phi2j.runtime.internal.NativeEngine;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * scripts/build-native.sh: argument handling, prerequisite checks, the source routes and their tree check, dry-run
 * command lines, and the build that .ci/run made with it (its manifest names the pinned llama.cpp).
 */
@EnabledOnOs({OS.LINUX, OS.MAC})
class NativeBuildScriptTest {
    static final Path ROOT = Path.of(System.getProperty("phi2.home", "../..")).toAbsolutePath().normalize();
    static final Path SCRIPT = ROOT.resolve("scripts/build-native.sh");

    record Run(int exit, String out, String err) {
    }

    static Run run(Path emptyRocm, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("bash", SCRIPT.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        if (emptyRocm != null) {
            pb.environment().put("ROCM_PATH", emptyRocm.toString());
        }
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(600, TimeUnit.SECONDS));
        return new Run(p.exitValue(), out, err);
    }

    /** A value pinned in cmake/versions.cmake. */
    static String pin(String name) throws IOException {
        Matcher m = Pattern.compile("set\\(" + name + " +\"([^\"]*)\"").matcher(Files.readString(ROOT.resolve("cmake/versions.cmake")));
        assertTrue(m.find(), name + " is pinned");
        return m.group(1);
    }

    @Test
    void dryRunPrintsTheCommandsOfEveryPreset(@TempDir Path noRocm) throws Exception {
        for (String preset : List.of("cpu", "hip", "hip-gfx90a", "hip-gfx942", "cuda", "vulkan")) {
            Run r = run(noRocm, preset, "--dry-run", "--jobs", "3");
            assertEquals(0, r.exit(), preset + ": " + r.err());
            List<String> lines = r.out().lines().toList();
            assertEquals(2, lines.size(), r.out());
            assertTrue(lines.get(0).contains("-S " + ROOT.resolve("native") + " -B " + ROOT.resolve("native/build/" + preset + "/cmake")
                    + " -C " + ROOT.resolve("cmake/presets/" + preset + ".cmake") + " -DCMAKE_BUILD_TYPE=Release"), lines.get(0));
            assertTrue(lines.get(0).contains("-DPHI2J_PRESET=" + preset), lines.get(0));
            assertEquals("cmake --build " + ROOT.resolve("native/build/" + preset + "/cmake") + " --target phi2j_install --parallel 3", lines.get(1));
            assertEquals(preset.startsWith("hip"), lines.get(0).contains("-DROCM_PATH=" + noRocm), lines.get(0));
            assertTrue(r.err().contains("llama.cpp " + pin("PHI2J_LLAMA_CPP_VERSION") + " (tree " + pin("PHI2J_LLAMA_CPP_TREE") + ")"), r.err());
        }
        String gfx90a = Files.readString(ROOT.resolve("cmake/presets/hip-gfx90a.cmake"));
        assertTrue(gfx90a.contains("GGML_HIP ON") && gfx90a.contains("AMDGPU_TARGETS \"gfx90a\""), gfx90a);
        assertTrue(Files.readString(ROOT.resolve("cmake/presets/hip-gfx942.cmake")).contains("\"gfx942\""));
        assertTrue(Files.readString(ROOT.resolve("cmake/presets/hip.cmake")).contains("\"gfx90a;gfx942\""));
        assertTrue(Files.readString(ROOT.resolve("cmake/presets/cuda.cmake")).contains("GGML_CUDA ON"));
    }

    @Test
    void targetListsToolsAndALocalSourceReachTheCommandLine(@TempDir Path dir) throws Exception {
        Run r = run(dir, "hip", "--gpu-targets", "gfx90a,gfx942", "--rocm-path", dir.toString(), "--llama-src", dir.toString(), "--dry-run");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("'-DAMDGPU_TARGETS=gfx90a;gfx942'"), r.out());
        assertTrue(r.err().contains("--llama-src " + dir), r.err());
        r = run(dir, "cuda", "--gpu-targets", "80,90", "--with-tools", "--dry-run");
        assertTrue(r.out().contains("'-DCMAKE_CUDA_ARCHITECTURES=80;90'") && r.out().contains("-DPHI2J_BUILD_TOOLS=ON"), r.out());
        assertTrue(r.out().contains("--target phi2j_install phi2j_tools"), r.out());
    }

    @Test
    void badArgumentsAreRefusedWithExitTwo(@TempDir Path dir) throws Exception {
        Run r = run(dir, "rocm");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("unknown preset 'rocm'"), r.err());
        assertEquals(2, run(dir, "cpu", "--gpu-targets", "gfx90a").exit());
        assertTrue(run(dir, "hip", "--gpu-targets", "sm_80").err().contains("gfx names"));
        assertEquals(2, run(dir, "cpu", "--jobs", "zero").exit());
        Run nope = run(dir, "cpu", "--llama-src", dir.resolve("nope").toString());
        assertEquals(2, nope.exit());
        assertTrue(nope.err().contains(dir.resolve("nope").toString()), nope.err());
        assertEquals(2, run(dir, "cpu", "--frobnicate").exit());
        assertEquals(2, run(null).exit());
    }

    @Test
    void missingRocmIsNamedPreciselyAndStopsARealRun(@TempDir Path emptyRocm) throws Exception {
        Run r = run(emptyRocm, "hip-gfx90a");
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("no hipcc in " + emptyRocm + "/bin"), r.err());
        assertTrue(r.err().contains("hipblas"), r.err());
        assertEquals("", r.out(), "nothing was run");
    }

    @Test
    void aFakeRocmSatisfiesTheChecks(@TempDir Path rocm) throws Exception {
        Files.createDirectories(rocm.resolve("bin"));
        Path hipcc = Files.writeString(rocm.resolve("bin/hipcc"), "#!/bin/sh\n");
        hipcc.toFile().setExecutable(true);
        Files.createDirectories(rocm.resolve("lib/cmake/hip"));
        Files.createDirectories(rocm.resolve("lib/cmake/hipblas"));
        Run r = run(rocm, "hip-gfx942", "--dry-run");
        assertFalse(r.err().contains("missing for"), r.err());
    }

    @Test
    void aSourceThatIsNotThePinnedTreeIsRefusedBeforeAnythingIsBuilt(@TempDir Path dir) throws Exception {
        Path src = dir.resolve("llama.cpp");
        Files.createDirectories(src.resolve("include"));
        Files.writeString(src.resolve("include/llama.h"), "// not the pinned llama.cpp\n");
        git(src, "init", "-q");
        git(src, "add", "-A");
        git(src, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "other");
        Path out = dir.resolve("out");
        Run r = run(null, "cpu", "--llama-src", src.toString(), "--out", out.toString());
        assertEquals(1, r.exit(), r.err());
        assertTrue(r.err().contains("is not the pinned " + pin("PHI2J_LLAMA_CPP_TREE")), r.err());
        assertTrue(r.err().contains("--llama-src"), r.err());
        assertFalse(Files.exists(out.resolve("cmake")), "nothing was configured");
    }

    @Test
    void theBuildNamesThePinnedLlamaCppAndTheAbiIsOneFact() throws Exception {
        assertEquals(NativeEngineBuild.LLAMA_CPP_VERSION, pin("PHI2J_LLAMA_CPP_VERSION"));
        assertEquals(String.valueOf(NativeEngineBuild.ENGINE_ABI), pin("PHI2J_ENGINE_ABI"));
        assertEquals(NativeEngine.ABI, NativeEngineBuild.ENGINE_ABI);
        assertTrue(Files.readString(ROOT.resolve("native/src/jni.cpp")).contains("ENGINE_ABI = " + NativeEngineBuild.ENGINE_ABI + ";"));
        Path manifest = ROOT.resolve("native/build/cpu/manifest.json");
        if (!Files.isRegularFile(manifest)) {
            assertNotEquals("true", System.getenv("CI"), "CI=true but .ci/run built no native engine at " + manifest);
            org.junit.jupiter.api.Assumptions.abort("no native build at " + manifest + " (scripts/build-native.sh cpu)");
        }
        JsonObject o = JsonParser.parseString(Files.readString(manifest)).getAsJsonObject();
        assertEquals("phi2j-native", o.get("engine").getAsString());
        assertEquals(pin("PHI2J_LLAMA_CPP_VERSION"), o.get("llamaCppVersion").getAsString());
        assertEquals(pin("PHI2J_LLAMA_CPP_COMMIT"), o.get("llamaCppCommit").getAsString());
        assertEquals(NativeEngineBuild.ENGINE_ABI, o.get("engineAbi").getAsInt());
        assertEquals("cpu", o.get("backend").getAsString());
        NativeEngineBuild b = NativeEngineBuild.read(manifest.getParent());
        assertTrue(Files.isRegularFile(b.library()));
    }

    private static void git(Path dir, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("git", "-C", dir.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
    }
}
