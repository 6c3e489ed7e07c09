package phi2j.cli;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;
import phi2j.cli.pull.Downloader;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/** Downloads against a local HTTP server on loopback that misbehaves on purpose. */
class PullTest {
    HttpServer server;
    final Map<String, byte[]> files = new ConcurrentHashMap<>();
    /** path -> behaviour: "cut" (half then close, once), "500" (twice), "404", "stall", "slow" */
    final Map<String, String> mode = new ConcurrentHashMap<>();
    final AtomicInteger requests = new AtomicInteger();
    final Map<String, AtomicInteger> hits = new ConcurrentHashMap<>();
    final Map<String, String> linkedEtag = new ConcurrentHashMap<>();
    /** Per path, each request's Range header ("" without one) and the body bytes the server then sent. */
    final Map<String, java.util.List<String>> ranges = new ConcurrentHashMap<>();
    final Map<String, java.util.List<Long>> served = new ConcurrentHashMap<>();
    /** Per path, when each request arrived (System.nanoTime) and its Authorization header ("" without one). */
    final Map<String, java.util.List<Long>> arrivals = new ConcurrentHashMap<>();
    final Map<String, java.util.List<String>> auth = new ConcurrentHashMap<>();

    @TempDir
    Path dir;
    StringWriter logText = new StringWriter();
    PrintWriter log = new PrintWriter(logText, true);

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
        server.createContext("/", this::serve);
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    URI url(String path) {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + path);
    }

    private void serve(HttpExchange x) throws IOException {
        requests.incrementAndGet();
        String path = x.getRequestURI().getPath();
        int hit = hits.computeIfAbsent(path, k -> new AtomicInteger()).incrementAndGet();
        arrivals.computeIfAbsent(path, k -> java.util.Collections.synchronizedList(new java.util.ArrayList<>())).add(System.nanoTime());
        String authorization = x.getRequestHeaders().getFirst("Authorization");
        auth.computeIfAbsent(path, k -> java.util.Collections.synchronizedList(new java.util.ArrayList<>())).add(authorization == null ? "" : authorization);
        String m = mode.getOrDefault(path, "");
        byte[] body = files.get(path);
        if (body == null || m.equals("404")) {
            x.sendResponseHeaders(404, -1);
            x.close();
            return;
        }
        if (m.equals("500") && hit <= 2) {
            x.sendResponseHeaders(500, -1);
            x.close();
            return;
        }
        if (linkedEtag.containsKey(path)) {
            x.getResponseHeaders().add("X-Linked-Etag", "\"" + linkedEtag.get(path) + "\"");
        }
        int from = 0;
        String range = x.getRequestHeaders().getFirst("Range");
        ranges.computeIfAbsent(path, k -> java.util.Collections.synchronizedList(new java.util.ArrayList<>())).add(range == null ? "" : range);
        java.util.List<Long> sent = served.computeIfAbsent(path, k -> java.util.Collections.synchronizedList(new java.util.ArrayList<>()));
        if (range != null && range.startsWith("bytes=")) {
            from = Integer.parseInt(range.substring(6, range.indexOf('-')));
            x.getResponseHeaders().add("Content-Range", "bytes " + from + "-" + (body.length - 1) + "/" + body.length);
            x.sendResponseHeaders(206, body.length - from);
        } else {
            x.sendResponseHeaders(200, body.length);
        }
        try (OutputStream o = x.getResponseBody()) {
            int len = body.length - from;
            if (m.equals("cut") && hit == 1) {
                o.write(body, from, len / 2);
                o.flush();
                sent.add((long) len / 2);
                x.getHttpContext().getServer(); // then drop the connection mid-file
                throw new IOException("cut on purpose");
            }
            if (m.equals("stall")) {
                o.write(body, from, Math.min(len, 1000));
                o.flush();
                sleep(20_000);
                return;
            }
            if (m.equals("slow")) {
                for (int i = 0; i < len; i += 4096) {
                    o.write(body, from + i, Math.min(4096, len - i));
                    sleep(5);
                }
                return;
            }
            o.write(body, from, len);
            sent.add((long) len);
        } catch (IOException cut) {
            x.close();
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    Downloader downloader(Duration stall) {
        return new Downloader(null, 4, stall, Duration.ofMillis(50), Downloader.FILES, log);
    }

    static byte[] data(int n, int seed) {
        byte[] b = new byte[n];
        new java.util.Random(seed).nextBytes(b);
        return b;
    }

    static String sha(byte[] b) throws Exception {
        return phi2j.Sha256.of(b);
    }

    @Test
    void completeDownloadIsVerifiedAndAppearsOnlyWhenDone() throws Exception {
        byte[] b = data(3_000_000, 1);
        files.put("/m.gguf", b);
        Downloader.Result r = downloader(Duration.ofSeconds(10)).download(url("/m.gguf"), dir.resolve("m.gguf"), sha(b), phi2j.Progress.NONE);
        assertArrayEquals(b, Files.readAllBytes(dir.resolve("m.gguf")));
        assertEquals("catalog", r.checksumSource());
        assertEquals(1, r.attempts());
        assertFalse(Files.exists(dir.resolve("m.gguf.part")));
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("m.gguf"))));
    }

    @Test
    void resumesAfterTheServerCutsTheConnection() throws Exception {
        byte[] b = data(2_000_000, 2);
        files.put("/m.gguf", b);
        mode.put("/m.gguf", "cut");
        Downloader.Result r = downloader(Duration.ofSeconds(10)).download(url("/m.gguf"), dir.resolve("m.gguf"), sha(b), phi2j.Progress.NONE);
        assertArrayEquals(b, Files.readAllBytes(dir.resolve("m.gguf")));
        assertEquals(2, r.attempts(), logText.toString());
        assertTrue(logText.toString().contains("attempt 2 of 4"), logText.toString());
        // the second request resumed where the first stopped, and the server sent only the rest
        java.util.List<String> rs = ranges.get("/m.gguf");
        assertEquals(2, rs.size(), rs.toString());
        assertEquals("", rs.get(0), "the first request asks for the whole file");
        long firstPart = served.get("/m.gguf").get(0);
        assertEquals("bytes=" + firstPart + "-", rs.get(1), "the resume starts at the bytes already on disk");
        assertEquals(b.length - firstPart, served.get("/m.gguf").get(1), "only the missing bytes were sent again");
    }

    @Test
    void thePartFileIsOwnerOnlyWhileItGrows() throws Exception {
        byte[] b = data(1_500_000, 10);
        files.put("/m.gguf", b);
        mode.put("/m.gguf", "slow");
        CompletableFuture<Downloader.Result> pull = CompletableFuture.supplyAsync(() -> downloader(Duration.ofSeconds(10))
                .download(url("/m.gguf"), dir.resolve("m.gguf"), null, phi2j.Progress.NONE));
        Path part = dir.resolve("m.gguf.part");
        for (int i = 0; i < 400 && !Files.exists(part); i++) {
            Thread.sleep(5);
        }
        assertTrue(Files.exists(part), "the download goes to NAME.part first");
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(part)));
        pull.get(60, TimeUnit.SECONDS);
        assertFalse(Files.exists(part));
    }

    @Test
    void retriesWaitLongerEachTime() throws Exception {
        byte[] b = data(10_000, 11);
        files.put("/m.gguf", b);
        mode.put("/m.gguf", "500"); // two server errors, then the file
        Downloader.Result r = downloader(Duration.ofSeconds(10)).download(url("/m.gguf"), dir.resolve("m.gguf"), sha(b), phi2j.Progress.NONE);
        assertEquals(3, r.attempts());
        java.util.List<Long> t = arrivals.get("/m.gguf");
        long first = (t.get(1) - t.get(0)) / 1_000_000;
        long second = (t.get(2) - t.get(1)) / 1_000_000;
        assertTrue(first >= 50 && second >= 100, "backoff of 50 ms, then 100 ms: waited " + first + " and " + second + " ms");
        assertTrue(logText.toString().contains("attempt 2 of 4 in") && logText.toString().contains("attempt 3 of 4 in 0.1 s"), logText.toString());
    }

    /** The CLI's environment: HF_TOKEN goes out as a bearer token, HTTPS_PROXY carries the request (the host does not resolve). */
    @Test
    void theCliSendsHfTokenAndGoesThroughHttpsProxy(@TempDir Path models) throws Exception {
        byte[] b = data(50_000, 12);
        files.put("/m.gguf", b);
        Path catalog = models.resolve("catalog.json");
        Files.writeString(catalog, "{\"default\": \"m\", \"models\": [{\"name\": \"m\", \"file\": \"m.gguf\", \"type\": \"F32\", "
                + "\"size\": \"50 kB\", \"sha256\": \"" + sha(b) + "\", \"source\": \"http://phi2j-proxy-only.invalid/m.gguf\"}]}");
        ProcessBuilder pb = new ProcessBuilder(ProcessTest.cli(java.util.List.of("-Dphi2.catalog=" + catalog), "pull", "m", "--models-dir",
                models.toString())).redirectErrorStream(true);
        pb.environment().put("HF_TOKEN", "hf_test_token");
        pb.environment().put("HTTPS_PROXY", "http://127.0.0.1:" + server.getAddress().getPort());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertArrayEquals(b, Files.readAllBytes(models.resolve("m.gguf")));
        assertEquals(java.util.List.of("Bearer hf_test_token"), auth.get("/m.gguf"), "the token went out with the one request");
    }

    /** Two CLI processes pulling the same model at once: the cross-process lock lets one download, the other waits. */
    @Test
    void twoCliProcessesPullingAtOnceDownloadOnce(@TempDir Path models) throws Exception {
        byte[] b = data(1_500_000, 9);
        files.put("/m.gguf", b);
        mode.put("/m.gguf", "slow");
        Path catalog = models.resolve("catalog.json");
        Files.writeString(catalog, "{\"default\": \"m\", \"models\": [{\"name\": \"m\", \"file\": \"m.gguf\", \"type\": \"F32\", "
                + "\"size\": \"1.5 MB\", \"sha256\": \"" + sha(b) + "\", \"source\": \"" + url("/m.gguf") + "\"}]}");
        java.util.List<Process> ps = new java.util.ArrayList<>();
        for (int i = 0; i < 2; i++) {
            ps.add(new ProcessBuilder(ProcessTest.cli(java.util.List.of("-Dphi2.catalog=" + catalog), "pull", "m", "--models-dir",
                    models.toString())).redirectErrorStream(true).start());
        }
        java.util.List<String> outs = new java.util.ArrayList<>();
        for (Process p : ps) {
            outs.add(new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
            assertTrue(p.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), outs.get(outs.size() - 1));
        }
        assertArrayEquals(b, Files.readAllBytes(models.resolve("m.gguf")));
        assertEquals(1, hits.get("/m.gguf").get(), "one process downloaded, the other waited for its lock: " + outs);
        try (var left = Files.list(models)) {
            assertEquals(java.util.List.of("catalog.json", "m.gguf", "m.gguf.sha256"), left.map(f -> f.getFileName().toString()).filter(n -> !n.startsWith(".")).sorted().toList());
        }
    }

    @Test
    void aChecksumMismatchRemovesTheFileAndNamesBothHashes() throws Exception {
        byte[] b = data(100_000, 3);
        files.put("/m.gguf", b);
        String wrong = "0".repeat(64);
        Downloader.ChecksumMismatchException e = assertThrows(Downloader.ChecksumMismatchException.class,
                () -> downloader(Duration.ofSeconds(10)).download(url("/m.gguf"), dir.resolve("m.gguf"), wrong, phi2j.Progress.NONE));
        assertTrue(e.getMessage().contains("expected " + wrong) && e.getMessage().contains("got " + sha(b)), e.getMessage());
        assertTrue(e.isUserError(), "exit 2 in the CLI");
        assertFalse(Files.exists(dir.resolve("m.gguf")));
        assertFalse(Files.exists(dir.resolve("m.gguf.part")));
    }

    @Test
    void theServersLinkedEtagIsUsedWhenTheCatalogHasNoChecksum() throws Exception {
        byte[] b = data(50_000, 4);
        files.put("/m.gguf", b);
        linkedEtag.put("/m.gguf", sha(b));
        Downloader.Result r = downloader(Duration.ofSeconds(10)).download(url("/m.gguf"), dir.resolve("m.gguf"), null, phi2j.Progress.NONE);
        assertEquals("server (X-Linked-Etag)", r.checksumSource());
        linkedEtag.put("/m.gguf", "1".repeat(64));
        assertThrows(Downloader.ChecksumMismatchException.class,
                () -> downloader(Duration.ofSeconds(10)).download(url("/m.gguf"), dir.resolve("n.gguf"), null, phi2j.Progress.NONE));
    }

    @Test
    void notFoundFailsAtOnceAndServerErrorsAreRetried() throws Exception {
        InvalidOptionException nf = assertThrows(InvalidOptionException.class,
                () -> downloader(Duration.ofSeconds(10)).download(url("/missing.gguf"), dir.resolve("x.gguf"), null, phi2j.Progress.NONE));
        assertTrue(nf.getMessage().contains("404") && nf.getMessage().contains("after 1 attempt"), nf.getMessage());
        byte[] b = data(10_000, 5);
        files.put("/flaky.gguf", b);
        mode.put("/flaky.gguf", "500");
        Downloader.Result r = downloader(Duration.ofSeconds(10)).download(url("/flaky.gguf"), dir.resolve("f.gguf"), sha(b), phi2j.Progress.NONE);
        assertEquals(3, r.attempts(), "two 500s, then success");
        assertTrue(logText.toString().contains("server answered 500"), logText.toString());
        files.put("/down.gguf", b);
        mode.put("/down.gguf", "500");
        hits.put("/down.gguf", new AtomicInteger(-10));
        Phi2Exception e = assertThrows(Phi2Exception.class,
                () -> downloader(Duration.ofSeconds(10)).download(url("/down.gguf"), dir.resolve("d.gguf"), null, phi2j.Progress.NONE));
        assertTrue(e.getMessage().contains("after 4 attempts") && e.getMessage().contains("500"), e.getMessage());
    }

    @Test
    void offlineFailuresNameTheCauseAndWhatToDoWithoutRetryingAHopelessName() throws Exception {
        int closedPort;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort(); // closed again when this block ends: nothing listens there
        }
        java.net.URI refused = java.net.URI.create("http://127.0.0.1:" + closedPort + "/model.gguf");
        Phi2Exception e = assertThrows(Phi2Exception.class,
                () -> downloader(Duration.ofSeconds(5)).download(refused, dir.resolve("r.gguf"), null, phi2j.Progress.NONE));
        assertTrue(e.getMessage().contains("connection was refused") && e.getMessage().contains("-m FILE")
                && e.getMessage().contains("--no-download") && e.getMessage().contains("phi2 synth"), e.getMessage());
        assertFalse(e.getMessage().contains("null"), e.getMessage());
        assertTrue(logText.toString().contains("attempt 2 of") && logText.toString().contains("connection was refused"),
                "each retry line names the cause: " + logText);
        assertFalse(logText.toString().contains("(null)"), logText.toString());
        assertTrue(e.getMessage().contains(Advice.tryTheTinyModel()), "the same tiny-model advice as --no-download's: " + e.getMessage());

        logText.getBuffer().setLength(0);
        java.net.URI nowhere = java.net.URI.create("http://phi2j-test.invalid/model.gguf"); // .invalid never resolves (RFC 2606)
        Phi2Exception e2 = assertThrows(Phi2Exception.class,
                () -> downloader(Duration.ofSeconds(5)).download(nowhere, dir.resolve("n.gguf"), null, phi2j.Progress.NONE));
        assertTrue(e2.getMessage().contains("does not resolve") && e2.getMessage().contains("after 1 attempt:"), e2.getMessage());
        assertFalse(logText.toString().contains("attempt 2"), "no retries for a name that does not resolve: " + logText);
    }

    @Test
    void aStallingServerTimesOutInsteadOfHanging() throws Exception {
        files.put("/stall.gguf", data(100_000, 6));
        mode.put("/stall.gguf", "stall");
        long t0 = System.nanoTime();
        Downloader d = new Downloader(null, 2, Duration.ofSeconds(1), Duration.ofMillis(10), Downloader.FILES, log);
        Phi2Exception e = assertThrows(Phi2Exception.class, () -> d.download(url("/stall.gguf"), dir.resolve("s.gguf"), null, phi2j.Progress.NONE));
        assertTrue(e.getMessage().contains("sent nothing for 1 s"), e.getMessage());
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(15));
        assertFalse(Files.exists(dir.resolve("s.gguf")));
    }

    @Test
    void aFullDiskIsReportedAndNothingAppearsUnderTheFinalName() throws Exception {
        byte[] b = data(1_000_000, 7);
        files.put("/m.gguf", b);
        Downloader full = new Downloader(null, 3, Duration.ofSeconds(5), Duration.ofMillis(10), part -> {
            FileChannel real = Downloader.FILES.open(part);
            return new java.nio.channels.FileChannel() {
                long written;

                @Override
                public int write(java.nio.ByteBuffer src) throws IOException {
                    if (written > 300_000) {
                        throw new IOException("No space left on device");
                    }
                    int n = real.write(src);
                    written += n;
                    return n;
                }

                @Override public int read(java.nio.ByteBuffer dst) throws IOException { return real.read(dst); }
                @Override public long read(java.nio.ByteBuffer[] d, int o, int l) throws IOException { return real.read(d, o, l); }
                @Override public long write(java.nio.ByteBuffer[] s, int o, int l) throws IOException { return real.write(s, o, l); }
                @Override public long position() throws IOException { return real.position(); }
                @Override public FileChannel position(long p) throws IOException { real.position(p); return this; }
                @Override public long size() throws IOException { return real.size(); }
                @Override public FileChannel truncate(long s) throws IOException { real.truncate(s); return this; }
                @Override public void force(boolean m) throws IOException { real.force(m); }
                @Override public long transferTo(long p, long c, java.nio.channels.WritableByteChannel t) throws IOException { return real.transferTo(p, c, t); }
                @Override public long transferFrom(java.nio.channels.ReadableByteChannel s, long p, long c) throws IOException { return real.transferFrom(s, p, c); }
                @Override public int read(java.nio.ByteBuffer d, long p) throws IOException { return real.read(d, p); }
                @Override public int write(java.nio.ByteBuffer s, long p) throws IOException { return real.write(s, p); }
                @Override public java.nio.MappedByteBuffer map(MapMode m, long p, long s) throws IOException { return real.map(m, p, s); }
                @Override public java.nio.channels.FileLock lock(long p, long s, boolean sh) throws IOException { return real.lock(p, s, sh); }
                @Override public java.nio.channels.FileLock tryLock(long p, long s, boolean sh) throws IOException { return real.tryLock(p, s, sh); }
                @Override protected void implCloseChannel() throws IOException { real.close(); }
            };
        }, log);
        Phi2Exception e = assertThrows(Phi2Exception.class, () -> full.download(url("/m.gguf"), dir.resolve("m.gguf"), sha(b), phi2j.Progress.NONE));
        assertTrue(e.getMessage().contains("No space left on device") && e.getMessage().contains("resumes next time"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("m.gguf")));
        // space freed: the same download resumes from the partial file
        Downloader.Result r = downloader(Duration.ofSeconds(5)).download(url("/m.gguf"), dir.resolve("m.gguf"), sha(b), phi2j.Progress.NONE);
        assertArrayEquals(b, Files.readAllBytes(dir.resolve("m.gguf")));
        assertEquals(1, r.attempts());
    }

    @Test
    void twoPullsOfTheSameModelAtOnceNeverCorruptIt() throws Exception {
        byte[] b = data(1_500_000, 8);
        files.put("/m.gguf", b);
        mode.put("/m.gguf", "slow");
        String sha = sha(b);
        CompletableFuture<Downloader.Result> one = CompletableFuture.supplyAsync(() -> downloader(Duration.ofSeconds(10)).download(url("/m.gguf"), dir.resolve("m.gguf"), sha, phi2j.Progress.NONE));
        CompletableFuture<Downloader.Result> two = CompletableFuture.supplyAsync(() -> downloader(Duration.ofSeconds(10)).download(url("/m.gguf"), dir.resolve("m.gguf"), sha, phi2j.Progress.NONE));
        Downloader.Result a = one.get(60, TimeUnit.SECONDS);
        Downloader.Result c = two.get(60, TimeUnit.SECONDS);
        assertArrayEquals(b, Files.readAllBytes(dir.resolve("m.gguf")));
        assertTrue(a.alreadyPresent() ^ c.alreadyPresent(), "one downloaded, the other waited and found it");
        assertEquals(1, hits.get("/m.gguf").get());
    }

    @Test
    void pullHfFetchesACheckpointThatThenConverts() throws Exception {
        Path ck = TestModels.smallCheckpoint();
        try (var l = Files.list(ck)) {
            for (Path f : l.toList()) {
                files.put("/test/phi-2-small/resolve/main/" + f.getFileName(), Files.readAllBytes(f));
            }
        }
        Path dest = dir.resolve("ckpt");
        CliTest.Run r = CliTest.run("pull", "--hf", "test/phi-2-small", "--endpoint", url("").toString(), "-o", dest.toString(),
                "--models-dir", dir.toString(), "--convert", "q8_0");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("pulled test/phi-2-small@main into " + dest), r.out());
        for (String f : List.of("config.json", "tokenizer.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors")) {
            assertArrayEquals(Files.readAllBytes(ck.resolve(f)), Files.readAllBytes(dest.resolve(f)), f);
        }
        assertTrue(Files.isRegularFile(dir.resolve("phi-2-small.Q8_0.gguf")), r.out());
        CliTest.Run g = CliTest.run("inspect", dir.resolve("phi-2-small.Q8_0.gguf").toString());
        assertTrue(g.out().contains("phi2 check: OK"), g.out());
    }

    @Test
    void pullListAndRmOfACatalogModel(@TempDir Path models) throws Exception {
        byte[] b = Files.readAllBytes(TestModels.tiny());
        files.put("/tiny.gguf", b);
        Path catalog = models.resolve("catalog.json");
        Files.writeString(catalog, "{\"default\": \"tiny\", \"models\": [{\"name\": \"tiny\", \"file\": \"tiny.gguf\", \"type\": \"F32\", "
                + "\"size\": \"2.9 MB\", \"sha256\": \"" + sha(b) + "\", \"source\": \"" + url("/tiny.gguf") + "\"}]}");
        System.setProperty("phi2.catalog", catalog.toString());
        try {
            CliTest.Run p = CliTest.run("pull", "--models-dir", models.toString());
            assertEquals(0, p.exit(), p.err());
            assertTrue(p.out().contains("checked against the catalog"), p.out());
            CliTest.Run l = CliTest.run("list", "--models-dir", models.toString());
            assertTrue(l.out().contains("tiny (default)") && l.out().contains("verified"), l.out());
            // generate without -m uses the (now present) default model
            CliTest.Run g = CliTest.run("generate", "--models-dir", models.toString(), "-p", "Hi", "-n", "3", "-c", "64");
            assertEquals(0, g.exit(), g.err());
            assertEquals(0, CliTest.run("rm", "tiny", "--models-dir", models.toString()).exit());
            assertFalse(Files.exists(models.resolve("tiny.gguf")));
            CliTest.Run again = CliTest.run("rm", "tiny", "--models-dir", models.toString());
            assertEquals(2, again.exit());
            assertTrue(again.err().contains("tiny is not present"), again.err());
            // missing again: generate pulls it by itself unless told not to
            g = CliTest.run("generate", "--models-dir", models.toString(), "-p", "Hi", "-n", "3", "-c", "64", "--no-download");
            assertEquals(2, g.exit());
            assertTrue(g.err().contains(Advice.phi2() + " pull tiny"), g.err());
            g = CliTest.run("generate", "--models-dir", models.toString(), "-p", "Hi", "-n", "3", "-c", "64");
            assertEquals(0, g.exit(), g.err());
            assertTrue(Files.isRegularFile(models.resolve("tiny.gguf")));
            assertEquals(2, CliTest.run("pull", "nope", "--models-dir", models.toString()).exit());
            // a model of the user's own in the folder: listed with its type and size, and removable by its file name
            Files.copy(TestModels.tiny(), models.resolve("mine-q8.gguf"));
            CliTest.Run mine = CliTest.run("list", "--models-dir", models.toString());
            assertTrue(mine.out().matches("(?s).*\\| mine-q8\\.gguf +\\| F32 +\\| - +\\| [0-9.]+ MB +\\| not in the catalog +\\|.*"), mine.out());
            assertEquals(0, CliTest.run("rm", "mine-q8.gguf", "--models-dir", models.toString()).exit());
            assertFalse(Files.exists(models.resolve("mine-q8.gguf")));
            CliTest.Run gone = CliTest.run("rm", "mine-q8.gguf", "--models-dir", models.toString());
            assertEquals(2, gone.exit());
            assertTrue(gone.err().contains("mine-q8.gguf is not present"), gone.err());
            CliTest.Run outside = CliTest.run("rm", "../catalog.json", "--models-dir", models.toString());
            assertEquals(2, outside.exit());
            assertTrue(outside.err().contains("neither in the catalog nor a GGUF file name"), outside.err());
        } finally {
            System.clearProperty("phi2.catalog");
            System.clearProperty("phi2.models.dir.option");
        }
    }
}
