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
                "/help, /quit. When standard input is not a terminal, it reads lines and prints only the answers, so it scripts.",
                "Sampling and constraint flags are generate's (--temperature, --top-p, --presence-penalty, --json-schema, ...);",
                "chat's defaults where they are not given: temperature 0.7, answers of up to 256 tokens, a new seed per run."})
public final class ChatCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelMixin model;

    @Mixin
    LoggingMixin logging;

    @Option(names = "--system", paramLabel = "TEXT", description = "A system message first in the conversation.")
    String system;

    /** generate's sampling and constraint flags; chat's own defaults where they set none (below). */
    @Mixin
    SamplingMixin sampling;

    /** A chat samples unless told otherwise (--temperature 0 is greedy). */
    static final float CHAT_TEMPERATURE = 0.7f;
    /** The longest answer unless -n or --max-length says otherwise. */
    static final int CHAT_MAX_TOKENS = 256;

    private final List<ChatFormat.Message> conversation = new ArrayList<>();
    /** The options of the next answer: the flags, then /set; its seed moves on by one per answer. */
    private GenerationOptions settings;

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
        settings = chatOptions(sampling);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
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

    /**
     * The flags as options (GenerationOptions checks every range, naming the flag), with chat's defaults where the
     * flags set none: temperature 0.7, answers of up to 256 tokens, a new seed per run, prefix reuse on, and the
     * answer ending where the model starts the next user turn.
     */
    static GenerationOptions chatOptions(SamplingMixin given) {
        GenerationOptions o = given.options();
        if (o.logprobs() > 0) {
            throw new InvalidOptionException("logprobs", "phi2 chat prints the answers' text only; phi2 generate --json --logprobs N shows them");
        }
        GenerationOptions.Builder b = o.toBuilder();
        if (given.temperature == null) {
            b.temperature(CHAT_TEMPERATURE);
        }
        if (given.maxLength == null && given.maxNewTokens == null) {
            b.maxLength(null).maxNewTokens(CHAT_MAX_TOKENS);
        }
        if (given.seed == null) {
            b.seed((long) java.util.concurrent.ThreadLocalRandom.current().nextInt(Integer.MAX_VALUE));
        }
        List<String> stops = new ArrayList<>(o.stopStrings());
        stops.add(ChatFormat.STOP);
        return b.stopStrings(stops).cachePrompt(true).build();
    }

    private void set(String[] w, PrintWriter err) {
        if (w.length < 3) {
            err.println("/set needs a name and a value, for example /set temperature 0.7");
            return;
        }
        try {
            switch (w[1]) { // GenerationOptions checks each value, as for the flags
                case "temperature" -> settings = settings.withTemperature(Float.parseFloat(w[2]));
                case "top_p" -> settings = settings.withTopP(Float.parseFloat(w[2]));
                case "max_tokens" -> settings = settings.toBuilder().maxLength(null).maxNewTokens(Integer.parseInt(w[2])).build();
                case "seed" -> settings = settings.withSeed(Long.parseLong(w[2]));
                default -> {
                    err.println("unknown setting " + w[1] + " (temperature, top_p, max_tokens, seed)");
                    return;
                }
            }
            err.println("(" + w[1] + " = " + w[2] + ")");
        } catch (NumberFormatException | InvalidOptionException e) {
            err.println("bad value '" + w[2] + "' for " + w[1] + ": " + (e instanceof InvalidOptionException ioe ? ioe.problem() : e.getMessage()));
        }
    }

    private void save(Path file) throws IOException {
        Path tmp = file.toAbsolutePath().resolveSibling("." + file.getFileName() + ".tmp");
        java.nio.file.Files.writeString(tmp, new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(conversation));
        java.nio.file.Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private void answer(Phi2Model m, String user, PrintWriter out, boolean interactive) {
        conversation.add(new ChatFormat.Message("user", user));
        GenerationOptions o = settings;
        settings = settings.withSeed((settings.seed() + 1) % Integer.MAX_VALUE); // the next answer samples anew (seeds are 31-bit)
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
        int ctx = m.info().contextSize();
        int limit = settings.maxLength() != null ? Math.min(settings.maxLength(), ctx) : ctx;
        int room = limit - (settings.maxNewTokens() != null ? settings.maxNewTokens() : 1);
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
