package phi2j.runtime;

import java.util.List;

/**
 * One generated token with its log-probability under the model (natural log, before any sampler reshaped the
 * distribution) and the most likely alternatives at that position, most likely first. Asked for with
 * {@link GenerationOptions#withLogprobs(int)}; the native engine only.
 */
public record TokenLogprob(int token, String text, double logprob, List<Alternative> top) {

    public TokenLogprob {
        top = List.copyOf(top);
    }

    /** A candidate token at one position. */
    public record Alternative(int token, String text, double logprob) {
    }
}
