package phi2j.bench;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import org.springframework.ai.chat.prompt.Prompt;
import phi2j.runtime.ChatFormat;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.springai.Phi2ChatOptions;
import phi2j.testkit.TestModels;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * What the frameworks cost: one greedy chat answer of N tokens through LangChain4j's ChatModel
 * ({@code phi2-langchain4j}) and Spring AI's ChatModel ({@code phi2-spring-ai}) against {@link Phi2Model#generate} on the
 * same model, prompt and options, in one JVM, interleaved, the order rotating each round. Each round times REPS
 * answers per way; prints every round, then each framework's time over the direct call's (median of the per-round
 * ratios, and their range). The three answers are checked to be the same text first.
 *
 * <pre>java -cp 'java/bench/target/classes:java/bench/target/lib/*' phi2j.bench.FrameworkCost [MODEL.gguf] [tokens 128] [rounds 5] [reps 10]</pre>
 */
public final class FrameworkCost {
    private FrameworkCost() {
    }

    public static void main(String[] args) {
        Path model = args.length > 0 ? Path.of(args[0]) : TestModels.tiny();
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        int reps = args.length > 3 ? Integer.parseInt(args[3]) : 10;
        String question = "Write a detailed analogy between mathematics and a lighthouse.";
        try (Phi2Model m = Phi2Model.open(model, ModelOptions.defaults().withContextSize(1024).withThreads(2))) {
            String prompt = ChatFormat.render(List.of(new ChatFormat.Message("user", question)));
            GenerationOptions direct = GenerationOptions.greedy().withMaxNewTokens(tokens).withStopStrings(List.of(ChatFormat.STOP));
            phi2j.langchain4j.Phi2ChatModel lc = phi2j.langchain4j.Phi2ChatModel.builder().model(m).cachePrompt(false).build();
            ChatRequest lcRequest = ChatRequest.builder().messages(UserMessage.from(question)).maxOutputTokens(tokens).build();
            phi2j.springai.Phi2ChatModel sp = new phi2j.springai.Phi2ChatModel(() -> m, Phi2ChatOptions.builder().build(), false);
            Prompt spPrompt = new Prompt(question, Phi2ChatOptions.builder().maxTokens(tokens).build());

            Map<String, Supplier<String>> ways = new LinkedHashMap<>();
            ways.put("Phi2Model.generate", () -> m.generate(prompt, direct).text().stripLeading());
            ways.put("LangChain4j ChatModel", () -> lc.chat(lcRequest).aiMessage().text());
            ways.put("Spring AI ChatModel", () -> sp.call(spPrompt).getResult().getOutput().getText());
            String first = null;
            for (Map.Entry<String, Supplier<String>> w : ways.entrySet()) { // warm-up, and the same answer three ways
                for (int i = 0; i < reps; i++) {
                    w.getValue().get();
                }
                String text = w.getValue().get();
                if (first != null && !first.equals(text)) {
                    throw new IllegalStateException(w.getKey() + " answered differently: '" + text + "' against '" + first + "'");
                }
                first = text;
            }
            int generated = m.generate(prompt, direct).generatedTokens();
            System.out.printf(Locale.ROOT, "model %s, one greedy chat answer of %d tokens (asked %d), %d rounds x %d answers per way%n",
                    model.getFileName(), generated, tokens, rounds, reps);

            List<String> names = new ArrayList<>(ways.keySet());
            Map<String, List<Double>> ratios = new LinkedHashMap<>();
            for (int r = 0; r < rounds; r++) {
                Map<String, Double> ms = new LinkedHashMap<>();
                for (int k = 0; k < names.size(); k++) {
                    String name = names.get((k + r) % names.size());
                    long t0 = System.nanoTime();
                    for (int i = 0; i < reps; i++) {
                        ways.get(name).get();
                    }
                    ms.put(name, (System.nanoTime() - t0) / 1e6 / reps);
                }
                double base = ms.get(names.get(0));
                StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "round %d:", r + 1));
                for (String n : names) {
                    line.append(String.format(Locale.ROOT, " %s %.2f ms", n, ms.get(n)));
                    if (!n.equals(names.get(0))) {
                        ratios.computeIfAbsent(n, x -> new ArrayList<>()).add(ms.get(n) / base);
                    }
                }
                System.out.println(line);
            }
            for (Map.Entry<String, List<Double>> e : ratios.entrySet()) {
                List<Double> v = new ArrayList<>(e.getValue());
                v.sort(null);
                System.out.printf(Locale.ROOT, "%s / Phi2Model.generate: median %.3f (range %.3f-%.3f)%n", e.getKey(), v.get(v.size() / 2),
                        v.get(0), v.get(v.size() - 1));
            }
        }
    }
}
