package phi2j.runtime.internal;

import phi2j.Phi2Exception;
import phi2j.runtime.ModelClosedException;
import phi2j.runtime.RunnerCrashedException;

import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The caller's side of one runner's connection, once {@link RunnerLauncher} has started it: reads its frames on a
 * daemon thread and routes them (LOADED, REPLY to the call waiting for it, each engine event of an EVENTS frame to its
 * generation's listener), sends requests, watches for stalls, turns a runner that died into a crash report, and ends it. All
 * callbacks arrive on the reader thread.
 */
public final class RunnerProcess implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("phi2j.runner");

    /** Receives the engine's events of one generation. */
    public interface Listener {
        void onEvent(EngineEvent event);

        /** The runner is gone: closed on purpose ({@link ModelClosedException}) or crashed. */
        void onGone(Phi2Exception why);
    }

    private final RunnerLauncher.Launched runner;
    private final Process process;
    private final NativeLog log;
    private final Frames frames;
    private final CompletableFuture<Messages.Loaded> loaded = new CompletableFuture<>();
    private final java.util.concurrent.ConcurrentHashMap<Integer, CompletableFuture<Messages.Reply>> calls = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicInteger callIds = new java.util.concurrent.atomic.AtomicInteger();
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

    private RunnerProcess(RunnerLauncher.Launched runner) {
        this.runner = runner;
        this.process = runner.process();
        this.log = runner.log();
        this.frames = runner.frames();
    }

    /**
     * Starts a runner JVM (see {@link RunnerLauncher}) and begins reading its frames; {@code nativeLibrary} is a custom
     * libjllama folder for the binding engine, or null (the native engine's library is named in the LOAD message).
     */
    public static RunnerProcess start(Path nativeLibrary, java.util.Map<String, String> environment) {
        RunnerProcess rp = new RunnerProcess(RunnerLauncher.launch(nativeLibrary, environment));
        Thread reader = new Thread(rp::readLoop, "phi2-runner-reader-" + rp.pid());
        reader.setDaemon(true);
        reader.start();
        Thread stall = new Thread(rp::watchForStalls, "phi2-runner-stall-" + rp.pid());
        stall.setDaemon(true);
        stall.start();
        return rp;
    }

    public NativeLog log() {
        return log;
    }

    public long pid() {
        return process.pid();
    }

    /** Routes the events of generation {@code id} to {@code l} until {@link #unregister}. */
    public void register(int id, Listener l) {
        listeners.put(id, l);
    }

    public void unregister(int id) {
        listeners.remove(id);
    }

    /**
     * {@code e}, made on the reader thread, with the stack of the thread that rethrows it: the caller's own lines then
     * show where the refused call was made (the reader thread's stack holds only the socket loop).
     */
    public static <E extends Phi2Exception> E inCaller(E e) {
        e.fillInStackTrace();
        return e;
    }

    /** Sends LOAD and waits for the answer; a runner that dies or exceeds {@code timeout} becomes an exception. */
    public Messages.Loaded load(EngineParams request, Duration timeout) {
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
                throw inCaller(pe);
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
    public Messages.Reply call(Messages.CallKind kind, String text, int[] tokens) {
        int id = callIds.incrementAndGet();
        CompletableFuture<Messages.Reply> f = new CompletableFuture<>();
        calls.put(id, f);
        try {
            send(() -> frames.sendJson(Frames.CALL, new Messages.Call(id, kind, text, tokens)));
            Messages.Reply r = f.get();
            if (r.error() != null) {
                throw new Phi2Exception(kind.label() + " failed in llama.cpp: " + r.error());
            }
            return r;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Phi2Exception("interrupted during " + kind.label());
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Phi2Exception pe ? inCaller(pe) : new Phi2Exception(kind.label() + " failed: " + e.getCause(), e.getCause());
        } finally {
            calls.remove(id);
        }
    }

    /** The devices of the llama.cpp library file {@code library} and the machine's GPUs, probed in the runner. */
    public phi2j.runtime.DeviceReport devices(Path library) {
        try {
            return call(Messages.CallKind.DEVICES, library.toAbsolutePath().toString(), null).devices();
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
        runner.waitForLog();
        return new phi2j.runtime.RunnerStalledException("the runner showed no sign of life for " + stallTimeout.toSeconds()
                + " s (stopped, hung or starved) and was killed", null, log.tail());
    }

    private RunnerCrashedException crash(String what) {
        runner.waitForLog();
        return new RunnerCrashedException(what, runner.exitStatus(), log.tail());
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
        RuntimeException unreadable = null;
        try {
            while (true) {
                Frames.Frame f = frames.read();
                lastSignNanos = System.nanoTime();
                route(f);
            }
        } catch (EOFException e) {
            // the runner closed the socket: on purpose when closing, otherwise it died
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "runner connection ended: " + e);
        } catch (RuntimeException e) {
            // a frame this side could not read (a damaged frame, a decoder bug): the conversation cannot go on, and the
            // caller hears what went wrong, with its cause, not that the runner died
            unreadable = e;
            process.destroyForcibly();
        }
        Phi2Exception why = closing ? new ModelClosedException("the model was closed")
                : stalled ? stalledCrash()
                : unreadable != null ? new Phi2Exception("a message from the runner could not be read (" + unreadable
                        + "); the runner " + process.pid() + " was stopped", unreadable)
                : crash("the runner process ended unexpectedly");
        closeChannel();
        gone = why;
        loaded.completeExceptionally(why);
        calls.values().forEach(c -> c.completeExceptionally(why));
        listeners.values().forEach(l -> l.onGone(why));
    }

    /** One frame to where it belongs: the load, the call waiting for it, or the listener of its generation. */
    private void route(Frames.Frame f) {
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
            case Frames.EVENTS -> {
                for (EngineEvent e : EventCodec.decode(java.nio.ByteBuffer.wrap(f.payload()))) {
                    listener(e.id()).ifPresent(l -> l.onEvent(e));
                }
            }
            case Frames.ERROR -> loaded.completeExceptionally(loadError(f.json(Messages.Error.class)));
            default -> LOG.log(System.Logger.Level.WARNING, "unexpected frame type " + f.type());
        }
    }

    private java.util.Optional<Listener> listener(int id) {
        return java.util.Optional.ofNullable(listeners.get(id));
    }

    private Phi2Exception loadError(Messages.Error err) {
        if (err.kind() == Messages.ErrorKind.OPTION) {
            return new phi2j.InvalidOptionException(err.option(), err.message());
        }
        if (err.kind() == Messages.ErrorKind.LIBRARY) {
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
            if (gone == null) {
                frames.sendId(Frames.SHUTDOWN, 0);
            }
        } catch (IOException ignored) {
            // already gone
        }
        try {
            runner.stdin().close();
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
        RunnerLauncher.deleteQuietly(runner.dir());
    }

    private void closeChannel() {
        try {
            runner.channel().close();
        } catch (IOException ignored) {
            // nothing more can be read or written either way
        }
    }

    private void kill() {
        closing = true;
        runner.kill();
    }
}
