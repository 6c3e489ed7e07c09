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
 * GpuCheckReport row TYPE verify-TYPE.json            one markdown row of the verify table
 * GpuCheckReport json devices.json bench.json verify-TYPE.json...   everything as one JSON object
 * </pre>
 */
public final class GpuCheckReport {
    private GpuCheckReport() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length == 3 && args[0].equals("row")) {
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
            System.err.println("usage: GpuCheckReport row TYPE VERIFY.json | json DEVICES.json BENCH.json VERIFY.json...");
            System.exit(2);
        }
    }

    static String row(String type, JsonObject v) {
        return String.format(Locale.ROOT, "| %s | %s | %d | %d/%d | %.5f (%.5f) | %.6f (%.6f) |", type, v.get("verdict").getAsString(),
                v.get("positions").getAsInt(), v.get("top1Agreements").getAsInt(), v.get("positions").getAsInt(),
                v.get("worstAbsDp").getAsDouble(), v.get("maxAbsDpLimit").getAsDouble(), v.get("meanKl").getAsDouble(),
                v.get("meanKlLimit").getAsDouble());
    }

    private static com.google.gson.JsonElement read(Path p) throws IOException {
        return JsonParser.parseString(Files.readString(p));
    }
}
