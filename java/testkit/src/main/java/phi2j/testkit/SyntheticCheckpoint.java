package phi2j.testkit;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A Hugging Face Phi-2 checkpoint folder with random weights: {@code config.json} (Phi-2's, with the chosen
 * sizes), the real tokenizer files from the shared data folder, and safetensors shards with an index, with
 * the real checkpoint's tensor names. The same arguments always give the same bytes.
 *
 * @param dtype "F16", "F32" or "BF16"
 */
public record SyntheticCheckpoint(int hidden, int heads, int layers, int intermediate, int vocab, String dtype, int shards,
                                  long seed) {

    public static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "vocab.json", "merges.txt",
            "added_tokens.json", "special_tokens_map.json", "tokenizer_config.json", "generation_config.json");

    /** 160 wide, 2 layers, Phi-2's full 51200-row vocabulary, F32, two shards. */
    public static SyntheticCheckpoint tiny() {
        return new SyntheticCheckpoint(160, 2, 2, 640, 51200, "F32", 2, 11);
    }

    /** 32 wide, one layer, the smallest vocabulary the real tokenizer fits (50304), F16: for bad-input tests. */
    public static SyntheticCheckpoint small() {
        return new SyntheticCheckpoint(32, 2, 1, 64, 50304, "F16", 2, 5);
    }

    /** Phi-2's full shape in fp16, two shards: 5.56 GB, as the real checkpoint. */
    public static SyntheticCheckpoint phi2Shape() {
        return new SyntheticCheckpoint(2560, 32, 32, 10240, 51200, "F16", 2, 42);
    }

    public SyntheticCheckpoint withDtype(String d) {
        return new SyntheticCheckpoint(hidden, heads, layers, intermediate, vocab, d, shards, seed);
    }

    /** The tensors in the real checkpoint's order, with PyTorch shapes (rows first). */
    public Map<String, long[]> tensors() {
        Map<String, long[]> t = new LinkedHashMap<>();
        t.put("model.embed_tokens.weight", new long[] {vocab, hidden});
        for (int i = 0; i < layers; i++) {
            String p = "model.layers." + i + ".";
            t.put(p + "input_layernorm.weight", new long[] {hidden});
            t.put(p + "input_layernorm.bias", new long[] {hidden});
            for (String proj : List.of("q_proj", "k_proj", "v_proj", "dense")) {
                t.put(p + "self_attn." + proj + ".weight", new long[] {hidden, hidden});
                t.put(p + "self_attn." + proj + ".bias", new long[] {hidden});
            }
            t.put(p + "mlp.fc1.weight", new long[] {intermediate, hidden});
            t.put(p + "mlp.fc1.bias", new long[] {intermediate});
            t.put(p + "mlp.fc2.weight", new long[] {hidden, intermediate});
            t.put(p + "mlp.fc2.bias", new long[] {hidden});
        }
        t.put("model.final_layernorm.weight", new long[] {hidden});
        t.put("model.final_layernorm.bias", new long[] {hidden});
        t.put("lm_head.weight", new long[] {vocab, hidden});
        t.put("lm_head.bias", new long[] {vocab});
        return t;
    }

    private int dtypeSize() {
        return dtype.equals("F32") ? 4 : 2;
    }

    /** Writes the folder (created if needed) and returns it. */
    public Path write(Path dir) {
        try {
            Files.createDirectories(dir);
            Path src = SharedData.require("phi-2");
            for (String f : TOKENIZER_FILES) {
                Files.copy(src.resolve(f), dir.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            JsonObject config = JsonParser.parseString(Files.readString(src.resolve("config.json"))).getAsJsonObject();
            config.addProperty("hidden_size", hidden);
            config.addProperty("num_attention_heads", heads);
            config.addProperty("num_key_value_heads", heads);
            config.addProperty("num_hidden_layers", layers);
            config.addProperty("intermediate_size", intermediate);
            config.addProperty("vocab_size", vocab);
            config.addProperty("torch_dtype", dtype.equals("F32") ? "float32" : dtype.equals("BF16") ? "bfloat16" : "float16");
            Files.writeString(dir.resolve("config.json"), new GsonBuilder().setPrettyPrinting().create().toJson(config));

            Map<String, long[]> all = tensors();
            long totalBytes = all.values().stream().mapToLong(s -> elements(s) * dtypeSize()).sum();
            List<List<String>> groups = new ArrayList<>();
            long perShard = (totalBytes + shards - 1) / shards;
            long acc = 0;
            List<String> cur = new ArrayList<>();
            for (Map.Entry<String, long[]> e : all.entrySet()) {
                long b = elements(e.getValue()) * dtypeSize();
                if (!cur.isEmpty() && acc + b > perShard && groups.size() < shards - 1) {
                    groups.add(cur);
                    cur = new ArrayList<>();
                    acc = 0;
                }
                cur.add(e.getKey());
                acc += b;
            }
            groups.add(cur);
            JsonObject weightMap = new JsonObject();
            for (int s = 0; s < groups.size(); s++) {
                String name = String.format("model-%05d-of-%05d.safetensors", s + 1, groups.size());
                writeShard(dir.resolve(name), groups.get(s), all);
                for (String t : groups.get(s)) {
                    weightMap.addProperty(t, name);
                }
            }
            JsonObject index = new JsonObject();
            JsonObject meta = new JsonObject();
            meta.addProperty("total_size", totalBytes);
            index.add("metadata", meta);
            index.add("weight_map", weightMap);
            Files.writeString(dir.resolve("model.safetensors.index.json"), new GsonBuilder().setPrettyPrinting().create().toJson(index));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    private void writeShard(Path file, List<String> names, Map<String, long[]> all) throws IOException {
        JsonObject header = new JsonObject();
        long off = 0;
        for (String n : names) {
            long bytes = elements(all.get(n)) * dtypeSize();
            JsonObject t = new JsonObject();
            t.addProperty("dtype", dtype);
            JsonArray shape = new JsonArray();
            for (long d : all.get(n)) {
                shape.add(d);
            }
            t.add("shape", shape);
            JsonArray offs = new JsonArray();
            offs.add(off);
            offs.add(off + bytes);
            t.add("data_offsets", offs);
            header.add(n, t);
            off += bytes;
        }
        JsonObject md = new JsonObject();
        md.addProperty("format", "pt");
        header.add("__metadata__", md);
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8; // the header is padded with spaces to 8 bytes, as safetensors writes it
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ch.write(head);
            ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            for (String n : names) {
                fill(n, all.get(n), ch, buf);
            }
        }
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** Weights in the same spirit as {@link SyntheticPhi2}: norms near 1, small biases, matrices scaled by fan-in. */
    private void fill(String name, long[] shape, FileChannel ch, ByteBuffer buf) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ name.hashCode());
        boolean norm = name.contains("layernorm");
        boolean bias = name.endsWith(".bias");
        long fanIn = shape[shape.length - 1];
        double scale = norm ? 0.1 : bias ? 0.02 : name.contains("embed_tokens") ? 1.0 : 1.0 / Math.sqrt(fanIn);
        if (name.equals("lm_head.weight")) {
            scale *= 6; // sharper next-token distributions, as a trained model has, so probability checks bite
        }
        long n = elements(shape);
        buf.clear();
        for (long i = 0; i < n; i++) {
            float v = (float) ((rnd.nextDouble() * 2 - 1) * Math.sqrt(3) * scale);
            if (norm && !bias) {
                v += 1f;
            }
            switch (dtype) {
                case "F32" -> buf.putFloat(v);
                case "BF16" -> buf.putShort((short) ((Float.floatToRawIntBits(v) + 0x7fff + ((Float.floatToRawIntBits(v) >>> 16) & 1)) >>> 16));
                default -> buf.putShort(Half.fromFloat(v));
            }
            if (buf.remaining() < 4) {
                buf.flip();
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                buf.clear();
            }
        }
        buf.flip();
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
