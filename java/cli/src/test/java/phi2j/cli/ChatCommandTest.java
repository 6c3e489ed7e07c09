package phi2j.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.runtime.ChatFormat;
import phi2j.testkit.TestModels;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** phi2 chat: scripted through standard input, and as a person uses it, through a pseudo-terminal. */
@EnabledOnOs({OS.LINUX, OS.MAC})
class ChatCommandTest {
    static List<String> chat(String... extra) {
        List<String> cmd = ProcessTest.cli(List.of(), "chat", "-m", TestModels.tiny().toString(), "-c", "1024");
        cmd.addAll(List.of(extra));
        return cmd;
    }

    /** The same conversation through the library: the chat's answers must be exactly these. */
    static List<String> expectedAnswers() {
        GenerationOptions o = GenerationOptions.greedy().withMaxNewTokens(8).withStopStrings(List.of(ChatFormat.STOP)).withCachePrompt(true);
        List<String> answers = new ArrayList<>();
        try (Phi2Model m = Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(1024))) {
            List<ChatFormat.Message> c = new ArrayList<>(List.of(new ChatFormat.Message("user", "Hello there")));
            String a1 = m.generate(ChatFormat.render(c), o).text().stripLeading();
            c.add(new ChatFormat.Message("assistant", a1.strip()));
            c.add(new ChatFormat.Message("user", "What is two plus two?"));
            String a2 = m.generate(ChatFormat.render(c), o).text().stripLeading();
            String a3 = m.generate(ChatFormat.render(List.of(new ChatFormat.Message("user", "Hi again"))), o).text().stripLeading();
            answers.addAll(List.of(a1, a2, a3));
        }
        return answers;
    }

    @Test
    void aScriptedConversationKeepsContextAndTheCommandsWork(@TempDir Path dir) throws Exception {
        Path saved = dir.resolve("conversation.json");
        Process p = new ProcessBuilder(chat("-n", "8", "--temperature", "0.9")).start();
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (java.io.IOException e) {
                return e.toString();
            }
        });
        try (OutputStream in = p.getOutputStream()) {
            in.write(("/set temperature 0\nHello there\nWhat is two plus two?\n/save " + saved + "\n/set temperature hot\n/reset\n"
                    + "Hi again\n/quit\nthis line is never read\n").getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), err.get());
        List<String> a = expectedAnswers();
        assertEquals(a.get(0) + "\n" + a.get(1) + "\n" + a.get(2) + "\n", out,
                "only the answers on stdout, the second one with the first turn in context, the third after /reset");
        JsonArray conv = JsonParser.parseString(Files.readString(saved)).getAsJsonArray();
        assertEquals(4, conv.size(), "/save wrote the conversation so far");
        assertEquals("What is two plus two?", conv.get(2).getAsJsonObject().get("content").getAsString());
        assertEquals(a.get(1).strip(), conv.get(3).getAsJsonObject().get("content").getAsString());
        assertTrue(err.get().contains("(temperature = 0)") && err.get().contains("bad value 'hot' for temperature")
                && err.get().contains("(conversation cleared)"), err.get());
        assertFalse(err.get().contains("you> "), "no prompt when the input is not a terminal");
    }

    @Test
    void chatTakesGeneratesConstraintFlagsAJsonSchemaShapesEveryAnswer() throws Exception {
        String schema = "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}},\"required\":[\"ok\"]}";
        Process p = new ProcessBuilder(chat("--json-schema", schema, "--presence-penalty", "0.5", "-n", "200", "--seed", "7")).start();
        p.getOutputStream().write("Are you there?\nAnd now?\n".getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), err);
        boolean nativeEngine = phi2j.runtime.EngineChoice.of(ModelOptions.defaults()).kind() == phi2j.runtime.EngineKind.NATIVE;
        if (!nativeEngine) { // the binding cannot constrain the text: each turn is refused by name, nothing printed
            assertEquals("", out.strip(), "no answer on the binding");
            assertEquals(2, err.lines().filter(l -> l.contains("--json-schema") && l.contains("native engine")).count(), err);
            return;
        }
        // each answer is one JSON object (which may hold newlines as whitespace), one after the other
        List<com.google.gson.JsonElement> answers = new ArrayList<>();
        new com.google.gson.JsonStreamParser(out).forEachRemaining(answers::add);
        assertEquals(2, answers.size(), out);
        for (com.google.gson.JsonElement a : answers) {
            assertTrue(a.getAsJsonObject().get("ok").getAsJsonPrimitive().isBoolean(), out);
        }
    }

    @Test
    void badFlagsAreNamedBeforeTheModelLoads() {
        for (String[] bad : new String[][] {{"-n", "0"}, {"--temperature", "-1"}, {"--top-p", "1.5"}, {"--logprobs", "2"}}) {
            CliTest.Run r = CliTest.run("chat", "-m", TestModels.tiny().toString(), bad[0], bad[1]);
            assertEquals(Main.BAD_INPUT, r.exit(), String.join(" ", bad));
            assertTrue(r.err().contains(bad[0]), String.join(" ", bad) + ": " + r.err());
        }
    }

    /** Through a pseudo-terminal (util-linux script): the prompt, the streamed answer, and Ctrl-C stopping an answer. */
    @Test
    @EnabledOnOs(OS.LINUX)
    void inATerminalItPromptsAndCtrlCStopsAnAnswer() throws Exception {
        assumeScript();
        // the K-quant test model (8 blocks) answers slowly enough for a Ctrl-C to land while it streams
        List<String> args = new ArrayList<>(chat("-n", "1900", "--temperature", "0"));
        args.set(args.indexOf("1024"), "2048");
        args.set(args.indexOf(TestModels.tiny().toString()), TestModels.quantTest().toString());
        // exec: script runs $SHELL -c, and dash (CI's /bin/sh) stays as the parent, takes the same SIGINT from the
        // terminal and dies of it after the chat has exited 0 (script then reports 130)
        String cmd = "exec " + String.join(" ", args.stream().map(ChatCommandTest::quote).toList());
        Process p = new ProcessBuilder("script", "-qfec", cmd, "/dev/null").redirectErrorStream(true).start();
        StringBuilder seen = new StringBuilder();
        Thread reader = new Thread(() -> {
            try {
                byte[] b = new byte[4096];
                int n;
                while ((n = p.getInputStream().read(b)) > 0) {
                    synchronized (seen) {
                        seen.append(new String(b, 0, n, StandardCharsets.UTF_8));
                    }
                }
            } catch (java.io.IOException ignored) {
                // the process ended
            }
        });
        reader.start();
        OutputStream in = p.getOutputStream();
        waitFor(seen, "you> ", 60);
        in.write("Tell me a very long story\r".getBytes(StandardCharsets.UTF_8));
        in.flush();
        waitFor(seen, "Tell me a very long story", 30);
        int echoed;
        synchronized (seen) {
            echoed = seen.indexOf("Tell me a very long story") + 40;
        }
        long until = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < until) { // the answer has begun to stream
            synchronized (seen) {
                if (seen.length() > echoed + 20) {
                    break;
                }
            }
            Thread.sleep(5);
        }
        in.write(3); // Ctrl-C: the terminal turns it into SIGINT for the chat, which stops the answer
        in.flush();
        waitFor(seen, "[stopped]", 30);
        waitFor(seen, "you> ", 30, 2);
        in.write("/quit\r".getBytes(StandardCharsets.UTF_8));
        in.flush();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        reader.join(5000);
        assertEquals(0, p.exitValue(), seen.toString());
        String s;
        synchronized (seen) {
            s = seen.toString();
        }
        assertTrue(s.contains("phi2 chat: ") && s.contains("/help for commands"), s);
        assertTrue(s.contains("(stopping; press Ctrl-C again to quit at once)"), s);
    }

    static void assumeScript() {
        org.junit.jupiter.api.Assumptions.assumeTrue(new java.io.File("/usr/bin/script").canExecute() || "true".equals(System.getenv("CI")),
                "util-linux script is not installed: no pseudo-terminal to test with");
    }

    static void waitFor(StringBuilder seen, String text, int seconds) throws InterruptedException {
        waitFor(seen, text, seconds, 1);
    }

    static void waitFor(StringBuilder seen, String text, int seconds, int times) throws InterruptedException {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < end) {
            synchronized (seen) {
                if (count(seen.toString(), text) >= times) {
                    return;
                }
            }
            Thread.sleep(20);
        }
        synchronized (seen) {
            fail("'" + text + "' (x" + times + ") did not appear: " + seen);
        }
    }

    static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    static String quote(String a) {
        return "'" + a.replace("'", "'\\''") + "'";
    }
}
