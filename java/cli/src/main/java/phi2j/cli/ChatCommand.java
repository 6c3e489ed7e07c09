package phi2j.cli;

import com.google.gson.GsonBuilder;
import phi2j.InvalidOptionException;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.Phi2Model;
import phi2j.runtime.TokenStream;
import phi2j.runtime.ChatFormat;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "chat", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Chat with the model in a terminal, or script it.",
        description = {"Each line is a user message; the answer streams back in Phi-2's chat format, with the conversation kept",
                "in context (the oldest turns leave when it no longer fits). In a terminal: line editing and history; Ctrl-C",
                "stops an answer, a second Ctrl-C quits. Commands: /reset, /save FILE, /set temperature|top_p|max_tokens|seed V,",
                "/help, /quit. When standard input is not a terminal, it reads lines and prints only the answers, so it scripts."})
public final class ChatCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelMixin model;

    @Mixin
    LoggingMixin logging;

    @Option(names = "--system", paramLabel = "TEXT", description = "A system message first in the conversation.")
    String system;

    @Option(names = "--temperature", paramLabel = "T", description = "0 is greedy (default: ${DEFAULT-VALUE}).")
    float temperature = 0.7f;

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N", description = "Longest answer in tokens (default: ${DEFAULT-VALUE}).")
    int maxTokens = 256;

    @Option(names = "--seed", paramLabel = "N", description = "Sampling seed (default: a new one per run).")
    Long seed;

    private final List<ChatFormat.Message> conversation = new ArrayList<>();
    private float topP = 0.95f;

    /** Where lines come from and whether a person is typing them. */
    interface Input extends AutoCloseable {
        /** The next line, or null at the end (Ctrl-D, end of input, or Ctrl-C at the prompt). */
        String read() throws IOException;

        boolean interactive();

        @Override
        void close() throws IOException;
    }

    @Override
    public Integer call() throws Exception {
        logging.apply();
        if (maxTokens < 1) {
            throw new InvalidOptionException("-n", "must be at least 1, not " + maxTokens);
        }
        if (temperature < 0 || temperature > 2) {
            throw new InvalidOptionException("--temperature", "must be between 0 and 2, not " + temperature);
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (seed == null) {
            seed = System.nanoTime();
        }
        try (Phi2Model m = Phi2Model.open(model.modelPath(), model.options()); Input in = input()) {
            if (in.interactive()) {
                err.println("phi2 chat: " + m.info().name() + " (" + m.info().engine().label() + " " + m.info().llamaCpp() + "); /help for commands");
                err.flush();
            }
            reset();
            String line;
            while ((line = in.read()) != null) {
                if (line.isBlank()) {
                    continue;
                }
                if (line.startsWith("/")) {
                    if (!command(line.strip(), out, err)) {
                        break;
                    }
                    continue;
                }
                try {
                    answer(m, line, out, in.interactive());
                } catch (InvalidOptionException e) { // this turn cannot be answered (too long): say so, keep the conversation
                    conversation.remove(conversation.size() - 1);
                    err.println("phi2 chat: " + Main.describe(spec.commandLine(), spec.commandLine().getParseResult().originalArgs(), e));
                    err.flush();
                }
            }
        }
        return Main.OK;
    }

    private void reset() {
        conversation.clear();
        if (system != null && !system.isBlank()) {
            conversation.add(new ChatFormat.Message("system", system));
        }
    }

    /** A slash command; false to quit. */
    private boolean command(String line, PrintWriter out, PrintWriter err) throws IOException {
        String[] w = line.split("\\s+", 3);
        switch (w[0]) {
            case "/quit", "/exit" -> {
                return false;
            }
            case "/reset" -> {
                reset();
                err.println("(conversation cleared)");
            }
            case "/save" -> {
                if (w.length < 2) {
                    err.println("/save needs a file name");
                } else {
                    save(Path.of(line.substring("/save".length()).strip()));
                    err.println("(saved " + (conversation.size()) + " messages)");
                }
            }
            case "/set" -> set(w, err);
            case "/help" -> err.println("""
                    /reset              start a new conversation
                    /save FILE          write the conversation as JSON (OpenAI's messages)
                    /set temperature T  0 is greedy; also top_p P, max_tokens N, seed N
                    /quit               leave (also Ctrl-D; Ctrl-C stops an answer, twice quits)""");
            default -> err.println("unknown command " + w[0] + " (/help lists them)");
        }
        err.flush();
        return true;
    }

    private void set(String[] w, PrintWriter err) {
        if (w.length < 3) {
            err.println("/set needs a name and a value, for example /set temperature 0.7");
            return;
        }
        try {
            switch (w[1]) {
                case "temperature" -> {
                    float t = Float.parseFloat(w[2]);
                    if (t < 0 || t > 2) {
                        throw new NumberFormatException("temperature is 0 to 2");
                    }
                    temperature = t;
                }
                case "top_p" -> {
                    float p = Float.parseFloat(w[2]);
                    if (!(p > 0 && p <= 1)) {
                        throw new NumberFormatException("top_p is above 0, up to 1");
                    }
                    topP = p;
                }
                case "max_tokens" -> {
                    int n = Integer.parseInt(w[2]);
                    if (n < 1) {
                        throw new NumberFormatException("max_tokens is at least 1");
                    }
                    maxTokens = n;
                }
                case "seed" -> seed = Long.parseLong(w[2]);
                default -> {
                    err.println("unknown setting " + w[1] + " (temperature, top_p, max_tokens, seed)");
                    return;
                }
            }
            err.println("(" + w[1] + " = " + w[2] + ")");
        } catch (NumberFormatException e) {
            err.println("bad value '" + w[2] + "' for " + w[1] + ": " + e.getMessage());
        }
    }

    private void save(Path file) throws IOException {
        Path tmp = file.toAbsolutePath().resolveSibling("." + file.getFileName() + ".tmp");
        java.nio.file.Files.writeString(tmp, new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(conversation));
        java.nio.file.Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private void answer(Phi2Model m, String user, PrintWriter out, boolean interactive) {
        conversation.add(new ChatFormat.Message("user", user));
        GenerationOptions o = (temperature == 0 ? GenerationOptions.greedy() : GenerationOptions.sampling(temperature, seed++).withTopP(topP))
                .withMaxNewTokens(maxTokens).withStopStrings(List.of(ChatFormat.STOP)).withCachePrompt(true);
        String prompt = fit(m);
        StringBuilder text = new StringBuilder();
        try (TokenStream s = m.stream(prompt, o)) {
            GenerationResult r = Interrupts.drain(s, piece -> {
                String p = text.length() == 0 ? piece.stripLeading() : piece; // the space after "Assistant:"
                text.append(p);
                out.print(p);
                out.flush();
            });
            out.println(r.stopReason() == phi2j.runtime.StopReason.CANCELLED && interactive ? " [stopped]" : "");
        }
        out.flush();
        conversation.add(new ChatFormat.Message("assistant", text.toString().strip()));
    }

    /** The prompt, after dropping the oldest turns (never the system message or the new question) until it fits. */
    private String fit(Phi2Model m) {
        int room = m.info().contextSize() - maxTokens;
        while (true) {
            String prompt = ChatFormat.render(conversation);
            int first = system != null && !system.isBlank() ? 1 : 0;
            if (m.tokenize(prompt).length <= room || conversation.size() - first <= 1) {
                return prompt;
            }
            conversation.remove(first);
        }
    }

    private Input input() throws IOException {
        if (System.console() != null) {
            org.jline.terminal.Terminal t = org.jline.terminal.TerminalBuilder.builder().system(true).build();
            if (t.getWidth() <= 0) { // a terminal that reports no size (a bare pty): JLine would squeeze the prompt away
                t.setSize(new org.jline.terminal.Size(80, Math.max(24, t.getHeight())));
            }
            org.jline.reader.LineReader r = org.jline.reader.LineReaderBuilder.builder().terminal(t).appName("phi2")
                    .history(new org.jline.reader.impl.history.DefaultHistory()).build();
            return new Input() {
                @Override
                public String read() {
                    try {
                        return r.readLine("you> ");
                    } catch (org.jline.reader.UserInterruptException | org.jline.reader.EndOfFileException e) {
                        return null;
                    }
                }

                @Override
                public boolean interactive() {
                    return true;
                }

                @Override
                public void close() throws IOException {
                    t.close();
                }
            };
        }
        BufferedReader b = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        return new Input() {
            @Override
            public String read() throws IOException {
                return b.readLine();
            }

            @Override
            public boolean interactive() {
                return false;
            }

            @Override
            public void close() {
                // standard input belongs to the process
            }
        };
    }
}
