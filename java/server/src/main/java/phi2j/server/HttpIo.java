package phi2j.server;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** Reading request bodies within a size limit, and writing answers: the server's HTTP plumbing, nothing of OpenAI's. */
final class HttpIo {
    private static final Gson GSON = new Gson();

    private HttpIo() {
    }

    /** The body as a JSON object; 413 past {@code maxBytes} (the rest is drained so the client reads it), 400 when it is not one. */
    static JsonObject body(HttpExchange ex, long maxBytes) throws IOException {
        String len = ex.getRequestHeaders().getFirst("Content-Length");
        if (len != null) {
            try {
                long declared = Long.parseLong(len.trim());
                if (declared > maxBytes) {
                    drain(ex, declared);
                    throw new ApiError(413, "invalid_request_error", null, null, "The body is larger than " + maxBytes + " bytes");
                }
            } catch (NumberFormatException e) {
                throw ApiError.badRequest(null, "Content-Length is not a number");
            }
        }
        byte[] raw;
        try (InputStream in = ex.getRequestBody()) {
            raw = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBytes + 1));
        }
        if (raw.length > maxBytes) {
            drain(ex, Long.MAX_VALUE);
            throw new ApiError(413, "invalid_request_error", null, null, "The body is larger than " + maxBytes + " bytes");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(raw)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw ApiError.badRequest(null, "The body is not valid UTF-8");
        }
        try {
            JsonElement e = JsonParser.parseString(text);
            if (!e.isJsonObject()) {
                throw ApiError.badRequest(null, "The body must be a JSON object");
            }
            return e.getAsJsonObject();
        } catch (com.google.gson.JsonParseException e) {
            throw ApiError.badRequest(null, "The body is not JSON: " + e.getMessage());
        }
    }

    /** Reads and drops what a refused body still sends (up to 64 MiB), so the client gets to read the refusal. */
    static void drain(HttpExchange ex, long declared) throws IOException {
        long limit = Math.min(declared, 64L << 20);
        try (InputStream in = ex.getRequestBody()) {
            byte[] sink = new byte[1 << 16];
            long total = 0;
            int n;
            while (total < limit && (n = in.read(sink)) > 0) {
                total += n;
            }
        }
    }

    static void sendJson(HttpExchange ex, int status, JsonObject o) throws IOException {
        send(ex, status, "application/json", GSON.toJson(o).getBytes(StandardCharsets.UTF_8));
    }

    static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    /** Server-sent events: the headers, then one {@code data:} line per event, then {@code [DONE]}. */
    static final class EventStream {
        private final OutputStream out;

        EventStream(HttpExchange ex) throws IOException {
            ex.getResponseHeaders().add("Content-Type", "text/event-stream");
            ex.getResponseHeaders().add("Cache-Control", "no-cache");
            ex.sendResponseHeaders(200, 0);
            this.out = ex.getResponseBody();
        }

        void event(JsonObject o) throws IOException {
            out.write(("data: " + GSON.toJson(o) + "\n\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        void done() throws IOException {
            out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
    }
}
