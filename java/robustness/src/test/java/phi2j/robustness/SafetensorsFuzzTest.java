package phi2j.robustness;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.Phi2Exception;
import phi2j.convert.Converter;
import phi2j.convert.FileType;
import phi2j.format.GgufReader;
import phi2j.format.Phi2Layout;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.runtime.RunnerCrashedException;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Seeded mutants of a small synthetic checkpoint (shard headers, JSON, dtypes, offsets, shapes, index) fed to convert. */
class SafetensorsFuzzTest {
    static final long SEED = 7;
    static final int MUTANTS = 320;

    @TempDir
    Path dir;

    @Test
    void mutatedCheckpointsEndInAClearErrorOrAValidGguf() throws IOException {
        Path base = TestModels.smallCheckpoint();
        Path ck = Files.createDirectories(dir.resolve("ckpt"));
        Path out = Files.createDirectories(dir.resolve("out"));
        List<Path> files;
        try (var l = Files.list(base)) {
            files = l.toList();
        }
        Random rnd = new Random(SEED);
        Outcomes convert = new Outcomes("convert");
        String shard = "model-00001-of-00002.safetensors";
        byte[] shardBytes = Files.readAllBytes(base.resolve(shard));
        long headerLen = ByteBuffer.wrap(shardBytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(shardBytes, 8, (int) headerLen, StandardCharsets.UTF_8);
        String index = Files.readString(base.resolve("model.safetensors.index.json"));
        String config = Files.readString(base.resolve("config.json"));
        for (int i = 0; i < MUTANTS; i++) {
            for (Path f : files) {
                Files.copy(f, ck.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
            String what;
            switch (rnd.nextInt(8)) {
                case 0 -> { // header length
                    byte[] b = shardBytes.clone();
                    long v = rnd.nextBoolean() ? rnd.nextLong() : headerLen + rnd.nextInt(64) - 32;
                    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, v);
                    Files.write(ck.resolve(shard), b);
                    what = "header length " + v;
                }
                case 1 -> { // flipped bytes in the header JSON
                    byte[] b = shardBytes.clone();
                    for (int k = 0; k < 1 + rnd.nextInt(3); k++) {
                        b[8 + rnd.nextInt((int) headerLen)] ^= (byte) (1 << rnd.nextInt(7));
                    }
                    Files.write(ck.resolve(shard), b);
                    what = "header bytes";
                }
                case 2 -> { // dtype
                    String d = List.of("F64", "I8", "Q4", "", "f16", "BF16", "F32").get(rnd.nextInt(7));
                    writeHeader(ck.resolve(shard), shardBytes, headerLen, replaceNth(header, "\"F16\"", "\"" + d + "\"", rnd));
                    what = "dtype " + d;
                }
                case 3 -> { // offsets
                    String h = header.replaceFirst("\"data_offsets\":\\[(\\d+),(\\d+)\\]", "\"data_offsets\":[" + rnd.nextInt(1 << 22) + "," + rnd.nextInt(1 << 23) + "]");
                    writeHeader(ck.resolve(shard), shardBytes, headerLen, h);
                    what = "offsets";
                }
                case 4 -> { // shapes
                    String h = header.replaceFirst("\"shape\":\\[(\\d+)", "\"shape\":[" + (rnd.nextInt(100000) - 10));
                    writeHeader(ck.resolve(shard), shardBytes, headerLen, h);
                    what = "shape";
                }
                case 5 -> { // the index
                    String idx = switch (rnd.nextInt(4)) {
                        case 0 -> index.replaceFirst("model-00002-of-00002", "model-00003-of-00002");
                        case 1 -> index.replaceFirst("\"model\\.layers\\.0\\.mlp\\.fc1\\.bias\": \"[^\"]+\",?", "");
                        case 2 -> index.substring(0, rnd.nextInt(index.length()));
                        default -> index.replaceFirst("\"weight_map\"", "\"weights\"");
                    };
                    Files.writeString(ck.resolve("model.safetensors.index.json"), idx);
                    what = "index";
                }
                case 6 -> { // config values
                    String key = List.of("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size", "intermediate_size").get(rnd.nextInt(5));
                    String val = List.of("0", "-3", "33", "\"x\"", "1e9", "null").get(rnd.nextInt(6));
                    Files.writeString(ck.resolve("config.json"), config.replaceFirst("\"" + key + "\": [^,\\n]+", "\"" + key + "\": " + val));
                    what = "config " + key + "=" + val;
                }
                default -> { // a truncated shard
                    Files.write(ck.resolve(shard), Arrays.copyOf(shardBytes, rnd.nextInt(shardBytes.length)));
                    what = "truncated shard";
                }
            }
            String name = "case " + i + " (" + what + ")";
            Path o = out.resolve("m.gguf");
            long t0 = System.nanoTime();
            String outcome = GgufFuzzTest.withLimit(name, () -> {
                try {
                    Converter.convert(ck, o, new Converter.Options(FileType.F16, 2, false, null), (a, b, c) -> { });
                } catch (Phi2Exception e) {
                    assertTrue(e.getMessage() != null && e.getMessage().contains(ck.toString()), name + ": the error names the checkpoint's file: " + e.getMessage());
                    return "rejected";
                }
                Phi2Layout.check(GgufReader.read(o));
                // a converted mutant reaches llama.cpp: it loads and generates, or llama.cpp refuses it cleanly
                try (Phi2Model m = Phi2Model.open(o, ModelOptions.defaults().withContextSize(64).withThreads(1))) {
                    return m.generate("Hi", GenerationOptions.greedy().withMaxNewTokens(2)).generatedTokens() == 2 ? "generated" : "short";
                } catch (RunnerCrashedException e) {
                    return "runner crash";
                } catch (Phi2Exception e) {
                    return "llama.cpp refused";
                }
            });
            convert.add(outcome, name, System.nanoTime() - t0);
            Files.deleteIfExists(o);
            try (var left = Files.list(out)) {
                assertEquals(List.of(), left.toList(), "leftover files after " + name);
            }
        }
        System.err.println(convert.report());
        assertTrue(convert.cases() >= 300);
        assertEquals(0, convert.count("hang"));
        assertTrue(convert.count("rejected") > convert.cases() / 2, "most mutants are damaged: " + convert.report());
        assertTrue(convert.count("generated") > 0, "some mutants convert and generate text in llama.cpp: " + convert.report());
        assertEquals(0, convert.count("runner crash") + convert.count("short"), convert.report());
    }

    private static String replaceNth(String s, String what, String with, Random rnd) {
        List<Integer> at = new ArrayList<>();
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
            at.add(i);
        }
        if (at.isEmpty()) {
            return s;
        }
        int i = at.get(rnd.nextInt(at.size()));
        return s.substring(0, i) + with + s.substring(i + what.length());
    }

    private static void writeHeader(Path shard, byte[] original, long headerLen, String json) throws IOException {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + original.length - 8 - (int) headerLen).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(original, 8 + (int) headerLen, original.length - 8 - (int) headerLen);
        Files.write(shard, b.array());
    }
}
