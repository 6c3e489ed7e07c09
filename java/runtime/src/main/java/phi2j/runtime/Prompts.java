package phi2j.runtime;

import java.util.List;

/**
 * Phi-2's documented prompt formats (from its model card). Phi-2 is a base model: these shapes are what
 * it saw in training, and following them is what makes its answers end cleanly.
 */
public final class Prompts {
    private Prompts() {
    }

    /** Question answering: {@code Instruct: <question>\nOutput:}. */
    public static String qa(String instruction) {
        return "Instruct: " + instruction.strip() + "\nOutput:";
    }

    /** One turn of a chat between named speakers; the last speaker is left to the model. */
    public record Turn(String speaker, String text) {
    }

    /** Chat: {@code Alice: ...\nBob: ...\nAlice:} with the reply left open for {@code nextSpeaker}. */
    public static String chat(List<Turn> turns, String nextSpeaker) {
        StringBuilder sb = new StringBuilder();
        for (Turn t : turns) {
            sb.append(t.speaker()).append(": ").append(t.text().strip()).append('\n');
        }
        return sb.append(nextSpeaker).append(':').toString();
    }

    /** Code: a Python function signature with its docstring; the model writes the body. */
    public static String code(String signature, String docstring) {
        String sig = signature.strip();
        if (!sig.startsWith("def ")) {
            sig = "def " + sig;
        }
        if (!sig.endsWith(":")) {
            sig = sig + ":";
        }
        return sig + "\n    \"\"\"\n    " + docstring.strip().replace("\n", "\n    ") + "\n    \"\"\"\n";
    }
}
