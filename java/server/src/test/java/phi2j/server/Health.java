package phi2j.server;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** Waits for /ready to say 200 (the model is open). */
final class Health {
    private Health() {
    }

    static void awaitReady(int port, Duration limit) throws Exception {
        HttpClient c = HttpClient.newHttpClient();
        long end = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < end) {
            HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/ready")).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() == 200) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the server did not become ready within " + limit);
    }
}
