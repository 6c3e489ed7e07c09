package phi2j.nativelib;

import phi2j.OwnerOnly;
import phi2j.Sha256;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Where the llama.cpp library ({@code libjllama}) comes from. A custom build (the GPU one) named by the user
 * is used in place. Otherwise the CPU build bundled in the {@code de.kherud:llama} jar is copied once into a
 * private per-user cache, in a folder named by its sha256, and checked against that hash before every use;
 * the runner is then pointed at it, so the binding never extracts anything to a shared temporary folder.
 *
 * <p>Cache folder: {@code $PHI2_CACHE_DIR}, else {@code -Dphi2.cache.dir}, else {@code $XDG_CACHE_HOME/phi2j},
 * else {@code ~/.cache/phi2j}. Folders are created owner-only; a folder or file there that another user
 * owns, or that others can write, is refused.
 */
public final class NativeLibrary {
    private static final Set<PosixFilePermission> GROUP_OR_OTHER_WRITE =
            Set.of(PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_WRITE);

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

    /** The cache root in use. */
    public static Path cacheRoot() {
        String env = System.getenv("PHI2_CACHE_DIR");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        String prop = System.getProperty("phi2.cache.dir");
        if (prop != null && !prop.isBlank()) {
            return Path.of(prop);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "phi2j");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "phi2j");
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
    public static synchronized Path bundled() {
        Bundled b = bundledBytes();
        byte[] bytes = b.bytes();
        String sha = b.sha();
        Path root = cacheRoot();
        Path dir = root.resolve("native").resolve(sha);
        Path lib = dir.resolve(fileName());
        try {
            privateDirectory(root);
            privateDirectory(root.resolve("native"));
            privateDirectory(dir);
            if (Files.exists(lib, LinkOption.NOFOLLOW_LINKS)) {
                checkOwnedAndNotWritableByOthers(lib);
                if (sha.equals(Sha256.of(lib))) {
                    return lib;
                }
                // Ours but damaged or half-written by a crash long ago: replace it atomically.
            }
            Path tmp = dir.resolve("." + fileName() + ".tmp-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap(bytes));
                ch.force(true);
            }
            try {
                Files.move(tmp, lib, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException | FileAlreadyExistsException e) {
                Files.deleteIfExists(tmp);
            }
            checkOwnedAndNotWritableByOthers(lib);
            if (!sha.equals(Sha256.of(lib))) {
                throw new NativeLibraryException(lib + " does not match the bundled library's sha256 " + sha + " after writing it");
            }
            return lib;
        } catch (IOException e) {
            throw new NativeLibraryException("cannot prepare the native library cache " + dir + ": " + e.getMessage()
                    + " (set PHI2_CACHE_DIR to a private folder you own)");
        }
    }

    /** Creates {@code dir} owner-only if missing; refuses one that is a link, not ours, or writable by others. */
    static void privateDirectory(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            try {
                OwnerOnly.createDirectory(dir);
            } catch (FileAlreadyExistsException raced) {
                // another process made it at the same moment; it is checked below like any existing folder
            } catch (java.nio.file.NoSuchFileException parentMissing) {
                Files.createDirectories(dir.getParent());
                privateDirectory(dir);
                return;
            }
        }
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new NativeLibraryException(dir + " is not a plain folder (a file or a link); refusing to use it for the native library cache");
        }
        checkOwnedAndNotWritableByOthers(dir);
    }

    private static void checkOwnedAndNotWritableByOthers(Path p) throws IOException {
        if (!OwnerOnly.posix()) {
            return;
        }
        PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (a.isSymbolicLink()) {
            throw new NativeLibraryException(p + " is a symbolic link; refusing it in the native library cache");
        }
        String me = System.getProperty("user.name");
        if (!a.owner().getName().equals(me)) {
            throw new NativeLibraryException(p + " belongs to " + a.owner().getName() + ", not to " + me
                    + "; refusing to load code from it (remove it or set PHI2_CACHE_DIR)");
        }
        if (!java.util.Collections.disjoint(a.permissions(), GROUP_OR_OTHER_WRITE)) {
            throw new NativeLibraryException(p + " is writable by other users (" + PosixFilePermissions.toString(a.permissions())
                    + "); refusing to load code from it (chmod go-w it, or remove it)");
        }
    }
}
