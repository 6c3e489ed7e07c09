package phi2j.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import phi2j.InvalidOptionException;
import phi2j.format.GgmlType;
import phi2j.format.GgufReader;
import phi2j.format.GgufTensorInfo;
import phi2j.runtime.EngineKind;
import phi2j.runtime.GenerationOptions;
import phi2j.runtime.GenerationResult;
import phi2j.runtime.LayerPlacement;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "verify", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Check a GPU build or a quantized file against a reference.",
        description = {"Runs the walkthrough's six prompts through two models and compares the next-token probabilities at",
                "evenly spaced positions of each prompt: top-1 agreement, the largest probability difference |dp| and the KL",
                "divergence, against tolerances for the weight type. Prints PASS, or FAIL (exit 1) naming the prompts and positions.",
                "By default the model with the given options (all layers on the GPU unless -ngl says otherwise) is checked against",
                "the same file on the CPU backend (-ngl 0): a GPU device must take at least one layer, else it is an error, never a",
                "PASS. The header says where llama.cpp put the layers. With --against FILE, against another file with the same",
                "options, for example a quantized model against its F16 source (on the GPU when there is one, else the CPU).",
                "Needs the native engine (its log-probabilities)."})
public final class VerifyCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelMixin model;

    @Mixin
    LoggingMixin logging;

    @Option(names = "--against", paramLabel = "FILE", description = "Compare with this GGUF file (same options) instead of the CPU backend.")
    Path against;

    @Option(names = "--positions", paramLabel = "N", description = "Positions compared per prompt (default: ${DEFAULT-VALUE}).")
    int positions = 8;

    @Option(names = "--top", paramLabel = "N", description = "Candidates compared per position, 1 to 20 (default: ${DEFAULT-VALUE}).")
    int top = 20;

    @Option(names = "--json", description = "Print the verdict and every position as one JSON object.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        logging.apply();
        if (positions < 1 || positions > 256) {
            throw new InvalidOptionException("--positions", "must be between 1 and 256, not " + positions);
        }
        if (top < 1 || top > GenerationOptions.MAX_LOGPROBS) {
            throw new InvalidOptionException("--top", "must be between 1 and " + GenerationOptions.MAX_LOGPROBS + ", not " + top);
        }
        Path file = model.modelPath();
        if (against != null && !Files.isRegularFile(against)) {
            throw new InvalidOptionException("--against", "file " + against + " does not exist");
        }
        ModelOptions base = model.options();
        boolean nglGiven = spec.commandLine().getParseResult().hasMatchedOption("-ngl");
        // with --against and no -ngl, the GPU is not asked for: the layers go where a device is, and the header says where
        ModelOptions tested = nglGiven ? base : base.toBuilder().gpuLayers(-1).allowCpuFallback(base.allowCpuFallback() || against != null).build();
        ModelOptions reference = against != null ? tested : tested.withGpuLayers(0);
        if (phi2j.runtime.EngineChoice.of(tested).kind() != EngineKind.NATIVE) {
            throw new InvalidOptionException("--engine", "phi2 verify needs the native engine's log-probabilities: build it with "
                    + "scripts/build-native.sh cpu (or pass --lib with a native engine build)");
        }
        Path referenceFile = against != null ? against : file;
        Verification.Tolerance tol = Verification.tolerance(weightType(file), weightType(referenceFile));
        PrintWriter err = spec.commandLine().getErr();

        List<Verification.Position> compared = new ArrayList<>();
        String testedLabel;
        String referenceLabel;
        LayerPlacement placement;
        try (Phi2Model t = Phi2Model.open(file, tested); Phi2Model r = Phi2Model.open(referenceFile, reference)) {
            placement = t.info().placement();
            if (against == null && !placement.offloaded()) {
                // reachable with --allow-cpu-fallback: the CPU against itself proves nothing about a GPU
                throw new InvalidOptionException("gpuLayers", "no layer of " + file.getFileName() + " left the CPU (" + placement.summary()
                        + "): a GPU check needs a GPU device to take them; phi2 verify compares nothing here");
            }
            testedLabel = label(file, tested, t);
            referenceLabel = label(referenceFile, reference, r);
            if (!json) {
                err.println("verify: " + testedLabel + "\n    against " + referenceLabel);
            }
            GenerationOptions next = GenerationOptions.greedy().withMaxNewTokens(1).withLogprobs(top).withIgnoreEndOfText(true);
            for (int i = 0; i < DemoPrompts.TASKS.size(); i++) {
                int[] tokens = r.tokenize(DemoPrompts.TASKS.get(i).prompt());
                if (!Arrays.equals(tokens, t.tokenize(DemoPrompts.TASKS.get(i).prompt()))) {
                    throw new InvalidOptionException("--against", referenceFile + " tokenizes the prompts differently from " + file
                            + ": the two are not the same model family");
                }
                for (int k : positionsOf(tokens.length, positions)) {
                    String context = r.detokenize(Arrays.copyOf(tokens, k));
                    GenerationResult a = r.generate(context, next);
                    GenerationResult b = t.generate(context, next);
                    compared.add(Verification.compare(i + 1, k, a.logprobs().get(0).top(), b.logprobs().get(0).top(), tol));
                }
            }
        }
        Verification.Summary s = Verification.summarize(compared, tol);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(json(s, testedLabel, referenceLabel, placement));
        } else {
            print(out, s);
        }
        out.flush();
        return s.passed() ? Main.OK : Main.CHECK_FAILED;
    }

    /** {@code n} evenly spaced context lengths in 1..tokens, the last being the whole prompt. */
    static List<Integer> positionsOf(int tokens, int n) {
        List<Integer> out = new ArrayList<>();
        for (int j = 1; j <= n; j++) {
            int k = (int) Math.max(1, Math.round((double) j * tokens / n));
            if (out.isEmpty() || out.get(out.size() - 1) != k) {
                out.add(k);
            }
        }
        return out;
    }

    /** The type of most weight matrices, by which the tolerance is chosen. */
    private static GgmlType weightType(Path gguf) {
        return GgufReader.read(gguf).tensor("blk.0.ffn_up.weight").map(GgufTensorInfo::type).orElse(GgmlType.F32);
    }

    /** "tiny-phi2.gguf (-ngl 99: 33/33 layers on Vulkan0 (llvmpipe ...), KV cache on Vulkan0; backends Vulkan, CPU (haswell); LIBRARY)". */
    private static String label(Path file, ModelOptions o, Phi2Model m) {
        return file.getFileName() + " (-ngl " + o.gpuLayers() + ": " + m.info().placement().summary() + "; backends "
                + m.info().backends().summary() + "; " + m.info().nativeLibrary() + ")";
    }

    private static void print(PrintWriter out, Verification.Summary s) {
        Verification.Tolerance tol = s.tolerance();
        String verdict = s.passed() ? "PASS" : "FAIL";
        out.printf(Locale.ROOT, "%s: %d positions, top-1 agreement %d/%d, worst |dp| %.5f (limit %.5f), mean KL %.6f (limit %.6f)%n",
                verdict, s.positions(), s.top1Agreements(), s.positions(), s.worstAbsDp(), tol.maxAbsDp(), s.meanKl(), tol.meanKl());
        for (Verification.Position p : s.failures()) {
            out.printf(Locale.ROOT, "  prompt %d after %d tokens: |dp| %.5f, KL %.5f, top-1 %s%n", p.prompt(), p.contextTokens(),
                    p.maxAbsDp(), p.kl(), p.top1Agrees() ? "agrees" : "differs (" + quote(p.referenceTop()) + " vs " + quote(p.testedTop()) + ")");
        }
        if (!s.passed() && s.failures().isEmpty()) {
            out.printf(Locale.ROOT, "  the mean KL %.6f is over its limit %.6f%n", s.meanKl(), tol.meanKl());
        }
    }

    private static String quote(String token) {
        return new com.google.gson.Gson().toJson(token);
    }

    private static String json(Verification.Summary s, String tested, String reference, LayerPlacement placement) {
        JsonObject o = new JsonObject();
        o.addProperty("verdict", s.passed() ? "PASS" : "FAIL");
        o.addProperty("tested", tested);
        o.addProperty("reference", reference);
        o.addProperty("placement", placement.summary());
        o.addProperty("offloadedLayers", placement.offloadedLayers());
        o.addProperty("totalLayers", placement.totalLayers());
        o.addProperty("positions", s.positions());
        o.addProperty("top1Agreements", s.top1Agreements());
        o.addProperty("worstAbsDp", s.worstAbsDp());
        o.addProperty("meanKl", s.meanKl());
        o.addProperty("maxAbsDpLimit", s.tolerance().maxAbsDp());
        o.addProperty("meanKlLimit", s.tolerance().meanKl());
        JsonArray f = new JsonArray();
        for (Verification.Position p : s.failures()) {
            JsonObject j = new JsonObject();
            j.addProperty("prompt", p.prompt());
            j.addProperty("contextTokens", p.contextTokens());
            j.addProperty("maxAbsDp", p.maxAbsDp());
            j.addProperty("kl", p.kl());
            j.addProperty("top1Agrees", p.top1Agrees());
            j.addProperty("referenceTop", p.referenceTop());
            j.addProperty("testedTop", p.testedTop());
            f.add(j);
        }
        o.add("failures", f);
        return new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(o);
    }
}
