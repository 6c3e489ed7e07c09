package phi2j.server;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import phi2j.InvalidOptionException;
import phi2j.runtime.Phi2Model;

import java.io.IOException;

/**
 * llama-server's {@code POST /tokenize} ({@code content}, {@code with_pieces}) and {@code POST /detokenize}
 * ({@code tokens}), on the served model's own tokenizer. Phi-2 adds no BOS, so {@code add_special} changes nothing.
 */
final class Tokens {
    private Tokens() {
    }

    static void tokenize(HttpExchange ex, JsonObject body, Phi2Model m) throws IOException {
        String content = Requests.string(body, "content", true);
        boolean withPieces = Requests.bool(body, "with_pieces");
        Requests.bool(body, "add_special"); // checked for its type; Phi-2's tokenizer adds nothing either way
        JsonArray tokens = new JsonArray();
        for (int id : content.isEmpty() ? new int[0] : m.tokenize(content)) {
            if (withPieces) {
                JsonObject t = new JsonObject();
                t.addProperty("id", id);
                // a token's own text; one that holds part of a UTF-8 character shows U+FFFD where llama-server lists bytes
                t.addProperty("piece", m.detokenize(new int[] {id}));
                tokens.add(t);
            } else {
                tokens.add(id);
            }
        }
        JsonObject o = new JsonObject();
        o.add("tokens", tokens);
        HttpIo.sendJson(ex, 200, o);
    }

    static void detokenize(HttpExchange ex, JsonObject body, Phi2Model m) throws IOException {
        JsonElement e = body.get("tokens");
        if (e == null || !e.isJsonArray()) {
            throw ApiError.badRequest("tokens", "'tokens' must be an array of token ids");
        }
        JsonArray a = e.getAsJsonArray();
        int[] ids = new int[a.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonElement t = a.get(i);
            if (!t.isJsonPrimitive() || !t.getAsJsonPrimitive().isNumber()
                    || t.getAsBigDecimal().stripTrailingZeros().scale() > 0) {
                throw ApiError.badRequest("tokens", "'tokens[" + i + "]' must be a token id");
            }
            try {
                ids[i] = t.getAsBigDecimal().intValueExact();
            } catch (ArithmeticException tooBig) {
                throw ApiError.badRequest("tokens", "'tokens[" + i + "]' is not a token id: " + t);
            }
        }
        String text;
        try {
            text = m.detokenize(ids);
        } catch (InvalidOptionException bad) {
            throw ApiError.badRequest("tokens", bad.problem());
        }
        JsonObject o = new JsonObject();
        o.addProperty("content", text);
        HttpIo.sendJson(ex, 200, o);
    }
}
