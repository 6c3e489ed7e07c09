package phi2j.runtime;

import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * One generation as it is produced, token by token ({@link TokenEvent}: the token, its log-probability when asked for,
 * and the text it releases). {@link #hasNext()} blocks until the next token or the end. {@link #cancel()} may be called
 * from any thread; the stream then ends soon after with stop reason {@link StopReason#CANCELLED}. {@link #result()}
 * waits for the end and returns the whole result. Closing an unfinished stream cancels it.
 */
public interface TokenStream extends Iterator<TokenEvent>, AutoCloseable {

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

    /** This stream's tokens, for for-each loops. */
    default Iterable<TokenEvent> events() {
        return () -> this;
    }

    /** This stream's text, piece by piece (the tokens' released text, empty ones left out), for for-each loops. */
    default Iterable<String> pieces() {
        return () -> new Iterator<>() {
            private String next;

            @Override
            public boolean hasNext() {
                while (next == null && TokenStream.this.hasNext()) {
                    String t = TokenStream.this.next().text();
                    next = t.isEmpty() ? null : t;
                }
                return next != null;
            }

            @Override
            public String next() {
                if (!hasNext()) {
                    throw new NoSuchElementException("the generation has ended");
                }
                String t = next;
                next = null;
                return t;
            }
        };
    }
}
