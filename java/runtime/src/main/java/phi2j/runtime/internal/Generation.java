package phi2j.runtime.internal;

import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.StopReason;
import phi2j.runtime.Timings;
import phi2j.runtime.TokenLogprob;
import phi2j.runtime.TokenStream;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One generation in flight: the runner's reader thread feeds it, the caller's thread drains it.
 * The queue is unbounded so that a slow or absent reader never stalls the runner, and the model's turn is
 * handed on as soon as the runner reports the end, whether or not anyone reads the stream.
 */
public final class Generation implements TokenStream, RunnerProcess.Listener {
    /** How long to wait for llama.cpp's timing block after the end; its logger writes asynchronously. */
    private static final long TIMING_WAIT_MILLIS = 2000;

    private sealed interface Event permits Piece, End, Failed {
    }

    private record Piece(String text) implements Event {
    }

    private record End(GenerationResult result) implements Event {
    }

    private record Failed(Phi2Exception error) implements Event {
    }

    private final Messages.Generate request;
    private final RunnerProcess runner;
    private final MarkerFilter endOfText;
    private final boolean hasStopStrings;
    private final boolean exactCounts;
    private final Runnable onFinish;
    private final String engineLabel;
    private final List<TokenLogprob> logprobs = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private final StringBuilder text = new StringBuilder();
    private final AtomicBoolean finished = new AtomicBoolean();
    private final java.util.concurrent.CountDownLatch ended = new java.util.concurrent.CountDownLatch(1);
    private final AtomicBoolean cancelSent = new AtomicBoolean();
    private volatile boolean userCancelled;
    private long startNanos;
    private volatile long firstPieceNanos;
    private Event head; // the event hasNext() looked at; terminal events stay here

    /**
     * @param exactCounts read llama.cpp's timing block for this generation; only possible when it is the only one
     *                    in flight, since the blocks carry llama.cpp's task ids, which the binding does not expose
     */
    public Generation(Messages.Generate request, RunnerProcess runner, String endOfTextMarker, boolean hasStopStrings,
                      boolean exactCounts, String engineLabel, Runnable onFinish) {
        this.request = request;
        this.engineLabel = engineLabel;
        this.exactCounts = exactCounts;
        this.runner = runner;
        this.endOfText = new MarkerFilter(endOfTextMarker);
        this.hasStopStrings = hasStopStrings;
        this.onFinish = onFinish;
    }

    public void start() {
        runner.register(request.id(), this);
        if (exactCounts) {
            runner.log().clearTimings();
        }
        startNanos = System.nanoTime();
        runner.generate(request);
    }

    // --- runner side (reader thread) ---

    @Override
    public void onText(int id, String piece) {
        if (id != request.id()) {
            return;
        }
        if (firstPieceNanos == 0) {
            firstPieceNanos = System.nanoTime();
        }
        boolean markerSeenBefore = endOfText.found();
        String out = endOfText.feed(piece);
        if (markerSeenBefore && cancelSent.compareAndSet(false, true)) {
            // The marker came as ordinary text and the model went on: stop it. (The real end-of-text
            // token ends generation in llama.cpp by itself, with nothing after it.)
            sendCancel();
        }
        if (!out.isEmpty()) {
            text.append(out);
            events.add(new Piece(out));
        }
    }

    /** A native-engine token (Frames.TOKEN): its id, log-probability, alternatives and the text it released. */
    @Override
    public void onToken(int id, ByteBuffer event) {
        if (id != request.id()) {
            return;
        }
        ByteBuffer b = event.order(ByteOrder.LITTLE_ENDIAN);
        int token = b.getInt();
        float logprob = b.getFloat();
        boolean wanted = request.options().logprobs() > 0;
        String tokenText = wanted ? utf8(b) : skip(b);
        int nTop = b.getInt();
        if (wanted) {
            List<TokenLogprob.Alternative> top = new ArrayList<>(nTop);
            for (int i = 0; i < nTop; i++) {
                int t = b.getInt();
                float lp = b.getFloat();
                top.add(new TokenLogprob.Alternative(t, utf8(b), lp));
            }
            logprobs.add(new TokenLogprob(token, tokenText, logprob, top));
        } else {
            for (int i = 0; i < nTop; i++) {
                b.position(b.position() + 8);
                skip(b);
            }
        }
        String released = utf8(b);
        if (!released.isEmpty()) {
            onText(id, released);
        } else if (firstPieceNanos == 0) {
            firstPieceNanos = System.nanoTime();
        }
    }

    /** Steps over a length-prefixed string without decoding it. */
    private static String skip(ByteBuffer b) {
        b.position(b.position() + 4 + b.getInt(b.position()));
        return null;
    }

    private static String utf8(ByteBuffer b) {
        int n = b.getInt();
        String s = new String(b.array(), b.arrayOffset() + b.position(), n, StandardCharsets.UTF_8);
        b.position(b.position() + n);
        return s;
    }

    @Override
    public void onDone(Messages.Done done) {
        if (done.id() != request.id()) {
            return;
        }
        if (done.exact()) {
            onExactDone(done);
            return;
        }
        long endNanos = System.nanoTime();
        String rest = endOfText.flush();
        if (!rest.isEmpty()) {
            text.append(rest);
            events.add(new Piece(rest));
        }
        NativeLog.SlotTiming timing = null;
        if (!done.cancelled() && exactCounts) {
            try {
                timing = runner.log().awaitTiming(TIMING_WAIT_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        // llama.cpp's count is exact; a cancelled request prints none, and then the pieces delivered count. Without
        // the log (several generations at once) a run that ended neither by marker, cancel nor stop string reached
        // its budget, which is then its count.
        int generated = timing != null ? timing.evalTokens()
                : (!done.cancelled() && !endOfText.found() && !hasStopStrings) ? done.newTokenBudget() : done.chunks();
        StopReason reason;
        if (endOfText.found()) {
            reason = StopReason.END_OF_TEXT;
        } else if (done.cancelled()) {
            reason = StopReason.CANCELLED;
        } else if (generated >= done.newTokenBudget()) {
            reason = StopReason.LENGTH;
        } else if (hasStopStrings) {
            reason = StopReason.STOP_STRING;
        } else {
            reason = StopReason.LENGTH; // the context ran out
        }
        long first = firstPieceNanos == 0 ? endNanos : firstPieceNanos;
        Duration ttft = Duration.ofNanos(first - startNanos);
        Duration total = Duration.ofNanos(endNanos - startNanos);
        Duration promptEval = timing != null ? millis(timing.promptMillis()) : ttft;
        Duration decode = timing != null ? millis(timing.evalMillis()) : total.minus(ttft);
        // llama.cpp's processed count: with cachePrompt only the new part of the prompt is evaluated
        int evaluated = timing != null ? timing.promptTokens() : done.promptTokens();
        Timings timings = new Timings(ttft, total, promptEval, decode, evaluated, generated, generated);
        finish(new End(new GenerationResult(text.toString(), done.promptTokens(), generated, reason, timings, logprobs, engineLabel)));
    }

    /** The native engine's end: its own counts, clocks and stop reason; nothing to read from a log. */
    private void onExactDone(Messages.Done done) {
        long endNanos = System.nanoTime();
        String rest = endOfText.flush();
        if (!rest.isEmpty()) {
            text.append(rest);
            events.add(new Piece(rest));
        }
        StopReason reason = endOfText.found() ? StopReason.END_OF_TEXT : StopReason.values()[done.stopReason()];
        long first = firstPieceNanos == 0 ? endNanos : firstPieceNanos;
        // unstreamed pieces arrive with the end: then the engine's own clock says when the first token was ready
        Duration ttft = request.streaming() ? Duration.ofNanos(first - startNanos)
                : Duration.ofNanos(Math.min(done.promptNanos(), endNanos - startNanos));
        int generated = done.generatedTokens();
        Timings timings = new Timings(ttft, Duration.ofNanos(endNanos - startNanos),
                Duration.ofNanos(done.promptNanos()), Duration.ofNanos(done.decodeNanos()), done.promptEvaluated(), generated,
                Math.max(0, generated - 1));
        finish(new End(new GenerationResult(text.toString(), done.promptTokens(), generated, reason, timings, logprobs, engineLabel)));
    }

    private static Duration millis(double ms) {
        return Duration.ofNanos(Math.round(ms * 1e6));
    }

    @Override
    public void onError(Messages.Error error) {
        if (error.id() != request.id()) {
            return;
        }
        Phi2Exception e = error.kind() == Messages.ErrorKind.OPTION
                ? new InvalidOptionException(error.option(), error.message())
                : new Phi2Exception("generation failed in llama.cpp: " + error.message());
        finish(new Failed(e));
    }

    @Override
    public void onGone(Phi2Exception why) {
        finish(new Failed(why));
    }

    private void finish(Event terminal) {
        if (finished.compareAndSet(false, true)) {
            events.add(terminal);
            ended.countDown();
            runner.unregister(request.id());
            onFinish.run();
        }
    }

    private void sendCancel() {
        try {
            runner.cancel(request.id());
        } catch (Phi2Exception ignored) {
            // the runner is gone; onGone reports it
        }
    }

    // --- caller side ---

    @Override
    public boolean hasNext() {
        if (head == null) {
            try {
                head = events.take();
            } catch (InterruptedException e) {
                cancel();
                Thread.currentThread().interrupt();
                throw new Phi2Exception("interrupted while generating; the generation was cancelled");
            }
        }
        if (head instanceof Failed f) {
            throw f.error();
        }
        return head instanceof Piece;
    }

    @Override
    public String next() {
        if (!hasNext()) {
            throw new NoSuchElementException("the generation has ended");
        }
        String s = ((Piece) head).text();
        head = null;
        return s;
    }

    @Override
    public void cancel() {
        userCancelled = true;
        if (!finished.get() && cancelSent.compareAndSet(false, true)) {
            sendCancel();
        }
    }

    @Override
    public List<TokenLogprob> logprobs() {
        return List.copyOf(logprobs);
    }

    @Override
    public GenerationResult result() {
        // Wait for the end itself rather than for each piece: a caller that wants only the result then sleeps
        // through the generation instead of waking for every token (which, on a small machine, takes a core
        // from llama.cpp's threads).
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
