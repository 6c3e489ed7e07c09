package phi2j.convert;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.BadModelFileException;
import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

/** Each damaged checkpoint gives one clear error naming the file (and tensor), and no output file. */
class ConvertBadInputTest {
    @TempDir
    Path tmp;
    Path ckpt;
    Path outDir;
    static final String SHARD1 = "model-00001-of-00002.safetensors";

    @BeforeEach
    void copy() throws IOException {
        ckpt = tmp.resolve("ckpt");
        Files.createDirectories(ckpt);
        try (var files = Files.list(TestModels.smallCheckpoint())) {
            for (Path p : files.toList()) {
                Files.copy(p, ckpt.resolve(p.getFileName()));
            }
        }
        outDir = Files.createDirectories(tmp.resolve("out"));
    }

    private String fails(Class<? extends Phi2Exception> type) {
        Path out = outDir.resolve("m.gguf");
        Phi2Exception e = assertThrows(type, () -> Converter.convert(ckpt, out, new Converter.Options(FileType.F16, 2, false, null), (d, t, n) -> { }));
        try (var files = Files.list(outDir)) {
            assertEquals(List.of(), files.toList(), "no output or temporary file");
        } catch (IOException ex) {
            throw new UncheckedIOException(ex);
        }
        return e.getMessage();
    }

    /** Rewrites a shard's header JSON (data bytes unchanged; offsets are relative to the data). */
    private void editHeader(String shard, Consumer<JsonObject> edit) throws IOException {
        Path p = ckpt.resolve(shard);
        byte[] all = Files.readAllBytes(p);
        long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonObject h = JsonParser.parseString(new String(all, 8, (int) n, StandardCharsets.UTF_8)).getAsJsonObject();
        edit.accept(h);
        byte[] json = h.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + json.length + all.length - 8 - (int) n).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(json.length).put(json).put(all, 8 + (int) n, all.length - 8 - (int) n);
        Files.write(p, b.array());
    }

    private void editJson(String file, Consumer<JsonObject> edit) throws IOException {
        JsonObject o = JsonParser.parseString(Files.readString(ckpt.resolve(file))).getAsJsonObject();
        edit.accept(o);
        Files.writeString(ckpt.resolve(file), o.toString());
    }

    private static JsonArray longs(long... v) {
        JsonArray a = new JsonArray();
        Arrays.stream(v).forEach(a::add);
        return a;
    }

    @Test
    void headerLengthPastTheEnd() throws IOException {
        byte[] all = Files.readAllBytes(ckpt.resolve(SHARD1));
        ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        Files.write(ckpt.resolve(SHARD1), all);
        String m = fails(BadModelFileException.class);
        assertTrue(m.contains(SHARD1) && m.contains("header length"), m);
    }

    @Test
    void headerThatIsNotJson() throws IOException {
        byte[] all = Files.readAllBytes(ckpt.resolve(SHARD1));
        all[8] = '[';
        all[9] = '}';
        Files.write(ckpt.resolve(SHARD1), all);
        String m = fails(BadModelFileException.class);
        assertTrue(m.contains(SHARD1) && m.contains("not valid JSON"), m);
    }

    @Test
    void unknownDtype() throws IOException {
        editHeader(SHARD1, h -> h.getAsJsonObject("model.embed_tokens.weight").addProperty("dtype", "F12"));
        String m = fails(BadModelFileException.class);
        assertTrue(m.contains("'model.embed_tokens.weight': unknown dtype \"F12\""), m);
        copyBack();
        editHeader(SHARD1, h -> h.getAsJsonObject("model.embed_tokens.weight").addProperty("dtype", "I16"));
        m = fails(BadModelFileException.class);
        assertTrue(m.contains("dtype I16; the converter reads F32, F16 and BF16"), m);
    }

    private void copyBack() throws IOException {
        Files.copy(TestModels.smallCheckpoint().resolve(SHARD1), ckpt.resolve(SHARD1), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    @Test
    void offsetsOutOfRangeOrOverlapping() throws IOException {
        editHeader(SHARD1, h -> h.getAsJsonObject("model.embed_tokens.weight").add("data_offsets", longs(0, 1L << 40)));
        String m = fails(BadModelFileException.class);
        assertTrue(m.contains("'model.embed_tokens.weight': data_offsets") && m.contains("out of range"), m);
        copyBack();
        editHeader(SHARD1, h -> h.getAsJsonObject("model.layers.0.input_layernorm.bias").add("data_offsets",
                h.getAsJsonObject("model.layers.0.input_layernorm.weight").get("data_offsets")));
        m = fails(BadModelFileException.class);
        assertTrue(m.contains("overlap"), m);
    }

    @Test
    void aMissingTensor() throws IOException {
        editJson("model.safetensors.index.json", o -> o.getAsJsonObject("weight_map").remove("model.layers.0.mlp.fc2.bias"));
        String m = fails(BadModelFileException.class);
        assertTrue(m.contains("lacks tensor 'model.layers.0.mlp.fc2.bias'"), m);
    }

    @Test
    void aShapeThatDisagreesWithConfig() throws IOException {
        editJson("config.json", o -> o.addProperty("intermediate_size", 128));
        String m = fails(BadModelFileException.class);
        assertTrue(m.contains("'model.layers.0.mlp.fc1.weight' has shape [64, 32], but config.json implies [128, 32]"), m);
    }

    @Test
    void anIndexNamingAShardThatDoesNotExist() throws IOException {
        editJson("model.safetensors.index.json", o -> o.getAsJsonObject("weight_map").addProperty("lm_head.bias", "model-00009-of-00002.safetensors"));
        String m = fails(BadModelFileException.class);
        assertTrue(m.contains("model.safetensors.index.json") && m.contains("'model-00009-of-00002.safetensors'") && m.contains("does not exist"), m);
    }

    @Test
    void missingTokenizerFiles() throws IOException {
        Files.delete(ckpt.resolve("tokenizer.json"));
        String m = fails(BadModelFileException.class);
        assertTrue(m.contains("tokenizer.json: is missing"), m);
    }

    @Test
    void configOfAnotherArchitectureAndTheOldMixFormerLayout() throws IOException {
        editJson("config.json", o -> {
            o.add("architectures", JsonParser.parseString("[\"LlamaForCausalLM\"]"));
            o.addProperty("model_type", "llama");
        });
        String m = fails(BadModelFileException.class);
        assertTrue(m.contains("config.json") && m.contains("LlamaForCausalLM") && m.contains("Phi-2 checkpoints (PhiForCausalLM"), m);
        editJson("config.json", o -> {
            o.add("architectures", JsonParser.parseString("[\"MixFormerSequentialForCausalLM\"]"));
            o.addProperty("model_type", "phi-msft");
        });
        m = fails(BadModelFileException.class);
        assertTrue(m.contains("older MixFormer layout") && m.contains("revision 'main'"), m);
    }

    @Test
    void outputFolderNotWritableAndAnExistingOutput() throws IOException {
        Path notADir = Files.writeString(tmp.resolve("file"), "x");
        InvalidOptionException e = assertThrows(InvalidOptionException.class, () -> Converter.convert(ckpt, notADir.resolve("m.gguf"),
                new Converter.Options(FileType.F16, 2, false, null), (d, t, n) -> { }));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        Files.writeString(outDir.resolve("m.gguf"), "keep");
        e = assertThrows(InvalidOptionException.class, () -> Converter.convert(ckpt, outDir.resolve("m.gguf"),
                new Converter.Options(FileType.F16, 2, false, null), (d, t, n) -> { }));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        assertEquals("keep", Files.readString(outDir.resolve("m.gguf")));
    }

    @Test
    void diskFullMidWayLeavesNothing() {
        Path out = outDir.resolve("m.gguf");
        UncheckedIOException full = new UncheckedIOException(new IOException("No space left on device (simulated)"));
        RuntimeException e = assertThrows(RuntimeException.class, () -> Converter.convert(ckpt, out,
                new Converter.Options(FileType.F16, 2, false, null), (d, t, n) -> {
                    if (d > 0) {
                        throw full;
                    }
                }));
        assertSame(full, e);
        assertFalse(Files.exists(out));
        try (var files = Files.list(outDir)) {
            assertEquals(0, files.count());
        } catch (IOException ex) {
            throw new UncheckedIOException(ex);
        }
    }
}
