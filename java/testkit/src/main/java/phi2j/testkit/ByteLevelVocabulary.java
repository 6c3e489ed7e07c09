package phi2j.testkit;

import java.util.ArrayList;
import java.util.List;

/**
 * A small GPT-2-style byte-level BPE vocabulary: the 256 byte tokens in GPT-2's printable byte alphabet,
 * a few dozen merges of common English pairs, and {@code <|endoftext|>} last, as a control token.
 * Every string can be tokenized with it, so the tiny model accepts any prompt.
 */
public final class ByteLevelVocabulary {
    public static final String END_OF_TEXT = "<|endoftext|>";
    /** llama_token_type: NORMAL = 1, CONTROL = 3. */
    public static final int TYPE_NORMAL = 1;
    public static final int TYPE_CONTROL = 3;
    /** llama_token_type UNUSED = 5: padding rows of the embedding that no text maps to. */
    public static final int TYPE_UNUSED = 5;

    /** Merges in priority order, written in the byte alphabet ('Ġ' is the space byte). */
    private static final String[] MERGES = {
        "Ġ t", "h e", "i n", "e r", "a n", "Ġ a", "o n", "r e", "Ġt he", "e n", "Ġ s", "Ġ w", "o u", "a t",
        "Ġ o", "Ġ c", "i s", "Ġ b", "o r", "e d", "Ġ f", "Ġ p", "i t", "a l", "in g", "Ġ i", "Ġ m", "Ġ d",
        "e s", "Ġt o", "a r", "l e", "Ġo f", "Ġa n", "Ġan d", "Ġ (", ") :", "Ġ =", "Ġ Ġ", "ĠĠ ĠĠ",
    };

    private final List<String> tokens = new ArrayList<>();
    private final List<Integer> types = new ArrayList<>();
    private final List<String> merges = new ArrayList<>();

    public ByteLevelVocabulary() {
        char[] alphabet = byteAlphabet();
        for (int b = 0; b < 256; b++) {
            add(String.valueOf(alphabet[b]), TYPE_NORMAL);
        }
        for (String merge : MERGES) {
            merges.add(merge);
            add(merge.replace(" ", ""), TYPE_NORMAL);
        }
        add(END_OF_TEXT, TYPE_CONTROL);
    }

    private void add(String token, int type) {
        if (tokens.contains(token)) {
            throw new IllegalStateException("duplicate token " + token);
        }
        tokens.add(token);
        types.add(type);
    }

    public List<String> tokens() {
        return List.copyOf(tokens);
    }

    public List<Integer> tokenTypes() {
        return List.copyOf(types);
    }

    public List<String> merges() {
        return List.copyOf(merges);
    }

    public int endOfTextId() {
        return tokens.indexOf(END_OF_TEXT);
    }

    public int size() {
        return tokens.size();
    }

    /**
     * GPT-2's {@code bytes_to_unicode}: printable Latin-1 bytes stand for themselves, the other 68 bytes are
     * shifted to code points from 256 up, so that every byte has a visible, non-space character.
     */
    public static char[] byteAlphabet() {
        char[] map = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char) b : (char) (256 + next++);
        }
        return map;
    }
}
