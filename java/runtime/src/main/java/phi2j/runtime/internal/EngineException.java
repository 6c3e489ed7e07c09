package phi2j.runtime.internal;

/** A failure reported by the native engine's JNI functions (they never let a C++ exception through). */
public final class EngineException extends RuntimeException {
    public EngineException(String message) {
        super(message);
    }
}
