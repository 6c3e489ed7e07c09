package phi2j.runtime.internal;

import phi2j.InvalidOptionException;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.StopReason;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;

/**
 * phi2j's own JNI engine (native/src) in the runner process. The engine owns its slots and the queue of requests
 * waiting for one (engine.cpp); this class is its one driver: a loop thread that hands it requests and cancellations,
 * runs its decode steps, and passes the events they produce, as the engine encoded them, to the sinks of their
 * requests. Options cross JNI as the records themselves ({@link EngineParams}, {@link GenerationOptions}), read by
 * field name on the C++ side; refusals come back typed ({@link EngineException}: kind and field).
 */
public final class NativeEngine implements Engine {
    /** The JNI functions' version; equals PHI2J_ENGINE_ABI in cmake/versions.cmake. */
    public static final int ABI = phi2j.runtime.NativeEngineBuild.ENGINE_ABI;

    // --- JNI (native/src/jni.cpp) ---
    static native int abi();

    static native String llamaCppVersion();

    static native String llamaCppCommit();

    static native String systemInfo0();

    /** {stop reasons, error kinds, event kinds}, as engine.h names them. */
    private static native String[][] tables();

    /** What the engine's load_backends reports (jni.cpp builds it). */
    record Backends(boolean modules, String cpuVariant, String[] registered, String[] failedFiles, String[] errors) {
        phi2j.runtime.EngineBackends toPublic() {
            List<phi2j.runtime.EngineBackends.Failure> failures = new java.util.ArrayList<>();
            for (int i = 0; i < failedFiles.length; i++) {
                failures.add(new phi2j.runtime.EngineBackends.Failure(failedFiles[i], errors[i]));
            }
            return new phi2j.runtime.EngineBackends(modules, cpuVariant, List.of(registered), failures);
        }
    }

    /** The engine's sizes (jni.cpp builds it). */
    record Info(int contextSize, int contextPerSequence, int parallel, int vocabularySize, int endOfTextToken, long modelMicros,
                long contextMicros, long warmupMicros) {
    }

    private static native Backends loadBackends(byte[] dir);

    private static native long load(EngineParams params);

    private static native void free(long handle);

    private static native Info info(long handle);

    /** {layers, {output}, KV cache, device names, their descriptions} (jni.cpp builds it). */
    private static native String[][] placement(long handle);

    private static native int[] tokenize(long handle, byte[] text);

    private static native byte[] detokenize(long handle, int[] tokens);

    private static native float[] embed(long handle, byte[] text);

    private static native void submit(long handle, int id, int[] prompt, int maxNewTokens, GenerationOptions options);

    private static native void cancel(long handle, int id);

    private static native boolean hasIdleSlot(long handle);

    private static native ByteBuffer run(long handle, long budgetNanos);

    private static native void wake(long handle);

    /** {KV cells held by running requests, all KV cells}; thread-safe (the engine publishes it after each step). */
    private static native int[] kvCells(long handle);

    /** A request the engine holds: where its events go, and whether its caller reads them as they come. */
    private record Request(Sink sink, boolean streaming) {
    }

    private final long handle;
    private final Info info;
    private final phi2j.runtime.EngineBackends backends;
    /** Requests submitted and not ended, by id (loop thread only). */
    private final Map<Integer, Request> requests = new HashMap<>();
    private final ArrayDeque<Runnable> needsIdleSlot = new ArrayDeque<>();
    private final BlockingQueue<Runnable> commands = new LinkedBlockingQueue<>();
    private final Thread loop;
    private volatile boolean closed;
    /** Sinks with events written but not pushed yet (loop thread only): a stream's are pushed at once, others' at their end. */
    private final java.util.Set<Sink> unflushed = new java.util.HashSet<>();
    private final java.util.Set<Sink> pushNow = new java.util.HashSet<>();
    /**
     * How long one native run() may collect tokens before they go to the caller. Each batch wakes the caller's
     * threads, and on a small machine they take cores from llama.cpp's, whose threads wait for each other at every
     * operation (a tiny model makes thousands of tokens a second). A first token and an ending generation end a
     * batch at once, so time to first token and the end are exact; a slow step is a batch of its own.
     */
    private static final long BATCH_NANOS = Long.getLong("phi2.batchMicros", 16_000) * 1000;

    private NativeEngine(long handle, phi2j.runtime.EngineBackends backends) {
        this.handle = handle;
        this.backends = backends;
        this.info = info(handle);
        this.loop = new Thread(this::run, "phi2-native-engine");
        loop.setDaemon(true);
        loop.start();
    }

    /**
     * Loads {@code library} (the engine's JNI library) and the model. UnsatisfiedLinkError when the library cannot
     * be loaded or speaks another ABI; {@link EngineException} when llama.cpp cannot load the model or refuses a value.
     */
    public static NativeEngine load(Path library, EngineParams params) {
        phi2j.runtime.EngineBackends backends = backends(library);
        return new NativeEngine(load(params), backends);
    }

    /**
     * Loads the engine library {@code library} into this process (once) and the backends of its build: a portable
     * build's modules from its folder. UnsatisfiedLinkError when the library cannot be loaded, speaks another ABI, or
     * names its stop reasons, error kinds or event kinds otherwise than this Java side.
     */
    public static phi2j.runtime.EngineBackends backends(Path library) {
        System.load(library.toAbsolutePath().toString());
        int abi = abi();
        if (abi != ABI) {
            throw new UnsatisfiedLinkError(library + " speaks engine ABI " + abi + ", this phi2j needs " + ABI);
        }
        checkTables(library, tables());
        return loadBackends(library.toAbsolutePath().getParent().toString().getBytes(StandardCharsets.UTF_8)).toPublic();
    }

    /** The one table both sides keep: the engine's names must be the Java enums' names, in order. */
    static void checkTables(Path library, String[][] tables) {
        List<List<String>> java = List.of(Arrays.stream(StopReason.values()).map(Enum::name).toList(),
                Arrays.stream(Messages.ErrorKind.values()).map(Enum::name).toList(), EventCodec.KIND_NAMES);
        if (tables.length != java.size()) {
            throw new UnsatisfiedLinkError(library + " reports " + tables.length + " name tables where this phi2j has " + java.size()
                    + ": engine and Java are from different builds");
        }
        for (int i = 0; i < java.size(); i++) {
            if (!java.get(i).equals(List.of(tables[i]))) {
                throw new UnsatisfiedLinkError(library + " names " + List.of(tables[i]) + " where this phi2j has " + java.get(i)
                        + ": engine and Java are from different builds");
            }
        }
    }

    @Override
    public phi2j.runtime.EngineBackends backends() {
        return backends;
    }

    @Override
    public long[] loadStagesMicros() {
        return new long[] {info.modelMicros(), info.contextMicros(), info.warmupMicros()};
    }

    @Override
    public phi2j.runtime.LayerPlacement placement() {
        String[][] p = placement(handle);
        Map<String, String> descriptions = new HashMap<>();
        for (int i = 0; i < p[3].length; i++) {
            descriptions.put(p[3][i], p[4][i]);
        }
        return new phi2j.runtime.LayerPlacement(List.of(p[0]), p[1][0], List.of(p[2]), descriptions);
    }

    @Override
    public String kind() {
        return "native";
    }

    @Override
    public String llamaCpp() {
        return llamaCppVersion() + " (" + llamaCppCommit().substring(0, Math.min(7, llamaCppCommit().length())) + ")";
    }

    @Override
    public String systemInfo() {
        return systemInfo0();
    }

    @Override
    public int contextPerSequence() {
        return info.contextPerSequence();
    }

    @Override
    public int parallel() {
        return info.parallel();
    }

    @Override
    public void submit(Messages.Generate req, Sink sink) {
        commands.add(() -> begin(req, sink));
        wake(handle);
    }

    @Override
    public void cancel(int id) {
        cancel(handle, id); // thread-safe in the engine: taken by its next step, waiting or running
    }

    @Override
    public void call(Messages.Call call, Consumer<Messages.Reply> reply) {
        if (call.kind() == Messages.CallKind.KV_CACHE) { // read at once, while the engine works: a scrape never waits
            reply.accept(new Messages.Reply(call.id(), kvCells(handle), null, null, null));
            return;
        }
        if (call.kind() != Messages.CallKind.EMBED) {
            // llama.cpp's tokenizer is thread-safe: no need to wait for the loop
            reply.accept(Messages.Reply.answer(call, this::tokenize, this::detokenize, this::embed));
            return;
        }
        commands.add(() -> needsIdleSlot.add(() -> reply.accept(Messages.Reply.answer(call, this::tokenize, this::detokenize, this::embed))));
        wake(handle);
    }

    int[] tokenize(String text) {
        return tokenize(handle, text.getBytes(StandardCharsets.UTF_8));
    }

    String detokenize(int[] tokens) {
        return new String(detokenize(handle, tokens), StandardCharsets.UTF_8);
    }

    private float[] embed(String text) {
        return embed(handle, text.getBytes(StandardCharsets.UTF_8));
    }

    private void run() {
        try {
            while (!closed) {
                iterate();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            // the engine is unusable: say so to everyone waiting, and let the runner end
            System.err.println("native engine: loop failed: " + t);
            EventCodec.Writer w = new EventCodec.Writer();
            requests.forEach((id, r) -> {
                r.sink().events(w.failed(id, Messages.ErrorKind.NATIVE, null, "the native engine failed: " + t.getMessage()).take());
                r.sink().flush();
            });
            Runtime.getRuntime().halt(71);
        }
    }

    /**
     * One turn of the loop: commands, then one run of decode steps. A method of its own, so the JIT compiles it after a
     * few hundred steps (a loop inside one long-running method would stay interpreted far longer).
     */
    private void iterate() throws InterruptedException {
        boolean idle = requests.isEmpty() && needsIdleSlot.isEmpty();
        if (idle) {
            flushAll(); // nothing may wait in a buffer while the loop sleeps
        }
        Runnable c = idle ? commands.take() : commands.poll();
        while (c != null) {
            c.run();
            c = commands.poll();
        }
        while (!needsIdleSlot.isEmpty() && hasIdleSlot(handle)) {
            needsIdleSlot.poll().run();
        }
        if (!requests.isEmpty()) {
            ByteBuffer events = run(handle, BATCH_NANOS);
            if (events != null) {
                dispatch(events.order(ByteOrder.LITTLE_ENDIAN));
            }
        }
    }

    /** Tokenizes the prompt, sizes its budget (the one rule, GenerationOptions.newTokenBudget) and queues it in the engine. */
    private void begin(Messages.Generate req, Sink sink) {
        try {
            int[] prompt = tokenize(req.prompt());
            if (prompt.length == 0) {
                throw new InvalidOptionException("prompt", "has no tokens");
            }
            int budget = req.options().newTokenBudget(prompt.length, info.contextPerSequence());
            submit(handle, req.id(), prompt, budget, req.options());
            requests.put(req.id(), new Request(sink, req.streaming()));
        } catch (InvalidOptionException e) {
            refuse(sink, req.id(), Messages.ErrorKind.OPTION, e.option(), e.problem());
        } catch (EngineException e) {
            refuse(sink, req.id(), e.kind(), e.field(), e.getMessage());
        }
    }

    private static void refuse(Sink sink, int id, Messages.ErrorKind kind, String field, String message) {
        sink.events(new EventCodec.Writer().failed(id, kind, field, message).take());
        sink.flush();
    }

    /**
     * Hands each request's events to its sink, in order, and pushes them when a caller reads as they come (a stream) or a
     * request ended; a non-streaming request's tokens otherwise wait in the buffer for its end.
     */
    private void dispatch(ByteBuffer events) {
        EventCodec.scan(events, (kind, id, start, end) -> {
            Request r = requests.get(id);
            if (r == null) {
                return; // cannot happen: the engine speaks only of requests it was given
            }
            ByteBuffer one = events.duplicate();
            one.position(start).limit(end);
            r.sink().events(one.slice().order(ByteOrder.LITTLE_ENDIAN));
            boolean ended = kind == EventCodec.DONE || kind == EventCodec.FAILED;
            if (ended) {
                requests.remove(id);
            }
            if (ended || r.streaming()) {
                pushNow.add(r.sink());
            } else {
                unflushed.add(r.sink());
            }
        });
        pushNow.forEach(Sink::flush);
        unflushed.removeAll(pushNow);
        pushNow.clear();
    }

    private void flushAll() {
        unflushed.forEach(Sink::flush);
        unflushed.clear();
    }

    @Override
    public void close() {
        closed = true;
        loop.interrupt();
        try {
            loop.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!loop.isAlive()) {
            free(handle);
        }
    }
}
