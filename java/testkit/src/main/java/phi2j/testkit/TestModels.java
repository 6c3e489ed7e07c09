package phi2j.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Synthetic models built once per build under {@code target/test-models/} of the module running the tests.
 * Generation is deterministic, so an existing file of the same name is reused.
 */
public final class TestModels {
    private TestModels() {
    }

    public static Path dir() {
        Path d = Path.of(System.getProperty("phi2.test.models", "target/test-models"));
        try {
            return Files.createDirectories(d);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The tiny random Phi-2 (160 wide, 2 blocks, 297-token vocabulary). */
    public static synchronized Path tiny() {
        return build("tiny-phi2.gguf", SyntheticPhi2.tiny());
    }

    /** The tiny model with the end-of-text logit raised so far that it ends at once. */
    public static synchronized Path tinyEndsAtOnce() {
        return build("tiny-phi2-eos.gguf", SyntheticPhi2.tiny().withEosBias(100f));
    }

    /** Width 256, eight blocks: every K-quant mix applies without fallbacks. */
    public static synchronized Path quantTest() {
        return build("quant-test-phi2.gguf", SyntheticPhi2.quantTest());
    }

    /** The tiny synthetic Hugging Face checkpoint (real tokenizer, 51200 vocabulary, F32, two shards). */
    public static synchronized Path tinyCheckpoint() {
        Path d = dir().resolve("ckpt-tiny");
        if (!java.nio.file.Files.exists(d.resolve("model.safetensors.index.json"))) {
            SyntheticCheckpoint.tiny().write(d);
        }
        return d;
    }

    /** The small synthetic checkpoint, for tests that damage a copy of it. */
    public static synchronized Path smallCheckpoint() {
        Path d = dir().resolve("ckpt-small");
        if (!java.nio.file.Files.exists(d.resolve("model.safetensors.index.json"))) {
            SyntheticCheckpoint.small().write(d);
        }
        return d;
    }

    private static Path build(String name, SyntheticPhi2 spec) {
        Path p = dir().resolve(name);
        if (!Files.exists(p)) {
            spec.write(p);
        }
        return p;
    }
}
