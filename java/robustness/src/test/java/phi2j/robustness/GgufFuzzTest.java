package phi2j.robustness;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.BadModelFileException;
import phi2j.Phi2Exception;
import phi2j.convert.FileType;
import phi2j.convert.Quantizer;
import phi2j.format.GgufFile;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Seeded mutants of valid tiny GGUF files (F32 and Q4_0) fed to inspect, to model opening and to quantize. Every
 * case must end in a clear error or a correct result within its time limit, without leftover files. A runner
 * crash on a file that passed the Java checks is a finding and fails the run.
 */
class GgufFuzzTest {
    static final long SEED = 20261126L;
    static final int MUTANTS_PER_SOURCE = 260;
    static final Duration CASE_LIMIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    /** Byte positions where the header's sections begin and end, from the reader's own view of the file. */
    static List<Long> boundaries(Path p) throws IOException {
        GgufFile f = GgufReader.read(p);
        List<Long> b = new ArrayList<>(List.of(4L, 8L, 16L, 24L, f.dataOffset(), f.fileSize() - 1));
        f.tensors().forEach(t -> {
            b.add(f.dataOffset() + t.offset());
            b.add(f.dataOffset() + t.offset() + t.byteSize());
        });
        return b;
    }

    static byte[] mutate(byte[] src, GgufFile f, List<Long> bounds, Random rnd, StringBuilder what) {
        byte[] b = src.clone();
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        int header = (int) f.dataOffset();
        switch (rnd.nextInt(9)) {
            case 0 -> { // flipped bytes in the header (magic, counts, metadata, tensor table)
                int n = 1 + rnd.nextInt(4);
                for (int i = 0; i < n; i++) {
                    int at = rnd.nextInt(header);
                    b[at] ^= (byte) (1 << rnd.nextInt(8));
                    what.append("flip@").append(at).append(' ');
                }
            }
            case 1 -> { // truncation at a section boundary (and near it)
                long cut = bounds.get(rnd.nextInt(bounds.size())) + rnd.nextInt(3) - 1;
                cut = Math.max(0, Math.min(b.length - 1, cut));
                what.append("truncate@").append(cut);
                return Arrays.copyOf(b, (int) cut);
            }
            case 2 -> { // huge tensor or metadata count
                int at = rnd.nextBoolean() ? 8 : 16;
                long v = switch (rnd.nextInt(3)) {
                    case 0 -> Long.MAX_VALUE;
                    case 1 -> -1L;
                    default -> 1L << (20 + rnd.nextInt(40));
                };
                bb.putLong(at, v);
                what.append("count@").append(at).append('=').append(v);
            }
            case 3 -> { // a huge string or array length somewhere in the metadata
                int at = 24 + rnd.nextInt(Math.max(1, header - 32));
                bb.putLong(at, 1L << (16 + rnd.nextInt(47)));
                what.append("length@").append(at);
            }
            case 4 -> { // a tensor offset past the end or misaligned
                int at = header - 8 - 8 * rnd.nextInt(3);
                long v = rnd.nextBoolean() ? b.length * 2L : bb.getLong(at) + 1 + rnd.nextInt(31);
                bb.putLong(at, v);
                what.append("offset@").append(at).append('=').append(v);
            }
            case 5 -> { // a type id out of range (ggml tensor type or metadata value type)
                int at = 24 + rnd.nextInt(Math.max(1, header - 28));
                bb.putInt(at, 30 + rnd.nextInt(2000));
                what.append("type@").append(at);
            }
            case 6 -> { // a copied run: duplicate keys, names or table entries
                int len = 4 + rnd.nextInt(40);
                int from = 24 + rnd.nextInt(Math.max(1, header - 24 - len));
                int to = 24 + rnd.nextInt(Math.max(1, header - 24 - len));
                System.arraycopy(src, from, b, to, Math.min(len, b.length - to));
                what.append("copy ").append(from).append("->").append(to);
            }
            case 7 -> { // flipped bytes in tensor data: the header stays valid
                for (int i = 0; i < 8; i++) {
                    int at = header + rnd.nextInt(b.length - header);
                    b[at] = (byte) rnd.nextInt(256);
                }
                what.append("data bytes");
            }
            default -> { // zeroed stretch of the header
                int at = 24 + rnd.nextInt(Math.max(1, header - 40));
                Arrays.fill(b, at, Math.min(header, at + 1 + rnd.nextInt(16)), (byte) 0);
                what.append("zero@").append(at);
            }
        }
        return b;
    }

    @Test
    void mutatedGgufFilesEndInAClearErrorOrACorrectResult() throws Exception {
        Path q40 = dir.resolve("tiny-q4_0.gguf");
        Quantizer.quantize(TestModels.tiny(), q40, new Quantizer.Options(FileType.Q4_0, 2, false, false, null), (a, b, c) -> { });
        Outcomes inspect = new Outcomes("inspect");
        Outcomes open = new Outcomes("open+generate");
        Outcomes quantize = new Outcomes("quantize");
        List<String> findings = new ArrayList<>();
        Random rnd = new Random(SEED);
        Path work = Files.createDirectories(dir.resolve("work"));
        int index = 0;
        for (Path source : List.of(TestModels.tiny(), q40)) {
            byte[] src = Files.readAllBytes(source);
            GgufFile f = GgufReader.read(source);
            List<Long> bounds = boundaries(source);
            for (int i = 0; i < MUTANTS_PER_SOURCE; i++, index++) {
                StringBuilder what = new StringBuilder();
                byte[] m = mutate(src, f, bounds, rnd, what);
                String name = "case " + index + " (" + source.getFileName() + ": " + what + ")";
                Path p = Files.write(work.resolve("m" + index + ".gguf"), m);

                long t0 = System.nanoTime();
                boolean javaAccepts;
                try {
                    Phi2Layout.check(GgufReader.read(p));
                    javaAccepts = true;
                    inspect.add("valid", name, System.nanoTime() - t0);
                } catch (BadModelFileException e) {
                    assertTrue(e.getMessage().startsWith(p.toString()), "names the file: " + e.getMessage());
                    javaAccepts = false;
                    inspect.add("rejected", name, System.nanoTime() - t0);
                }

                if (javaAccepts) {
                    t0 = System.nanoTime();
                    String outcome = withLimit(name, () -> {
                        try (Phi2Model model = Phi2Model.open(p, ModelOptions.defaults().withContextSize(128).withThreads(1))) {
                            model.generate("Hi", GenerationOptions.greedy().withMaxNewTokens(3));
                            return "generated";
                        } catch (RunnerCrashedException e) {
                            Path keep = Files.createDirectories(Path.of("target", "fuzz-findings")).resolve("finding-" + findings.size() + ".gguf");
                            Files.copy(p, keep, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                            System.err.println("FINDING " + name + " kept as " + keep + "\n" + e.getMessage());
                            findings.add(name + ": runner crashed on a file the Java checks accepted (kept as " + keep + ")");
                            return "runner crash (finding)";
                        } catch (Phi2Exception e) {
                            return "llama.cpp refused";
                        }
                    });
                    open.add(outcome, name, System.nanoTime() - t0);
                }

                Path out = work.resolve("q" + index + ".gguf");
                t0 = System.nanoTime();
                String q = withLimit(name, () -> {
                    try {
                        Quantizer.quantize(p, out, new Quantizer.Options(FileType.Q8_0, 2, true, false, null), (a, b, c) -> { });
                        Phi2Layout.check(GgufReader.read(out));
                        return "quantized";
                    } catch (Phi2Exception e) {
                        assertTrue(e.getMessage() != null && e.getMessage().contains(p.getFileName().toString()),
                                name + ": the quantizer's error names the file: " + e.getMessage());
                        return "rejected";
                    }
                });
                quantize.add(q, name, System.nanoTime() - t0);
                Files.deleteIfExists(out);
                Files.delete(p);
                try (var left = Files.list(work)) {
                    List<Path> l = left.toList();
                    assertEquals(List.of(), l, "leftover files after " + name);
                }
            }
        }
        System.err.println(inspect.report());
        System.err.println(open.report());
        System.err.println(quantize.report());
        assertTrue(inspect.cases() >= 500);
        assertTrue(open.count("generated") > 0, "some mutants reach llama.cpp and generate text: " + open.report());
        assertTrue(quantize.count("quantized") > 0 && quantize.count("rejected") > 0, quantize.report());
        assertEquals(List.of(), findings);
        assertEquals(0, inspect.count("hang") + open.count("hang") + quantize.count("hang"));
    }

    interface Case {
        String run() throws Exception;
    }

    static String withLimit(String name, Case c) {
        CompletableFuture<String> f = CompletableFuture.supplyAsync(() -> {
            try {
                return c.run();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        try {
            return f.get(CASE_LIMIT.toSeconds(), TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            return "hang";
        } catch (Exception e) {
            e.printStackTrace();
            fail(name + ": unexpected failure (not a Phi2Exception): " + e);
            return "bug";
        }
    }
}
