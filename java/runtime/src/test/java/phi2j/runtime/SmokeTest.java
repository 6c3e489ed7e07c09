package phi2j.runtime;

import org.junit.jupiter.api.Test;
import phi2j.testkit.TestModels;

import static org.junit.jupiter.api.Assertions.*;

class SmokeTest {
    @Test
    void generates() {
        try (Phi2Model m = Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(512))) {
            System.err.println(m.info());
            GenerationResult r = m.generate("Hello world", GenerationOptions.greedy().withMaxNewTokens(40));
            System.err.println(r);
            assertEquals(40, r.generatedTokens());
            try (Phi2Model e = Phi2Model.open(TestModels.tinyEndsAtOnce(), ModelOptions.defaults().withContextSize(512))) {
                GenerationResult r2 = e.generate("Hello world", GenerationOptions.greedy().withMaxNewTokens(40));
                System.err.println(r2);
            }
        }
    }
}
