package phi2j.runtime.internal;

import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.StopReason;
import phi2j.runtime.Timings;
import phi2j.runtime.TokenStream;

import java.time.Duration;
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
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private final StringBuilder text = new StringBuilder();
    private final AtomicBoolean finished = new AtomicBoolean();
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
                      boolean exactCounts, Runnable onFinish) {
        this.request = request;
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

    @Override
    public void onDone(Messages.Done done) {
        if (done.id() != request.id()) {
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
        Timings timings = new Timings(ttft, total, promptEval, decode, evaluated, generated);
        finish(new End(new GenerationResult(text.toString(), done.promptTokens(), generated, reason, timings)));
    }

    private static Duration millis(double ms) {
        return Duration.ofNanos(Math.round(ms * 1e6));
    }

    @Override
    public void onError(Messages.Error error) {
        if (error.id() != request.id()) {
            return;
        }
        Phi2Exception e = "option".equals(error.kind())
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
    public GenerationResult result() {
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
