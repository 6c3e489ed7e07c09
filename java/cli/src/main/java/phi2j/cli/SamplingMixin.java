package phi2j.cli;

import phi2j.runtime.GenerationOptions;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/** Length and sampling options, shared by generate and demo. */
public final class SamplingMixin {
    @Option(names = "--max-length", paramLabel = "N", description = "Prompt plus generated tokens, as transformers' max_length (default: 500).")
    Integer maxLength;

    @Option(names = {"-n", "--max-new-tokens"}, paramLabel = "N", description = "Generated tokens only; instead of --max-length.")
    Integer maxNewTokens;

    @Option(names = "--temperature", paramLabel = "T", description = "0 is greedy, the default; above 0 samples.")
    float temperature;

    @Option(names = "--top-k", paramLabel = "K", description = "Sampling: keep the K most likely tokens; 0 = off (default: 40).")
    int topK = 40;

    @Option(names = "--top-p", paramLabel = "P", description = "Sampling: nucleus probability mass (default: 0.95).")
    float topP = 0.95f;

    @Option(names = "--min-p", paramLabel = "P", description = "Sampling: drop tokens below P x the top probability (default: 0.05).")
    float minP = 0.05f;

    @Option(names = "--repeat-penalty", paramLabel = "R", description = "Repetition penalty; 1 = off (default: 1).")
    float repeatPenalty = 1f;

    @Option(names = "--seed", paramLabel = "N", description = "Sampling seed; the same seed and options give the same text.")
    Long seed;

    @Option(names = "--stop", paramLabel = "TEXT", description = "Stop when this text appears (repeatable); it is not printed.")
    List<String> stops = new ArrayList<>();

    @Option(names = "--ignore-eos", description = "Generate to the length limit even past <|endoftext|>.")
    boolean ignoreEos;

    @Option(names = "--logprobs", paramLabel = "N", description = "Each generated token's log-probability and the N most likely alternatives (0-20; with --json; native engine).")
    int logprobs;

    public GenerationOptions options() {
        return GenerationOptions.builder().maxLength(maxLength).maxNewTokens(maxNewTokens).temperature(temperature).topK(topK)
                .topP(topP).minP(minP).repetitionPenalty(repeatPenalty).seed(seed).stopStrings(stops.stream().map(SamplingMixin::unescape).toList())
                .ignoreEndOfText(ignoreEos).logprobs(logprobs).build();
    }

    /** Lets {@code --stop '\n\n'} mean two newlines, as users type it in a shell. */
    static String unescape(String s) {
        return s.replace("\\n", "\n").replace("\\t", "\t");
    }
}
