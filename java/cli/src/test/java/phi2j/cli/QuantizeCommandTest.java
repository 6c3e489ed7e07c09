package phi2j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;
import static phi2j.cli.CliTest.run;

class QuantizeCommandTest {
    @Test
    void dryRunPrintsThePerTensorTable() {
        CliTest.Run r = run("quantize", TestModels.quantTest().toString(), "unused.gguf", "Q4_K_M", "--dry-run");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("Q4_K_M (general.file_type 15)"), r.out());
        assertTrue(r.out().matches("(?s).*blk\\.0\\.attn_v\\.weight\\s+F32\\s+Q6_K.*"), r.out());
        assertTrue(r.out().matches("(?s).*blk\\.1\\.attn_v\\.weight\\s+F32\\s+Q4_K.*"), r.out());
        assertTrue(r.out().matches("(?s).*output\\.weight\\s+F32\\s+Q6_K.*"), r.out());
        assertFalse(Files.exists(Path.of("unused.gguf")));
    }

    @Test
    void quantizedTinyModelRunsInGenerate(@TempDir Path dir) {
        Path out = dir.resolve("tiny-q8.gguf");
        CliTest.Run q = run("quantize", TestModels.tiny().toString(), out.toString(), "q8_0", "-t", "2");
        assertEquals(0, q.exit(), q.err());
        assertTrue(q.out().startsWith("wrote " + out + ": Q8_0"), q.out());
        CliTest.Run g = run("generate", "-m", out.toString(), "-p", "Hello", "-n", "5", "-c", "128");
        assertEquals(0, g.exit(), g.err());
        assertTrue(g.err().contains("(5 tokens, "), g.err());
        assertEquals(2, run("quantize", TestModels.tiny().toString(), out.toString(), "q8_0").exit(), "exists: needs --force");
    }

    @Test
    void badInputsExitTwoWithOneLine(@TempDir Path dir) throws IOException {
        CliTest.Run r = run("quantize", TestModels.tiny().toString(), dir.resolve("o.gguf").toString(), "Q7_X");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("unknown type 'Q7_X'"), r.err());
        r = run("quantize", TestModels.tiny().toString(), dir.resolve("no/such/dir/o.gguf").toString(), "Q8_0");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("does not exist"), r.err());
        r = run("quantize", TestModels.tiny().toString(), dir.resolve("o.gguf").toString(), "Q8_0", "--lib", dir.toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("--lib: no libjllama"), r.err());
        Path text = Files.writeString(dir.resolve("t.gguf"), "text");
        r = run("quantize", text.toString(), dir.resolve("o.gguf").toString(), "Q8_0");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("not a GGUF"), r.err());
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no output, no temporary file");
        }
    }
}
