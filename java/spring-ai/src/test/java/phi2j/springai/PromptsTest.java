package phi2j.springai;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.prompt.ChatOptions;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class PromptsTest {
    @Test
    void aPromptsOptionsWinOverTheDefaultsFieldByFieldAndNeitherChanges() {
        Phi2ChatOptions defaults = Phi2ChatOptions.builder().temperature(0.7).topK(20).maxTokens(100).seed(1L).build();
        Phi2ChatOptions merged = defaults.overriddenBy(ChatOptions.builder().temperature(0.2).stopSequences(List.of("END")).build());
        assertEquals(0.2, merged.getTemperature());
        assertEquals(20, merged.getTopK());
        assertEquals(100, merged.getMaxTokens());
        assertEquals(1L, merged.getSeed(), "a plain ChatOptions has no seed: the default's stays");
        assertEquals(List.of("END"), merged.getStopSequences());
        assertEquals(0.7, defaults.getTemperature(), "the defaults are not changed");
        assertEquals(7L, defaults.overriddenBy(Phi2ChatOptions.builder().seed(7L).build()).getSeed());
    }

    @Test
    void strictRequiresEveryPropertyAtEveryLevel() {
        String schema = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"object\","
                + "\"properties\":{\"c\":{\"type\":\"integer\"}}}},\"required\":[\"a\"]}";
        JsonObject s = new Gson().fromJson(Prompts.strict(schema), JsonObject.class);
        assertEquals(List.of("a", "b"), new Gson().fromJson(s.get("required"), List.class));
        assertEquals(List.of("c"), new Gson().fromJson(s.getAsJsonObject("properties").getAsJsonObject("b").get("required"), List.class));
    }

    @Test
    void optionsOutOfRangeNameTheSpringAiOption() {
        phi2j.InvalidOptionException e = assertThrows(phi2j.InvalidOptionException.class,
                () -> Prompts.options(Phi2ChatOptions.builder().maxTokens(0).build(), null, true));
        assertEquals("maxTokens", e.option());
    }
}
