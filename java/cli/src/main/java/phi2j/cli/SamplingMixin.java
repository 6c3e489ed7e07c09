package phi2j.cli;

import phi2j.InvalidOptionException;
import phi2j.runtime.GenerationOptions;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Length and sampling options, shared by generate and demo. */
public final class SamplingMixin {
    // Fields are named as GenerationOptions' own, so that the library's errors name these flags (Main.flag). Unset
    // options stay null: the defaults are GenerationOptions' own, named in the help from its constants.
    @Option(names = "--max-length", paramLabel = "N", description = "Prompt plus generated tokens, as transformers' max_length (default: "
            + GenerationOptions.DEFAULT_MAX_LENGTH + ").")
    Integer maxLength;

    @Option(names = {"-n", "--max-new-tokens"}, paramLabel = "N", description = "Generated tokens only; instead of --max-length.")
    Integer maxNewTokens;

    @Option(names = "--temperature", paramLabel = "T", description = "0 is greedy, the default; above 0 samples.")
    Float temperature;

    @Option(names = "--top-k", paramLabel = "K", description = "Sampling: keep the K most likely tokens; 0 = off (default: "
            + GenerationOptions.DEFAULT_TOP_K + ").")
    Integer topK;

    @Option(names = "--top-p", paramLabel = "P", description = "Sampling: nucleus probability mass (default: " + GenerationOptions.DEFAULT_TOP_P + ").")
    Float topP;

    @Option(names = "--min-p", paramLabel = "P", description = "Sampling: drop tokens below P x the top probability (default: "
            + GenerationOptions.DEFAULT_MIN_P + ").")
    Float minP;

    @Option(names = "--repeat-penalty", paramLabel = "R", description = "Repetition penalty; 1 = off (default: "
            + GenerationOptions.DEFAULT_REPETITION_PENALTY + ").")
    Float repetitionPenalty;

    @Option(names = "--presence-penalty", paramLabel = "P", description = "Lower the odds of every token already in the last 64 "
            + "by P (-2 to 2); 0 = off (default: " + GenerationOptions.DEFAULT_PRESENCE_PENALTY + ").")
    Float presencePenalty;

    @Option(names = "--seed", paramLabel = "N", description = "Sampling seed; the same seed and options give the same text.")
    Long seed;

    @Option(names = "--stop", paramLabel = "TEXT", description = "Stop when this text appears (repeatable); it is not printed.")
    List<String> stopStrings = new ArrayList<>();

    @Option(names = "--ignore-eos", description = "Generate to the length limit even past <|endoftext|>.")
    boolean ignoreEos;

    @Option(names = "--logprobs", paramLabel = "N", description = "Each generated token's log-probability and the N most likely alternatives (0-20; with --json; native engine).")
    int logprobs;

    @Option(names = "--grammar-file", paramLabel = "FILE", description = "The text follows this GBNF grammar (llama.cpp's format; native engine).")
    Path grammar;

    @Option(names = "--json-schema", paramLabel = "SCHEMA|FILE", description = "The text is JSON following this JSON schema, given inline "
            + "('{...}') or as a file; llama.cpp's converter makes it a grammar (native engine).")
    String jsonSchema;

    public GenerationOptions options() {
        GenerationOptions.Builder b = GenerationOptions.builder().maxLength(maxLength).maxNewTokens(maxNewTokens).seed(seed)
                .stopStrings(stopStrings.stream().map(SamplingMixin::unescape).toList()).ignoreEndOfText(ignoreEos).logprobs(logprobs);
        set(temperature, b::temperature);
        set(topK, b::topK);
        set(topP, b::topP);
        set(minP, b::minP);
        set(repetitionPenalty, b::repetitionPenalty);
        set(presencePenalty, b::presencePenalty);
        if (grammar != null) {
            b.grammar(read(grammar, "grammar"));
        }
        if (jsonSchema != null) {
            b.jsonSchema(jsonSchema.strip().startsWith("{") ? jsonSchema : read(Path.of(jsonSchema), "jsonSchema"));
        }
        return b.build();
    }

    private static String read(Path file, String option) {
        try {
            return Files.readString(file);
        } catch (IOException | UncheckedIOException e) {
            throw new InvalidOptionException(option, "cannot read " + file + ": " + (e instanceof NoSuchFileException ? "no such file" : e.getMessage()));
        }
    }

    private static <T> void set(T given, java.util.function.Consumer<T> field) {
        if (given != null) {
            field.accept(given);
        }
    }

    /** Lets {@code --stop '\n\n'} mean two newlines, as users type it in a shell. */
    static String unescape(String s) {
        return s.replace("\\n", "\n").replace("\\t", "\t");
    }
}
