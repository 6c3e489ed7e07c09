package phi2j.nativelib;

import phi2j.OwnerOnly;
import phi2j.Sha256;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * phi2j's private per-user cache for code it loads or starts: the binding's bundled library, the native engine that
 * the {@code phi2-native} jars carry, the runner's jar. Each set of files lives in a folder named by the hash of its
 * contents, written once under a temporary name and renamed into place (several JVMs starting together each get a
 * complete folder, never a half-written one), and checked against each file's sha256 before every use. Folders are
 * owner-only; a folder or file there that is a link, that another user owns, or that others can write is refused.
 *
 * <p>The root: {@code $PHI2_CACHE_DIR}, else {@code -Dphi2.cache.dir}, else {@code $XDG_CACHE_HOME/phi2j}, else
 * {@code ~/.cache/phi2j}.
 */
public final class PrivateCache {
    private static final Set<PosixFilePermission> GROUP_OR_OTHER_WRITE =
            Set.of(PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_WRITE);

    /** Where one file's bytes come from. */
    public interface Content {
        InputStream open() throws IOException;
    }

    /** One file of a cached set: its name in the folder, its expected sha256 (hex) and its bytes. */
    public record Entry(String name, String sha256, Content content) {
        public Entry {
            if (name.isEmpty() || name.contains("/") || name.startsWith(".")) {
                throw new IllegalArgumentException("not a plain file name: '" + name + "'");
            }
            if (!sha256.matches("[0-9a-f]{64}")) {
                throw new IllegalArgumentException("not a sha256: '" + sha256 + "' for " + name);
            }
        }
    }

    /** Files this JVM has hashed, with what they looked like then: an unchanged file is not hashed again. */
    private static final Map<Path, String> VERIFIED = new ConcurrentHashMap<>();

    private PrivateCache() {
    }

    /** The cache root in use. */
    public static Path root() {
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

    /**
     * The folder {@code root()/kind/<hash of the entries>} holding exactly {@code entries}, each checked against its
     * sha256: written on first use, and rewritten where a file is missing or does not match (ours, but damaged).
     */
    public static synchronized Path folder(String kind, List<Entry> entries) {
        if (entries.stream().map(Entry::name).distinct().count() != entries.size()) {
            throw new IllegalArgumentException("two entries share a name: " + entries.stream().map(Entry::name).toList());
        }
        Path root = root();
        Path parent = root.resolve(kind);
        Path dir = parent.resolve(setHash(entries));
        try {
            privateDirectory(root);
            privateDirectory(parent);
            if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                return verified(dir, entries);
            }
            Path tmp = parent.resolve(".tmp-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
            OwnerOnly.createDirectory(tmp);
            try {
                for (Entry e : entries) {
                    write(tmp.resolve(e.name()), e);
                }
                try {
                    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
                } catch (FileAlreadyExistsException | DirectoryNotEmptyException raced) {
                    // another JVM put the same set in place first: theirs is checked like any existing folder, once
                    return verified(dir, entries);
                }
            } finally {
                deleteTree(tmp);
            }
            for (Entry e : entries) {
                if (!matches(dir.resolve(e.name()), e.sha256())) {
                    throw new NativeLibraryException(dir.resolve(e.name()) + " does not match its sha256 " + e.sha256() + " after writing it");
                }
            }
            return dir;
        } catch (IOException e) {
            throw new NativeLibraryException("cannot prepare the private cache " + dir + ": " + e.getMessage()
                    + " (set PHI2_CACHE_DIR to a private folder you own)");
        }
    }

    /** Checks an existing folder, and puts the verified bytes in place of any file that is missing or damaged. */
    private static Path verified(Path dir, List<Entry> entries) throws IOException {
        privateDirectory(dir);
        List<Entry> damaged = new ArrayList<>();
        for (Entry e : entries) {
            if (!matches(dir.resolve(e.name()), e.sha256())) {
                damaged.add(e);
            }
        }
        for (Entry e : damaged) {
            replace(dir, e);
        }
        return dir;
    }

    /** The folder name of a set: a hash over its names and hashes, so another set never shares a folder. */
    static String setHash(List<Entry> entries) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparing(Entry::name));
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (Entry e : sorted) {
                md.update((e.sha256() + "  " + e.name() + "\n").getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(md.digest()).substring(0, 32);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** True when {@code file} is our plain file with this sha256; a link or another user's file is an error. */
    private static boolean matches(Path file, String sha) throws IOException {
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        checkOwnedAndNotWritableByOthers(file);
        PosixFileAttributes a = OwnerOnly.posix() ? Files.readAttributes(file, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS) : null;
        String seen = sha + " " + Files.size(file) + " " + Files.getLastModifiedTime(file, LinkOption.NOFOLLOW_LINKS).toMillis()
                + " " + (a == null ? "" : a.fileKey());
        if (seen.equals(VERIFIED.get(file))) {
            return true;
        }
        boolean ok = sha.equals(Sha256.of(file));
        if (ok) {
            VERIFIED.put(file, seen);
        } else {
            VERIFIED.remove(file);
        }
        return ok;
    }

    private static void write(Path file, Entry e) throws IOException {
        OwnerOnly.createFile(file);
        try (InputStream in = e.content().open(); OutputStream out = Files.newOutputStream(file, StandardOpenOption.WRITE)) {
            in.transferTo(out);
        }
        try (var ch = java.nio.channels.FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    /** Puts the verified bytes of {@code e} in place of a damaged or missing file, atomically. */
    private static void replace(Path dir, Entry e) throws IOException {
        Path tmp = dir.resolve(".tmp-" + e.name() + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        try {
            write(tmp, e);
            Files.move(tmp, dir.resolve(e.name()), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        if (!matches(dir.resolve(e.name()), e.sha256())) {
            throw new NativeLibraryException(dir.resolve(e.name()) + " does not match its sha256 " + e.sha256() + " after writing it");
        }
    }

    /** Creates {@code dir} owner-only if missing; refuses one that is a link, not ours, or writable by others. */
    public static void privateDirectory(Path dir) throws IOException {
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
            throw new NativeLibraryException(dir + " is not a plain folder (a file or a link); refusing to use it for phi2j's private cache");
        }
        checkOwnedAndNotWritableByOthers(dir);
    }

    private static void checkOwnedAndNotWritableByOthers(Path p) throws IOException {
        if (!OwnerOnly.posix()) {
            return;
        }
        PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (a.isSymbolicLink()) {
            throw new NativeLibraryException(p + " is a symbolic link; refusing it in phi2j's private cache");
        }
        String me = System.getProperty("user.name");
        if (!a.owner().getName().equals(me)) {
            throw new NativeLibraryException(p + " belongs to " + a.owner().getName() + ", not to " + me
                    + "; refusing to load code from it (remove it or set PHI2_CACHE_DIR)");
        }
        if (!Collections.disjoint(a.permissions(), GROUP_OR_OTHER_WRITE)) {
            throw new NativeLibraryException(p + " is writable by other users (" + PosixFilePermissions.toString(a.permissions())
                    + "); refusing to load code from it (chmod go-w it, or remove it)");
        }
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (var files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // a leftover temporary file in our own folder; the next run may remove it
                }
            });
        } catch (IOException ignored) {
            // as above
        }
    }
}
