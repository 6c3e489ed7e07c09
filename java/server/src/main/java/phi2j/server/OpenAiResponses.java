package phi2j.server;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.StopReason;
import phi2j.runtime.TokenLogprob;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * OpenAI's response bodies for one request, as this server writes them: a chat or text completion whole, its stream's
 * chunks (each with the log-probabilities of the tokens whose text it carries), the usage block, the model list. The
 * one place that knows OpenAI's JSON shapes.
 */
final class OpenAiResponses {
    private final String id;
    private final String modelId;
    private final boolean chat;
    private final int topLogprobs;
    private final long created = System.currentTimeMillis() / 1000;
    /** Characters of text sent so far (text completions' text_offset). */
    private int offset;

    OpenAiResponses(String modelId, boolean chat, int topLogprobs) {
        this.id = (chat ? "chatcmpl-" : "cmpl-") + java.util.UUID.randomUUID().toString().replace("-", "");
        this.modelId = modelId;
        this.chat = chat;
        this.topLogprobs = topLogprobs;
    }

    /** The list {@code GET /v1/models} answers. */
    static JsonObject models(String modelId, long created) {
        JsonObject m = new JsonObject();
        m.addProperty("id", modelId);
        m.addProperty("object", "model");
        m.addProperty("created", created);
        m.addProperty("owned_by", "phi2j");
        JsonArray data = new JsonArray();
        data.add(m);
        JsonObject o = new JsonObject();
        o.addProperty("object", "list");
        o.add("data", data);
        return o;
    }

    /** A chat stream's first chunk: the assistant's role. */
    JsonObject roleChunk() {
        JsonObject delta = new JsonObject();
        delta.addProperty("role", "assistant");
        delta.addProperty("content", "");
        return chunk(delta, null, null, null);
    }

    /** A chunk carrying {@code text} and, when they were asked for, the log-probabilities of the tokens behind it. */
    JsonObject textChunk(String text, List<TokenLogprob> tokens) {
        JsonObject delta = new JsonObject();
        delta.addProperty("content", text);
        return chunk(delta, null, null, tokens);
    }

    /** The last chunk: the finish reason, with the log-probabilities of tokens whose text was never sent (a stop string's). */
    JsonObject finishChunk(GenerationResult r, List<TokenLogprob> tokens) {
        return chunk(new JsonObject(), finishReason(r), null, tokens);
    }

    /** The usage chunk ({@code stream_options.include_usage}). */
    JsonObject usageChunk(GenerationResult r) {
        return chunk(null, null, usage(r), null);
    }

    private JsonObject chunk(JsonObject delta, String finish, JsonObject usage, List<TokenLogprob> tokens) {
        JsonObject o = head(chat ? "chat.completion.chunk" : "text_completion");
        JsonArray choices = new JsonArray();
        if (delta != null) {
            JsonObject c = new JsonObject();
            c.addProperty("index", 0);
            String text = delta.has("content") ? delta.get("content").getAsString() : "";
            if (chat) {
                c.add("delta", delta);
            } else {
                c.addProperty("text", text);
            }
            if (tokens != null) {
                c.add("logprobs", logprobs(tokens));
            }
            c.addProperty("finish_reason", finish);
            choices.add(c);
        }
        o.add("choices", choices);
        if (usage != null) {
            o.add("usage", usage);
        }
        return o;
    }

    /** The whole answer as one body. */
    JsonObject complete(GenerationResult r, String text, boolean withLogprobs) {
        JsonObject c = new JsonObject();
        c.addProperty("index", 0);
        if (chat) {
            JsonObject msg = new JsonObject();
            msg.addProperty("role", "assistant");
            msg.addProperty("content", text);
            c.add("message", msg);
        } else {
            c.addProperty("text", text);
        }
        c.add("logprobs", withLogprobs ? logprobs(r.logprobs()) : JsonNull.INSTANCE);
        c.addProperty("finish_reason", finishReason(r));
        JsonArray choices = new JsonArray();
        choices.add(c);
        JsonObject o = head(chat ? "chat.completion" : "text_completion");
        o.add("choices", choices);
        o.add("usage", usage(r));
        return o;
    }

    private JsonObject head(String object) {
        JsonObject o = new JsonObject();
        o.addProperty("id", id);
        o.addProperty("object", object);
        o.addProperty("created", created);
        o.addProperty("model", modelId);
        return o;
    }

    static String finishReason(GenerationResult r) {
        return r.stopReason() == StopReason.LENGTH ? "length" : "stop";
    }

    /**
     * Log-probabilities in each API's shape: chat's {@code {"content": [{token, logprob, bytes, top_logprobs}]}}, text
     * completions' {@code {"tokens", "token_logprobs", "top_logprobs", "text_offset"}}.
     */
    private JsonObject logprobs(List<TokenLogprob> tokens) {
        JsonObject o = new JsonObject();
        if (chat) {
            JsonArray content = new JsonArray();
            for (TokenLogprob t : tokens) {
                JsonObject e = entry(t.text(), t.logprob());
                JsonArray alts = new JsonArray();
                t.top().stream().limit(topLogprobs).forEach(a -> alts.add(entry(a.text(), a.logprob())));
                e.add("top_logprobs", alts);
                content.add(e);
            }
            o.add("content", content);
            return o;
        }
        JsonArray names = new JsonArray();
        JsonArray values = new JsonArray();
        JsonArray tops = new JsonArray();
        JsonArray offsets = new JsonArray();
        for (TokenLogprob t : tokens) {
            names.add(t.text());
            values.add(t.logprob());
            JsonObject top = new JsonObject();
            t.top().stream().limit(topLogprobs).forEach(a -> top.addProperty(a.text(), a.logprob()));
            tops.add(top);
            offsets.add(offset);
            offset += t.text().length();
        }
        o.add("tokens", names);
        o.add("token_logprobs", values);
        o.add("top_logprobs", tops);
        o.add("text_offset", offsets);
        return o;
    }

    private static JsonObject entry(String token, double logprob) {
        JsonObject e = new JsonObject();
        e.addProperty("token", token);
        e.addProperty("logprob", logprob);
        JsonArray bytes = new JsonArray();
        for (byte b : token.getBytes(StandardCharsets.UTF_8)) {
            bytes.add(b & 0xff);
        }
        e.add("bytes", bytes);
        return e;
    }

    static JsonObject usage(GenerationResult r) {
        JsonObject u = new JsonObject();
        u.addProperty("prompt_tokens", r.promptTokens());
        u.addProperty("completion_tokens", r.generatedTokens());
        u.addProperty("total_tokens", r.promptTokens() + r.generatedTokens());
        JsonObject details = new JsonObject();
        details.addProperty("cached_tokens", r.cachedPromptTokens());
        u.add("prompt_tokens_details", details);
        return u;
    }
}
