package phi2j.runtime.internal;

import phi2j.InvalidOptionException;
import phi2j.Phi2Exception;

/**
 * A refusal or failure of the native engine's JNI functions (they never let a C++ exception through), typed as the
 * engine typed it: its {@link Messages.ErrorKind} and, for OPTION, the field of the Java record at fault.
 */
public final class EngineException extends RuntimeException {
    private final Messages.ErrorKind kind;
    private final String field;

    /** Called by jni.cpp with the engine's error kind code (engine.h's ErrorKind). */
    public EngineException(int kind, String field, String message) {
        super(message);
        this.kind = Messages.ErrorKind.values()[kind];
        this.field = field;
    }

    public Messages.ErrorKind kind() {
        return kind;
    }

    /** The option at fault (OPTION), or null. */
    public String field() {
        return field;
    }

    /** As the caller's exception: an option error names the field; the rest are the engine's failures. */
    public Phi2Exception toPhi2Exception(String context) {
        return kind == Messages.ErrorKind.OPTION && field != null ? new InvalidOptionException(field, getMessage())
                : new Phi2Exception(context + getMessage());
    }
}
