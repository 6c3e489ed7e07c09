package phi2j.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import phi2j.InvalidOptionException;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.Phi2Model;
import phi2j.runtime.Timings;
import phi2j.runtime.TokenStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

@Command(name = "generate", mixinStandardHelpOptions = true, header = "Generate text from a prompt.",
        description = "Generate text from a prompt (-p, or standard input).", sortOptions = false)
public final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelMixin model;

    @Mixin
    SamplingMixin sampling;

    @Mixin
    LoggingMixin logging;

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "The prompt; read from standard input when absent.")
    String prompt;

    @Option(names = "--no-escape", description = "Take \\n and \\t in -p literally (by default they mean newline and tab).")
    boolean noEscape;

    @Option(names = "--stream", description = "Print text as it is generated.")
    boolean stream;

    @Option(names = "--json", description = "Print the whole result (text, counts, stop reason, timings) as one JSON object on stdout.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        logging.apply();
        if (stream && json) {
            throw new InvalidOptionException("--stream", "cannot be combined with --json");
        }
        String text = prompt != null ? (noEscape ? prompt : SamplingMixin.unescape(prompt))
                : new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
        var genOptions = sampling.options();
        var modelOptions = model.options();
        checkLengthBeforeLoading(genOptions, modelOptions);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();

        try (Phi2Model m = Phi2Model.open(model.modelPath(), modelOptions)) {
            err.println("Loaded in " + Format.seconds(m.loadTime()) + " seconds");
            err.flush();
            GenerationResult r;
            try (TokenStream s = m.stream(text, genOptions)) {
                r = Interrupts.drain(s, piece -> {
                    if (stream) {
                        out.print(piece);
                        out.flush();
                    }
                });
            }
            if (json) {
                out.println(toJson(r, m));
            } else {
                if (!stream) {
                    out.print(r.text());
                }
                out.println();
            }
            out.flush();
            Timings t = r.timings();
            err.println("Generated in " + Format.seconds(t.total()) + " seconds (" + r.generatedTokens() + " tokens, "
                    + Format.rate(t.tokensPerSecond()) + " tokens/s, prompt " + r.promptTokens() + " tokens at "
                    + Format.rate(t.promptTokensPerSecond()) + " tokens/s, first token after " + Format.seconds(t.timeToFirstToken())
                    + " s, stop: " + Format.stop(r.stopReason()) + ", engine: " + m.info().engine().label() + " " + m.info().llamaCpp() + ")");
            err.flush();
            return r.stopReason() == phi2j.runtime.StopReason.CANCELLED ? Main.INTERRUPTED : Main.OK;
        }
    }

    /**
     * A length that cannot fit the context is known from the file's header: say so before the model loads. The
     * prompt-dependent checks (a prompt longer than --max-length) wait for the tokenizer.
     */
    private void checkLengthBeforeLoading(phi2j.runtime.GenerationOptions g, phi2j.runtime.ModelOptions o) {
        if (g.maxLength() == null && g.maxNewTokens() == null) {
            return; // the default length adapts to the context: nothing to check, and no header to read twice
        }
        java.nio.file.Path file = model.model;
        if (o.contextSize() == 0 && file == null) {
            return; // the default model may not be downloaded yet: the check comes with the generation, by the same name
        }
        int context = o.contextSize() > 0 ? o.contextSize()
                : (int) phi2j.format.Phi2Layout.check(phi2j.format.GgufReader.read(file)).contextLength();
        try {
            g.checkLimitFits(context); // the library's check (by field name), with where the context came from
        } catch (InvalidOptionException e) {
            throw new InvalidOptionException(e.option(), e.problem()
                    + (o.contextSize() > 0 ? " (-c)" : " of " + file.getFileName() + "; raise it with -c"));
        }
    }

    static String toJson(GenerationResult r, Phi2Model m) {
        JsonObject o = new JsonObject();
        o.addProperty("text", r.text());
        o.addProperty("promptTokens", r.promptTokens());
        o.addProperty("generatedTokens", r.generatedTokens());
        o.addProperty("stopReason", r.stopReason().name());
        JsonObject t = new JsonObject();
        Timings tm = r.timings();
        t.addProperty("loadSeconds", m.loadTime().toNanos() / 1e9);
        JsonObject stages = new JsonObject(); // where loadSeconds went; a stage the engine cannot report is left out
        for (phi2j.runtime.LoadBreakdown.Stage s : m.info().loadBreakdown().stages()) {
            stages.addProperty(s.key() + "Seconds", s.duration().toNanos() / 1e9);
        }
        t.add("loadStages", stages);
        t.addProperty("timeToFirstTokenSeconds", tm.timeToFirstToken().toNanos() / 1e9);
        t.addProperty("totalSeconds", tm.total().toNanos() / 1e9);
        t.addProperty("promptEvalSeconds", tm.promptEval().toNanos() / 1e9);
        t.addProperty("generationSeconds", tm.generation().toNanos() / 1e9);
        t.addProperty("tokensPerSecond", tm.tokensPerSecond());
        t.addProperty("promptTokensPerSecond", tm.promptTokensPerSecond());
        o.add("timings", t);
        if (!r.logprobs().isEmpty()) {
            com.google.gson.JsonArray lps = new com.google.gson.JsonArray();
            for (phi2j.runtime.TokenLogprob lp : r.logprobs()) {
                JsonObject e = new JsonObject();
                e.addProperty("token", lp.token());
                e.addProperty("text", lp.text());
                e.addProperty("logprob", lp.logprob());
                com.google.gson.JsonArray top = new com.google.gson.JsonArray();
                for (phi2j.runtime.TokenLogprob.Alternative a : lp.top()) {
                    JsonObject ae = new JsonObject();
                    ae.addProperty("token", a.token());
                    ae.addProperty("text", a.text());
                    ae.addProperty("logprob", a.logprob());
                    top.add(ae);
                }
                e.add("top", top);
                lps.add(e);
            }
            o.add("logprobs", lps);
        }
        o.addProperty("engine", m.info().engine().label());
        o.addProperty("llamaCpp", m.info().llamaCpp());
        o.addProperty("placement", m.info().placement().summary());
        JsonObject mo = new JsonObject();
        mo.addProperty("path", m.info().path().toString());
        mo.addProperty("name", m.info().name());
        mo.addProperty("contextSize", m.info().contextSize());
        mo.addProperty("nativeLibrary", m.info().nativeLibrary());
        o.add("model", mo);
        return new GsonBuilder().disableHtmlEscaping().create().toJson(o);
    }
}
