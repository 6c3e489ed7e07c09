package phi2j.runtime;

import java.util.List;

/**
 * One generated token, as a {@link TokenStream} hands it out. {@link #text()} is what to show: the text this token
 * releases, which is empty while a stop string or a UTF-8 character may still be forming and holds several tokens'
 * text once that is decided; concatenated, the texts are the result's text. The rest describes the token itself.
 *
 * @param token   its id in the vocabulary; -1 on the binding engine, which streams text only
 * @param piece   the token's own text
 * @param text    the text released to the caller with this token
 * @param logprob its log-probability under the model (natural log), when asked for with
 *                {@link GenerationOptions#withLogprobs(int)}; NaN otherwise
 * @param top     the most likely alternatives at this position, most likely first, when asked for; empty otherwise
 */
public record TokenEvent(int token, String piece, String text, double logprob, List<TokenLogprob.Alternative> top) {

    public TokenEvent {
        top = List.copyOf(top);
    }

    /** This token with its log-probability and alternatives, as {@link GenerationResult#logprobs()} lists them. */
    public TokenLogprob asLogprob() {
        return new TokenLogprob(token, piece, logprob, top);
    }
}
