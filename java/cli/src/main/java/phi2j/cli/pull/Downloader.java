package phi2j.cli.pull;

import phi2j.Progress;

import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Downloads one file safely: into {@code NAME.part} beside the target (owner-only), resuming with an HTTP Range
 * request after an interruption, retrying transient failures with exponential backoff, and renaming to the
 * final name only after the sha256 matches. Two downloads of the same file serialize on a lock file; the
 * second then finds the finished file. A server that stops sending for {@code stallTimeout} is abandoned.
 */
public final class Downloader {
    /** How the download went. {@code checksumSource} says where the expected sha256 came from. */
    public record Result(Path file, long bytes, String sha256, String checksumSource, int attempts, boolean alreadyPresent) {
    }

    /** Where bytes go; tests substitute one that fails (disk full). */
    @FunctionalInterface
    public interface SinkFactory {
        FileChannel open(Path part) throws IOException;
    }

    public static final SinkFactory FILES = part -> FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.APPEND);

    private static final java.util.concurrent.ConcurrentHashMap<Path, java.util.concurrent.locks.ReentrantLock> LOCAL =
            new java.util.concurrent.ConcurrentHashMap<>();

    private final HttpClient http;
    private final String token;
    private final int maxAttempts;
    private final Duration stallTimeout;
    private final Duration firstBackoff;
    private final SinkFactory sinks;
    private final java.io.PrintWriter log;

    public Downloader(String token, int maxAttempts, Duration stallTimeout, Duration firstBackoff, SinkFactory sinks, java.io.PrintWriter log) {
        HttpClient.Builder b = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL).connectTimeout(Duration.ofSeconds(30));
        proxy().ifPresent(b::proxy);
        this.http = b.build();
        this.token = token;
        this.maxAttempts = maxAttempts;
        this.stallTimeout = stallTimeout;
        this.firstBackoff = firstBackoff;
        this.sinks = sinks;
        this.log = log;
    }

    /** The usual HTTPS_PROXY / https_proxy variables (host:port, with or without a scheme). */
    static Optional<ProxySelector> proxy() {
        String p = System.getenv("HTTPS_PROXY");
        if (p == null || p.isBlank()) {
            p = System.getenv("https_proxy");
        }
        if (p == null || p.isBlank()) {
            return Optional.empty();
        }
        URI u = URI.create(p.contains("://") ? p : "http://" + p);
        return Optional.of(ProxySelector.of(new InetSocketAddress(u.getHost(), u.getPort() > 0 ? u.getPort() : 80)));
    }

    /**
     * Downloads {@code url} to {@code target}. {@code expectedSha256} may be null: then the server's
     * {@code X-Linked-Etag} (Hugging Face's sha256 of large files) is used, and failing that, none. {@code progress}
     * counts bytes.
     */
    public Result download(URI url, Path target, String expectedSha256, Progress progress) {
        Path dir = target.toAbsolutePath().getParent();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new InvalidOptionException("models folder", "cannot create " + dir + ": " + e.getMessage());
        }
        Path part = dir.resolve(target.getFileName() + ".part");
        Path lockFile = dir.resolve("." + target.getFileName() + ".lock");
        // File locks exclude other processes only; threads of this JVM queue on an in-process lock first.
        java.util.concurrent.locks.ReentrantLock local = LOCAL.computeIfAbsent(target.toAbsolutePath().normalize(),
                k -> new java.util.concurrent.locks.ReentrantLock());
        if (!local.tryLock()) {
            log.println("pull: another download of " + target.getFileName() + " is running; waiting for it");
            log.flush();
            local.lock();
        }
        try (FileChannel lockCh = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileLock lock = lockCh.tryLock();
            if (lock == null) {
                log.println("pull: another download of " + target.getFileName() + " is running; waiting for it");
                log.flush();
                lock = lockCh.lock();
            }
            try {
                if (Files.isRegularFile(target) && expectedSha256 != null && expectedSha256.equalsIgnoreCase(sha256(target))) {
                    return new Result(target, Files.size(target), expectedSha256.toLowerCase(Locale.ROOT), "catalog", 0, true);
                }
                return fetch(url, target, part, expectedSha256, progress);
            } finally {
                lock.release();
            }
        } catch (IOException e) {
            throw new Phi2Exception("download of " + url + " failed: " + e.getMessage(), e);
        } finally {
            local.unlock();
        }
    }

    private Result fetch(URI url, Path target, Path part, String expected, Progress progress) throws IOException {
        int attempt = 0;
        String linkedEtag = null;
        IOException last = null;
        while (attempt < maxAttempts) {
            attempt++;
            if (attempt > 1) {
                backOff(attempt, last);
            }
            long have = Files.exists(part) ? Files.size(part) : 0;
            HttpResponse<InputStream> resp;
            try {
                resp = http.send(request(url, have), HttpResponse.BodyHandlers.ofInputStream());
            } catch (IOException e) {
                last = e;
                if (hopeless(e)) {
                    break;
                }
                continue;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
            int code = resp.statusCode();
            if (linkedEtag == null) {
                linkedEtag = resp.headers().firstValue("X-Linked-Etag").map(v -> v.replace("\"", "").trim()).filter(v -> v.matches("[0-9a-fA-F]{64}")).orElse(null);
            }
            String retry = retryReason(url, resp, have, attempt);
            if (RESTART.equals(retry)) { // our part is already complete (or longer than the file): start over, not counted
                Files.delete(part);
                last = new IOException("the server refused to resume (416); starting over");
                attempt--;
                continue;
            }
            if (retry != null) {
                last = new IOException(retry);
                continue;
            }
            if (code == 200 && have > 0) {
                Files.delete(part); // the server ignored our Range: take the whole file again
                have = 0;
            }
            long length = resp.headers().firstValueAsLong("Content-Length").orElse(-1);
            try {
                copy(resp.body(), part, have, length >= 0 ? have + length : -1, progress);
            } catch (IOException e) {
                if (isDiskFull(e)) {
                    throw new Phi2Exception("writing " + part + " failed: " + e.getMessage() + " (free some space; the partial download is kept and resumes next time)", e);
                }
                last = e;
                continue;
            }
            return settle(part, target, expected, linkedEtag, attempt);
        }
        throw new Phi2Exception("download of " + url + " failed after " + attempt + (attempt == 1 ? " attempt: " : " attempts: ")
                + explain(last) + noNetworkAdvice());
    }

    /** Waits before attempt {@code attempt}: the first back-off, doubled each time (up to 64 times). */
    private void backOff(int attempt, IOException last) throws IOException {
        long wait = firstBackoff.toMillis() << Math.min(attempt - 2, 6);
        log.printf("pull: attempt %d of %d in %.1f s (%s)%n", attempt, maxAttempts, wait / 1000.0, explain(last));
        log.flush();
        sleep(wait);
    }

    private static final String RESTART = "restart";

    /**
     * Null when the response's body is the file (200, or 206 resuming); otherwise the body is closed and this says why
     * the attempt is over: a reason to retry (server errors, rate limits), or {@link #RESTART}. Refusals that no retry
     * mends (not found, access denied, anything else unexpected) are thrown.
     */
    private static String retryReason(URI url, HttpResponse<InputStream> resp, long have, int attempt) throws IOException {
        int code = resp.statusCode();
        if (code == 200 || code == 206) {
            return null;
        }
        resp.body().close();
        if (code == 404 || code == 401 || code == 403) {
            throw new InvalidOptionException("download", url + " answered " + code + (code == 404 ? " (not found: check the name and revision)"
                    : " (access denied: set HF_TOKEN for gated or private repositories)") + " after " + attempt + " attempt(s)");
        }
        if (code == 416 && have > 0) {
            return RESTART;
        }
        if (code >= 500 || code == 429 || code == 408) {
            return "server answered " + code;
        }
        throw new Phi2Exception(url + " answered HTTP " + code);
    }

    /** A name that does not resolve, or a TLS failure, will not mend itself in a few seconds. */
    private static boolean hopeless(IOException e) {
        Throwable why = cause(e);
        return why instanceof java.net.UnknownHostException || why instanceof java.nio.channels.UnresolvedAddressException
                || why instanceof javax.net.ssl.SSLException;
    }

    /** A GET of {@code url}, resuming after {@code have} bytes, with the token when there is one. */
    private HttpRequest request(URI url, long have) {
        HttpRequest.Builder rb = HttpRequest.newBuilder(url).timeout(Duration.ofSeconds(60)).GET().header("User-Agent", "phi2j/0.1");
        if (token != null && !token.isBlank()) {
            rb.header("Authorization", "Bearer " + token);
        }
        if (have > 0) {
            rb.header("Range", "bytes=" + have + "-");
        }
        return rb.build();
    }

    /**
     * A complete part file: checked against the catalog's sha256 (or the server's X-Linked-Etag), forced to disk, and
     * renamed to the target; a mismatch deletes it.
     */
    private static Result settle(Path part, Path target, String expected, String linkedEtag, int attempt) throws IOException {
        String actual = sha256(part);
        String want = expected != null ? expected : linkedEtag;
        String source = expected != null ? "catalog" : linkedEtag != null ? "server (X-Linked-Etag)" : "none";
        if (want != null && !want.equalsIgnoreCase(actual)) {
            Files.deleteIfExists(part);
            throw new ChecksumMismatchException(target, want.toLowerCase(Locale.ROOT), actual, source);
        }
        try (FileChannel ch = FileChannel.open(part, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return new Result(target, Files.size(target), actual, source, attempt, false);
    }

    /** What to do when the hub cannot be reached. */
    public static String noNetworkAdvice() {
        return ". Without network: pass a model file with -m FILE, turn downloads off with --no-download "
                + "(or PHI2_NO_DOWNLOAD=1) to see where to put one, or try the tools on a tiny random-weight model: "
                + phi2j.cli.Advice.tryTheTinyModel() + " (a partial download resumes when the same command runs again)";
    }

    /** The root cause of a failed request, in words a user can act on. */
    static String explain(IOException e) {
        if (e == null) {
            return "unknown error";
        }
        Throwable c = cause(e);
        if (c instanceof java.net.UnknownHostException || c instanceof java.nio.channels.UnresolvedAddressException) {
            return "the host name does not resolve (no network, or no DNS)";
        }
        if (c instanceof java.net.ConnectException) {
            return "the connection was refused (" + (c.getMessage() == null ? "nothing listens there" : c.getMessage()) + ")";
        }
        if (c instanceof java.net.http.HttpTimeoutException || c instanceof java.net.SocketTimeoutException) {
            return "the server did not answer in time";
        }
        if (c instanceof javax.net.ssl.SSLException) {
            return "the TLS handshake failed (" + c.getMessage() + "; a proxy that intercepts TLS needs its certificate in the JDK's trust store)";
        }
        String m = c.getMessage() != null ? c.getMessage() : e.getMessage();
        return m != null ? m : c.getClass().getSimpleName();
    }

    /**
     * The most telling cause in {@code e}'s chain: HttpClient reports an unknown host as a ConnectException around an
     * UnresolvedAddressException, so a name that does not resolve is looked for first, then TLS, time-outs, refusals.
     */
    private static Throwable cause(Throwable e) {
        List<Class<?>> order = List.of(java.net.UnknownHostException.class, java.nio.channels.UnresolvedAddressException.class,
                javax.net.ssl.SSLException.class, java.net.http.HttpTimeoutException.class, java.net.SocketTimeoutException.class,
                java.net.ConnectException.class);
        for (Class<?> wanted : order) {
            int depth = 0;
            for (Throwable t = e; t != null && depth < 20; t = t.getCause(), depth++) {
                if (wanted.isInstance(t)) {
                    return t;
                }
            }
        }
        Throwable c = e;
        while (c.getCause() != null && c.getCause() != c && c.getMessage() == null) {
            c = c.getCause();
        }
        return c;
    }

    static boolean isDiskFull(IOException e) {
        String m = String.valueOf(e.getMessage());
        return m.contains("No space left") || m.contains("Disk quota");
    }

    private void copy(InputStream body, Path part, long have, long total, Progress progress) throws IOException {
        AtomicLong lastProgress = new AtomicLong(System.nanoTime());
        Thread watchdog = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                if (System.nanoTime() - lastProgress.get() > stallTimeout.toNanos()) {
                    try {
                        body.close(); // unblocks the read below
                    } catch (IOException ignored) {
                        // closing is all we can do
                    }
                    return;
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "phi2-pull-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        if (!Files.exists(part)) {
            phi2j.OwnerOnly.createFile(part);
        }
        try (InputStream in = body; FileChannel out = sinks.open(part)) {
            byte[] buf = new byte[1 << 16];
            long done = have;
            while (true) {
                int n;
                try {
                    n = in.read(buf);
                } catch (IOException e) {
                    if (System.nanoTime() - lastProgress.get() > stallTimeout.toNanos()) {
                        throw new IOException("the server sent nothing for " + stallTimeout.toSeconds() + " s", e);
                    }
                    throw e;
                }
                if (n < 0) {
                    break;
                }
                ByteBuffer bb = ByteBuffer.wrap(buf, 0, n);
                while (bb.hasRemaining()) {
                    out.write(bb);
                }
                done += n;
                lastProgress.set(System.nanoTime());
                progress.update(done, total, part.getFileName().toString());
            }
            if (System.nanoTime() - lastProgress.get() > stallTimeout.toNanos()) {
                throw new IOException("the server sent nothing for " + stallTimeout.toSeconds() + " s");
            }
            if (total >= 0 && done != total) {
                throw new IOException("connection ended at " + done + " of " + total + " bytes");
            }
        } finally {
            watchdog.interrupt();
        }
    }

    public static String sha256(Path p) throws IOException {
        return phi2j.Sha256.of(p);
    }

    private static void sleep(long ms) throws IOException {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
    }

    /** The downloaded bytes do not have the expected sha256; the partial file was removed. */
    public static final class ChecksumMismatchException extends Phi2Exception {
        public ChecksumMismatchException(Path target, String expected, String actual, String source) {
            super(target + ": sha256 mismatch: expected " + expected + " (from " + source + "), got " + actual
                    + "; the download was removed. Try again; if it repeats, the source changed or the connection corrupts data");
        }

        @Override
        public boolean isUserError() {
            return true;
        }
    }
}
