package phi2j.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import phi2j.runtime.NativeEngineBuild;
import phi2j.testkit.TestModels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** --engine on the command line: the native engine's exact counts and logprobs in --json, and its errors (exit 2). */
class EngineCommandTest {
    private static final String TINY = TestModels.tiny().toString();

    static Path build() {
        Path dir = NativeEngineBuild.defaultDir().orElse(Path.of("native/build/cpu"));
        boolean present = NativeEngineBuild.isEngineBuild(dir);
        if (!present && "true".equals(System.getenv("CI"))) {
            fail("CI=true but there is no native engine build at " + dir + " (.ci/run builds it)");
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(present, "no native engine build at " + dir + ": scripts/build-native.sh cpu");
        return dir;
    }

    @Test
    void maxLengthAndLogprobsInJsonWithoutAnyLogParsing() {
        build();
        CliTest.Run r = CliTest.run("generate", "-m", TINY, "-p", "Instruct: What is a GPU?\\nOutput:", "--max-length", "40",
                "--engine", "native", "--logprobs", "3", "--json", "--ignore-eos", "-c", "256");
        assertEquals(0, r.exit(), r.err());
        JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
        int prompt = o.get("promptTokens").getAsInt();
        int generated = o.get("generatedTokens").getAsInt();
        assertEquals(40, prompt + generated);
        assertEquals("native", o.get("engine").getAsString());
        assertTrue(o.get("llamaCpp").getAsString().startsWith(NativeEngineBuild.LLAMA_CPP_VERSION), o.toString());
        JsonArray lps = o.getAsJsonArray("logprobs");
        assertEquals(generated, lps.size());
        JsonObject first = lps.get(0).getAsJsonObject();
        assertEquals(3, first.getAsJsonArray("top").size());
        assertTrue(first.get("logprob").getAsDouble() <= 0);
        assertTrue(r.err().contains("engine: native " + NativeEngineBuild.LLAMA_CPP_VERSION), r.err());
    }

    @Test
    void logprobsWithTheBindingAreRefusedByTheEngineNamingTheFlag() {
        // one refusal, the binding engine's own (typed: field logprobs), which the CLI names by its flag
        CliTest.Run r = CliTest.run("generate", "-m", TINY, "-p", "hi", "-n", "2", "--engine", "binding", "--logprobs", "2", "--json");
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().contains("phi2: --logprobs: needs the native engine"), r.err());
        assertEquals("", r.out(), "nothing generated, no partial JSON");
    }

    @Test
    void aMissingOrMismatchedNativeBuildExitsTwoNamingThePath(@TempDir Path dir) throws IOException {
        Path missing = dir.resolve("no-build");
        CliTest.Run r = CliTest.run("generate", "-m", TINY, "-p", "hi", "-n", "2", "--engine", "native", "--lib", missing.toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().contains(missing.toString()), r.err());

        Path fake = dir.resolve("old-build");
        Files.createDirectories(fake);
        Files.writeString(fake.resolve("manifest.json"), "{\"engine\": \"phi2j-native\", \"engineAbi\": 1, \"preset\": \"cpu\", "
                + "\"llamaCppVersion\": \"0.4.0\"}");
        r = CliTest.run("generate", "-m", TINY, "-p", "hi", "-n", "2", "--engine", "native", "--lib", fake.toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().contains(fake.toString()) && r.err().contains("0.4.0") && r.err().contains("scripts/build-native.sh cpu"), r.err());

        r = CliTest.run("generate", "-m", TINY, "-p", "hi", "--logprobs", "21");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("--logprobs: must be 0 (off) to 20"), r.err());

        r = CliTest.run("generate", "-m", TINY, "-p", "hi", "--engine", "turbo");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("--engine") && r.err().contains("turbo"), r.err());
    }

    @Test
    void jsonSchemaAndGrammarFileConstrainTheTextAndBadOnesNameTheirFlags(@TempDir Path dir) throws IOException {
        build();
        String schema = "{\"type\": \"object\", \"properties\": {\"ok\": {\"type\": \"boolean\"}}, \"required\": [\"ok\"], \"additionalProperties\": false}";
        CliTest.Run r = CliTest.run("generate", "-m", TINY, "-p", "Answer:", "-n", "40", "--engine", "native", "-c", "256", "--json-schema", schema);
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().replaceAll("\\s", "").matches("\\{\"ok\":(true|false)}"), r.out());
        Path file = dir.resolve("schema.json");
        Files.writeString(file, schema);
        CliTest.Run fromFile = CliTest.run("generate", "-m", TINY, "-p", "Answer:", "-n", "40", "--engine", "native", "-c", "256", "--json-schema", file.toString());
        assertEquals(r.out(), fromFile.out(), fromFile.err());
        Path gbnf = dir.resolve("yes-no.gbnf");
        Files.writeString(gbnf, "root ::= \"yes\" | \"no\"\n");
        CliTest.Run g = CliTest.run("generate", "-m", TINY, "-p", "Answer:", "-n", "8", "--engine", "native", "-c", "256", "--grammar-file", gbnf.toString());
        assertEquals(0, g.exit(), g.err());
        assertTrue(g.out().strip().equals("yes") || g.out().strip().equals("no"), g.out());

        CliTest.Run missing = CliTest.run("generate", "-m", TINY, "-p", "x", "-n", "2", "--engine", "native", "--grammar-file", dir.resolve("none.gbnf").toString());
        assertEquals(2, missing.exit(), missing.err());
        assertTrue(missing.err().contains("--grammar-file: cannot read") && missing.err().contains("none.gbnf"), missing.err());
        CliTest.Run unsupported = CliTest.run("generate", "-m", TINY, "-p", "x", "-n", "2", "--engine", "native", "-c", "256",
                "--json-schema", "{\"type\": \"integer\", \"multipleOf\": 3}");
        assertEquals(2, unsupported.exit(), unsupported.err());
        assertTrue(unsupported.err().contains("--json-schema: uses what llama.cpp's converter cannot follow") && unsupported.err().contains("multipleOf"),
                unsupported.err());
        assertEquals("", unsupported.out());
    }
}
