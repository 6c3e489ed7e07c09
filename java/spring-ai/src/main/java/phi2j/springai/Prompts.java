package phi2j.springai;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.Message;
import org.springframework.ai.chat.messages.SystemMessage;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.metadata.ChatGenerationMetadata;
import org.springframework.ai.chat.metadata.ChatResponseMetadata;
import org.springframework.ai.chat.metadata.DefaultUsage;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.model.Generation;
import org.springframework.ai.chat.prompt.Prompt;
import phi2j.InvalidOptionException;
import phi2j.runtime.ChatFormat;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.ModelInfo;
import phi2j.runtime.StopReason;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Spring AI's prompts in phi2j's terms and phi2j's results in Spring AI's: the messages as a Phi-2 chat prompt, the
 * merged {@link Phi2ChatOptions} as {@link GenerationOptions}, the stop reason as a finish reason. What phi2j does not
 * do (tools, a frequency penalty, media) is refused with an {@link UnsupportedOperationException} naming it; a value out
 * of range is an {@link InvalidOptionException} naming the Spring AI option.
 */
final class Prompts {
    private static final Gson GSON = new Gson();

    private Prompts() {
    }

    record Prepared(String prompt, GenerationOptions options) {
    }

    static Prepared prepare(Prompt prompt, Phi2ChatOptions defaults, ModelInfo info, boolean cachePrompt) {
        Phi2ChatOptions o = defaults.overriddenBy(prompt.getOptions());
        refuseUnsupported(o);
        return new Prepared(render(prompt.getInstructions()), options(o, info, cachePrompt));
    }

    static void refuseUnsupported(Phi2ChatOptions o) {
        if (!o.getToolCallbacks().isEmpty() || !o.getToolNames().isEmpty()) {
            throw new UnsupportedOperationException("tools: phi2j does not call tools (Phi-2 has no tool format); remove "
                    + (o.getToolNames().isEmpty() ? o.getToolCallbacks().stream().map(t -> t.getToolDefinition().name()).toList() : o.getToolNames())
                    + " from the request");
        }
        if (o.getFrequencyPenalty() != null && o.getFrequencyPenalty() != 0) {
            throw new UnsupportedOperationException("frequency-penalty: phi2j has no frequency penalty; use presence-penalty");
        }
    }

    static String render(List<Message> messages) {
        if (messages == null || messages.isEmpty()) {
            throw new InvalidOptionException("messages", "is empty");
        }
        List<ChatFormat.Message> turns = new ArrayList<>();
        for (Message m : messages) {
            if (m instanceof SystemMessage s) {
                turns.add(new ChatFormat.Message("system", s.getText()));
            } else if (m instanceof UserMessage u) {
                if (!u.getMedia().isEmpty()) {
                    throw new UnsupportedOperationException("media: phi2j takes text only, not " + u.getMedia().size() + " media item(s)");
                }
                turns.add(new ChatFormat.Message("user", u.getText()));
            } else if (m instanceof AssistantMessage a) {
                if (a.hasToolCalls()) {
                    throw new UnsupportedOperationException("tool calls: phi2j does not call tools");
                }
                turns.add(new ChatFormat.Message("assistant", a.getText() == null ? "" : a.getText()));
            } else {
                throw new UnsupportedOperationException(m.getMessageType() + " messages: phi2j takes system, user and assistant messages");
            }
        }
        return ChatFormat.render(turns);
    }

    static GenerationOptions options(Phi2ChatOptions o, ModelInfo info, boolean cachePrompt) {
        GenerationOptions.Builder b = GenerationOptions.builder();
        try {
            if (o.getTemperature() != null) {
                b.temperature(o.getTemperature().floatValue());
            }
            if (o.getTopP() != null) {
                b.topP(o.getTopP().floatValue());
            }
            if (o.getTopK() != null) {
                b.topK(o.getTopK());
            }
            if (o.getPresencePenalty() != null) {
                b.presencePenalty(o.getPresencePenalty().floatValue());
            }
            if (o.getMaxTokens() != null) {
                b.maxNewTokens(o.getMaxTokens());
            } else {
                b.maxLength(info.contextPerSequence()); // to the end of the context, as phi2 serve without max_tokens
            }
            if (o.getSeed() != null) {
                b.seed(o.getSeed());
            }
            List<String> stops = new ArrayList<>(o.getStopSequences() == null ? List.of() : o.getStopSequences());
            stops.add(ChatFormat.STOP);
            b.stopStrings(stops);
            if (o.getOutputSchema() != null) {
                b.jsonSchema(o.getStrictJsonSchema() == null || o.getStrictJsonSchema() ? strict(o.getOutputSchema()) : o.getOutputSchema());
            }
            b.cachePrompt(cachePrompt);
            return b.build();
        } catch (InvalidOptionException e) {
            throw new InvalidOptionException(optionName(e.option()), e.problem());
        }
    }

    /** Spring AI's name for a phi2j option, for errors. */
    static String optionName(String option) {
        return switch (option) {
            case "maxNewTokens", "maxLength" -> "maxTokens";
            case "stopStrings" -> "stopSequences";
            case "jsonSchema" -> "outputSchema";
            default -> option;
        };
    }

    /**
     * The schema with every object's properties required, as OpenAI's strict mode: Spring AI's bean schemas leave a
     * record's fields optional, and a small model may then answer {@code {}}.
     */
    static String strict(String schema) {
        JsonElement root;
        try {
            root = GSON.fromJson(schema, JsonElement.class);
        } catch (JsonParseException e) {
            throw new InvalidOptionException("outputSchema", "is not JSON: " + e.getMessage());
        }
        requireAll(root);
        return GSON.toJson(root);
    }

    private static void requireAll(JsonElement e) {
        if (e instanceof JsonObject o) {
            if (o.get("properties") instanceof JsonObject props) {
                JsonArray required = new JsonArray();
                props.keySet().forEach(required::add);
                o.add("required", required);
            }
            for (Map.Entry<String, JsonElement> kv : o.entrySet()) {
                requireAll(kv.getValue());
            }
        } else if (e instanceof JsonArray a) {
            a.forEach(Prompts::requireAll);
        }
    }

    static String finishReason(StopReason r) {
        return switch (r) {
            case END_OF_TEXT, STOP_STRING -> "STOP";
            case LENGTH -> "LENGTH";
            case CANCELLED -> "CANCELLED";
        };
    }

    static ChatResponse response(String text, GenerationResult r, ModelInfo info) {
        Generation g = new Generation(new AssistantMessage(text),
                ChatGenerationMetadata.builder().finishReason(finishReason(r.stopReason())).build());
        return new ChatResponse(List.of(g), metadata(r, info));
    }

    static ChatResponseMetadata metadata(GenerationResult r, ModelInfo info) {
        return ChatResponseMetadata.builder().model(info.name()).usage(new DefaultUsage(r.promptTokens(), r.generatedTokens())).build();
    }
}
