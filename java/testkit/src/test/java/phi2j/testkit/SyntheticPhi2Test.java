package phi2j.testkit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.BadModelFileException;
import phi2j.format.GgmlType;
import phi2j.format.GgufFile;
import phi2j.format.GgufReader;
import phi2j.format.GgufValue;
import phi2j.format.GgufWriter;
import phi2j.format.Phi2Layout;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class SyntheticPhi2Test {
    @TempDir
    Path dir;

    @Test
    void tinyModelHasPhi2MetadataAndLayout() {
        GgufFile f = GgufReader.read(SyntheticPhi2.tiny().write(dir.resolve("t.gguf")));
        Phi2Layout.Hparams hp = Phi2Layout.check(f);
        assertEquals(160, hp.embedding());
        assertEquals(80, hp.headSize(), "Phi-2's head size");
        assertEquals(32, hp.ropeDims(), "0.4 x 80, as Phi-2");
        assertEquals("phi-2", f.getString("tokenizer.ggml.pre").orElseThrow());
        Phi2Layout.Vocabulary v = Phi2Layout.vocabulary(f);
        assertEquals("<|endoftext|>", v.eosText());
        assertFalse(v.addBos());
        assertEquals(5 + 2 * 14, f.tensors().size(), "token_embd, output_norm w+b, output w+b, and 14 per block");
        assertEquals(33, f.tensors().size());
        assertEquals(SyntheticPhi2.tiny().tensorNames(), f.tensors().stream().map(t -> t.name()).toList());
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherBytes() throws IOException {
        byte[] a = Files.readAllBytes(SyntheticPhi2.tiny().write(dir.resolve("a.gguf")));
        byte[] b = Files.readAllBytes(SyntheticPhi2.tiny().write(dir.resolve("b.gguf")));
        byte[] c = Files.readAllBytes(SyntheticPhi2.tiny().withSeed(7).write(dir.resolve("c.gguf")));
        assertArrayEquals(a, b);
        assertFalse(java.util.Arrays.equals(a, c));
    }

    @Test
    void byteAlphabetIsABijection() {
        char[] m = ByteLevelVocabulary.byteAlphabet();
        assertEquals(256, new String(m).chars().distinct().count());
        assertEquals('Ġ', m[' ']);
        assertEquals('A', m['A']);
    }

    private Path model(String arch, boolean dropEmbedding, boolean wrongShape) {
        GgufFile src = GgufReader.read(SyntheticPhi2.tiny().write(dir.resolve("src.gguf")));
        GgufWriter w = new GgufWriter();
        for (Map.Entry<String, GgufValue> e : src.metadata().entrySet()) {
            w.put(e.getKey(), e.getKey().equals("general.architecture") ? GgufValue.string(arch) : e.getValue());
        }
        src.tensors().forEach(t -> {
            if (dropEmbedding && t.name().equals("token_embd.weight")) {
                return;
            }
            long[] shape = t.shape();
            if (wrongShape && t.name().equals("blk.1.ffn_up.weight")) {
                shape = new long[] {shape[0], shape[1] / 2};
            }
            w.addTensor(t.name(), GgmlType.F32, shape, (i, sink) -> sink.write(ByteBuffer.allocate((int) i.byteSize())));
        });
        Path p = dir.resolve(arch + dropEmbedding + wrongShape + ".gguf");
        w.write(p, true);
        return p;
    }

    @Test
    void otherArchitecturesMissingTensorsAndWrongShapesAreRefused() {
        var e = assertThrows(BadModelFileException.class, () -> Phi2Layout.check(GgufReader.read(model("llama", false, false))));
        assertTrue(e.getMessage().contains("architecture is 'llama'"), e.getMessage());
        e = assertThrows(BadModelFileException.class, () -> Phi2Layout.check(GgufReader.read(model("phi2", true, false))));
        assertTrue(e.getMessage().contains("'token_embd.weight' is missing"), e.getMessage());
        e = assertThrows(BadModelFileException.class, () -> Phi2Layout.check(GgufReader.read(model("phi2", false, true))));
        assertTrue(e.getMessage().contains("'blk.1.ffn_up.weight' has shape [160, 320], expected [160, 640]"), e.getMessage());
    }

    @Test
    void missingMetadataIsNamed() {
        Path p = dir.resolve("bare.gguf");
        new GgufWriter().putString("general.architecture", "phi2").put(phi2j.format.Phi2Key.BLOCK_COUNT, 2).write(p, false);
        var e = assertThrows(BadModelFileException.class, () -> Phi2Layout.check(GgufReader.read(p)));
        assertTrue(e.getMessage().contains("lacks the metadata a Phi-2 model needs: phi2.context_length, phi2.embedding_length"),
                e.getMessage());
    }

    /** Phi2Key states each key's type once: a file that holds another type is refused, naming key and both types. */
    @Test
    void aKeyOfAnotherTypeIsRefusedAsLlamaCppWould() throws Exception {
        GgufFile src = GgufReader.read(model("phi2", false, false));
        Path p = dir.resolve("int32-blocks.gguf");
        GgufWriter w = new GgufWriter();
        for (Map.Entry<String, GgufValue> e : src.metadata().entrySet()) {
            boolean blocks = e.getKey().equals(phi2j.format.Phi2Key.BLOCK_COUNT.key());
            w.put(e.getKey(), blocks ? GgufValue.int32(e.getValue().asLong()) : e.getValue());
        }
        w.write(p, false);
        var e = assertThrows(BadModelFileException.class, () -> Phi2Layout.check(GgufReader.read(p)));
        assertTrue(e.getMessage().contains("phi2.block_count must be of type UINT32 (llama.cpp refuses any other), found INT32 2"), e.getMessage());
    }
}
