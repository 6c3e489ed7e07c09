package phi2j.runtime.internal;

import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.Timings;
import phi2j.runtime.TokenEvent;
import phi2j.runtime.TokenLogprob;
import phi2j.runtime.TokenStream;

import java.time.Duration;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One generation in flight: the runner's reader thread feeds it the engine's events, the caller's thread drains it.
 * Both engines speak the same events, so there is one path from a token to the caller and one to the end. The queue is
 * unbounded so that a slow or absent reader never stalls the runner.
 */
public final class Generation implements TokenStream, RunnerProcess.Listener {
    private sealed interface Item permits Next, End, Failed {
    }

    private record Next(TokenEvent event) implements Item {
    }

    private record End(GenerationResult result) implements Item {
    }

    private record Failed(Phi2Exception error) implements Item {
    }

    private final Messages.Generate request;
    private final RunnerProcess runner;
    private final Owner owner;
    private final String engineLabel;
    private final List<TokenLogprob> logprobs = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final BlockingQueue<Item> items = new LinkedBlockingQueue<>();
    private final StringBuilder text = new StringBuilder();
    private final AtomicBoolean finished = new AtomicBoolean();
    private final CountDownLatch ended = new CountDownLatch(1);
    private final AtomicBoolean cancelSent = new AtomicBoolean();
    private long startNanos;
    private volatile long firstTokenNanos;
    private Item head; // the item hasNext() looked at; terminal items stay here

    /** Who keeps the books of calls in flight: told, on the reader thread, when a slot took a call and when it ended. */
    public interface Owner {
        void admitted(Generation g);

        void finished(Generation g);
    }

    public Generation(Messages.Generate request, RunnerProcess runner, String engineLabel, Owner owner) {
        this.request = request;
        this.engineLabel = engineLabel;
        this.runner = runner;
        this.owner = owner;
    }

    public void start() {
        runner.register(request.id(), this);
        startNanos = System.nanoTime();
        runner.generate(request);
    }

    // --- runner side (reader thread) ---

    @Override
    public void onEvent(EngineEvent e) {
        if (e instanceof EngineEvent.Token t) {
            token(t);
        } else if (e instanceof EngineEvent.Admitted) {
            owner.admitted(this);
        } else if (e instanceof EngineEvent.Done d) {
            done(d);
        } else if (e instanceof EngineEvent.Failed f) {
            finish(new Failed(f.kind() == Messages.ErrorKind.OPTION && f.field() != null ? new InvalidOptionException(f.field(), f.message())
                    : new Phi2Exception("generation failed in llama.cpp: " + f.message())));
        }
    }

    private void token(EngineEvent.Token t) {
        if (firstTokenNanos == 0) {
            firstTokenNanos = System.nanoTime();
        }
        TokenEvent event = new TokenEvent(t.token(), t.piece(), t.text(), request.options().logprobs() > 0 ? t.logprob() : Double.NaN,
                t.top());
        if (request.options().logprobs() > 0) {
            logprobs.add(event.asLogprob());
        }
        text.append(t.text());
        items.add(new Next(event));
    }

    /** The end, the same for both engines: the engine's counts, clocks and stop reason. */
    private void done(EngineEvent.Done d) {
        long endNanos = System.nanoTime();
        if (!d.text().isEmpty()) {
            text.append(d.text());
            items.add(new Next(new TokenEvent(-1, "", d.text(), Double.NaN, List.of())));
        }
        long first = firstTokenNanos == 0 ? endNanos : firstTokenNanos;
        // unstreamed tokens arrive with the end: then the engine's own clock says when the first token was ready
        Duration ttft = request.streaming() ? Duration.ofNanos(first - startNanos)
                : Duration.ofNanos(Math.min(d.promptNanos(), endNanos - startNanos));
        int generated = d.generatedTokens();
        Timings timings = new Timings(ttft, Duration.ofNanos(endNanos - startNanos), Duration.ofNanos(d.promptNanos()),
                Duration.ofNanos(d.decodeNanos()), d.promptEvaluated(), generated, Math.max(0, generated - 1));
        finish(new End(new GenerationResult(text.toString(), d.promptTokens(), generated, d.stop(), timings, logprobs, engineLabel)));
    }

    @Override
    public void onGone(Phi2Exception why) {
        finish(new Failed(why));
    }

    private void finish(Item terminal) {
        if (finished.compareAndSet(false, true)) {
            // the books close before the end is visible: whoever reads the result and then asks the model's load
            // (a server admitting the next request) never counts this generation as still running
            runner.unregister(request.id());
            owner.finished(this);
            items.add(terminal);
            ended.countDown();
        }
    }

    // --- caller side ---

    @Override
    public boolean hasNext() {
        if (head == null) {
            try {
                head = items.take();
            } catch (InterruptedException e) {
                cancel();
                Thread.currentThread().interrupt();
                throw new Phi2Exception("interrupted while generating; the generation was cancelled");
            }
        }
        if (head instanceof Failed f) {
            throw RunnerProcess.inCaller(f.error());
        }
        return head instanceof Next;
    }

    @Override
    public TokenEvent next() {
        if (!hasNext()) {
            throw new NoSuchElementException("the generation has ended");
        }
        TokenEvent e = ((Next) head).event();
        head = null;
        return e;
    }

    @Override
    public void cancel() {
        if (!finished.get() && cancelSent.compareAndSet(false, true)) {
            try {
                runner.cancel(request.id());
            } catch (Phi2Exception ignored) {
                // the runner is gone; onGone reports it
            }
        }
    }

    @Override
    public List<TokenLogprob> logprobs() {
        return List.copyOf(logprobs);
    }

    @Override
    public GenerationResult result() {
        // Wait for the end itself rather than for each token: a caller that wants only the result then sleeps through the
        // generation instead of waking for every token (which, on a small machine, takes a core from llama.cpp's threads).
        try {
            ended.await();
        } catch (InterruptedException e) {
            cancel();
            Thread.currentThread().interrupt();
            throw new Phi2Exception("interrupted while generating; the generation was cancelled");
        }
        while (hasNext()) {
            next();
        }
        return ((End) head).result();
    }

    @Override
    public void close() {
        if (!finished.get()) {
            cancel();
        }
        try {
            result();
        } catch (Phi2Exception ignored) {
            // closing reports nothing; result() and the iterator report failures
        }
    }
}
