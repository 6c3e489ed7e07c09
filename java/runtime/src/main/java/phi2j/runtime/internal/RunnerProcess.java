package phi2j.runtime.internal;

import phi2j.Phi2Exception;
import phi2j.runtime.ModelClosedException;
import phi2j.runtime.RunnerCrashedException;

import java.io.BufferedReader;
import java.io.EOFException;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The caller's side of one runner process: starts it, accepts its connection on a private socket, reads its
 * frames and its log on daemon threads, and ends it. All callbacks arrive on the reader thread.
 */
public final class RunnerProcess implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("phi2j.runner");
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(60);

    /** Receives the frames of the generation in flight. */
    public interface Listener {
        void onText(int id, String text);

        /** A native-engine token frame's body after the generation id (see {@link Frames#TOKEN}). */
        void onToken(int id, java.nio.ByteBuffer event);

        void onDone(Messages.Done done);

        void onError(Messages.Error error);

        /** The runner is gone: closed on purpose ({@link ModelClosedException}) or crashed. */
        void onGone(Phi2Exception why);
    }

    private final Process process;
    private final Path dir;
    private final OutputStream stdin;
    private final NativeLog log = new NativeLog();
    private final CompletableFuture<Messages.Loaded> loaded = new CompletableFuture<>();
    private final java.util.concurrent.ConcurrentHashMap<Integer, CompletableFuture<Messages.Reply>> calls = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicInteger callIds = new java.util.concurrent.atomic.AtomicInteger();
    private Frames frames;
    private java.nio.channels.SocketChannel channel;
    private final java.util.concurrent.ConcurrentHashMap<Integer, Listener> listeners = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile boolean closing;
    private volatile Phi2Exception gone;
    private volatile String libraryHint = "";
    /** When the last frame of any kind (heartbeats included) came from the runner. */
    private volatile long lastSignNanos = System.nanoTime();
    private volatile Duration stallTimeout = Duration.ofSeconds(30);
    private volatile boolean stalled;

    /** How long work may wait without a sign of life before the runner is taken for hung (ModelOptions.stallTimeout). */
    public void stallTimeout(Duration d) {
        this.stallTimeout = d;
    }

    /** Added to a "library could not be loaded" error: which build it was and the command that rebuilds it. */
    public void libraryHint(String hint) {
        this.libraryHint = hint;
    }

    private RunnerProcess(Process process, Path dir) {
        this.process = process;
        this.dir = dir;
        this.stdin = process.getOutputStream();
    }

    /**
     * Starts a runner JVM and waits for it to connect; {@code nativeLibrary} is a custom libjllama folder for the
     * binding engine, or null (the native engine's library is named in the LOAD message instead).
     */
    public static RunnerProcess start(Path nativeLibrary, java.util.Map<String, String> environment) {
        Path dir = privateDirectory();
        Path socket = dir.resolve("runner.sock");
        ServerSocketChannel server = null;
        RunnerProcess rp = null;
        try {
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(socket));
            server.configureBlocking(false);

            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.add("-Xmx256m");
            cmd.add("-XX:+UseSerialGC");
            cmd.add("-XX:TieredStopAtLevel=1");
            // The runner's own Java is small and runs between decode batches: compile it after a few calls rather than
            // thousands, or interpreted frame writing takes a core from llama.cpp's threads for a long warm-up.
            cmd.add("-XX:CompileThresholdScaling=0.05");
            if (System.getProperty("phi2.batchMicros") != null) { // the native engine's batch length, for experiments
                cmd.add("-Dphi2.batchMicros=" + System.getProperty("phi2.batchMicros"));
            }
            cmd.add("-Djava.io.tmpdir=" + dir);
            // The binding extracts its library into this folder; one private folder per runner means runners
            // never overwrite or delete each other's copy.
            cmd.add("-Dde.kherud.llama.tmpdir=" + dir);
            if (nativeLibrary != null) {
                cmd.add("-Dde.kherud.llama.lib.path=" + nativeLibrary.toAbsolutePath());
            }
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            // phi2.runner.testMain: for tests of the handshake only, another program in the runner's place
            cmd.add(System.getProperty("phi2.runner.testMain", RunnerMain.class.getName()));
            cmd.add(socket.toString());
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            pb.environment().putAll(environment);
            Process p = pb.start();
            rp = new RunnerProcess(p, dir);
            rp.startLogReader();

            byte[] token = new byte[24];
            new SecureRandom().nextBytes(token);
            String hex = HexFormat.of().formatHex(token);
            rp.stdin.write((hex + "\n").getBytes(StandardCharsets.US_ASCII));
            rp.stdin.flush();

            SocketChannel ch = rp.accept(server);
            rp.channel = ch;
            rp.frames = new Frames(ch);
            Frames.Frame hello = rp.frames.read();
            Messages.Hello h = hello.type() == Frames.HELLO ? hello.json(Messages.Hello.class) : null;
            if (h == null || !hex.equals(h.token()) || h.pid() != p.pid()) {
                throw new Phi2Exception("runner socket " + socket + " was answered by a process that is not our runner; refusing it");
            }
            Thread reader = new Thread(rp::readLoop, "phi2-runner-reader-" + p.pid());
            reader.setDaemon(true);
            reader.start();
            Thread stall = new Thread(rp::watchForStalls, "phi2-runner-stall-" + p.pid());
            stall.setDaemon(true);
            stall.start();
            return rp;
        } catch (IOException | RuntimeException e) {
            if (rp != null) {
                rp.kill();
            } else {
                deleteQuietly(dir);
            }
            if (e instanceof Phi2Exception pe) {
                throw pe;
            }
            throw new RunnerCrashedException("could not start the runner process: " + e, exitStatus(rp), rp == null ? List.of() : rp.log.tail());
        } finally {
            if (server != null) {
                try {
                    server.close();
                } catch (IOException ignored) {
                    // nothing more can go through it either way
                }
            }
            try {
                Files.deleteIfExists(socket);
            } catch (IOException ignored) {
                // the folder goes with the runner
            }
        }
    }

    private static Integer exitStatus(RunnerProcess rp) {
        return rp == null || rp.process.isAlive() ? null : rp.process.exitValue();
    }

    private SocketChannel accept(ServerSocketChannel server) throws IOException {
        long deadline = System.nanoTime() + CONNECT_TIMEOUT.toNanos();
        while (true) {
            SocketChannel ch = server.accept();
            if (ch != null) {
                ch.configureBlocking(true);
                return ch;
            }
            if (!process.isAlive()) {
                waitForLog();
                throw new RunnerCrashedException("the runner exited before connecting", process.exitValue(), log.tail());
            }
            if (System.nanoTime() > deadline) {
                throw new RunnerCrashedException("the runner did not connect within " + CONNECT_TIMEOUT.toSeconds() + " s", null, log.tail());
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
            return phi2j.OwnerOnly.createTempDirectory("phi2j-");
        } catch (IOException e) {
            throw new Phi2Exception("cannot create a private folder in " + System.getProperty("java.io.tmpdir") + ": " + e.getMessage(), e);
        }
    }

    private void startLogReader() {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    log.accept(line);
                    LOG.log(System.Logger.Level.DEBUG, line);
                }
            } catch (IOException ignored) {
                // the runner is gone; the reader loop reports it
            }
        }, "phi2-runner-log-" + process.pid());
        t.setDaemon(true);
        t.start();
    }

    public NativeLog log() {
        return log;
    }

    public long pid() {
        return process.pid();
    }

    /** Routes the frames of generation {@code id} to {@code l} until {@link #unregister}. */
    public void register(int id, Listener l) {
        listeners.put(id, l);
    }

    public void unregister(int id) {
        listeners.remove(id);
    }

    /** Sends LOAD and waits for the answer; a runner that dies or exceeds {@code timeout} becomes an exception. */
    public Messages.Loaded load(Messages.Load request, Duration timeout) {
        send(() -> frames.sendJson(Frames.LOAD, request));
        try {
            return loaded.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            List<String> tail = log.tail();
            kill();
            throw new RunnerCrashedException("the runner did not finish loading " + request.path() + " within "
                    + timeout.toSeconds() + " s and was stopped", null, tail);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Phi2Exception pe) {
                throw pe;
            }
            throw new Phi2Exception("loading failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            kill();
            throw new ModelClosedException("interrupted while loading " + request.path());
        }
    }

    public void generate(Messages.Generate request) {
        send(() -> frames.sendJson(Frames.GENERATE, request));
    }

    /** A synchronous request answered in the runner's turn (after a generation in flight). */
    public Messages.Reply call(String kind, String text, int[] tokens) {
        int id = callIds.incrementAndGet();
        CompletableFuture<Messages.Reply> f = new CompletableFuture<>();
        calls.put(id, f);
        try {
            send(() -> frames.sendJson(Frames.CALL, new Messages.Call(id, kind, text, tokens)));
            Messages.Reply r = f.get();
            if (r.error() != null) {
                throw new Phi2Exception(kind + " failed in llama.cpp: " + r.error());
            }
            return r;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Phi2Exception("interrupted during " + kind);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Phi2Exception pe ? pe : new Phi2Exception(kind + " failed: " + e.getCause(), e.getCause());
        } finally {
            calls.remove(id);
        }
    }

    /** The devices of the llama.cpp library file {@code library} and the machine's GPUs, probed in the runner. */
    public phi2j.runtime.Devices.Report devices(Path library) {
        try {
            return call("devices", library.toAbsolutePath().toString(), null).devices();
        } catch (phi2j.nativelib.NativeLibraryException e) {
            throw e;
        } catch (Phi2Exception e) {
            throw new phi2j.nativelib.NativeLibraryException("cannot list the devices of " + library + ": " + e.getMessage());
        }
    }

    public void cancel(int id) {
        send(() -> frames.sendId(Frames.CANCEL, id));
    }

    private interface Io {
        void run() throws IOException;
    }

    private void send(Io io) {
        Phi2Exception g = gone;
        if (g != null) {
            throw g;
        }
        try {
            io.run();
        } catch (IOException e) {
            Phi2Exception why = awaitGone();
            throw why;
        }
    }

    /** After a failed write: the reason the reader loop settles on, or a crash report of our own. */
    private Phi2Exception awaitGone() {
        try {
            process.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Phi2Exception g = gone;
        return g != null ? g : crash("the runner stopped answering");
    }

    private RunnerCrashedException stalledCrash() {
        waitForLog();
        return new phi2j.runtime.RunnerStalledException("the runner showed no sign of life for " + stallTimeout.toSeconds()
                + " s (stopped, hung or starved) and was killed", null, log.tail());
    }

    private RunnerCrashedException crash(String what) {
        waitForLog();
        return new RunnerCrashedException(what, exitStatus(this), log.tail());
    }

    private void waitForLog() {
        try {
            process.waitFor(2, TimeUnit.SECONDS);
            Thread.sleep(50); // the log reader drains the last lines after exit
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Kills a runner that shows no sign of life for the stall timeout while a generation or a call waits on it (loading
     * has its own timeout). A pause of this JVM itself (its own ticks late) restarts the count instead.
     */
    private void watchForStalls() {
        long lastTick = System.nanoTime();
        while (gone == null && !closing) {
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                return;
            }
            long now = System.nanoTime();
            if (now - lastTick > 2_000_000_000L) {
                lastSignNanos = now; // this JVM was not running (suspended, swapped out): no evidence against the runner
            }
            lastTick = now;
            boolean waiting = loaded.isDone() && (!listeners.isEmpty() || !calls.isEmpty());
            if (waiting && now - lastSignNanos > stallTimeout.toNanos() && gone == null && !closing) {
                stalled = true;
                LOG.log(System.Logger.Level.WARNING, "runner " + process.pid() + " showed no sign of life for " + stallTimeout.toSeconds()
                        + " s; killing it");
                process.destroyForcibly();
                return;
            }
        }
    }

    private void readLoop() {
        try {
            while (true) {
                Frames.Frame f = frames.read();
                lastSignNanos = System.nanoTime();
                switch (f.type()) {
                    case Frames.HEARTBEAT -> {
                        // nothing more: its arrival is the sign of life
                    }
                    case Frames.LOADED -> loaded.complete(f.json(Messages.Loaded.class));
                    case Frames.REPLY -> {
                        Messages.Reply r = f.json(Messages.Reply.class);
                        CompletableFuture<Messages.Reply> c = calls.get(r.id());
                        if (c != null) {
                            c.complete(r);
                        }
                    }
                    case Frames.TEXT -> {
                        int id = f.id();
                        Listener l = listeners.get(id);
                        if (l != null) {
                            l.onText(id, f.text());
                        }
                    }
                    case Frames.TOKEN -> {
                        java.nio.ByteBuffer body = java.nio.ByteBuffer.wrap(f.payload(), 4, f.payload().length - 4).slice();
                        int id = f.id();
                        Listener l = listeners.get(id);
                        if (l != null) {
                            l.onToken(id, body);
                        }
                    }
                    case Frames.DONE -> {
                        Messages.Done d = f.json(Messages.Done.class);
                        Listener l = listeners.get(d.id());
                        if (l != null) {
                            l.onDone(d);
                        }
                    }
                    case Frames.ERROR -> {
                        Messages.Error err = f.json(Messages.Error.class);
                        if (err.id() < 0) {
                            loaded.completeExceptionally(loadError(err));
                        } else {
                            Listener l = listeners.get(err.id());
                            if (l != null) {
                                l.onError(err);
                            }
                        }
                    }
                    default -> LOG.log(System.Logger.Level.WARNING, "unexpected frame type " + f.type());
                }
            }
        } catch (EOFException e) {
            // the runner closed the socket: on purpose when closing, otherwise it died
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "runner connection ended: " + e);
        }
        Phi2Exception why = closing ? new ModelClosedException("the model was closed")
                : stalled ? stalledCrash() : crash("the runner process ended unexpectedly");
        closeChannel();
        gone = why;
        loaded.completeExceptionally(why);
        calls.values().forEach(c -> c.completeExceptionally(why));
        listeners.values().forEach(l -> l.onGone(why));
    }

    private Phi2Exception loadError(Messages.Error err) {
        if ("option".equals(err.kind())) {
            return new phi2j.InvalidOptionException(err.option(), err.message());
        }
        if ("library".equals(err.kind())) {
            return new phi2j.nativelib.NativeLibraryException("the llama.cpp native library could not be loaded: " + err.message()
                    + libraryHint);
        }
        return new Phi2Exception("llama.cpp could not load the model: " + err.message()
                + (log.tail().isEmpty() ? "" : "\n  " + String.join("\n  ", lastLines(8))));
    }

    private List<String> lastLines(int n) {
        List<String> t = log.tail();
        return t.subList(Math.max(0, t.size() - n), t.size());
    }

    public boolean isAlive() {
        return process.isAlive() && gone == null;
    }

    /** Asks the runner to exit, then makes sure it has: its memory (and GPU memory) goes back to the system. */
    @Override
    public void close() {
        if (closing) {
            return;
        }
        closing = true;
        try {
            if (frames != null && gone == null) {
                frames.sendId(Frames.SHUTDOWN, 0);
            }
        } catch (IOException ignored) {
            // already gone
        }
        try {
            stdin.close();
        } catch (IOException ignored) {
            // closing stdin is itself the shutdown signal
        }
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        closeChannel();
        deleteQuietly(dir);
    }

    private void closeChannel() {
        java.nio.channels.SocketChannel ch = channel;
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // nothing more can be read or written either way
            }
        }
    }

    private void kill() {
        closing = true;
        process.destroyForcibly();
        try {
            process.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        deleteQuietly(dir);
    }

    private static void deleteQuietly(Path dir) {
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
