package phi2j.runtime.internal;

import phi2j.OwnerOnly;
import phi2j.Phi2Exception;
import phi2j.runtime.RunnerCrashedException;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Starting a runner JVM and ending it: its command line, its private folder and socket, the log reader, and the
 * handshake that proves the process on the socket is the one we started (a random token through its standard
 * input, echoed with its pid). What follows the handshake is {@link RunnerProcess}'s.
 */
final class RunnerLauncher {
    private static final System.Logger LOG = System.getLogger("phi2j.runner");
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(60);
    /** For tests of the runner protocol: an {@link Engine} class the runner uses in place of llama.cpp. */
    static final String FAKE_ENGINE = "phi2.runner.fakeEngine";
    /** "full" gives runners the JIT's every tier (a long-running server's); otherwise C1 alone. */
    public static final String RUNNER_JIT = "phi2.runner.jit";

    /** A started runner: its process, private folder, pipe and log; once connected, its socket too. */
    record Launched(Process process, Path dir, OutputStream stdin, NativeLog log, SocketChannel channel, Frames frames) {

        Integer exitStatus() {
            return process.isAlive() ? null : process.exitValue();
        }

        /** Gives the process a moment to exit and the log reader to drain its last lines. */
        void waitForLog() {
            try {
                process.waitFor(2, TimeUnit.SECONDS);
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        void kill() {
            process.destroyForcibly();
            try {
                process.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            deleteQuietly(dir);
        }
    }

    private RunnerLauncher() {
    }

    /** glibc's tunable that lets malloc's large regions use transparent huge pages (glibc 2.35+; older ones ignore it). */
    static final String HUGETLB = "glibc.malloc.hugetlb";

    /**
     * The runner's GLIBC_TUNABLES: the caller's, with {@code glibc.malloc.hugetlb=1} added unless the caller set that
     * tunable. llama.cpp clears its KV cache when it makes a context, and on a machine whose transparent huge pages are
     * "madvise" (Debian's default) that first touch of 640 MiB (Phi-2, 2048 cells) page by page took 2.4 s of a
     * 4.4 s load here; with huge pages allowed it took 0.07 s (README, Loading).
     */
    static String tunables(String inherited) {
        if (inherited == null || inherited.isBlank()) {
            return HUGETLB + "=1";
        }
        for (String t : inherited.split(":")) {
            if (t.startsWith(HUGETLB + "=")) {
                return inherited; // the caller's own choice
            }
        }
        return inherited + ":" + HUGETLB + "=1";
    }

    /**
     * Starts a runner JVM and waits for it to connect; {@code nativeLibrary} is a custom libjllama folder for the
     * binding engine, or null (the native engine's library is named in the LOAD message instead).
     */
    static Launched launch(Path nativeLibrary, Map<String, String> environment) {
        Path dir = privateDirectory();
        Path socket = dir.resolve("runner.sock");
        Launched started = null;
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            server.configureBlocking(false);
            ProcessBuilder pb = new ProcessBuilder(command(dir, socket, nativeLibrary)).redirectErrorStream(true);
            pb.environment().putAll(environment);
            pb.environment().put("GLIBC_TUNABLES", tunables(pb.environment().get("GLIBC_TUNABLES")));
            Process p = pb.start();
            started = new Launched(p, dir, p.getOutputStream(), new NativeLog(), null, null);
            startLogReader(started);
            return handshake(started, server, socket);
        } catch (IOException | RuntimeException e) {
            if (started != null) {
                started.kill();
            } else {
                deleteQuietly(dir);
            }
            if (e instanceof Phi2Exception pe) {
                throw pe;
            }
            throw new RunnerCrashedException("could not start the runner process: " + e, started == null ? null : started.exitStatus(),
                    started == null ? List.of() : started.log().tail());
        } finally {
            try {
                Files.deleteIfExists(socket);
            } catch (IOException ignored) {
                // the folder goes with the runner
            }
        }
    }

    private static List<String> command(Path dir, Path socket, Path nativeLibrary) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx256m");
        cmd.add("-XX:+UseSerialGC");
        if (!"full".equals(System.getProperty(RUNNER_JIT))) {
            cmd.add("-XX:TieredStopAtLevel=1"); // C1 only: a runner's Java is small, and starts compiled sooner
        }
        // The runner's own Java is small and runs between decode batches: compile it after a few calls rather than
        // thousands, or interpreted frame writing takes a core from llama.cpp's threads for a long warm-up.
        cmd.add("-XX:CompileThresholdScaling=0.05");
        for (String passed : List.of("phi2.batchMicros", FAKE_ENGINE)) { // the native engine's batch length; the test engine
            if (System.getProperty(passed) != null) {
                cmd.add("-D" + passed + "=" + System.getProperty(passed));
            }
        }
        cmd.add("-Djava.io.tmpdir=" + dir);
        // The binding extracts its library into this folder; one private folder per runner means runners
        // never overwrite or delete each other's copy.
        cmd.add("-Dde.kherud.llama.tmpdir=" + dir);
        if (nativeLibrary != null) {
            cmd.add("-Dde.kherud.llama.lib.path=" + nativeLibrary.toAbsolutePath());
        }
        cmd.add("-cp");
        cmd.add(classPath());
        // phi2.runner.testMain: for tests of the handshake only, another program in the runner's place
        cmd.add(System.getProperty("phi2.runner.testMain", RunnerMain.class.getName()));
        cmd.add(socket.toString());
        return cmd;
    }

    /** The runner's own jar inside phi2-runtime's, and its sha256 (written together by the module's build). */
    static final String RUNNER_JAR = "phi2j/runtime/internal/runner.jar";

    /**
     * The runner's class path: its own jar, carried inside phi2-runtime and extracted into phi2j's private cache, so
     * that it does not depend on how the caller was started (mvn exec:java, a Spring Boot jar with nested libraries,
     * a shaded jar, an application server). Test hooks add the caller's class path after it.
     */
    static String classPath() {
        String jar = runnerJar().toString();
        boolean testHooks = System.getProperty(FAKE_ENGINE) != null || System.getProperty("phi2.runner.testMain") != null;
        return testHooks ? jar + java.io.File.pathSeparator + System.getProperty("java.class.path") : jar;
    }

    private static Path runnerJar() {
        String sha;
        try (java.io.InputStream in = RunnerLauncher.class.getResourceAsStream("/" + RUNNER_JAR + ".sha256")) {
            if (in == null) {
                throw new Phi2Exception("phi2-runtime's jar lacks " + RUNNER_JAR + ".sha256, which its Maven build makes (process-classes): "
                        + "build phi2-runtime with Maven, or use its published jar");
            }
            sha = new String(in.readAllBytes(), StandardCharsets.US_ASCII).strip();
        } catch (IOException e) {
            throw new Phi2Exception("cannot read " + RUNNER_JAR + ".sha256 from phi2-runtime: " + e.getMessage(), e);
        }
        return phi2j.nativelib.PrivateCache.folder("runner", List.of(new phi2j.nativelib.PrivateCache.Entry("phi2-runner.jar", sha, () -> {
            java.io.InputStream in = RunnerLauncher.class.getResourceAsStream("/" + RUNNER_JAR);
            if (in == null) {
                throw new IOException("phi2-runtime's jar lacks " + RUNNER_JAR);
            }
            return in;
        }))).resolve("phi2-runner.jar");
    }

    /** Sends the token, accepts the connection and checks the HELLO: the right token from the right pid. */
    private static Launched handshake(Launched l, ServerSocketChannel server, Path socket) throws IOException {
        byte[] token = new byte[24];
        new SecureRandom().nextBytes(token);
        String hex = HexFormat.of().formatHex(token);
        l.stdin().write((hex + "\n").getBytes(StandardCharsets.US_ASCII));
        l.stdin().flush();
        SocketChannel ch = accept(l, server);
        Frames frames = new Frames(ch);
        Launched connected = new Launched(l.process(), l.dir(), l.stdin(), l.log(), ch, frames);
        Frames.Frame hello = frames.read();
        Messages.Hello h = hello.type() == Frames.HELLO ? hello.json(Messages.Hello.class) : null;
        if (h == null || !hex.equals(h.token()) || h.pid() != l.process().pid()) {
            ch.close();
            throw new Phi2Exception("runner socket " + socket + " was answered by a process that is not our runner; refusing it");
        }
        return connected;
    }

    private static SocketChannel accept(Launched l, ServerSocketChannel server) throws IOException {
        long deadline = System.nanoTime() + CONNECT_TIMEOUT.toNanos();
        while (true) {
            SocketChannel ch = server.accept();
            if (ch != null) {
                ch.configureBlocking(true);
                return ch;
            }
            if (!l.process().isAlive()) {
                l.waitForLog();
                throw new RunnerCrashedException("the runner exited before connecting", l.process().exitValue(), l.log().tail());
            }
            if (System.nanoTime() > deadline) {
                throw new RunnerCrashedException("the runner did not connect within " + CONNECT_TIMEOUT.toSeconds() + " s", null, l.log().tail());
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for the runner");
            }
        }
    }

    private static Path privateDirectory() {
        try {
            return OwnerOnly.createTempDirectory("phi2j-");
        } catch (IOException e) {
            throw new Phi2Exception("cannot create a private folder in " + System.getProperty("java.io.tmpdir") + ": " + e.getMessage(), e);
        }
    }

    /** The runner's standard output and error, line by line, into its log (and the debug logger). */
    private static void startLogReader(Launched l) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(l.process().getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    l.log().accept(line);
                    LOG.log(System.Logger.Level.DEBUG, line);
                }
            } catch (IOException ignored) {
                // the runner is gone; the reader loop reports it
            }
        }, "phi2-runner-log-" + l.process().pid());
        t.setDaemon(true);
        t.start();
    }

    static void deleteQuietly(Path dir) {
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort; the folder is private and in the temp directory
                }
            });
        } catch (IOException ignored) {
            // already gone
        }
    }
}
