package phi2j.server;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import phi2j.InvalidOptionException;
import phi2j.runtime.Phi2Model;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * OpenAI's {@code POST /v1/embeddings}: {@code input} a string or an array of strings, {@code encoding_format}
 * {@code float} (the default) or {@code base64} (little-endian float32, as OpenAI sends it). Each embedding is the
 * model's final hidden state of the input's last token, L2-normalized ({@link Phi2Model#embedding}); the order of the
 * inputs is kept. Needs a server started with {@code --embeddings} (501 otherwise, as llama-server answers).
 */
final class Embeddings {
    /** As OpenAI's limit on inputs per request. */
    static final int MAX_INPUTS = 2048;

    private Embeddings() {
    }

    static void handle(HttpExchange ex, JsonObject body, String modelId, Phi2Model m) throws IOException {
        Requests.checkModel(body, modelId);
        List<String> inputs = inputs(body);
        String format = Requests.string(body, "encoding_format", false);
        if (format != null && !format.equals("float") && !format.equals("base64")) {
            throw ApiError.badRequest("encoding_format", "'encoding_format' must be float or base64, not " + format);
        }
        boolean base64 = "base64".equals(format);
        JsonArray data = new JsonArray();
        int tokens = 0;
        for (int i = 0; i < inputs.size(); i++) {
            float[] v;
            try {
                v = m.embedding(inputs.get(i));
            } catch (InvalidOptionException e) {
                if (e.option().equals("embeddings")) {
                    throw new ApiError(501, "not_implemented_error", null, "embeddings_off",
                            "This server does not compute embeddings: start it with phi2 serve --embeddings");
                }
                throw ApiError.badRequest("input", "input[" + i + "]: " + e.problem());
            }
            tokens += m.tokenize(inputs.get(i)).length;
            JsonObject d = new JsonObject();
            d.addProperty("object", "embedding");
            d.addProperty("index", i);
            if (base64) {
                ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
                for (float x : v) {
                    b.putFloat(x);
                }
                d.addProperty("embedding", Base64.getEncoder().encodeToString(b.array()));
            } else {
                JsonArray a = new JsonArray(v.length);
                for (float x : v) {
                    a.add(x);
                }
                d.add("embedding", a);
            }
            data.add(d);
        }
        JsonObject usage = new JsonObject();
        usage.addProperty("prompt_tokens", tokens);
        usage.addProperty("total_tokens", tokens);
        JsonObject o = new JsonObject();
        o.addProperty("object", "list");
        o.add("data", data);
        o.addProperty("model", modelId);
        o.add("usage", usage);
        HttpIo.sendJson(ex, 200, o);
    }

    /** {@code input}: one non-empty string, or 1 to {@link #MAX_INPUTS} of them; token arrays are refused by name. */
    private static List<String> inputs(JsonObject body) {
        JsonElement e = body.get("input");
        List<String> out = new ArrayList<>();
        if (e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
            out.add(e.getAsString());
        } else if (e != null && e.isJsonArray() && !e.getAsJsonArray().isEmpty() && e.getAsJsonArray().size() <= MAX_INPUTS) {
            for (JsonElement x : e.getAsJsonArray()) {
                if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isString()) {
                    throw ApiError.badRequest("input", "'input' must be a string or an array of strings (token arrays are not supported)");
                }
                out.add(x.getAsString());
            }
        } else {
            throw ApiError.badRequest("input", "'input' must be a string or an array of 1 to " + MAX_INPUTS + " strings");
        }
        if (out.stream().anyMatch(String::isEmpty)) {
            throw ApiError.badRequest("input", "'input' strings must not be empty");
        }
        return out;
    }
}
