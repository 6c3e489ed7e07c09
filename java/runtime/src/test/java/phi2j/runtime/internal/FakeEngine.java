package phi2j.runtime.internal;

import phi2j.InvalidOptionException;
import phi2j.runtime.StopReason;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * An {@link Engine} without llama.cpp, for testing the runner protocol: each word of the prompt comes back as one
 * piece, up to maxNewTokens. Prompts steer it: "slow ..." pauses between pieces (for cancelling), "fail" ends in an
 * engine error, "die" ends the runner process. Model paths steer loading: "bad-option.gguf" refuses an option,
 * "broken.gguf" is not a model. Tokens are code points.
 */
public final class FakeEngine implements Engine {
    private final EngineParams load;
    private final Set<Integer> cancelled = ConcurrentHashMap.newKeySet();

    public FakeEngine(EngineParams load) {
        if (load.path().endsWith("bad-option.gguf")) {
            throw new InvalidOptionException("contextSize", "is more than the fake engine holds");
        }
        if (load.path().endsWith("broken.gguf")) {
            throw new IllegalStateException("not a model");
        }
        this.load = load;
    }

    @Override
    public phi2j.runtime.EngineBackends backends() {
        return phi2j.runtime.EngineBackends.LINKED_CPU;
    }

    @Override
    public phi2j.runtime.LayerPlacement placement() {
        return phi2j.runtime.LayerPlacement.UNKNOWN;
    }

    @Override
    public String kind() {
        return "fake";
    }

    @Override
    public String llamaCpp() {
        return "fake 1";
    }

    @Override
    public String systemInfo() {
        return "FAKE = 1";
    }

    @Override
    public int contextPerSequence() {
        return load.contextSize() / load.parallel();
    }

    @Override
    public int parallel() {
        return load.parallel();
    }

    @Override
    public void submit(Messages.Generate req, Sink sink) {
        Thread t = new Thread(() -> run(req, sink), "fake-engine-" + req.id());
        t.setDaemon(true);
        t.start();
    }

    private void run(Messages.Generate req, Sink sink) {
        String[] words = req.prompt().split(" ");
        EventCodec.Writer w = new EventCodec.Writer();
        if (req.prompt().equals("fail")) {
            sink.events(w.failed(req.id(), Messages.ErrorKind.NATIVE, null, "the fake engine failed").take());
            sink.flush();
            return;
        }
        if (req.prompt().equals("die")) {
            Runtime.getRuntime().halt(3);
        }
        sink.events(w.admitted(req.id(), 0, 0).take());
        int limit = req.options().maxNewTokens() != null ? req.options().maxNewTokens() : Integer.MAX_VALUE;
        int n = 0;
        boolean stopped = false;
        for (int i = 0; n < limit && !stopped; i = (i + 1) % words.length) {
            stopped = cancelled.remove(req.id());
            if (!stopped) {
                sink.events(w.token(req.id(), words[i].codePointAt(0), -0.5f, words[i], java.util.List.of(), words[i]).take());
                sink.flush();
                n++;
                pause(words[0].equals("slow") ? 2 : 0);
            }
        }
        StopReason why = stopped ? StopReason.CANCELLED : StopReason.LENGTH;
        sink.events(w.done(req.id(), why, words.length, words.length, n, 1000, 1000, "").take());
        sink.flush();
    }

    private static void pause(int millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void cancel(int id) {
        cancelled.add(id);
    }

    @Override
    public void call(Messages.Call call, Consumer<Messages.Reply> reply) {
        reply.accept(Messages.Reply.answer(call, text -> text.codePoints().toArray(), tokens -> new String(tokens, 0, tokens.length),
                text -> new float[] {text.length()}));
    }

    @Override
    public void close() {
    }
}
