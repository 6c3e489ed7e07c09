package phi2j.format;

import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * An output file that appears under its final name only when complete: bytes go to a hidden temporary
 * file beside the target, which is synced and renamed on {@link #commit()}; {@link #close()} without a
 * commit deletes it. So an interrupted or failed write never leaves a partial file under the real name.
 */
public final class AtomicOutputFile implements AutoCloseable {
    private final Path target;
    private final Path temp;
    private final FileChannel channel;
    private final boolean overwrite;
    private boolean committed;

    private AtomicOutputFile(Path target, Path temp, FileChannel channel, boolean overwrite) {
        this.target = target;
        this.temp = temp;
        this.channel = channel;
        this.overwrite = overwrite;
    }

    /**
     * Opens a temporary file beside {@code target}. Fails at once (before any work) when the target exists
     * and {@code overwrite} is false, or when its folder is missing or not writable.
     */
    public static AtomicOutputFile open(Path target, boolean overwrite) {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        if (Files.isDirectory(abs)) {
            throw new InvalidOptionException("output", abs + " is a directory");
        }
        if (!overwrite && Files.exists(abs)) {
            throw new InvalidOptionException("output", abs + " already exists (use --force to replace it)");
        }
        if (dir == null || !Files.isDirectory(dir)) {
            throw new InvalidOptionException("output", "folder " + dir + " does not exist");
        }
        String name = "." + abs.getFileName() + ".tmp-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
        Path temp = dir.resolve(name);
        try {
            FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            return new AtomicOutputFile(abs, temp, ch, overwrite);
        } catch (IOException e) {
            throw new InvalidOptionException("output", "cannot write in " + dir + ": " + e.getMessage());
        }
    }

    public FileChannel channel() {
        return channel;
    }

    public Path target() {
        return target;
    }

    /** Syncs the data and renames the temporary file to the target. */
    public void commit() {
        try {
            channel.force(true);
            channel.close();
            try {
                if (overwrite) {
                    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } else {
                    // Without --force, a file that appeared meanwhile must not be replaced.
                    Files.createLink(target, temp);
                    Files.delete(temp);
                }
            } catch (AtomicMoveNotSupportedException | UnsupportedOperationException e) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            committed = true;
        } catch (FileAlreadyExistsException e) {
            throw new InvalidOptionException("output", target + " appeared while writing; not replaced (use --force)");
        } catch (IOException e) {
            throw new Phi2Exception("cannot finish writing " + target + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (committed) {
            return;
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // The file is being discarded; a failed close changes nothing.
        }
        try {
            Files.deleteIfExists(temp);
        } catch (IOException ignored) {
            // Best effort: the name is hidden and unique, and the error that brought us here matters more.
        }
    }
}
