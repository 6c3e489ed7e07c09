package phi2j.cli.pull;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;
import phi2j.cli.Catalog;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** The pull operations shared by {@code phi2 pull}, {@code phi2 demo} and {@code phi2 generate}. */
public final class Pulls {
    /** Files of a Hugging Face checkpoint besides the weights; the optional ones may be absent. */
    public static final List<String> CHECKPOINT_FILES = List.of("config.json", "tokenizer.json");
    public static final List<String> OPTIONAL_FILES = List.of("generation_config.json", "tokenizer_config.json", "vocab.json",
            "merges.txt", "added_tokens.json", "special_tokens_map.json");

    private Pulls() {
    }

    public static Downloader downloader(PrintWriter log) {
        return new Downloader(System.getenv("HF_TOKEN"), 5, Duration.ofSeconds(Long.getLong("phi2.pull.stallSeconds", 60)),
                Duration.ofSeconds(1), Downloader.FILES, log);
    }

    /** Pulls a catalog model into the models folder, verified by the catalog's sha256 (or the server's). */
    public static Downloader.Result model(Catalog catalog, String name, Downloader d, PrintWriter log, phi2j.Progress progress) {
        Catalog.Entry e = catalog.find(name).orElseThrow(() -> new InvalidOptionException("NAME", "'" + name + "' is not in the catalog; "
                + "known: " + String.join(", ", catalog.models().stream().map(Catalog.Entry::name).toList())));
        if (!e.source().startsWith("http")) {
            throw new InvalidOptionException("NAME", e.name() + " is built locally, not downloaded: " + e.source());
        }
        Path target = catalog.dir().resolve(e.file());
        log.println("pull: " + e.name() + " (" + e.size() + ") from " + e.source());
        log.flush();
        Downloader.Result r = d.download(URI.create(e.source()), target, e.sha256(), progress);
        writeVerified(target, r.sha256());
        return r;
    }

    /** Records a verified download's sha256 beside it, so {@code phi2 list} need not hash gigabytes again. */
    public static void writeVerified(Path file, String sha) {
        try {
            Files.writeString(file.resolveSibling(file.getFileName() + ".sha256"), sha + "  " + file.getFileName() + "\n");
        } catch (IOException e) {
            throw new Phi2Exception("cannot write " + file + ".sha256: " + e.getMessage(), e);
        }
    }

    public static String endpoint(String option) {
        String e = option != null ? option : System.getenv("HF_ENDPOINT");
        return (e == null || e.isBlank() ? "https://huggingface.co" : e).replaceAll("/+$", "");
    }

    static URI fileUrl(String endpoint, String repo, String revision, String file) {
        return URI.create(endpoint + "/" + repo + "/resolve/" + URLEncoder.encode(revision, StandardCharsets.UTF_8) + "/" + file);
    }

    /** Downloads a checkpoint (config, tokenizer files, the safetensors index and its shards) into {@code dir}. */
    public static Path checkpoint(String endpoint, String repo, String revision, Path dir, Downloader d, PrintWriter log) {
        if (!repo.matches("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9._-]+")) {
            throw new InvalidOptionException("--hf", "'" + repo + "' is not a repository name like microsoft/phi-2");
        }
        Set<String> files = new LinkedHashSet<>(CHECKPOINT_FILES);
        for (String f : files) {
            get(endpoint, repo, revision, dir, f, d, log);
        }
        for (String f : OPTIONAL_FILES) {
            try {
                get(endpoint, repo, revision, dir, f, d, log);
            } catch (InvalidOptionException notThere) {
                log.println("pull: " + f + " not in " + repo + " (optional)");
            }
        }
        List<String> shards = new ArrayList<>();
        try {
            get(endpoint, repo, revision, dir, "model.safetensors.index.json", d, log);
            JsonObject idx = JsonParser.parseString(Files.readString(dir.resolve("model.safetensors.index.json"))).getAsJsonObject();
            for (JsonElement v : idx.getAsJsonObject("weight_map").asMap().values()) {
                String s = v.getAsString();
                if (!s.matches("[A-Za-z0-9._-]+\\.safetensors")) {
                    throw new Phi2Exception(repo + "'s index names an unexpected shard '" + s + "'");
                }
                if (!shards.contains(s)) {
                    shards.add(s);
                }
            }
        } catch (InvalidOptionException noIndex) {
            shards.add("model.safetensors");
        } catch (IOException | RuntimeException e) {
            if (e instanceof Phi2Exception pe) {
                throw pe;
            }
            throw new Phi2Exception("cannot read " + repo + "'s model.safetensors.index.json: " + e.getMessage(), e);
        }
        for (String s : shards) {
            get(endpoint, repo, revision, dir, s, d, log);
        }
        return dir;
    }

    private static void get(String endpoint, String repo, String revision, Path dir, String file, Downloader d, PrintWriter log) {
        URI url = fileUrl(endpoint, repo, revision, file);
        Downloader.Result r = d.download(url, dir.resolve(file), null, phi2j.Progress.NONE);
        log.printf(Locale.ROOT, "pull: %s %s (%d bytes, sha256 %s from %s)%n", r.alreadyPresent() ? "have" : "got", file, r.bytes(),
                r.sha256().substring(0, 12), r.checksumSource());
        log.flush();
    }
}
