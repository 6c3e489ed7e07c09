package phi2j.cli;

import phi2j.nativelib.GpuProbe;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.runtime.Devices;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static phi2j.cli.CliTest.run;

class DevicesAndBenchTest {
    @Test
    void devicesListsTheCpuAndSaysThereIsNoGpu() {
        CliTest.Run r = run("devices");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().matches("(?s).*llama\\.cpp devices:\\s+0\\s+CPU.*"), r.out());
        assertTrue(r.out().contains("CPU features: CPU : "), r.out());
        CliTest.Run j = run("devices", "--json");
        JsonObject o = JsonParser.parseString(j.out()).getAsJsonObject();
        if (o.getAsJsonArray("gpus").isEmpty()) {
            assertTrue(r.out().contains("GPUs: none found"), r.out());
        }
        assertEquals("CPU", o.getAsJsonArray("devices").get(0).getAsJsonObject().get("type").getAsString());
        boolean nativeEngine = phi2j.runtime.EngineChoice.of(phi2j.runtime.ModelOptions.defaults()).kind() == phi2j.runtime.EngineKind.NATIVE;
        assertTrue(o.get("library").getAsString().endsWith(nativeEngine ? "libllama.so.0" : "libjllama.so"), "the engine auto chooses: " + o);
    }

    @Test
    void devicesWithAModelSaysWhereItsLayersGoAndRefusesAGpuThatIsNotThere() {
        String[] engine = engineBuildArgs();
        org.junit.jupiter.api.Assumptions.assumeTrue(engine != null, "no native engine build");
        String tiny = phi2j.testkit.TestModels.tiny().toString();
        CliTest.Run cpu = run("devices", "-m", tiny, "-ngl", "0", "--engine", "native");
        assertEquals(0, cpu.exit(), cpu.err());
        assertTrue(cpu.out().matches("(?s).*\nplacement \\(tiny-phi2\\.gguf, -ngl 0\\): (\\d+)/\\1 layers on CPU, KV cache on CPU\n.*"), cpu.out());
        CliTest.Run j = run("devices", "-m", tiny, "-ngl", "0", "--engine", "native", "--json");
        JsonObject p = JsonParser.parseString(j.out()).getAsJsonObject().getAsJsonObject("placement");
        assertEquals(0, p.get("offloadedLayers").getAsInt());
        assertEquals(p.get("totalLayers").getAsInt(), p.getAsJsonArray("layers").size() + 1, p.toString());
        // this engine has no GPU backend: -ngl -1 (the default with -m) is refused, naming the flag and the cause
        CliTest.Run gpu = run("devices", "-m", tiny, "--engine", "native");
        assertEquals(Main.BAD_INPUT, gpu.exit(), gpu.out());
        assertTrue(gpu.err().contains("--gpu-layers") && gpu.err().contains("no GPU device"), gpu.err());
    }

    /** The probe runs in a runner: the caller's JVM maps no llama.cpp, ggml or GPU runtime library (issue 13). */
    @Test
    @org.junit.jupiter.api.condition.EnabledOnOs(org.junit.jupiter.api.condition.OS.LINUX)
    void devicesLoadsNoNativeLibraryIntoTheCallersJvm() throws Exception {
        for (String[] args : List.of(new String[] {"devices", "--json"}, engineBuildArgs())) {
            if (args == null) {
                continue;
            }
            List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", System.getProperty("java.class.path"), MappedLibrariesMain.class.getName()));
            cmd.addAll(List.of(args));
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out);
            int at = out.indexOf("MAPPED:");
            assertTrue(at > 0, out);
            JsonObject o = JsonParser.parseString(out.substring(0, at)).getAsJsonObject();
            assertEquals("CPU", o.getAsJsonArray("devices").get(0).getAsJsonObject().get("type").getAsString(), "the runner answered");
            List<String> mapped = List.of(out.substring(at + "MAPPED:".length()).strip().split("\n"));
            assertTrue(mapped.stream().anyMatch(l -> l.startsWith("libjvm")), "the listing works: " + mapped);
            List<String> nativeLibs = mapped.stream()
                    .filter(l -> l.matches("lib(jllama|llama|ggml|phi2j|amdhip64|nvidia-ml|cuda|hip).*")).toList();
            assertEquals(List.of(), nativeLibs, String.join(" ", args) + " loaded these into the caller");
        }
    }

    /** {@code devices --lib BUILD} for the CPU native engine build when it exists (it does under scripts/test.sh). */
    private static String[] engineBuildArgs() {
        var build = phi2j.runtime.NativeEngineBuild.defaultDir().filter(d -> Files.isRegularFile(d.resolve("manifest.json")));
        if (build.isEmpty()) {
            assertNotEquals("true", System.getenv("CI"), "CI has no native engine build: scripts/test.sh builds it first");
            return null;
        }
        return new String[] {"devices", "--json", "--engine", "native", "--lib", build.get().toString()}; // whatever PHI2_ENGINE says
    }

    @Test
    void gfxTargetsAreNamedAsLlvmNamesThem(@TempDir Path topo) throws IOException {
        assertEquals("gfx90a", GpuProbe.gfxName(90010));
        assertEquals("gfx942", GpuProbe.gfxName(90402));
        assertEquals("gfx1100", GpuProbe.gfxName(110000));
        Files.createDirectories(topo.resolve("0"));
        Files.writeString(topo.resolve("0/properties"), "cpu_cores_count 64\ngfx_target_version 0\n");
        Files.createDirectories(topo.resolve("1"));
        Files.writeString(topo.resolve("1/properties"), "simd_count 440\ngfx_target_version 90010\n");
        Files.createDirectories(topo.resolve("2"));
        Files.writeString(topo.resolve("2/properties"), "gfx_target_version 90010\n");
        assertEquals(List.of("gfx90a", "gfx90a"), GpuProbe.kfdTargets(topo), "an MI250 shows as two GCDs");
        assertEquals("scripts/build-native.sh hip-gfx90a && phi2 ... --lib native/build/hip-gfx90a",
                Devices.buildAdvice(List.of(new GpuProbe.Gpu("AMD", 0, "AMD Instinct MI250X", "gfx90a", 64L << 30))).orElseThrow());
    }

    @Test
    void splitsForDevicesThatAreNotThereAreClearErrors() {
        CliTest.Run r = run("generate", "-m", TestModels.tiny().toString(), "-p", "x", "-ts", "1,1,1");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("-ts: lists 3 devices, but the llama.cpp library sees 0 GPU(s)"), r.err());
        r = run("generate", "-m", TestModels.tiny().toString(), "-p", "x", "-mg", "2");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("-mg: is 2"), r.err());
    }

    @Test
    void benchPrintsALlamaBenchTableAndValidCsvJsonAndPng(@TempDir Path dir) throws IOException {
        String m = TestModels.tiny().toString();
        CliTest.Run md = run("bench", "-m", m, "-p", "32", "-n", "8", "-r", "2", "--plot", dir.resolve("c.png").toString());
        assertEquals(0, md.exit(), md.err());
        List<String> lines = md.out().lines().toList();
        assertEquals("| model | size | params | backend | ngl | threads | test | t/s |", lines.get(0).replaceAll(" +", " "));
        assertTrue(lines.get(2).contains("pp32") && lines.get(3).contains("tg8"), md.out());
        assertTrue(lines.get(3).matches(".*\\| +\\d+\\.\\d\\d ± \\d+\\.\\d\\d \\|"), lines.get(3));
        byte[] png = Files.readAllBytes(dir.resolve("c.png"));
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, java.util.Arrays.copyOf(png, 8));
        assertNotNull(javax.imageio.ImageIO.read(dir.resolve("c.png").toFile()), "a PNG an image reader decodes");

        CliTest.Run csv = run("bench", "-m", m, "-p", "16", "-n", "4", "-r", "2", "-o", "csv");
        List<String> rows = csv.out().lines().toList();
        assertEquals(3, rows.size());
        List<String> head = List.of(rows.get(0).split(","));
        assertEquals(phi2j.cli.bench.BenchReport.FIELDS.stream().map(phi2j.cli.bench.BenchReport.Field::name).toList(), head,
                "CSV's header is the one column list, llama-bench's names");
        for (String row : rows.subList(1, 3)) {
            String[] c = row.split(",");
            assertEquals(head.size(), c.length);
            assertTrue(Double.parseDouble(c[head.indexOf("avg_ts")]) > 0);
        }

        CliTest.Run json = run("bench", "-m", m, "-p", "16", "-n", "4", "-r", "2", "-o", "json");
        JsonArray a = JsonParser.parseString(json.out()).getAsJsonArray();
        assertEquals(2, a.size());
        JsonObject tg = a.get(1).getAsJsonObject();
        assertEquals("tg4", tg.get("test").getAsString());
        assertEquals(2, tg.getAsJsonArray("samples_ts").size());
        boolean nativeEngine = phi2j.runtime.EngineChoice.of(phi2j.runtime.ModelOptions.defaults()).kind() == phi2j.runtime.EngineKind.NATIVE;
        assertTrue(tg.get("build_commit").getAsString().startsWith(nativeEngine ? phi2j.runtime.NativeEngineBuild.LLAMA_CPP_VERSION : "b4916"),
                tg.toString());
        assertTrue(tg.get("backends").getAsString().contains(nativeEngine ? " native " : " binding "), "every row names its engine: " + tg);
        assertTrue(tg.get("cpu_info").getAsString().contains("AVX") || tg.get("cpu_info").getAsString().contains("NEON"));
        Files.writeString(dir.resolve("r.json"), json.out());

        CliTest.Run jsonl = run("bench", "-m", m, "-p", "0", "-n", "4", "-r", "1", "-o", "jsonl");
        assertEquals(1, jsonl.out().lines().count());
        JsonParser.parseString(jsonl.out().strip()).getAsJsonObject();

        CliTest.Run par = run("bench", "-m", m, "-p", "0", "-n", "6", "-r", "2", "--parallel", "3");
        assertEquals(0, par.exit(), par.err());
        assertTrue(par.out().contains("t/s per sequence") && par.out().contains("tg6 x3"), par.out());
        assertEquals(2, run("bench", "-m", m, "--parallel", "0").exit());

        CliTest.Run fa = run("bench", "-m", m, "-p", "0", "-n", "4", "-r", "1", "-fa", "0,1", "-o", "json");
        assertEquals(0, fa.exit(), fa.err());
        var faRows = JsonParser.parseString(fa.out()).getAsJsonArray();
        assertEquals(2, faRows.size(), "one row per flash-attention setting");
        assertTrue(faRows.get(0).getAsJsonObject().get("backends").getAsString().endsWith(" fa=0"), fa.out());
        assertTrue(faRows.get(1).getAsJsonObject().get("backends").getAsString().endsWith(" fa=1"), fa.out());
        CliTest.Run badFa = run("bench", "-m", m, "-fa", "2");
        assertEquals(2, badFa.exit());
        assertTrue(badFa.err().contains("-fa"), badFa.err());

        CliTest.Run rep = run("bench-report", dir.resolve("r.json").toString(), "--device", "mi300x");
        assertEquals(0, rep.exit(), rep.err());
        assertTrue(rep.out().contains("bandwidth bound t/s") && rep.out().contains("5.30 TB/s"), rep.out());
        assertEquals(2, run("bench-report", dir.resolve("r.json").toString(), "--device", "tpu").exit());
        Path notJson = Files.writeString(dir.resolve("x.json"), "not json");
        CliTest.Run bad = run("bench-report", notJson.toString());
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains("is not phi2 bench JSON output"), bad.err());
        assertEquals(2, run("devices", "--lib", dir.toString()).exit(), "a --lib folder without the library");
        assertEquals(2, run("bench", "-m", m, "-r", "0").exit());
        assertEquals(2, run("bench", "-m", m, "-o", "xml").exit());
    }

    /** bench --demo runs the walkthrough's six prompts through phi2 demo's loop and tabulates them beside the MI210's seconds. */
    @Test
    void benchDemoTimesTheSixPromptsBesideTheWalkthrough() {
        CliTest.Run r = run("bench", "-m", TestModels.tiny().toString(), "--demo");
        assertEquals(0, r.exit(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals("| model | # | task | new tok | seconds | MI210 walkthrough s | speed-up | stop |", lines.get(0).replaceAll(" +", " "));
        assertEquals(2 + DemoPrompts.TASKS.size(), lines.size(), r.out());
        for (int i = 0; i < DemoPrompts.TASKS.size(); i++) {
            String[] cells = lines.get(2 + i).split("\\|");
            assertEquals(String.valueOf(i + 1), cells[2].strip());
            assertEquals(String.format(java.util.Locale.ROOT, "%.2f", DemoPrompts.TASKS.get(i).walkthroughSeconds()), cells[6].strip());
            assertTrue(cells[7].strip().matches("\\d+\\.\\dx"), lines.get(2 + i));
        }
        assertEquals(DemoPrompts.TASKS.size(), r.err().lines().filter(l -> l.startsWith("bench --demo: ")).count(), r.err());
    }

    /** As llama-bench: the sweep is one flat list of tests, and consecutive tests with equal load parameters share the runner. */
    @Test
    void aSweepOpensOneRunnerPerDistinctLoadConfiguration() {
        String m = TestModels.tiny().toString();
        CliTest.Run r = run("bench", "-m", m, "-p", "8", "-n", "4", "-r", "1", "-d", "0,16", "-t", "1,2", "-o", "jsonl");
        assertEquals(0, r.exit(), r.err());
        List<JsonObject> rows = r.out().lines().map(l -> JsonParser.parseString(l).getAsJsonObject()).toList();
        assertEquals(List.of("pp8", "tg4", "pp8 @ d16", "tg4 @ d16", "pp8", "tg4", "pp8 @ d16", "tg4 @ d16"),
                rows.stream().map(o -> o.get("test").getAsString()).toList(), "2 thread counts x 2 depths x (pp8, tg4), loads outermost");
        List<String> loads = r.err().lines().filter(l -> l.startsWith("bench: loading")).toList();
        assertEquals(2, loads.size(), "one runner per thread count, reused across depths and tests: " + r.err());
        assertTrue(loads.get(0).contains("threads 1,") && loads.get(1).contains("threads 2,"), loads.toString());
    }

    @Test
    void benchGpuScriptHandlesItsArguments() throws Exception {
        NativeBuildScriptTest.Run r = run2("--dry-run", "--lib", "/opt/gpu-build", "--device", "mi300x", "--gpus", "8", "--out", "/tmp/x");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("--runners 8") && r.out().contains("bench --engine native --lib /opt/gpu-build"), r.out());
        assertTrue(r.out().contains("-ngl 99 -p 512 -n 128 -r 5 -fa 0,1 -o json > /tmp/x/single.json"), r.out());
        assertTrue(run2("--dry-run", "--lib", "/x", "--device", "h200").out().contains("--device h200"), "the H200's bound is known");
        assertTrue(r.out().contains("bench-report /tmp/x/single.json --device mi300x"), r.out());
        assertEquals(2, run2("--dry-run").exit(), "--lib is required");
        assertEquals(2, run2("--dry-run", "--lib", "/x", "--device", "tpu").exit());
        assertEquals(2, run2("--dry-run", "--lib", "/x", "--gpus", "0").exit());
    }

    static NativeBuildScriptTest.Run run2(String... args) throws Exception {
        java.util.List<String> cmd = new java.util.ArrayList<>(List.of("bash", NativeBuildScriptTest.ROOT.resolve("scripts/bench-gpu.sh").toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).start();
        String out = new String(p.getInputStream().readAllBytes());
        String err = new String(p.getErrorStream().readAllBytes());
        p.waitFor();
        return new NativeBuildScriptTest.Run(p.exitValue(), out, err);
    }
}
