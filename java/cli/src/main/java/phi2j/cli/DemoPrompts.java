package phi2j.cli;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The walkthrough's six prompts exactly as its Python strings (each starts and ends with a newline), the seconds each
 * took there (PyTorch fp16, max_length 500, greedy, AMD Instinct MI210) and its published answers, from the resource
 * {@code walkthrough.json} (a copy of {@code ../shared/data/walkthrough/walkthrough.json}, which a test compares).
 */
final class DemoPrompts {
    /** One task: {@code prompt} verbatim; {@code answer} as the blog published it (re-wrapped, so content, not bytes). */
    record Task(int id, String title, String prompt, double walkthroughSeconds, String answer) {
    }

    static final List<Task> TASKS;
    /** "Loaded in 5.01 seconds" in the walkthrough. */
    static final double WALKTHROUGH_LOAD_SECONDS;

    static {
        try (InputStream in = DemoPrompts.class.getResourceAsStream("walkthrough.json")) {
            if (in == null) {
                throw new IllegalStateException("walkthrough.json is missing from the phi2 jar");
            }
            JsonObject o = JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8)).getAsJsonObject();
            List<Task> tasks = new ArrayList<>();
            for (JsonElement e : o.getAsJsonArray("tasks")) {
                JsonObject t = e.getAsJsonObject();
                tasks.add(new Task(t.get("id").getAsInt(), t.get("title").getAsString(), t.get("prompt").getAsString(),
                        t.get("walkthrough_seconds").getAsDouble(), t.get("walkthrough_answer").getAsString()));
            }
            TASKS = List.copyOf(tasks);
            WALKTHROUGH_LOAD_SECONDS = o.get("load_seconds").getAsDouble();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private DemoPrompts() {
    }

    /**
     * How close a generated answer is to the walkthrough's, the prompt left out on both sides: the blog published each
     * prompt with its answer, so counting the whole text would credit any answer with the prompt's words.
     */
    static double answerSimilarity(Task task, String generated) {
        return similarity(generated, publishedAnswer(task));
    }

    /**
     * The walkthrough's answer without the prompt it starts with. The blog printed the decoded text, in which
     * transformers' clean-up removed the space before punctuation ("i != j" reads "i!= j"), so the prompt is cleaned
     * the same way and its words stripped where they lead the published text (task 5's blog copy lacks "Output:").
     */
    static String publishedAnswer(Task task) {
        String[] published = words(task.answer());
        return String.join(" ", java.util.Arrays.copyOfRange(published, promptWordsLeadingThePublishedText(task), published.length));
    }

    /** transformers' clean_up_tokenization, as the blog's decoded text went through it. */
    static String cleanUpTokenization(String s) {
        return s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",").replace(" ' ", "'")
                .replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s").replace(" 've", "'ve").replace(" 're", "'re");
    }

    /** Words of the prompt that lead the published text: all of them, but for a word the blog dropped. */
    static int promptWordsLeadingThePublishedText(Task task) {
        String[] prompt = words(cleanUpTokenization(task.prompt()));
        String[] published = words(task.answer());
        int n = 0;
        while (n < prompt.length && n < published.length && prompt[n].equals(published[n])) {
            n++;
        }
        return n;
    }

    /**
     * How much of the walkthrough's published answer {@code ours} says, in the same order: the longest common
     * subsequence of the two word sequences (whitespace-insensitive, so the blog's re-wrapping does not count) over the
     * longer one's word count. 1 for the same words in the same order; a shuffled answer scores low, and extra or
     * missing words lower the score alike.
     */
    static double similarity(String ours, String published) {
        String[] a = words(ours);
        String[] b = words(published);
        if (a.length == 0 && b.length == 0) {
            return 1;
        }
        int[] prev = new int[b.length + 1];
        int[] cur = new int[b.length + 1];
        for (String w : a) {
            for (int j = 1; j <= b.length; j++) {
                cur[j] = w.equals(b[j - 1]) ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return (double) prev[b.length] / Math.max(a.length, b.length);
    }

    private static String[] words(String s) {
        String t = s.strip();
        return t.isEmpty() ? new String[0] : t.split("\\s+");
    }
}
