package phi2j;

import java.nio.file.Path;

/** A model file that is missing, unreadable, not a GGUF, damaged, or not a Phi-2 model. */
public class BadModelFileException extends Phi2Exception {
    private final Path file;

    public BadModelFileException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    public BadModelFileException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    public Path file() {
        return file;
    }

    @Override
    public boolean isUserError() {
        return true;
    }
}
