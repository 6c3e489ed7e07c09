package phi2j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * scripts/gpu-check.sh and its helper scripts/source_listing.py: argument handling, the dry runs of both modes, a
 * missing kit, and the listing check that lets a trimmed source stand for the pinned tree. (The kit itself and a
 * whole CPU run of the pipeline are made by scripts/test.sh after the Maven tests, from the packaged jars.)
 */
@EnabledOnOs({OS.LINUX, OS.MAC})
class GpuCheckScriptTest {
    static final Path ROOT = NativeBuildScriptTest.ROOT;

    static NativeBuildScriptTest.Run run(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(ROOT.toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        return new NativeBuildScriptTest.Run(p.exitValue(), out, err);
    }

    static NativeBuildScriptTest.Run check(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("bash", ROOT.resolve("scripts/gpu-check.sh").toString()));
        cmd.addAll(List.of(args));
        return run(cmd.toArray(String[]::new));
    }

    @Test
    void dryRunListsEveryStepWithItsCommandForEachBackend() throws Exception {
        var cuda = check("--dry-run", "--kit", "/k", "--jobs", "16", "--out", "/r");
        assertEquals(0, cuda.exit(), cuda.err());
        List<String> lines = cuda.out().lines().toList();
        assertEquals(8, lines.size(), cuda.out());
        for (int i = 0; i < 8; i++) {
            assertTrue(lines.get(i).startsWith(i + ". "), lines.get(i));
        }
        assertTrue(cuda.out().contains("build-native.sh portable-cuda --backend-only --with-tools --cpu-modules /tmp/phi2j-gpu-check/cpu "
                + "--llama-src /tmp/phi2j-gpu-check/llama.cpp --llama-src-listing /k/llama.cpp.listing --gpu-targets 90 --jobs 16"), cuda.out());
        assertTrue(cuda.out().contains("native-jar.sh " + ROOT.resolve("native/build/portable-cuda-backend") + " --out /tmp/phi2j-gpu-check/"
                + "phi2j-0.1.0-SNAPSHOT-linux-x86_64/lib"), "the add-on jar goes into the package's lib/: " + cuda.out());
        assertTrue(cuda.out().contains("bin/phi2 verify -m MODEL -ngl 99"), cuda.out());
        assertTrue(cuda.out().contains("EngineComparison --tools " + ROOT.resolve("native/build/portable-cuda-backend/cmake/bin")), cuda.out());
        assertTrue(cuda.out().contains("/r/results.md, /r/results.json, /r/bench.png"), cuda.out());

        var hip = check("--dry-run", "--backend", "hip");
        assertEquals(0, hip.exit(), hip.err());
        assertTrue(hip.out().contains("build-native.sh portable-hip ") && hip.out().contains("--gpu-targets gfx90a,gfx942"), hip.out());
        var vulkan = check("--dry-run", "--backend", "vulkan");
        assertTrue(vulkan.out().contains("build-native.sh portable-vulkan --backend-only") && !vulkan.out().contains("--gpu-targets"), vulkan.out());
        var cpu = check("--dry-run", "--backend", "cpu");
        assertTrue(cpu.out().contains("1. build: none") && cpu.out().contains("2. add-on: none"), cpu.out());

        var prepare = check("--prepare", "/tmp/kit", "--dry-run");
        assertEquals(0, prepare.exit(), prepare.err());
        assertEquals(5, prepare.out().lines().count(), prepare.out());
        assertTrue(prepare.out().contains("scripts/package.sh"), prepare.out());
        assertTrue(prepare.out().contains("under 63 MiB"), prepare.out());
    }

    @Test
    void badArgumentsStopWithStatusTwoNamingTheOption() throws Exception {
        String[][] cases = {
                {"--backend", "metal"}, {"--backend"}, {"--targets", "gfx90a"}, {"--backend", "hip", "--targets", "90"},
                {"--backend", "cpu", "--targets", "90"}, {"--jobs", "0"}, {"--rounds", "x"}, {"--shape", "huge"}, {"--frobnicate"},
        };
        String[] named = {"--backend", "--backend", "--targets", "--targets", "--targets", "--jobs", "--rounds", "--shape", "--frobnicate"};
        for (int i = 0; i < cases.length; i++) {
            List<String> args = new ArrayList<>(List.of(cases[i]));
            args.add("--dry-run");
            var r = check(args.toArray(String[]::new));
            assertEquals(2, r.exit(), String.join(" ", cases[i]) + ": " + r.err());
            assertTrue(r.err().contains(named[i]), String.join(" ", cases[i]) + ": " + r.err());
            assertEquals("", r.out(), "nothing runs after a bad argument");
        }
    }

    @Test
    void aMissingKitIsNamedWithTheCommandThatMakesIt(@TempDir Path tmp) throws Exception {
        var r = check("--kit", tmp.resolve("nokit").toString(), "--backend", "cpu", "--out", tmp.resolve("out").toString());
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().contains("no kit in") && r.err().contains("--prepare"), r.err());
    }

    /** The listing rebuilds the pinned tree hash, and a trimmed copy passes only while every file matches it. */
    @Test
    void theSourceListingRebuildsTheTreeHashAndCatchesAChangedFile(@TempDir Path tmp) throws Exception {
        Path repo = Files.createDirectories(tmp.resolve("repo"));
        Files.createDirectories(repo.resolve("a/b"));
        Files.writeString(repo.resolve("top.txt"), "top\n");
        Files.writeString(repo.resolve("a/b/deep.c"), "int x;\n");
        Files.writeString(repo.resolve("a-b.txt"), "sorts between a and a/\n");
        Path tool = repo.resolve("run.sh");
        Files.writeString(tool, "#!/bin/sh\n");
        tool.toFile().setExecutable(true);
        assertEquals(0, run("git", "-C", repo.toString(), "init", "-q").exit());
        assertEquals(0, run("git", "-C", repo.toString(), "add", ".").exit());
        String tree = run("git", "-C", repo.toString(), "write-tree").out().strip();
        Path listing = tmp.resolve("listing");
        Files.writeString(listing, run("git", "-C", repo.toString(), "ls-tree", "-r", "--full-tree", tree).out());
        var t = run("python3", ROOT.resolve("scripts/source_listing.py").toString(), "tree", listing.toString());
        assertEquals(tree, t.out().strip(), t.err());

        Path copy = Files.createDirectories(tmp.resolve("copy/a/b")).getParent().getParent();
        Files.writeString(copy.resolve("a/b/deep.c"), "int x;\n"); // a trimmed copy: top.txt, a-b.txt and run.sh left out
        var ok = run("python3", ROOT.resolve("scripts/source_listing.py").toString(), "verify", listing.toString(), copy.toString());
        assertEquals(0, ok.exit(), ok.err());
        assertEquals("1", ok.out().strip());
        Files.writeString(copy.resolve("a/b/deep.c"), "int y;\n");
        var changed = run("python3", ROOT.resolve("scripts/source_listing.py").toString(), "verify", listing.toString(), copy.toString());
        assertNotEquals(0, changed.exit());
        assertTrue(changed.err().contains("a/b/deep.c: differs"), changed.err());
        Files.writeString(copy.resolve("a/b/deep.c"), "int x;\n");
        Files.writeString(copy.resolve("extra.c"), "evil\n");
        var extra = run("python3", ROOT.resolve("scripts/source_listing.py").toString(), "verify", listing.toString(), copy.toString());
        assertNotEquals(0, extra.exit());
        assertTrue(extra.err().contains("extra.c: not in the pinned tree"), extra.err());
    }
}
