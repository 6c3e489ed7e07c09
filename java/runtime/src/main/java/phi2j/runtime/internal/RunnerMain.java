package phi2j.runtime.internal;

import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The runner process: holds one model and serves the caller over the socket named in {@code args[0]}.
 * It ends when told to, when the socket closes, or when its standard input closes, which is how it notices
 * that the caller's JVM has died, even by SIGKILL. It always ends with {@code halt}: the binding's native
 * thread would keep an orderly JVM exit waiting forever. The {@link Engine} named by the LOAD frame does the work.
 */
public final class RunnerMain {
    private RunnerMain() {
    }

    public static void main(String[] args) {
        // Standard output belongs to nobody: stray prints (the binding announces its library extraction there)
        // join the log on standard error, which the caller reads.
        PrintStream log = System.err;
        System.setOut(log);
        // Ctrl-C in a terminal signals the whole foreground process group, this runner included: the caller decides
        // what Ctrl-C means (cancel the generation, or quit), and the runner ends when the caller's pipe closes.
        try {
            sun.misc.Signal.handle(new sun.misc.Signal("INT"), sun.misc.SignalHandler.SIG_IGN);
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            // no SIGINT here
        }
        try {
            run(Path.of(args[0]), log);
        } catch (Throwable t) {
            log.println("runner: fatal: " + t);
            t.printStackTrace(log);
            log.flush();
            Runtime.getRuntime().halt(70);
        }
        log.flush();
        Runtime.getRuntime().halt(0);
    }

    private static void run(Path socket, PrintStream log) throws Exception {
        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        String token = stdin.readLine();
        if (token == null) {
            return; // the caller is already gone
        }
        Thread watchdog = new Thread(() -> {
            try {
                while (stdin.read() >= 0) {
                    // the caller never writes more; any byte is ignored
                }
            } catch (IOException ignored) {
                // a broken pipe means the same as end of input
            }
            log.println("runner: caller's pipe closed, exiting");
            log.flush();
            Runtime.getRuntime().halt(0);
        }, "phi2-runner-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();

        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
        Frames frames = new Frames(ch);
        frames.sendJson(Frames.HELLO, new Messages.Hello(token, ProcessHandle.current().pid()));
        startHeartbeat(frames, log);

        new Serving(frames, log).serve();
    }

    /** The runner's side of the protocol once connected: one model, its engine, and the frames that drive it. */
    private static final class Serving {
        private final Frames frames;
        private final PrintStream log;
        private final Engine.Sink sink;
        private Engine engine;

        Serving(Frames frames, PrintStream log) {
            this.frames = frames;
            this.log = log;
            this.sink = new FrameSink(frames, log);
        }

        /** Until SHUTDOWN or the end of the socket. */
        void serve() throws IOException {
            while (true) {
                Frames.Frame f;
                try {
                    f = frames.read();
                } catch (EOFException e) {
                    return;
                }
                switch (f.type()) {
                    case Frames.LOAD -> load(f.json(EngineParams.class));
                    case Frames.GENERATE -> generate(f.json(Messages.Generate.class));
                    case Frames.CANCEL -> {
                        if (engine != null) {
                            engine.cancel(f.id());
                        }
                    }
                    case Frames.CALL -> call(f.json(Messages.Call.class));
                    case Frames.SHUTDOWN -> {
                        return;
                    }
                    default -> log.println("runner: ignoring frame type " + f.type());
                }
            }
        }

        private void load(EngineParams req) throws IOException {
            phi2j.Timer loading = phi2j.Timer.start();
            try {
                engine = open(req);
                frames.sendJson(Frames.LOADED, new Messages.Loaded(loading.elapsed().toMillis(), engine.kind(),
                        engine.llamaCpp(), engine.systemInfo(), engine.contextPerSequence(), engine.parallel(), engine.backends(),
                        engine.placement(), engine.loadStagesMicros()));
            } catch (phi2j.InvalidOptionException e) {
                frames.sendJson(Frames.ERROR, new Messages.Error(-1, Messages.ErrorKind.OPTION, e.option(), e.problem()));
            } catch (EngineException e) {
                frames.sendJson(Frames.ERROR, new Messages.Error(-1, e.kind(), e.field(), e.getMessage()));
            } catch (UnsatisfiedLinkError e) {
                frames.sendJson(Frames.ERROR, new Messages.Error(-1, Messages.ErrorKind.LIBRARY, null, String.valueOf(e.getMessage())));
            } catch (RuntimeException e) {
                frames.sendJson(Frames.ERROR, new Messages.Error(-1, Messages.ErrorKind.MODEL, null, String.valueOf(e.getMessage())));
            }
        }

        /** The engine LOAD names; a test's stand-in when the caller set {@code phi2.runner.fakeEngine} (protocol tests). */
        private static Engine open(EngineParams req) {
            String fake = System.getProperty(RunnerLauncher.FAKE_ENGINE);
            if (fake != null) {
                try {
                    return (Engine) Class.forName(fake).getConstructor(EngineParams.class).newInstance(req);
                } catch (java.lang.reflect.InvocationTargetException e) {
                    throw e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException("cannot make the test engine " + fake + ": " + e);
                }
            }
            return req.engine() == phi2j.runtime.EngineKind.NATIVE ? NativeEngine.load(Path.of(req.engineLibrary()), req) : BindingEngine.load(req);
        }

        private void generate(Messages.Generate req) {
            if (engine == null) {
                sink.events(new EventCodec.Writer().failed(req.id(), Messages.ErrorKind.NATIVE, null, "no model loaded").take());
                sink.flush();
            } else {
                engine.submit(req, sink);
            }
        }

        private void call(Messages.Call call) {
            if (call.kind() == Messages.CallKind.DEVICES) { // answered with or without a model
                send(frames, log, Frames.REPLY, Messages.Reply.devices(call));
            } else if (engine == null) {
                send(frames, log, Frames.REPLY, new Messages.Reply(call.id(), null, null, null, "no model loaded"));
            } else {
                engine.call(call, r -> send(frames, log, Frames.REPLY, r));
            }
        }
    }

    /**
     * A sign of life every second from a thread that does nothing else, so the caller can tell a busy runner (inside a
     * long decode) from a stopped or hung one, which sends nothing.
     */
    private static void startHeartbeat(Frames frames, PrintStream log) {
        Thread beat = new Thread(() -> {
            while (true) {
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
                send(frames, log, Frames.HEARTBEAT, null);
            }
        }, "phi2-runner-heartbeat");
        beat.setDaemon(true);
        beat.start();
    }

    /** Writes an engine's events as frames; losing the caller ends the runner. */
    private record FrameSink(Frames frames, PrintStream log) implements Engine.Sink {
        @Override
        public void events(java.nio.ByteBuffer events) {
            io(() -> frames.writeEvents(events));
        }

        @Override
        public void flush() {
            io(frames::flush);
        }

        private void io(Frames.Io io) {
            try {
                io.run();
            } catch (IOException e) {
                log.println("runner: lost the caller: " + e);
                Runtime.getRuntime().halt(0);
            }
        }
    }

    private static void send(Frames frames, PrintStream log, byte type, Object message) {
        try {
            if (message == null) {
                frames.sendId(type, 0);
            } else {
                frames.sendJson(type, message);
            }
        } catch (IOException e) {
            log.println("runner: lost the caller: " + e);
            Runtime.getRuntime().halt(0);
        }
    }
}
