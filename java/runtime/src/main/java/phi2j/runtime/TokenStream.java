package phi2j.runtime;

import java.util.Iterator;

/**
 * The text of one generation as it is produced, piece by piece (a piece is one token's text, or several
 * tokens' when a character was split over them). {@link #hasNext()} blocks until the next piece or the end.
 * {@link #cancel()} may be called from any thread; the stream then ends soon after with stop reason
 * {@link StopReason#CANCELLED}. {@link #result()} waits for the end and returns the whole result. Closing an
 * unfinished stream cancels it.
 */
public interface TokenStream extends Iterator<String>, AutoCloseable {

    /** Stops the generation; safe to call from any thread, any number of times. */
    void cancel();

    /** Waits for the generation to end (consuming the rest of the stream) and returns its result. */
    GenerationResult result();

    /** Cancels the generation if it is still running and waits for it to end. */
    @Override
    void close();

    /**
     * The tokens received so far with their log-probabilities, when the generation asked for them
     * ({@link GenerationOptions#withLogprobs(int)}); a copy, safe to call from any thread.
     */
    java.util.List<TokenLogprob> logprobs();

    /** This stream as an {@link Iterable}, for for-each loops. */
    default Iterable<String> pieces() {
        return () -> this;
    }
}
