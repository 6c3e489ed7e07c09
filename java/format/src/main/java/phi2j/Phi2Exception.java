package phi2j;

/**
 * The root of every error this project reports. Unchecked: callers catch the subtype they can act on.
 * Messages name the file, option or value at fault and, where there is one, what to do about it.
 */
public class Phi2Exception extends RuntimeException {
    public Phi2Exception(String message) {
        super(message);
    }

    public Phi2Exception(String message, Throwable cause) {
        super(message, cause);
    }

    /** True when the caller's input was at fault (a file, an option, a value), false for failures of the system. */
    public boolean isUserError() {
        return false;
    }
}
