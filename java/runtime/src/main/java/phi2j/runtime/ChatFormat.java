package phi2j.runtime;


import java.util.ArrayList;
import java.util.List;

/**
 * Chat messages as a Phi-2 prompt, for {@code phi2 serve} and {@code phi2 chat}. Phi-2's model card gives a chat
 * format of named turns ({@link Prompts#chat}); the user speaks as {@code User}, the model as {@code Assistant}, a
 * system message is a first line of its own, and the prompt ends with {@code Assistant:} for the model to continue.
 * The answer ends at the end-of-text token or where the model starts the next user turn ({@link #STOP}).
 */
public final class ChatFormat {
    /** A chat message: role system, user or assistant. */
    public record Message(String role, String content) {
        public Message {
            if (!List.of("system", "user", "assistant").contains(role)) {
                throw new IllegalArgumentException("role must be system, user or assistant, not " + role);
            }
        }
    }

    /** How the prompt ends, for the model to continue: the assistant's name. */
    public static final String ANSWER_CUE = "Assistant:";

    /** Where the model begins to speak for the user: the end of its answer. */
    public static final String STOP = "\nUser:";

    private ChatFormat() {
    }

    public static String render(List<Message> messages) {
        StringBuilder system = new StringBuilder();
        List<Prompts.Turn> turns = new ArrayList<>();
        for (Message m : messages) {
            switch (m.role()) {
                case "system" -> system.append(m.content().strip()).append('\n');
                case "user" -> turns.add(new Prompts.Turn("User", m.content()));
                default -> turns.add(new Prompts.Turn("Assistant", m.content()));
            }
        }
        return system + Prompts.chat(turns, ANSWER_CUE.substring(0, ANSWER_CUE.length() - 1));
    }
}
