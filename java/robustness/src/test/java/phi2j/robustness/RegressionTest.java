package phi2j.robustness;

import org.junit.jupiter.api.Test;
import phi2j.BadModelFileException;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Files the fuzzer found that once passed the Java checks and then aborted llama.cpp in the runner
 * (GGML_ASSERT(id_to_token.size() == token_to_id.size()) in llama-vocab.cpp: a token string twice in the
 * vocabulary). The Java checks now refuse them before any runner starts.
 */
class RegressionTest {
    @Test
    void fuzzFindingsAreRefusedInJava(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        for (String name : List.of("vocab-duplicate-token-1.gguf", "vocab-duplicate-token-2.gguf")) {
            Path p = dir.resolve(name);
            try (InputStream in = getClass().getResourceAsStream("/regressions/" + name)) {
                Files.copy(in, p);
            }
            BadModelFileException e = assertThrows(BadModelFileException.class, () -> Phi2Model.open(p, ModelOptions.defaults()));
            assertTrue(e.getMessage().contains("twice"), e.getMessage());
        }
    }
}
