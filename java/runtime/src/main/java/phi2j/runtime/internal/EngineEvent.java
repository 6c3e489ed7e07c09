package phi2j.runtime.internal;

import phi2j.runtime.StopReason;
import phi2j.runtime.TokenLogprob;

import java.util.List;

/**
 * What an engine says about request {@code id}, in order: it took a slot, each token, then its end or its failure.
 * Both engines speak these, in {@link EventCodec}'s one encoding, from the engine to the caller's {@link Generation}.
 */
public sealed interface EngineEvent {
    /** The request's id. */
    int id();

    /** A slot took the request; {@code cachedTokens} of its prompt came from that slot's cache. */
    record Admitted(int id, int slot, int cachedTokens) implements EngineEvent {
    }

    /**
     * One generated token: its id (-1 where the engine does not know it), log-probability (NaN when not asked for),
     * its own text, the most likely alternatives (when asked for), and the text it releases to the caller: empty while a
     * stop string or a UTF-8 character may still be forming, several tokens' text once it is decided.
     */
    record Token(int id, int token, float logprob, String piece, List<TokenLogprob.Alternative> top, String text) implements EngineEvent {
    }

    /**
     * The end: why, the counts (prompt tokens, those evaluated rather than taken from a cache, generated tokens), the
     * engine's clocks (request to first token, first token to last) and the last text it releases.
     */
    record Done(int id, StopReason stop, int promptTokens, int promptEvaluated, int generatedTokens, long promptNanos,
                long decodeNanos, String text) implements EngineEvent {
    }

    /** The request failed: {@code field} names the option at fault (OPTION), or is null. */
    record Failed(int id, Messages.ErrorKind kind, String field, String message) implements EngineEvent {
    }
}
