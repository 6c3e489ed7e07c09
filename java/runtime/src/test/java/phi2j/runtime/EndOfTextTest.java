package phi2j.runtime;

import org.junit.jupiter.api.Test;
import phi2j.testkit.TestModels;

import static org.junit.jupiter.api.Assertions.*;

class EndOfTextTest {
    @Test
    void generationStopsAtTheEndOfTextTokenAndTheMarkerIsCut() {
        try (Phi2Model m = Phi2Model.open(TestModels.tinyEndsAtOnce(), ModelOptions.defaults().withContextSize(256))) {
            StringBuilder streamed = new StringBuilder();
            GenerationResult r = m.generate("Instruct: say nothing.\nOutput:", GenerationOptions.greedy().withMaxLength(200), streamed::append);
            assertEquals(StopReason.END_OF_TEXT, r.stopReason());
            assertEquals(1, r.generatedTokens(), "the end-of-text token itself, as transformers counts it");
            assertEquals("", r.text());
            assertEquals("", streamed.toString());
            assertFalse(r.text().contains("<|endoftext|>"));
        }
    }
}
