package phi2j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;
import static phi2j.cli.CliTest.run;

class ConvertCommandTest {
    @Test
    void convertThenInspectThenGenerate(@TempDir Path dir) {
        Path out = dir.resolve("tiny.gguf");
        CliTest.Run c = run("convert", TestModels.tinyCheckpoint().toString(), "-o", out.toString(), "--outtype", "q8_0");
        assertEquals(0, c.exit(), c.err());
        assertTrue(c.out().startsWith("wrote " + out + ": Q8_0, 33 tensors"), c.out());
        CliTest.Run i = run("inspect", out.toString());
        assertEquals(0, i.exit());
        for (String line : new String[] {"phi2.context_length", "phi2.embedding_length", "phi2.feed_forward_length", "phi2.block_count",
                "phi2.attention.head_count", "phi2.attention.head_count_kv", "phi2.attention.layer_norm_epsilon",
                "phi2.rope.dimension_count          uint32   32", "general.file_type", "general.name", "tokenizer.ggml.pre",
                "[STRING x 51200:", "[STRING x 50000:", "tokenizer.ggml.eos_token_id        uint32   50256", "phi2 check: OK"}) {
            assertTrue(i.out().contains(line), line + "\n" + i.out());
        }
        CliTest.Run g = run("generate", "-m", out.toString(), "-p", "Instruct: What is 2+2?\\nOutput:", "-n", "8", "-c", "128");
        assertEquals(0, g.exit(), g.err());
        assertTrue(g.err().contains("(8 tokens, "), g.err());
        assertEquals(2, run("convert", TestModels.tinyCheckpoint().toString(), "-o", out.toString()).exit(), "exists: --force needed");
    }

    @Test
    void badCheckpointsExitTwo(@TempDir Path dir) throws IOException {
        CliTest.Run r = run("convert", dir.resolve("nope").toString(), "-o", dir.resolve("o.gguf").toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("no such folder"), r.err());
        Files.writeString(dir.resolve("config.json"), "{\"architectures\": [\"GPT2LMHeadModel\"], \"model_type\": \"gpt2\"}");
        Files.writeString(dir.resolve("model.safetensors"), "");
        r = run("convert", dir.toString(), "-o", dir.resolve("o.gguf").toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("model.safetensors: not a safetensors file") || r.err().contains("GPT2LMHeadModel"), r.err());
        r = run("convert", TestModels.tinyCheckpoint().toString(), "-o", dir.resolve("o.gguf").toString(), "--outtype", "iq1_s");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("importance matrix"), r.err());
        assertFalse(Files.exists(dir.resolve("o.gguf")));
    }
}
