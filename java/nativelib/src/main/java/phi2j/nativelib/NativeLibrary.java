package phi2j.nativelib;

import phi2j.Sha256;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Where the binding's llama.cpp library ({@code libjllama}) comes from. A custom build named by the user is used in
 * place. Otherwise the CPU build bundled in the {@code de.kherud:llama} jar is copied once into phi2j's
 * {@link PrivateCache} and checked against its sha256 before every use; the runner is then pointed at it, so the
 * binding never extracts anything to a shared temporary folder.
 */
public final class NativeLibrary {
    private NativeLibrary() {
    }

    /** The library file's name on this platform: libjllama.so, libjllama.dylib or jllama.dll. */
    public static String fileName() {
        return System.mapLibraryName("jllama");
    }

    /**
     * The folder holding the library to load: {@code custom} when given (it must contain the library), else the
     * verified cached copy of the bundled one.
     */
    public static Path resolve(Path custom) {
        if (custom != null) {
            Path lib = custom.resolve(fileName());
            if (!Files.isRegularFile(lib)) {
                throw new NativeLibraryException("no " + fileName() + " in " + custom.toAbsolutePath()
                        + "; build one with scripts/build-native.sh or leave the setting unset for the bundled CPU library");
            }
            return custom.toAbsolutePath();
        }
        return bundled().getParent();
    }

    /** The jar resource of the bundled library for this OS and architecture, named as the binding names it. */
    static String resourcePath() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String osDir = os.contains("win") ? "Windows" : os.contains("mac") || os.contains("darwin") ? "Mac" : "Linux";
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String archDir = switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            case "x86", "i386", "i686" -> "x86";
            default -> arch;
        };
        return "de/kherud/llama/" + osDir + "/" + archDir + "/" + fileName();
    }

    /** The bundled library's bytes and sha256, read from the jar once per JVM: the jar does not change under us. */
    private record Bundled(byte[] bytes, String sha) {
    }

    private static Bundled bundledBytes;

    private static Bundled bundledBytes() {
        if (bundledBytes == null) {
            String resource = resourcePath();
            try (InputStream in = NativeLibrary.class.getClassLoader().getResourceAsStream(resource)) {
                if (in == null) {
                    throw new NativeLibraryException("de.kherud:llama bundles no library for " + System.getProperty("os.name") + "/"
                            + System.getProperty("os.arch") + " (looked for " + resource + "); build one with scripts/build-native.sh and pass it with --lib");
                }
                byte[] bytes = in.readAllBytes();
                bundledBytes = new Bundled(bytes, Sha256.of(bytes));
            } catch (IOException e) {
                throw new NativeLibraryException("cannot read the bundled library " + resource + ": " + e.getMessage());
            }
        }
        return bundledBytes;
    }

    /** The verified cached copy of the bundled library, created on first use and checked by hash on every call. */
    public static Path bundled() {
        Bundled b = bundledBytes();
        Path dir = PrivateCache.folder("binding", java.util.List.of(
                new PrivateCache.Entry(fileName(), b.sha(), () -> new java.io.ByteArrayInputStream(b.bytes()))));
        return dir.resolve(fileName());
    }
}
