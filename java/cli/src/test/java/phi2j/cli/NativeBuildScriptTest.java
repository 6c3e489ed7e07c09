package phi2j.cli;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.NativeLibraryException;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** scripts/build-native.sh: argument handling, prerequisite checks, dry-run command lines, and the superbuild's plumbing. */
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

    @Test
    void dryRunPrintsTheCommandsOfEveryPreset(@TempDir Path noRocm) throws Exception {
        for (String preset : List.of("cpu", "hip", "hip-gfx90a", "hip-gfx942", "cuda", "vulkan")) {
            Run r = run(noRocm, preset, "--dry-run", "--jobs", "3");
            assertEquals(0, r.exit(), preset + ": " + r.err());
            List<String> lines = r.out().lines().toList();
            assertEquals(2, lines.size(), r.out());
            assertTrue(lines.get(0).startsWith("cmake -S " + ROOT.resolve("native") + " -B " + ROOT.resolve("native/build/" + preset + "/cmake")
                    + " -C " + ROOT.resolve("cmake/presets/" + preset + ".cmake") + " -DCMAKE_BUILD_TYPE=Release"), lines.get(0));
            assertEquals("cmake --build " + ROOT.resolve("native/build/" + preset + "/cmake") + " --parallel 3", lines.get(1));
            assertEquals(preset.startsWith("hip"), lines.get(0).contains("-DROCM_PATH=" + noRocm), lines.get(0));
            assertTrue(Files.isRegularFile(ROOT.resolve("cmake/presets/" + preset + ".cmake")));
        }
        String gfx90a = Files.readString(ROOT.resolve("cmake/presets/hip-gfx90a.cmake"));
        assertTrue(gfx90a.contains("GGML_HIP ON") && gfx90a.contains("AMDGPU_TARGETS \"gfx90a\""), gfx90a);
        assertTrue(Files.readString(ROOT.resolve("cmake/presets/hip-gfx942.cmake")).contains("\"gfx942\""));
        assertTrue(Files.readString(ROOT.resolve("cmake/presets/hip.cmake")).contains("\"gfx90a;gfx942\""));
        assertTrue(Files.readString(ROOT.resolve("cmake/presets/cuda.cmake")).contains("GGML_CUDA ON"));
    }

    @Test
    void targetListsAndLocalSourcesReachTheCommandLine(@TempDir Path dir) throws Exception {
        Run r = run(dir, "hip", "--gpu-targets", "gfx90a,gfx942", "--rocm-path", dir.toString(), "--jllama-src", dir.toString(), "--dry-run");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("'-DAMDGPU_TARGETS=gfx90a;gfx942'"), r.out());
        assertTrue(r.out().contains("-DPHI2J_JLLAMA_SOURCE_DIR=" + dir), r.out());
        r = run(dir, "cuda", "--gpu-targets", "80,90", "--dry-run");
        assertTrue(r.out().contains("'-DCMAKE_CUDA_ARCHITECTURES=80;90'"), r.out());
    }

    @Test
    void badArgumentsAreRefusedWithExitTwo(@TempDir Path dir) throws Exception {
        Run r = run(dir, "rocm");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("unknown preset 'rocm'"), r.err());
        assertEquals(2, run(dir, "cpu", "--gpu-targets", "gfx90a").exit());
        assertTrue(run(dir, "hip", "--gpu-targets", "sm_80").err().contains("gfx names"));
        assertEquals(2, run(dir, "cpu", "--jobs", "zero").exit());
        assertEquals(2, run(dir, "cpu", "--jllama-src", dir.resolve("nope").toString()).exit());
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
        assertFalse(r.err().contains("ROCm"), r.err());
    }

    @Test
    void theSuperbuildInstallsTheLibraryWithAManifestAndABadLibraryIsAClearError(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(onPath("cmake") && (onPath("cc") || onPath("gcc")), "needs cmake and a C compiler to build the stand-in library");
        Path src = dir.resolve("fake-jllama");
        Files.createDirectories(src);
        for (String f : List.of("CMakeLists.txt", "fake.c")) {
            try (var in = getClass().getResourceAsStream("/fake-jllama/" + f)) {
                Files.copy(in, src.resolve(f));
            }
        }
        Path out = dir.resolve("install");
        Run r = run(null, "cpu", "--jllama-src", src.toString(), "--out", out.toString(), "--jobs", "2");
        assertEquals(0, r.exit(), r.out() + r.err());
        Path lib = out.resolve(System.mapLibraryName("jllama"));
        assertTrue(Files.isRegularFile(lib), r.err());
        String manifest = Files.readString(out.resolve("manifest.json"));
        assertTrue(manifest.contains("\"backend\": \"cpu\"") && manifest.contains("\"javaLlamaCpp\": \"v4.2.0\"")
                && manifest.contains("\"llamaCpp\": \"b4916\""), manifest);

        // the stand-in has no JNI functions: opening a model with it must fail clearly, not fall back silently
        NativeLibraryException e = assertThrows(NativeLibraryException.class,
                () -> Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withNativeLibrary(out).withContextSize(128)));
        assertTrue(e.getMessage().contains("llama.cpp native library"), e.getMessage());
    }

    private static boolean onPath(String cmd) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(d, cmd))) {
                return true;
            }
        }
        return false;
    }
}
