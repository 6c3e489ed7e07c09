package phi2j.runtime.internal;

import phi2j.InvalidOptionException;
import phi2j.runtime.GenerationOptions;

import java.lang.reflect.RecordComponent;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Which generation options the de.kherud binding is given, and the refusal of any other that is set: one owner, used
 * by {@link Phi2Model} before a request leaves the caller (so the exception carries the caller's line) and by
 * {@link BindingEngine} in the runner. No binding class is loaded here.
 */
public final class BindingOptions {
    private BindingOptions() {
    }

    /** Every option, and their defaults: what {@link #unsupported} compares against. */
    private static final GenerationOptions DEFAULTS = GenerationOptions.greedy();
    private static final RecordComponent[] OPTIONS = GenerationOptions.class.getRecordComponents();
    /** The options the binding adapter hands to de.kherud:llama; see {@link #unsupported}. */
    static final Set<String> PASSED = Set.of("maxLength", "maxNewTokens", "temperature", "topK", "topP", "minP", "repetitionPenalty",
            "presencePenalty", "seed", "stopStrings", "ignoreEndOfText", "cachePrompt");
    private static final Map<String, String> WHY_NOT = Map.of(
            "logprobs", "de.kherud:llama 4.2.0 aborts the process when asked for probabilities",
            "jsonSchema", "de.kherud:llama 4.2.0 aborts the process on a schema its converter cannot follow",
            "grammar", "structured output is the native engine's (de.kherud:llama 4.2.0 cannot report a bad grammar)");

    /**
     * The first option set away from its default that the binding is not given, or null: an option added to
     * {@link GenerationOptions} is refused, by name, until it is mapped, never silently dropped.
     */
    static String unsupported(GenerationOptions o) {
        for (RecordComponent c : OPTIONS) {
            if (PASSED.contains(c.getName())) {
                continue;
            }
            try {
                if (!Objects.equals(c.getAccessor().invoke(o), c.getAccessor().invoke(DEFAULTS))) {
                    return c.getName();
                }
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        return null;
    }

    /** Why the binding cannot run {@code field}, for the refusal. */
    static String why(String field) {
        return "needs the native engine (" + WHY_NOT.getOrDefault(field, "the de.kherud:llama binding is not given it") + ")";
    }

    /**
     * Refuses, with the reason and the fix, options the binding cannot run; {@code fix} says how to get the native engine
     * (ModelInfo's advice when AUTO fell back, else how to ask for it).
     */
    public static void check(GenerationOptions o, String fix) {
        String field = unsupported(o);
        if (field != null) {
            throw new InvalidOptionException(field, why(field) + ": this model runs on the binding; " + fix);
        }
    }
}
