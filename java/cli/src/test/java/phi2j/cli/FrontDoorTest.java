package phi2j.cli;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import phi2j.testkit.SharedData;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** What a new user meets first: the walkthrough's prompts verbatim, the demo's shape, help, early errors with flag names. */
class FrontDoorTest {
    private static final String TINY = TestModels.tiny().toString();

    @Test
    void theDemosSixPromptsAreTheWalkthroughsByteForByte() throws IOException {
        JsonObject shared = JsonParser.parseString(Files.readString(SharedData.require("walkthrough/walkthrough.json"))).getAsJsonObject();
        List<JsonElement> tasks = shared.getAsJsonArray("tasks").asList();
        assertEquals(6, tasks.size());
        assertEquals(tasks.size(), DemoPrompts.TASKS.size());
        for (int i = 0; i < tasks.size(); i++) {
            JsonObject t = tasks.get(i).getAsJsonObject();
            DemoPrompts.Task ours = DemoPrompts.TASKS.get(i);
            assertEquals(t.get("prompt").getAsString(), ours.prompt(), "task " + (i + 1));
            assertTrue(ours.prompt().startsWith("\n") && ours.prompt().endsWith("\n"));
            assertEquals(t.get("walkthrough_seconds").getAsDouble(), ours.walkthroughSeconds());
            assertEquals(t.get("walkthrough_answer").getAsString(), ours.answer());
        }
        assertEquals(shared.getAsJsonObject("setup").get("load_seconds").getAsDouble(), DemoPrompts.WALKTHROUGH_LOAD_SECONDS);
    }

    @Test
    void theComparisonScoresThePublishedAnswersFullAndAShuffledOneLow() {
        for (DemoPrompts.Task t : DemoPrompts.TASKS) {
            assertEquals(1.0, DemoPrompts.similarity(t.answer(), t.answer()), 1e-12);
            // re-wrapping does not count
            assertEquals(1.0, DemoPrompts.similarity(t.answer().replace("\n", "  \n "), t.answer()), 1e-12);
            List<String> words = new ArrayList<>(List.of(t.answer().strip().split("\\s+")));
            Collections.shuffle(words, new Random(t.id()));
            double shuffled = DemoPrompts.similarity(String.join(" ", words), t.answer());
            assertTrue(shuffled < 0.5, t.title() + ": shuffled words score " + shuffled);
            // half the answer: half the score
            String half = String.join(" ", List.of(t.answer().strip().split("\\s+")).subList(0, words.size() / 2));
            assertEquals(0.5, DemoPrompts.similarity(half, t.answer()), 0.02);
        }
        assertEquals(0.0, DemoPrompts.similarity("completely different", "nothing shared here"));
    }

    @Test
    void theDemoPrintsWhatTheWalkthroughPrinted() {
        CliTest.Run r = CliTest.run("demo", "-m", TINY, "--only", "2", "--max-length", "100", "--compare");
        assertEquals(0, r.exit(), r.err());
        List<String> lines = r.out().lines().toList();
        assertTrue(lines.get(0).matches("Loaded in \\d+\\.\\d\\d seconds"), lines.get(0));
        assertTrue(lines.get(1).matches("Generated in \\d+\\.\\d\\d seconds"), lines.get(1));
        String prompt = DemoPrompts.TASKS.get(1).prompt();
        assertTrue(r.out().contains(lines.get(1) + "\n" + prompt), "then the prompt verbatim and its answer:\n" + r.out());
        assertTrue(r.out().contains("Compared with the walkthrough's answer: "), r.out());
        assertTrue(r.out().contains("| # | task") && r.out().contains("walkthrough MI210 s | speed-up |"), r.out());
        assertTrue(r.out().contains("| 19.46 "), "the walkthrough's seconds for task 2:\n" + r.out());

        CliTest.Run answers = CliTest.run("demo", "-m", TINY, "--only", "2", "--max-length", "100", "--answers-only");
        assertEquals(0, answers.exit(), answers.err());
        assertFalse(answers.out().contains("Summarize the paper"), "--answers-only leaves the prompt out:\n" + answers.out());

        CliTest.Run bad = CliTest.run("demo", "-m", TINY, "--only", "7");
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains("--only: must be 1 to 6, not 7"), bad.err());
        bad = CliTest.run("demo", "-m", TINY, "--max-length", "1");
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains("--max-length: must be at least 2"), bad.err());
        assertFalse(bad.out().contains("Loaded in"), "refused before loading: " + bad.out());
    }

    @Test
    void lengthsThatCannotFitFailBeforeLoadingNamingTheFlag() {
        CliTest.Run r = CliTest.run("generate", "-m", TINY, "-p", "hi", "--max-length", "5000");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("--max-length: 5000 exceeds the context size 2048"), r.err());
        assertFalse(r.err().contains("Loaded in"), "refused before loading: " + r.err());
        r = CliTest.run("generate", "-m", TINY, "-p", "hi", "-n", "600", "-c", "512");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("-n: 600 new tokens do not fit the context size 512"), r.err());
        r = CliTest.run("generate", "-m", TINY, "-p", "hi", "--temperature", "-1");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("--temperature: must be 0"), "the flag, not the API field: " + r.err());
    }

    @Test
    void everyCommandHasAOneLineSummaryThatIsASentence() {
        CliTest.Run r = CliTest.run("--help");
        assertEquals(0, r.exit());
        List<String> lines = r.out().lines().toList();
        int at = lines.indexOf("Commands:");
        assertTrue(at > 0, r.out());
        int commands = 0;
        for (String line : lines.subList(at + 1, lines.size())) {
            if (line.isBlank()) {
                break;
            }
            assertTrue(line.matches("  [a-z-]+ +[A-Z].*\\.$"), "a whole sentence on one line: '" + line + "'");
            commands++;
        }
        assertTrue(commands >= 14, r.out());
    }

    @Test
    void helpForOneCommandAndACompletionScript() {
        CliTest.Run help = CliTest.run("help", "generate");
        assertEquals(0, help.exit());
        assertTrue(help.out().contains("Usage: phi2 generate") && help.out().contains("--max-length"), help.out());
        CliTest.Run completion = CliTest.run("completion");
        assertEquals(0, completion.exit());
        assertTrue(completion.out().contains("complete -F") && completion.out().contains("generate") && completion.out().contains("--max-length"),
                completion.out().substring(0, Math.min(400, completion.out().length())));
        CliTest.Run none = CliTest.run();
        assertEquals(2, none.exit());
        assertTrue(none.err().contains("Usage: phi2") || none.out().contains("Usage: phi2"), none.err());
        CliTest.Run typo = CliTest.run("genrate");
        assertEquals(2, typo.exit());
        assertTrue(typo.err().contains("Did you mean: phi2 generate"), typo.err());
    }
}
