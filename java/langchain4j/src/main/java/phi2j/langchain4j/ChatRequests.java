package phi2j.langchain4j;

import com.google.gson.Gson;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.internal.JsonSchemaElementUtils;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
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
 * LangChain4j's chat requests in phi2j's terms and phi2j's results in LangChain4j's, for the chat and streaming models:
 * the messages as a Phi-2 chat prompt, the parameters as {@link GenerationOptions}, the stop reason as a finish reason.
 * What phi2j does not do (tools, frequency penalty, images and other non-text content) is refused by name with
 * LangChain4j's {@link UnsupportedFeatureException}; a value out of range is an {@link InvalidOptionException} that
 * names LangChain4j's parameter.
 */
final class ChatRequests {
    private static final Gson GSON = new Gson();
    /** OpenAI's json_object: any JSON object (as phi2 serve does). */
    static final String ANY_JSON_OBJECT = "{\"type\": \"object\"}";

    private ChatRequests() {
    }

    /** A request checked and translated: the prompt and the options to generate it with. */
    record Prepared(String prompt, GenerationOptions options) {
    }

    static Prepared prepare(ChatRequest request, ModelInfo info, Phi2Models.Settings settings) {
        ChatRequestParameters p = request.parameters();
        refuseUnsupported(p);
        return new Prepared(prompt(request.messages()), options(p, info, settings.cachePrompt(), settings.strictJsonSchema()));
    }

    static void refuseUnsupported(ChatRequestParameters p) {
        if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty()) {
            throw new UnsupportedFeatureException("toolSpecifications: phi2j does not call tools (Phi-2 has no tool format); "
                    + "remove the tools from the request or the AI service");
        }
        if (p.toolChoice() == ToolChoice.REQUIRED) {
            throw new UnsupportedFeatureException("toolChoice REQUIRED: phi2j does not call tools");
        }
        if (p.frequencyPenalty() != null && p.frequencyPenalty() != 0) {
            throw new UnsupportedFeatureException("frequencyPenalty: phi2j has no frequency penalty; use presencePenalty");
        }
    }

    /** The conversation as Phi-2's chat prompt ({@link ChatFormat}). */
    static String prompt(List<ChatMessage> messages) {
        if (messages == null || messages.isEmpty()) {
            throw new InvalidOptionException("messages", "is empty");
        }
        List<ChatFormat.Message> turns = new ArrayList<>();
        for (ChatMessage m : messages) {
            if (m instanceof SystemMessage s) {
                turns.add(new ChatFormat.Message("system", s.text()));
            } else if (m instanceof UserMessage u) {
                if (!u.hasSingleText()) {
                    throw new UnsupportedFeatureException("UserMessage contents: phi2j takes text only, not "
                            + u.contents().stream().map(c -> c.type().toString()).distinct().toList());
                }
                turns.add(new ChatFormat.Message("user", u.singleText()));
            } else if (m instanceof AiMessage a) {
                if (a.hasToolExecutionRequests()) {
                    throw new UnsupportedFeatureException("AiMessage toolExecutionRequests: phi2j does not call tools");
                }
                turns.add(new ChatFormat.Message("assistant", a.text() == null ? "" : a.text()));
            } else {
                throw new UnsupportedFeatureException(m.type() + " messages: phi2j takes system, user and AI messages");
            }
        }
        return ChatFormat.render(turns);
    }

    static GenerationOptions options(ChatRequestParameters p, ModelInfo info, boolean cachePrompt, boolean strictJsonSchema) {
        GenerationOptions.Builder b = GenerationOptions.builder();
        try {
            if (p.temperature() != null) {
                b.temperature(p.temperature().floatValue());
            }
            if (p.topP() != null) {
                b.topP(p.topP().floatValue());
            }
            if (p.topK() != null) {
                b.topK(p.topK());
            }
            if (p.presencePenalty() != null) {
                b.presencePenalty(p.presencePenalty().floatValue());
            }
            if (p.maxOutputTokens() != null) {
                b.maxNewTokens(p.maxOutputTokens()).maxLength(null);
            } else {
                b.maxLength(info.contextPerSequence()); // to the end of the context, as phi2 serve without max_tokens
            }
            if (p instanceof Phi2ChatRequestParameters q && q.seed() != null) {
                b.seed(q.seed());
            }
            List<String> stops = new ArrayList<>();
            if (p.stopSequences() != null) {
                stops.addAll(p.stopSequences());
            }
            stops.add(ChatFormat.STOP);
            b.stopStrings(stops);
            b.jsonSchema(jsonSchema(p.responseFormat(), strictJsonSchema));
            b.cachePrompt(cachePrompt);
            return b.build();
        } catch (InvalidOptionException e) {
            throw new InvalidOptionException(parameterName(e.option()), e.problem());
        }
    }

    /** LangChain4j's name for a phi2j option, for errors. */
    static String parameterName(String option) {
        return switch (option) {
            case "maxNewTokens", "maxLength" -> "maxOutputTokens";
            case "stopStrings" -> "stopSequences";
            case "jsonSchema" -> "responseFormat";
            default -> option;
        };
    }

    /**
     * The response format as a JSON schema (text) for phi2j's constraint, or null for text. Strict, as OpenAI's strict
     * mode: every property is required (one the schema left optional may be null), so that a record comes back whole.
     */
    static String jsonSchema(ResponseFormat format, boolean strict) {
        if (format == null || format.type() == ResponseFormatType.TEXT) {
            return null;
        }
        if (format.jsonSchema() == null || format.jsonSchema().rootElement() == null) {
            return ANY_JSON_OBJECT;
        }
        Map<String, Object> schema = JsonSchemaElementUtils.toMap(format.jsonSchema().rootElement(), strict);
        return GSON.toJson(schema);
    }

    static FinishReason finishReason(StopReason r) {
        return switch (r) {
            case END_OF_TEXT, STOP_STRING -> FinishReason.STOP;
            case LENGTH -> FinishReason.LENGTH;
            case CANCELLED -> FinishReason.OTHER;
        };
    }

    static ChatResponse response(GenerationResult r, String text, ModelInfo info) {
        return ChatResponse.builder()
                .aiMessage(AiMessage.from(text))
                .modelName(info.name())
                .tokenUsage(new TokenUsage(r.promptTokens(), r.generatedTokens()))
                .finishReason(finishReason(r.stopReason()))
                .build();
    }
}
