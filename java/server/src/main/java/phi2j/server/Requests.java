package phi2j.server;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import phi2j.runtime.ChatFormat;
import phi2j.runtime.GenerationOptions;

import java.util.ArrayList;
import java.util.List;

/**
 * The fields of OpenAI's completion and chat completion requests that this server honours, each checked for its type
 * and range; a wrong one is a 400 naming the field. Unknown fields are ignored, as OpenAI-compatible servers do.
 */
final class Requests {
    /** One generation asked for: the prompt as Phi-2 sees it and how to generate. */
    record Job(boolean chat, String prompt, GenerationOptions options, boolean stream, boolean includeUsage, int topLogprobs,
               boolean logprobs) {
    }

    private Requests() {
    }

    /**
     * The request field behind an option the library refused, for the error's {@code param}: the option's name in
     * snake case (topP: top_p), except where OpenAI's API names it otherwise.
     */
    static String field(String option, boolean chat) {
        return switch (option) {
            case "maxNewTokens", "maxLength" -> "max_tokens";
            case "stopStrings" -> "stop";
            case "logprobs" -> chat ? "top_logprobs" : "logprobs";
            case "prompt" -> chat ? "messages" : "prompt";
            case "jsonSchema" -> "response_format";
            case "cachePrompt" -> "cache_prompt";
            case "repetitionPenalty" -> "repeat_penalty";
            default -> option.replaceAll("([A-Z])", "_$1").toLowerCase(java.util.Locale.ROOT);
        };
    }

    static Job parse(JsonObject body, boolean chat, String modelId, int contextPerSequence) {
        checkModel(body, modelId);
        String prompt;
        List<String> stops = new ArrayList<>(stop(body));
        if (chat) {
            prompt = ChatFormat.render(messages(body));
            stops.add(ChatFormat.STOP);
        } else {
            prompt = string(body, "prompt", true);
            if (prompt.isEmpty()) {
                throw ApiError.badRequest("prompt", "'prompt' is empty");
            }
        }
        Integer n = integer(body, "n", 1, 1);
        if (n != null && n != 1) {
            throw ApiError.badRequest("n", "only n = 1 is supported");
        }
        String tokensField = chat && body.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        Integer maxTokens = integer(body, tokensField, 1, contextPerSequence);
        Double temperature = number(body, "temperature", 0, 2);
        Double topP = number(body, "top_p", 0, 1);
        Double presencePenalty = number(body, "presence_penalty", -2, 2);
        Integer topK = integer(body, "top_k", 0, Integer.MAX_VALUE);         // llama-server's sampling fields
        Double minP = number(body, "min_p", 0, 1);
        Double repeatPenalty = number(body, "repeat_penalty", 0, 10);
        refuseUnsupported(body, chat);
        Integer givenSeed = integer(body, "seed", 0, Integer.MAX_VALUE); // llama.cpp's seeds are 32-bit
        Long seed = givenSeed == null ? null : givenSeed.longValue();
        boolean stream = bool(body, "stream");
        boolean includeUsage = body.has("stream_options") && body.get("stream_options").isJsonObject()
                && bool(body.getAsJsonObject("stream_options"), "include_usage");
        boolean logprobs = false;
        int top = 0;
        if (chat) {
            logprobs = bool(body, "logprobs");
            Integer t = integer(body, "top_logprobs", 0, GenerationOptions.MAX_LOGPROBS);
            if (t != null && !logprobs) {
                throw ApiError.badRequest("top_logprobs", "'top_logprobs' needs 'logprobs': true");
            }
            top = t == null ? 0 : t;
        } else {
            // text completions: logprobs is the number of alternatives per token (OpenAI's legacy API), 0 for the token's own
            Integer t = integer(body, "logprobs", 0, GenerationOptions.MAX_LOGPROBS);
            logprobs = t != null;
            top = t == null ? 0 : t;
        }
        // OpenAI's default temperature is 1; 0 is greedy decoding
        double temp = temperature == null ? 1.0 : temperature;
        GenerationOptions o = temp == 0 ? GenerationOptions.greedy()
                : GenerationOptions.sampling((float) temp, seed != null ? seed : java.util.concurrent.ThreadLocalRandom.current().nextInt(Integer.MAX_VALUE));
        if (topP != null && temp > 0) {
            o = o.withTopP(topP.floatValue());
        }
        o = maxTokens != null ? o.withMaxNewTokens(maxTokens) : o.withMaxLength(contextPerSequence);
        o = o.withStopStrings(stops);
        if (presencePenalty != null) {
            o = o.toBuilder().presencePenalty(presencePenalty.floatValue()).build();
        }
        if (topK != null) {
            o = o.withTopK(topK);
        }
        if (minP != null) {
            o = o.withMinP(minP.floatValue());
        }
        if (repeatPenalty != null) {
            o = o.withRepetitionPenalty(repeatPenalty.floatValue());
        }
        if (logprobs) {
            o = o.withLogprobs(Math.max(1, top));
        }
        if (bool(body, "ignore_eos")) { // llama.cpp server's extension, for benchmarks
            o = o.withIgnoreEndOfText(true);
        }
        // llama-server's cache_prompt, on by default as there: start from the longest cached prefix of this prompt
        o = o.withCachePrompt(!body.has("cache_prompt") || body.get("cache_prompt").isJsonNull() || bool(body, "cache_prompt"));
        String grammar = string(body, "grammar", false); // llama-server's GBNF field
        String schema = responseFormat(body);
        if (grammar != null && schema != null) {
            throw ApiError.badRequest("grammar", "'grammar' and 'response_format' both constrain the text: send one");
        }
        o = o.toBuilder().grammar(grammar).jsonSchema(schema).build();
        return new Job(chat, prompt, o, stream, includeUsage, top, logprobs);
    }

    /**
     * Fields that would change what the answer is, which this server does not do: a 400 naming the field rather than an
     * answer that silently ignores it (their neutral values pass).
     */
    private static void refuseUnsupported(JsonObject body, boolean chat) {
        Double frequency = number(body, "frequency_penalty", -2, 2);
        if (frequency != null && frequency != 0) {
            throw ApiError.badRequest("frequency_penalty", "'frequency_penalty' is not supported (presence_penalty and repeat_penalty are)");
        }
        for (String field : List.of("logit_bias", "tools", "functions")) {
            JsonElement e = body.get(field);
            boolean empty = e == null || e.isJsonNull() || e.isJsonArray() && e.getAsJsonArray().isEmpty()
                    || e.isJsonObject() && e.getAsJsonObject().size() == 0;
            if (!empty) {
                throw ApiError.badRequest(field, "'" + field + "' is not supported: Phi-2 has no " + (field.equals("logit_bias") ? "logit bias here" : "tool calling"));
            }
        }
        for (String field : List.of("tool_choice", "function_call")) {
            JsonElement e = body.get(field);
            if (e != null && !e.isJsonNull() && !(e.isJsonPrimitive() && e.getAsString().equals("none"))) {
                throw ApiError.badRequest(field, "'" + field + "' is not supported: Phi-2 has no tool calling");
            }
        }
        if (body.has("json_schema") && !body.get("json_schema").isJsonNull()) {
            throw ApiError.badRequest("json_schema", "send the schema as OpenAI's response_format {\"type\": \"json_schema\", ...}");
        }
        if (!chat) {
            if (bool(body, "echo")) {
                throw ApiError.badRequest("echo", "'echo' is not supported");
            }
            Integer bestOf = integer(body, "best_of", 1, Integer.MAX_VALUE);
            if (bestOf != null && bestOf != 1) {
                throw ApiError.badRequest("best_of", "only best_of = 1 is supported");
            }
            String suffix = string(body, "suffix", false);
            if (suffix != null && !suffix.isEmpty()) {
                throw ApiError.badRequest("suffix", "'suffix' (insertion) is not supported");
            }
        }
    }

    /**
     * OpenAI's {@code response_format} as a JSON schema (text), or null for plain text: {@code json_object} is any JSON
     * object (or llama-server's {@code schema} beside it), {@code json_schema} its {@code json_schema.schema}.
     */
    private static String responseFormat(JsonObject body) {
        JsonElement e = body.get("response_format");
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!e.isJsonObject()) {
            throw ApiError.badRequest("response_format", "'response_format' must be an object such as {\"type\": \"json_object\"}");
        }
        JsonObject f = e.getAsJsonObject();
        String type = string(f, "type", false);
        if (type == null) {
            throw ApiError.badRequest("response_format", "'response_format.type' is required: text, json_object or json_schema");
        }
        return switch (type) {
            case "text" -> null;
            case "json_object" -> f.has("schema") ? schema(f.get("schema"), "response_format.schema") : "{\"type\": \"object\"}";
            case "json_schema" -> {
                JsonElement js = f.get("json_schema");
                if (js == null || !js.isJsonObject() || !js.getAsJsonObject().has("schema")) {
                    throw ApiError.badRequest("response_format", "'response_format.json_schema.schema' is required with type json_schema");
                }
                yield schema(js.getAsJsonObject().get("schema"), "response_format.json_schema.schema");
            }
            default -> throw ApiError.badRequest("response_format",
                    "'response_format.type' must be text, json_object or json_schema, not '" + type + "'");
        };
    }

    private static String schema(JsonElement schema, String at) {
        if (schema == null || !(schema.isJsonObject() || schema.isJsonPrimitive() && schema.getAsJsonPrimitive().isBoolean())) {
            throw ApiError.badRequest("response_format", "'" + at + "' must be a JSON schema (an object)");
        }
        return schema.toString();
    }

    private static List<ChatFormat.Message> messages(JsonObject body) {
        JsonElement e = body.get("messages");
        if (e == null || e.isJsonNull()) {
            throw ApiError.badRequest("messages", "'messages' is required");
        }
        if (!e.isJsonArray() || e.getAsJsonArray().isEmpty()) {
            throw ApiError.badRequest("messages", "'messages' must be a non-empty array");
        }
        List<ChatFormat.Message> out = new ArrayList<>();
        JsonArray a = e.getAsJsonArray();
        for (int i = 0; i < a.size(); i++) {
            String at = "messages[" + i + "]";
            if (!a.get(i).isJsonObject()) {
                throw ApiError.badRequest(at, "'" + at + "' must be an object");
            }
            JsonObject m = a.get(i).getAsJsonObject();
            String role = string(m, "role", true);
            if (!List.of("system", "user", "assistant", "developer").contains(role)) {
                throw ApiError.badRequest(at + ".role", "'" + at + ".role' must be system, user or assistant, not '" + role + "'");
            }
            out.add(new ChatFormat.Message(role.equals("developer") ? "system" : role, content(m, at)));
        }
        return out;
    }

    /** A message's content: a string, or OpenAI's array of parts of which only text parts are accepted. */
    private static String content(JsonObject m, String at) {
        JsonElement c = m.get("content");
        if (c == null || c.isJsonNull()) {
            throw ApiError.badRequest(at + ".content", "'" + at + ".content' is required");
        }
        if (c.isJsonPrimitive() && c.getAsJsonPrimitive().isString()) {
            return c.getAsString();
        }
        if (c.isJsonArray()) {
            StringBuilder sb = new StringBuilder();
            for (JsonElement p : c.getAsJsonArray()) {
                if (!p.isJsonObject() || !"text".equals(string(p.getAsJsonObject(), "type", false))) {
                    throw ApiError.badRequest(at + ".content", "only text content is supported");
                }
                sb.append(string(p.getAsJsonObject(), "text", true));
            }
            return sb.toString();
        }
        throw ApiError.badRequest(at + ".content", "'" + at + ".content' must be a string");
    }

    private static List<String> stop(JsonObject body) {
        JsonElement s = body.get("stop");
        if (s == null || s.isJsonNull()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (s.isJsonPrimitive() && s.getAsJsonPrimitive().isString()) {
            out.add(s.getAsString());
        } else if (s.isJsonArray() && s.getAsJsonArray().size() <= 4) {
            for (JsonElement x : s.getAsJsonArray()) {
                if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isString()) {
                    throw ApiError.badRequest("stop", "'stop' must be a string or an array of up to 4 strings");
                }
                out.add(x.getAsString());
            }
        } else {
            throw ApiError.badRequest("stop", "'stop' must be a string or an array of up to 4 strings");
        }
        if (out.stream().anyMatch(String::isEmpty)) {
            throw ApiError.badRequest("stop", "'stop' strings must not be empty");
        }
        return out;
    }

    /** The request's {@code model}, which must be the one this server serves (404 otherwise). */
    static void checkModel(JsonObject body, String modelId) {
        String model = string(body, "model", true);
        if (!model.equals(modelId)) {
            throw new ApiError(404, "invalid_request_error", "model", "model_not_found",
                    "The model '" + model + "' does not exist: this server serves '" + modelId + "'");
        }
    }

    static String string(JsonObject o, String field, boolean required) {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) {
            if (required) {
                throw ApiError.badRequest(field, "'" + field + "' is required");
            }
            return null;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw ApiError.badRequest(field, "'" + field + "' must be a string");
        }
        return e.getAsString();
    }

    static boolean bool(JsonObject o, String field) {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) {
            return false;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw ApiError.badRequest(field, "'" + field + "' must be true or false");
        }
        return e.getAsBoolean();
    }

    private static Integer integer(JsonObject o, String field, long min, long max) {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        JsonPrimitive p = e.isJsonPrimitive() ? e.getAsJsonPrimitive() : null;
        if (p == null || !p.isNumber()) {
            throw ApiError.badRequest(field, "'" + field + "' must be an integer");
        }
        java.math.BigDecimal v = p.getAsBigDecimal();
        if (v.stripTrailingZeros().scale() > 0) {
            throw ApiError.badRequest(field, "'" + field + "' must be an integer, not " + v);
        }
        if (v.compareTo(java.math.BigDecimal.valueOf(min)) < 0 || v.compareTo(java.math.BigDecimal.valueOf(max)) > 0) {
            throw ApiError.badRequest(field, "'" + field + "' must be between " + min + " and " + max + ", not " + v);
        }
        return v.intValueExact();
    }

    private static Double number(JsonObject o, String field, double min, double max) {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        JsonPrimitive p = e.isJsonPrimitive() ? e.getAsJsonPrimitive() : null;
        if (p == null || !p.isNumber()) {
            throw ApiError.badRequest(field, "'" + field + "' must be a number");
        }
        double v = p.getAsDouble();
        if (!(v >= min && v <= max)) {
            throw ApiError.badRequest(field, "'" + field + "' must be between " + min + " and " + max + ", not " + p.getAsString());
        }
        return v;
    }
}
