package phi2j.runtime;

/** Which llama.cpp runs a model. */
public enum EngineKind {
    /** phi2j's native engine when a build of it is configured or present, else the binding. */
    AUTO,
    /** phi2j's own JNI engine over the pinned llama.cpp (scripts/build-native.sh builds it). */
    NATIVE,
    /** The de.kherud:llama 4.2.0 binding (llama.cpp b4916), whose CPU build ships in its jar: nothing to build. */
    BINDING;

    /** The lower-case name used on the command line, in JSON and in bench rows. */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
