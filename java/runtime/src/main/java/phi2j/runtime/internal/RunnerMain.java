package phi2j.runtime.internal;

import phi2j.Phi2Exception;
import phi2j.InvalidOptionException;

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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The runner process: holds one model and serves the caller over the socket named in {@code args[0]}.
 * It ends when told to, when the socket closes, or when its standard input closes, which is how it notices
 * that the caller's JVM has died, even by SIGKILL. It always ends with {@code halt}: the binding's native
 * thread would keep an orderly JVM exit waiting forever.
 */
public final class RunnerMain {
    private static final java.util.Set<Integer> CANCELLED = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private RunnerMain() {
    }

    public static void main(String[] args) {
        // Standard output belongs to nobody: stray prints (the binding announces its library extraction there)
        // join the log on standard error, which the caller reads.
        PrintStream log = System.err;
        System.setOut(log);
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

        ExecutorService worker = null;
        LlamaEngine engine = null;
        while (true) {
            Frames.Frame f;
            try {
                f = frames.read();
            } catch (EOFException e) {
                return;
            }
            switch (f.type()) {
                case Frames.LOAD -> {
                    Messages.Load req = f.json(Messages.Load.class);
                    long t0 = System.nanoTime();
                    try {
                        loadLibraryOrFail();
                        engine = LlamaEngine.load(req);
                        // one worker per llama.cpp slot: that many generations can be in flight at once
                        worker = Executors.newFixedThreadPool(Math.max(1, req.parallel()), r -> {
                            Thread t = new Thread(r, "phi2-runner-generate");
                            t.setDaemon(true);
                            return t;
                        });
                        frames.sendJson(Frames.LOADED, new Messages.Loaded((System.nanoTime() - t0) / 1_000_000));
                    } catch (RuntimeException | UnsatisfiedLinkError e) {
                        String kind = e instanceof UnsatisfiedLinkError ? "library" : "model";
                        frames.sendJson(Frames.ERROR, new Messages.Error(-1, kind, null, String.valueOf(e.getMessage())));
                    }
                }
                case Frames.GENERATE -> {
                    Messages.Generate req = f.json(Messages.Generate.class);
                    LlamaEngine e = engine;
                    if (worker == null) {
                        send(frames, log, new Messages.Error(req.id(), "native", null, "no model loaded"));
                    } else {
                        worker.submit(() -> serve(e, req, frames, log));
                    }
                }
                case Frames.CANCEL -> CANCELLED.add(f.id());
                case Frames.CALL -> {
                    Messages.Call call = f.json(Messages.Call.class);
                    LlamaEngine e = engine;
                    if (worker == null) {
                        answer(null, call, frames, log);
                    } else {
                        worker.submit(() -> answer(e, call, frames, log));
                    }
                }
                case Frames.SHUTDOWN -> {
                    return;
                }
                default -> log.println("runner: ignoring frame type " + f.type());
            }
        }
    }

    /**
     * Loads the library named by {@code de.kherud.llama.lib.path} ourselves: the binding, when that fails,
     * quietly falls back to its bundled CPU copy, and a user who built for the GPU must hear that it failed.
     */
    private static void loadLibraryOrFail() {
        String dir = System.getProperty("de.kherud.llama.lib.path");
        if (dir != null) {
            System.load(Path.of(dir, System.mapLibraryName("jllama")).toAbsolutePath().toString());
        }
    }

    private static void serve(LlamaEngine engine, Messages.Generate req, Frames frames, PrintStream log) {
        try {
            if (engine == null) {
                throw new Phi2Exception("no model loaded");
            }
            Messages.Done done = engine.generate(req, piece -> frames.sendText(req.id(), piece), () -> CANCELLED.contains(req.id()));
            CANCELLED.remove(req.id());
            frames.sendJson(Frames.DONE, done);
        } catch (InvalidOptionException e) {
            send(frames, log, new Messages.Error(req.id(), "option", e.option(), e.problem()));
        } catch (IOException e) {
            log.println("runner: lost the caller: " + e);
            Runtime.getRuntime().halt(0);
        } catch (RuntimeException e) {
            send(frames, log, new Messages.Error(req.id(), "native", null, String.valueOf(e.getMessage())));
        }
    }

    private static void answer(LlamaEngine engine, Messages.Call call, Frames frames, PrintStream log) {
        Messages.Reply reply;
        try {
            if (engine == null) {
                throw new IllegalStateException("no model loaded");
            }
            reply = switch (call.kind()) {
                case "tokenize" -> new Messages.Reply(call.id(), engine.tokenize(call.text()), null, null, null);
                case "detokenize" -> new Messages.Reply(call.id(), null, engine.detokenize(call.tokens()), null, null);
                case "embed" -> new Messages.Reply(call.id(), null, null, engine.embed(call.text()), null);
                default -> new Messages.Reply(call.id(), null, null, null, "unknown call " + call.kind());
            };
        } catch (RuntimeException e) {
            reply = new Messages.Reply(call.id(), null, null, null, String.valueOf(e.getMessage()));
        }
        try {
            frames.sendJson(Frames.REPLY, reply);
        } catch (IOException e) {
            log.println("runner: lost the caller: " + e);
            Runtime.getRuntime().halt(0);
        }
    }

    private static void send(Frames frames, PrintStream log, Messages.Error err) {
        try {
            frames.sendJson(Frames.ERROR, err);
        } catch (IOException e) {
            log.println("runner: lost the caller: " + e);
            Runtime.getRuntime().halt(0);
        }
    }
}
