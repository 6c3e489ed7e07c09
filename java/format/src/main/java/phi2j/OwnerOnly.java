package phi2j;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Files and folders only their owner can read (rw------- and rwx------ where the file system has POSIX
 * permissions): the runner's socket folder, the native library cache, downloads in progress. The one place
 * that spells those permissions.
 */
public final class OwnerOnly {
    private OwnerOnly() {
    }

    public static boolean posix() {
        return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    }

    /** A new folder {@code dir}, owner-only; its parent must exist. */
    public static Path createDirectory(Path dir) throws IOException {
        return posix() ? Files.createDirectory(dir, attribute("rwx------")) : Files.createDirectory(dir);
    }

    /** A new owner-only folder in the system's temporary folder. */
    public static Path createTempDirectory(String prefix) throws IOException {
        return posix() ? Files.createTempDirectory(prefix, attribute("rwx------")) : Files.createTempDirectory(prefix);
    }

    /** A new empty owner-only file. */
    public static Path createFile(Path file) throws IOException {
        return posix() ? Files.createFile(file, attribute("rw-------")) : Files.createFile(file);
    }

    private static FileAttribute<?> attribute(String permissions) {
        return PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(permissions));
    }
}
