package phi2j.server;

import java.util.List;

/**
 * OpenAI chat messages as a Phi-2 prompt. Phi-2's model card gives a chat format of named turns ("Alice: ...",
 * "Bob: ..."); this renders the user as {@code User:} and the assistant as {@code Assistant:}, one turn per line, a
 * system message as a first line of its own, and ends with {@code Assistant:} for the model to continue. The answer
 * ends at the end-of-text token or where the model starts the next user turn ({@link #STOP}).
 */
final class ChatFormat {
    /** A chat message: role system, user or assistant. */
    record Message(String role, String content) {
    }

    /** Where the model begins to speak for the user: the end of its answer. */
    static final String STOP = "\nUser:";

    private ChatFormat() {
    }

    static String render(List<Message> messages) {
        StringBuilder sb = new StringBuilder();
        for (Message m : messages) {
            switch (m.role()) {
                case "system" -> sb.append(m.content().strip()).append('\n');
                case "user" -> sb.append("User: ").append(m.content().strip()).append('\n');
                case "assistant" -> sb.append("Assistant: ").append(m.content().strip()).append('\n');
                default -> throw new IllegalArgumentException("role " + m.role());
            }
        }
        return sb.append("Assistant:").toString();
    }
}
