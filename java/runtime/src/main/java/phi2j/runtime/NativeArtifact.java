package phi2j.runtime;

import phi2j.nativelib.NativeLibraryException;
import phi2j.nativelib.PrivateCache;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The native engine that {@code io.github.phi2j:phi2-native} jars carry: the portable engine for this platform
 * (classifier {@code linux-x86_64}) and any GPU backend add-on beside it ({@code linux-x86_64-vulkan}, {@code -cuda},
 * {@code -hip}), found on the classpath and extracted into the {@link PrivateCache}, every file checked against the
 * sha256 its jar lists. The engine then loads every backend module in that one folder.
 *
 * <p>A jar's layout (written by {@code scripts/native-jar.sh}): {@code phi2j/native/CLASSIFIER/files.sha256}, one
 * {@code "<sha256>  <file>"} line per file, and the files beside it.
 */
final class NativeArtifact {
    /** Where a jar keeps its files. */
    static final String PREFIX = "phi2j/native/";
    /** The list of a jar's files with their sha256, in sha256sum's format. */
    static final String INDEX = "files.sha256";
    /** The GPU backends that come as add-on jars. */
    static final List<String> GPU_ADDONS = List.of("cuda", "hip", "vulkan");

    /** One jar's part: its classifier and files. */
    public record Part(String classifier, List<PrivateCache.Entry> files) {
    }

    /** An extracted engine: its folder and the jars it came from. */
    public record Extracted(Path dir, List<String> classifiers) {
    }

    private NativeArtifact() {
    }

    /** This platform's classifier: linux-x86_64, linux-aarch64, mac-aarch64, ... */
    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String osName = os.contains("linux") ? "linux" : os.contains("mac") || os.contains("darwin") ? "mac" : os.contains("win") ? "windows" : os;
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String archName = switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch;
        };
        return osName + "-" + archName;
    }

    /** The engine jars for this platform on the classpath, extracted; empty when there is no phi2-native jar for it. */
    static Optional<Extracted> extract() {
        List<Part> parts = parts();
        if (parts.isEmpty()) {
            return Optional.empty();
        }
        // one folder for the engine and its add-ons; a file two jars both carry (llama.cpp's licence) must be the same file
        java.util.Map<String, PrivateCache.Entry> all = new java.util.LinkedHashMap<>();
        for (Part p : parts) {
            for (PrivateCache.Entry e : p.files()) {
                PrivateCache.Entry before = all.putIfAbsent(e.name(), e);
                if (before != null && !before.sha256().equals(e.sha256())) {
                    throw new phi2j.nativelib.NativeLibraryException("the phi2-native jars " + parts.stream().map(Part::classifier).toList()
                            + " carry different copies of " + e.name() + ": take all of them from one release");
                }
            }
        }
        return Optional.of(new Extracted(PrivateCache.folder("engine", List.copyOf(all.values())), parts.stream().map(Part::classifier).toList()));
    }

    /** The core jar's part and each add-on's, as found on the classpath. */
    static List<Part> parts() {
        String platform = platform();
        Optional<Part> core = part(platform);
        if (core.isEmpty()) {
            return List.of();
        }
        List<Part> parts = new ArrayList<>(List.of(core.get()));
        for (String gpu : GPU_ADDONS) {
            part(platform + "-" + gpu).ifPresent(parts::add);
        }
        return parts;
    }

    private static Optional<Part> part(String classifier) {
        String base = PREFIX + classifier + "/";
        String index;
        try (InputStream in = resource(base + INDEX)) {
            if (in == null) {
                return Optional.empty();
            }
            index = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new NativeLibraryException("cannot read " + base + INDEX + " from the phi2-native jar on the classpath: " + e.getMessage());
        }
        List<PrivateCache.Entry> files = new ArrayList<>();
        for (String line : index.lines().filter(l -> !l.isBlank()).toList()) {
            String[] f = line.split(" [ *]", 2);
            if (f.length != 2) {
                throw new NativeLibraryException(base + INDEX + " in the phi2-native jar " + classifier + " is damaged at '" + line + "'");
            }
            String name = f[1].strip();
            files.add(new PrivateCache.Entry(name, f[0], () -> {
                InputStream in = resource(base + name);
                if (in == null) {
                    throw new IOException("the phi2-native jar " + classifier + " lists " + name + " but does not hold it");
                }
                return in;
            }));
        }
        return Optional.of(new Part(classifier, files));
    }

    private static InputStream resource(String name) {
        ClassLoader own = NativeArtifact.class.getClassLoader();
        InputStream in = own == null ? null : own.getResourceAsStream(name);
        ClassLoader context = Thread.currentThread().getContextClassLoader();
        if (in == null && context != null && context != own) {
            in = context.getResourceAsStream(name);
        }
        return in;
    }
}
