package phi2j.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.format.GgmlType;
import phi2j.format.GgufFile;
import phi2j.format.GgufReader;
import phi2j.format.GgufTensorInfo;
import phi2j.runtime.TokenLogprob.Alternative;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static phi2j.cli.CliTest.run;

/**
 * phi2 verify: never a PASS for a GPU comparison in which no layer left the CPU; passes a model against itself, fails a
 * damaged copy naming prompts and positions, and says where the layers ran.
 */
class VerifyCommandTest {
    @TempDir
    Path tmp;

    static final String TINY = TestModels.tiny().toString();

    @Test
    void withNoGpuDeviceAGpuCheckIsAnErrorNamingTheCauseNeverAPass() {
        // the CPU engine the tests run has no GPU backend: the default -ngl -1 and an explicit -ngl 99 are both refused
        for (List<String> ngl : List.of(List.<String>of(), List.of("-ngl", "99"))) {
            List<String> args = new java.util.ArrayList<>(List.of("verify", "-m", TINY, "--engine", "native", "--positions", "3"));
            args.addAll(ngl);
            CliTest.Run r = run(args.toArray(String[]::new));
            assertEquals(Main.BAD_INPUT, r.exit(), r.out() + r.err());
            assertFalse(r.out().contains("PASS"), r.out());
            assertTrue(r.err().contains("no GPU device") && r.err().contains("--allow-cpu-fallback"), r.err());
        }
        // allowed to fall back, the engine loads on the CPU, and verify still refuses to call that a GPU check
        CliTest.Run f = run("verify", "-m", TINY, "--engine", "native", "--positions", "3", "-ngl", "99", "--allow-cpu-fallback");
        assertEquals(Main.BAD_INPUT, f.exit(), f.out() + f.err());
        assertFalse(f.out().contains("PASS"), f.out());
        assertTrue(f.err().contains("left the CPU") && f.err().contains("layers on CPU"), f.err());
    }

    @Test
    void theTinyModelPassesAgainstItselfAndTheHeaderSaysWhereTheLayersRan() {
        CliTest.Run r = run("verify", "-m", TINY, "--engine", "native", "--positions", "3", "--against", TINY);
        assertEquals(Main.OK, r.exit(), r.out() + r.err());
        assertTrue(r.out().startsWith("PASS: 18 positions, top-1 agreement 18/18, worst |dp| 0.00000"), r.out());
        assertTrue(r.err().matches("(?s).*verify: tiny-phi2\\.gguf \\(-ngl -1: (\\d+)/\\1 layers on CPU, KV cache on CPU; .*"), r.err());
    }

    @Test
    void aCopyWithOneTensorScaledFailsWithExitOneNamingPromptsAndPositions() throws IOException {
        Path damaged = scaled(tmp.resolve("damaged.gguf"), "output.weight", 4f);
        CliTest.Run r = run("verify", "-m", TINY, "--engine", "native", "--positions", "3", "--against", damaged.toString());
        assertEquals(Main.CHECK_FAILED, r.exit(), r.out() + r.err());
        assertTrue(r.out().startsWith("FAIL: 18 positions"), r.out());
        assertTrue(r.out().matches("(?s).*\\n  prompt [1-6] after \\d+ tokens: \\|dp\\| 0\\.\\d{5}, KL .*"), r.out());

        CliTest.Run j = run("verify", "-m", TINY, "--engine", "native", "--positions", "2", "--against", damaged.toString(), "--json");
        assertEquals(Main.CHECK_FAILED, j.exit(), j.err());
        JsonObject o = JsonParser.parseString(j.out()).getAsJsonObject();
        assertEquals("FAIL", o.get("verdict").getAsString());
        assertFalse(o.getAsJsonArray("failures").isEmpty());
        JsonObject first = o.getAsJsonArray("failures").get(0).getAsJsonObject();
        assertTrue(first.get("maxAbsDp").getAsDouble() > o.get("maxAbsDpLimit").getAsDouble(), first.toString());
    }

    @Test
    void badValuesNameTheirFlag() {
        CliTest.Run r = run("verify", "-m", TINY, "--positions", "0");
        assertEquals(Main.BAD_INPUT, r.exit());
        assertTrue(r.err().contains("--positions"), r.err());
        CliTest.Run t = run("verify", "-m", TINY, "--top", "21");
        assertEquals(Main.BAD_INPUT, t.exit());
        assertTrue(t.err().contains("--top"), t.err());
        CliTest.Run a = run("verify", "-m", TINY, "--against", tmp.resolve("missing.gguf").toString());
        assertEquals(Main.BAD_INPUT, a.exit());
        assertTrue(a.err().contains("--against") && a.err().contains("missing.gguf"), a.err());
    }

    @Test
    void comparingAPositionMeasuresDifferencesAndFlagsOnlyConfidentTopOneFlips() {
        Verification.Tolerance tol = new Verification.Tolerance(0.01, 0.001);
        List<Alternative> a = List.of(new Alternative(1, "a", Math.log(0.6)), new Alternative(2, "b", Math.log(0.3)));
        Verification.Position same = Verification.compare(1, 5, a, a, tol);
        assertTrue(same.top1Agrees());
        assertEquals(0, same.maxAbsDp(), 1e-12);
        assertEquals(0, same.kl(), 1e-12);

        List<Alternative> swapped = List.of(new Alternative(2, "b", Math.log(0.6)), new Alternative(1, "a", Math.log(0.3)));
        Verification.Position flip = Verification.compare(1, 5, a, swapped, tol);
        assertFalse(flip.top1Agrees());
        assertTrue(flip.confidentDisagreement(), "0.6 against 0.3 is no tie");
        assertEquals(0.3, flip.maxAbsDp(), 1e-9);
        assertEquals(0.6 * Math.log(2) + 0.3 * Math.log(0.5), flip.kl(), 1e-9); // the 0.1 left over matches on both sides

        List<Alternative> tie = List.of(new Alternative(1, "a", Math.log(0.450)), new Alternative(2, "b", Math.log(0.449)));
        List<Alternative> tieFlipped = List.of(new Alternative(2, "b", Math.log(0.450)), new Alternative(1, "a", Math.log(0.449)));
        Verification.Position near = Verification.compare(1, 5, tie, tieFlipped, tol);
        assertFalse(near.top1Agrees());
        assertFalse(near.confidentDisagreement(), "a lead of 0.001 may flip on rounding");

        Verification.Summary s = Verification.summarize(List.of(same, flip, near), tol);
        assertFalse(s.passed());
        assertEquals(List.of(flip), s.failures());
        assertEquals(1, s.top1Agreements());
    }

    @Test
    void tolerancesFollowTheLessPreciseSideAndPositionsCoverThePrompt() {
        assertEquals(Verification.tolerance(GgmlType.Q4_K), Verification.tolerance(GgmlType.F16, GgmlType.Q4_K));
        assertTrue(Verification.tolerance(GgmlType.F32).maxAbsDp() < Verification.tolerance(GgmlType.Q8_0).maxAbsDp());
        assertEquals(List.of(5, 10, 15, 20), VerifyCommand.positionsOf(20, 4));
        assertEquals(List.of(1, 2, 3), VerifyCommand.positionsOf(3, 8), "a short prompt gives each position once");
    }

    /** A copy of the tiny model with every value of one F32 tensor multiplied by {@code factor}. */
    static Path scaled(Path out, String tensor, float factor) throws IOException {
        Files.copy(TestModels.tiny(), out);
        GgufFile f = GgufReader.read(out);
        GgufTensorInfo t = f.tensor(tensor).orElseThrow();
        assertEquals(GgmlType.F32, t.type());
        try (FileChannel ch = FileChannel.open(out, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long at = f.dataOffset() + t.offset();
            ByteBuffer b = ByteBuffer.allocate((int) t.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, at);
            for (int i = 0; i < b.capacity(); i += 4) {
                b.putFloat(i, b.getFloat(i) * factor);
            }
            b.rewind();
            ch.write(b, at);
        }
        return out;
    }
}
