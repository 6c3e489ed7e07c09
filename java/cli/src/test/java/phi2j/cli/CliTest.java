package phi2j.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.stream.JsonReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.testkit.TestModels;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The commands run in this JVM, with stdout and stderr captured. */
class CliTest {
    record Run(int exit, String out, String err) {
    }

    static Run run(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    private static final String TINY = TestModels.tiny().toString();

    @Test
    void generatePrintsTextAndTheWalkthroughsTimingLines() {
        Run r = run("generate", "-m", TINY, "-p", "Instruct: hi\\nOutput:", "-n", "12", "-c", "256");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.err().matches("(?s)Loaded in \\d+\\.\\d\\d seconds\\R.*"), r.err());
        assertTrue(r.err().contains("Generated in "), r.err());
        assertTrue(r.err().contains("(12 tokens, "), r.err());
        assertTrue(r.err().contains("stop: length"), r.err());
        assertFalse(r.out().contains("Loaded in"), "timings stay off stdout");
    }

    @Test
    void jsonIsExactlyOneDocumentOnStdout() throws IOException {
        Run r = run("generate", "-m", TINY, "-p", "Hello", "-n", "7", "--json", "-c", "256");
        assertEquals(0, r.exit(), r.err());
        JsonReader reader = new JsonReader(new StringReader(r.out()));
        JsonObject o = JsonParser.parseReader(reader).getAsJsonObject();
        assertEquals(com.google.gson.stream.JsonToken.END_DOCUMENT, reader.peek(), "nothing after the object");
        assertEquals(7, o.get("generatedTokens").getAsInt());
        assertEquals("LENGTH", o.get("stopReason").getAsString());
        assertTrue(o.get("promptTokens").getAsInt() > 0);
        assertTrue(o.getAsJsonObject("timings").get("tokensPerSecond").getAsDouble() > 0);
        assertEquals(r.out().strip(), r.out().strip().lines().findFirst().orElseThrow(), "one line");
    }

    @Test
    void streamedTextEqualsTheBlockingText() {
        Run a = run("generate", "-m", TINY, "-p", "Alice: hi\\nBob:", "-n", "25", "--stream", "-c", "256");
        Run b = run("generate", "-m", TINY, "-p", "Alice: hi\\nBob:", "-n", "25", "-c", "256");
        assertEquals(0, a.exit());
        assertEquals(a.out(), b.out());
    }

    @Test
    void badInputIsOneLineAndExitTwo(@TempDir Path dir) throws IOException {
        Run r = run("generate", "-m", dir.resolve("missing.gguf").toString(), "-p", "x");
        assertEquals(2, r.exit());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("missing.gguf: no such file"), r.err());

        r = run("generate", "-m", TINY, "-p", "x", "--temperature", "-1");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("temperature"), r.err());

        r = run("generate", "-m", TINY, "-p", "x", "--top-p", "2");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("--top-p: "), "the flag, not the API field: " + r.err());

        r = run("generate", "-m", TINY, "-p", "x", "--presence-penalty", "3");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("--presence-penalty: "), "the flag, not the API field: " + r.err());

        r = run("generate", "-m", TINY, "-p", "a long prompt", "--max-length", "2", "-c", "256");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("--max-length: "), r.err());

        r = run("generate", "--no-such-option");
        assertEquals(2, r.exit());

        Path notGguf = Files.writeString(dir.resolve("x.gguf"), "hello");
        r = run("inspect", notGguf.toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("not a GGUF"), r.err());

        r = run("generate", "-m", TINY, "-p", "x", "--lib", dir.toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("no libjllama.so") && r.err().contains("(--lib)") && r.err().contains(dir.toString()), r.err());
    }

    @Test
    void inspectShowsMetadataTensorsAndThePhi2Check() {
        Run r = run("inspect", TINY);
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("general.architecture"));
        assertTrue(r.out().contains("phi2.rope.dimension_count          uint32   32"), r.out());
        assertTrue(r.out().contains("blk.1.ffn_down.weight"));
        assertTrue(r.out().contains("phi2 check: OK"));
    }

    @Test
    void demoWithoutTheDefaultModelSaysHowToGetIt(@TempDir Path dir) {
        System.setProperty("phi2.models.dir", dir.toString());
        try {
            Run r = run("demo", "--no-download");
            assertEquals(2, r.exit());
            assertTrue(r.err().contains(Advice.phi2() + " pull phi-2.Q4_K_M"), r.err());
            assertTrue(r.err().contains("https://huggingface.co/TheBloke/phi-2-GGUF/resolve/main/phi-2.Q4_K_M.gguf"), r.err());
            assertTrue(r.err().contains("324356668fa5ba9f4135de348447bb2bbe2467eaa1b8fcfb53719de62fbd2499"), r.err());
            assertTrue(r.err().contains("phi2 synth"), r.err());
        } finally {
            System.clearProperty("phi2.models.dir");
        }
    }

    @Test
    void synthRefusesToOverwriteAnotherModelAndKeepsAnIdenticalOne(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("m.gguf");
        assertEquals(0, run("synth", "-o", p.toString()).exit());
        byte[] before = Files.readAllBytes(p);
        // the README's one-liner, run twice: the same model is already there, kept, exit 0
        Run same = run("synth", "-o", p.toString());
        assertEquals(0, same.exit(), same.err());
        assertTrue(same.out().contains("already holds this model") && same.out().contains("kept"), same.out());
        try (var files = Files.list(dir)) {
            assertEquals(java.util.List.of(p), files.toList(), "no temporary file left beside it");
        }
        Run again = run("synth", "-o", p.toString(), "--seed", "9");
        assertEquals(2, again.exit());
        assertTrue(again.err().contains("--output") && again.err().contains("holds another model"), again.err());
        // the bytes, not the size: a model of another seed has the same size
        assertArrayEquals(before, Files.readAllBytes(p), "the refused run left the file as it was");
        assertEquals(0, run("synth", "-o", p.toString(), "--seed", "9", "--force").exit());
        assertFalse(java.util.Arrays.equals(before, Files.readAllBytes(p)), "--force did replace it (with seed 9's weights)");
    }
}
