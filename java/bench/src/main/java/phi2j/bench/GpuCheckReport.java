package phi2j.bench;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The tables of scripts/gpu-check.sh from the files its steps wrote.
 * <pre>
 * GpuCheckReport verdict verify-TYPE.json [--all-layers]   PASS (exit 0) or FAIL (exit 1) from a phi2 verify --json file;
 *                                                     exit 2 when the file is missing, empty or has no verdict, or, with
 *                                                     --all-layers, when not every layer ran off the CPU
 * GpuCheckReport row TYPE verify-TYPE.json            one markdown row of the verify table
 * GpuCheckReport json devices.json bench.json verify-TYPE.json...   everything as one JSON object
 * </pre>
 */
public final class GpuCheckReport {
    private GpuCheckReport() {
    }

    public static void main(String[] args) throws IOException {
        if ((args.length == 2 || args.length == 3 && args[2].equals("--all-layers")) && args[0].equals("verdict")) {
            String problem = problem(Path.of(args[1]), args.length == 3);
            if (problem != null) {
                System.err.println("GpuCheckReport: " + args[1] + ": " + problem);
                System.exit(2);
            }
            String verdict = read(Path.of(args[1])).getAsJsonObject().get("verdict").getAsString();
            System.out.println(verdict);
            System.exit(verdict.equals("PASS") ? 0 : 1);
        } else if (args.length == 3 && args[0].equals("row")) {
            System.out.println(row(args[1], read(Path.of(args[2])).getAsJsonObject()));
        } else if (args.length >= 3 && args[0].equals("json")) {
            JsonObject o = new JsonObject();
            o.add("devices", read(Path.of(args[1])));
            o.add("bench", read(Path.of(args[2])));
            JsonObject verify = new JsonObject();
            for (int i = 3; i < args.length; i++) {
                String name = Path.of(args[i]).getFileName().toString().replaceFirst("^verify-", "").replaceFirst("\\.json$", "");
                verify.add(name, read(Path.of(args[i])));
            }
            o.add("verify", verify);
            System.out.println(new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(o));
        } else {
            System.err.println("usage: GpuCheckReport verdict VERIFY.json [--all-layers] | row TYPE VERIFY.json | json DEVICES.json BENCH.json VERIFY.json...");
            System.exit(2);
        }
    }

    /** What makes a verify result no result: null when it has a verdict (and, with {@code allLayers}, ran wholly off the CPU). */
    static String problem(Path file, boolean allLayers) throws IOException {
        if (!Files.isRegularFile(file) || Files.size(file) == 0) {
            return "no result (missing or empty)";
        }
        JsonObject v;
        try {
            v = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        } catch (RuntimeException e) {
            return "not a phi2 verify --json object: " + e.getMessage();
        }
        String verdict = v.has("verdict") && v.get("verdict").isJsonPrimitive() ? v.get("verdict").getAsString() : "";
        if (!verdict.equals("PASS") && !verdict.equals("FAIL")) {
            return "no verdict (\"" + verdict + "\")";
        }
        if (allLayers) {
            int off = v.has("offloadedLayers") ? v.get("offloadedLayers").getAsInt() : -1;
            int total = v.has("totalLayers") ? v.get("totalLayers").getAsInt() : -1;
            if (total <= 0 || off != total) {
                return "not every layer ran on the GPU: " + off + "/" + total + " (" + (v.has("placement") ? v.get("placement").getAsString() : "") + ")";
            }
        }
        return null;
    }

    static String row(String type, JsonObject v) {
        return String.format(Locale.ROOT, "| %s | %s | %s | %d | %d/%d | %.5f (%.5f) | %.6f (%.6f) |", type, v.get("verdict").getAsString(),
                v.has("offloadedLayers") ? v.get("offloadedLayers").getAsInt() + "/" + v.get("totalLayers").getAsInt() : "?",
                v.get("positions").getAsInt(), v.get("top1Agreements").getAsInt(), v.get("positions").getAsInt(),
                v.get("worstAbsDp").getAsDouble(), v.get("maxAbsDpLimit").getAsDouble(), v.get("meanKl").getAsDouble(),
                v.get("meanKlLimit").getAsDouble());
    }

    private static com.google.gson.JsonElement read(Path p) throws IOException {
        return JsonParser.parseString(Files.readString(p));
    }
}
