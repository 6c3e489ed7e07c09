package phi2j.runtime.internal;

import phi2j.InvalidOptionException;
import phi2j.runtime.GenerationOptions;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;

/**
 * phi2j's own JNI engine (native/src) in the runner process. One thread, the loop, owns the llama.cpp context:
 * it takes requests from a queue, puts each generation into a free slot (its own KV sequence and sampler), and
 * calls {@link #step} once per decode for all of them together, as llama.cpp's server slots do. A step's events
 * cross JNI as one direct buffer; token events go to the caller unchanged. Generations beyond the slots wait in
 * arrival order; a finished one frees its slot for the next.
 */
public final class NativeEngine implements Engine {
    /** The JNI functions' version; equals PHI2J_ENGINE_ABI in cmake/versions.cmake. */
    public static final int ABI = 2;

    /** The engine's errors about a caller's value: "option NAME: problem". */
    private static final java.util.regex.Pattern OPTION_ERROR = java.util.regex.Pattern.compile("option (\\w+): (.*)", java.util.regex.Pattern.DOTALL);
    private static final byte EVENT_TOKEN = 1;
    private static final byte EVENT_DONE = 2;
    /** The engine's stop ids (native/src/engine.h): StopReason's ordinals, then ERROR. */
    private static final int STOP_CANCELLED = phi2j.runtime.StopReason.CANCELLED.ordinal();
    private static final int STOP_ERROR = 4;

    // --- JNI (native/src/jni.cpp) ---
    static native int abi();

    static native String llamaCppVersion();

    static native String llamaCppCommit();

    static native String systemInfo0();

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

    private static native Backends loadBackends(byte[] dir);

    private static native long load(byte[] path, byte[] backendDir, int nCtx, int nThreads, int nGpuLayers, int splitMode, float[] tensorSplit,
                                    int mainGpu, int nBatch, int nUbatch, int nParallel, int flashAttn, boolean embeddings);

    private static native void free(long handle);

    private static native int[] info(long handle);

    private static native int[] tokenize(long handle, byte[] text);

    private static native byte[] detokenize(long handle, int[] tokens);

    private static native float[] embed(long handle, byte[] text);

    private static native void start(long handle, int slot, int[] prompt, float temperature, int topK, float topP, float minP,
                                     float repeatPenalty, int repeatLastN, long seed, int nProbs, int maxNewTokens,
                                     boolean ignoreEog, boolean cachePrompt, byte[][] stops, int eogStop);

    private static native void cancel(long handle, int slot);

    private static native ByteBuffer run(long handle, long budgetNanos);

    private static native void wake(long handle);

    private record Waiting(Messages.Generate req, Sink sink) {
    }

    private final long handle;
    private final phi2j.runtime.EngineBackends backends;
    private final int contextPerSequence;
    private final String endOfText;
    private final int[] slotRequest; // request id per slot, -1 when free
    private final Sink[] slotSink;
    private final boolean[] slotStreaming; // the caller reads this slot's pieces as they come
    private final ArrayDeque<Waiting> waiting = new ArrayDeque<>();
    private final ArrayDeque<Runnable> needsIdleSlot = new ArrayDeque<>();
    private final BlockingQueue<Runnable> commands = new LinkedBlockingQueue<>();
    private final java.util.concurrent.ConcurrentHashMap<Integer, Integer> slotOf = new java.util.concurrent.ConcurrentHashMap<>();
    private final Thread loop;
    private volatile boolean closed;
    private int active;
    /**
     * A sink with a streaming generation's frames written but not pushed yet (loop thread only). Frames of generations
     * nobody streams wait in the buffer until their end, which pushes everything.
     */
    private Sink unflushed;
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
        int[] i = info(handle);
        this.contextPerSequence = i[1];
        this.slotRequest = new int[i[2]];
        java.util.Arrays.fill(slotRequest, -1);
        this.slotSink = new Sink[i[2]];
        this.slotStreaming = new boolean[i[2]];
        this.endOfText = new String(detokenize(handle, new int[] {i[4]}), StandardCharsets.UTF_8);
        this.loop = new Thread(this::run, "phi2-native-engine");
        loop.setDaemon(true);
        loop.start();
    }

    /**
     * Loads {@code library} (the engine's JNI library) and the model. UnsatisfiedLinkError when the library cannot
     * be loaded; {@link EngineException} when it is another ABI or llama.cpp cannot load the model.
     */
    public static NativeEngine load(Path library, Messages.Load req) {
        phi2j.runtime.EngineBackends backends = backends(library);
        float[] split = new float[req.tensorSplit().size()];
        for (int i = 0; i < split.length; i++) {
            split[i] = req.tensorSplit().get(i);
        }
        int splitMode = switch (req.splitMode()) {
            case "NONE" -> 0;
            case "ROW" -> 2;
            default -> 1;
        };
        long h;
        try {
            h = load(req.path().getBytes(StandardCharsets.UTF_8), backendDir(library), req.contextSize(), req.threads(), req.gpuLayers(), splitMode,
                    split, req.mainGpu(), req.batchSize(), 0, Math.max(1, req.parallel()), req.flashAttention(), req.embeddings());
        } catch (EngineException e) {
            java.util.regex.Matcher m = OPTION_ERROR.matcher(e.getMessage());
            if (m.matches()) {
                throw new InvalidOptionException(m.group(1), m.group(2));
            }
            throw e;
        }
        return new NativeEngine(h, backends);
    }

    /**
     * Loads the engine library {@code library} into this process (once) and the backends of its build: a portable
     * build's modules from its folder. UnsatisfiedLinkError when the library cannot be loaded or speaks another ABI.
     */
    public static phi2j.runtime.EngineBackends backends(Path library) {
        System.load(library.toAbsolutePath().toString());
        int abi = abi();
        if (abi != ABI) {
            throw new UnsatisfiedLinkError(library + " speaks engine ABI " + abi + ", this phi2j needs " + ABI);
        }
        return loadBackends(backendDir(library)).toPublic();
    }

    private static byte[] backendDir(Path library) {
        return library.toAbsolutePath().getParent().toString().getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public phi2j.runtime.EngineBackends backends() {
        return backends;
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
        return contextPerSequence;
    }

    @Override
    public void submit(Messages.Generate req, Sink sink) {
        commands.add(() -> {
            waiting.add(new Waiting(req, sink));
            admit();
        });
        wake(handle);
    }

    @Override
    public void cancel(int id) {
        Integer slot = slotOf.get(id);
        if (slot != null) {
            cancel(handle, slot); // thread-safe in the engine: an atomic flag read by the next step
        }
        commands.add(() -> {
            // waiting requests end at once; one admitted since the check above is cancelled from here
            for (var it = waiting.iterator(); it.hasNext(); ) {
                Waiting w = it.next();
                if (w.req().id() == id) {
                    it.remove();
                    w.sink().done(new Messages.Done(id, 0, 0, true, 0, true, STOP_CANCELLED, 0, 0, 0, 0));
                    w.sink().flush();
                }
            }
            Integer now = slotOf.get(id);
            if (now != null) {
                cancel(handle, now);
            }
        });
        wake(handle);
    }

    @Override
    public void call(Messages.Call call, Consumer<Messages.Reply> reply) {
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
            for (int s = 0; s < slotRequest.length; s++) {
                if (slotRequest[s] >= 0) {
                    slotSink[s].error(new Messages.Error(slotRequest[s], Messages.ErrorKind.NATIVE, null, "the native engine failed: " + t.getMessage()));
                    slotSink[s].flush();
                }
            }
            Runtime.getRuntime().halt(71);
        }
    }

    /**
     * One turn of the loop: commands, then one decode step. A method of its own, so the JIT compiles it after a
     * few hundred steps (a loop inside one long-running method would stay interpreted far longer).
     */
    private void iterate() throws InterruptedException {
        boolean idle = active == 0 && needsIdleSlot.isEmpty();
        if (idle) {
            flushNow(); // nothing may wait in a buffer while the loop sleeps
        }
        Runnable c = idle ? commands.take() : commands.poll();
        while (c != null) {
            c.run();
            c = commands.poll();
        }
        if (active < slotRequest.length) {
            while (!needsIdleSlot.isEmpty()) {
                needsIdleSlot.poll().run();
            }
        }
        if (active > 0) {
            ByteBuffer events = run(handle, BATCH_NANOS);
            if (events != null) {
                dispatch(events.order(ByteOrder.LITTLE_ENDIAN));
            }
        }
    }

    /** Puts waiting generations into free slots, in arrival order. */
    private void admit() {
        for (int s = 0; s < slotRequest.length && !waiting.isEmpty(); s++) {
            if (slotRequest[s] >= 0) {
                continue;
            }
            Waiting w = waiting.poll();
            Messages.Generate req = w.req();
            try {
                begin(s, req);
                slotRequest[s] = req.id();
                slotStreaming[s] = req.streaming();
                slotSink[s] = w.sink();
                slotOf.put(req.id(), s);
                active++;
            } catch (InvalidOptionException e) {
                w.sink().error(new Messages.Error(req.id(), Messages.ErrorKind.OPTION, e.option(), e.problem()));
                w.sink().flush();
                s--; // the slot is still free for the next one
            } catch (EngineException e) {
                w.sink().error(new Messages.Error(req.id(), Messages.ErrorKind.NATIVE, null, e.getMessage()));
                w.sink().flush();
                s--;
            }
        }
    }

    private void begin(int slot, Messages.Generate req) {
        GenerationOptions o = req.options();
        int[] prompt = tokenize(req.prompt());
        if (prompt.length == 0) {
            throw new InvalidOptionException("prompt", "has no tokens");
        }
        int budget = o.newTokenBudget(prompt.length, Math.min(req.contextSize(), contextPerSequence));
        // the end-of-text marker as text ends a generation like the token itself: Phi-2's walkthrough cuts there
        List<String> stops = new java.util.ArrayList<>();
        int eogStop = -1;
        if (!o.ignoreEndOfText() && !endOfText.isEmpty()) {
            stops.add(endOfText);
            eogStop = 0;
        }
        stops.addAll(o.stopStrings());
        byte[][] stopBytes = stops.stream().map(x -> x.getBytes(StandardCharsets.UTF_8)).toArray(byte[][]::new);
        start(handle, slot, prompt, o.temperature(), o.topK(), o.topP(), o.minP(), o.repetitionPenalty(), 64,
                o.seed() == null ? -1 : o.seed(), o.logprobs(), budget, o.ignoreEndOfText(), o.cachePrompt(), stopBytes, eogStop);
    }

    private void dispatch(ByteBuffer b) {
        while (b.hasRemaining()) {
            byte kind = b.get();
            int slot = b.getInt();
            int id = slotRequest[slot];
            Sink sink = slotSink[slot];
            if (kind == EVENT_TOKEN) {
                if (slotStreaming[slot]) {
                    unflushed = sink;
                }
                int startAt = b.position();
                b.position(startAt + 8); // token id, logprob
                b.position(b.position() + 4 + b.getInt(b.position())); // the token's text
                int nTop = b.getInt();
                for (int i = 0; i < nTop; i++) {
                    b.position(b.position() + 8);
                    b.position(b.position() + 4 + b.getInt(b.position()));
                }
                b.position(b.position() + 4 + b.getInt(b.position()));
                ByteBuffer event = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
                event.position(startAt).limit(b.position());
                sink.token(id, event.slice().order(ByteOrder.LITTLE_ENDIAN));
            } else if (kind == EVENT_DONE) {
                int stop = b.getInt();
                int promptTokens = b.getInt();
                int evaluated = b.getInt();
                int generated = b.getInt();
                long promptNanos = b.getLong();
                long decodeNanos = b.getLong();
                String tail = utf8(b);
                String error = utf8(b);
                slotRequest[slot] = -1;
                slotSink[slot] = null;
                slotOf.remove(id);
                active--;
                if (!tail.isEmpty()) {
                    sink.text(id, tail);
                }
                if (stop == STOP_ERROR) {
                    sink.error(new Messages.Error(id, Messages.ErrorKind.NATIVE, null, error));
                } else {
                    sink.done(new Messages.Done(id, promptTokens, 0, stop == STOP_CANCELLED, 0, true, stop, generated, evaluated, promptNanos, decodeNanos));
                }
                sink.flush();
            } else {
                throw new IllegalStateException("unknown engine event " + kind);
            }
        }
        flushNow();
        admit();
    }

    private void flushNow() {
        if (unflushed != null) {
            unflushed.flush();
            unflushed = null;
        }
    }

    private static String utf8(ByteBuffer b) {
        int n = b.getInt();
        byte[] bytes = new byte[n];
        b.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
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
