package phi2j.runtime.internal;

import org.junit.jupiter.api.Test;
import phi2j.runtime.GenerationOptions;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The binding adapter passes the options it knows and refuses, by name, any other that is set. */
class BindingOptionsTest {
    @Test
    void everyPassedNameIsAnOptionAndDefaultsPassEverywhere() {
        List<String> fields = Arrays.stream(GenerationOptions.class.getRecordComponents()).map(c -> c.getName()).toList();
        assertTrue(fields.containsAll(BindingOptions.PASSED), "stale names in " + BindingOptions.PASSED);
        assertNull(BindingOptions.unsupported(GenerationOptions.greedy()));
        assertNull(BindingOptions.unsupported(GenerationOptions.sampling(0.8f, 7).withTopK(5).withStopStrings(List.of("\n"))
                .withMaxNewTokens(3).withCachePrompt(true)));
    }

    @Test
    void anOptionTheBindingIsNotGivenIsNamedWhenSet() {
        assertEquals("logprobs", BindingOptions.unsupported(GenerationOptions.greedy().withLogprobs(2)));
        assertEquals("grammar", BindingOptions.unsupported(GenerationOptions.greedy().withGrammar("root ::= \"a\"")));
        assertEquals("jsonSchema", BindingOptions.unsupported(GenerationOptions.greedy().withJsonSchema("{\"type\": \"object\"}")));
    }
}
