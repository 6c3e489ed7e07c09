package phi2j.langchain4j;

import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The model a LangChain4j model object runs on: one the caller opened and owns ({@link #borrowed}), or one opened from a
 * file and shared by every object built from the same file and options in this process ({@link #shared}): one runner,
 * its slots shared; it closes when the last of them is closed.
 */
final class ModelHandle {
    private record Key(Path path, ModelOptions options) {
    }

    private static final class Shared {
        final Phi2Model model;
        int users;

        Shared(Phi2Model model) {
            this.model = model;
        }
    }

    private static final Map<Key, Shared> OPEN = new HashMap<>();

    private final Phi2Model model;
    private final Key key; // null when borrowed
    private boolean released;

    private ModelHandle(Phi2Model model, Key key) {
        this.model = model;
        this.key = key;
    }

    static ModelHandle borrowed(Phi2Model model) {
        return new ModelHandle(Objects.requireNonNull(model, "model"), null);
    }

    /** Opens {@code path} with {@code options}, or shares the model already open for them. */
    static ModelHandle shared(Path path, ModelOptions options) {
        Key key = new Key(path.toAbsolutePath().normalize(), options);
        synchronized (OPEN) {
            Shared s = OPEN.get(key);
            if (s == null || !s.model.isOpen()) {
                s = new Shared(Phi2Model.open(path, options));
                OPEN.put(key, s);
            }
            s.users++;
            return new ModelHandle(s.model, key);
        }
    }

    Phi2Model model() {
        return model;
    }

    /** Lets go of a shared model (closing it with its last user); a borrowed one stays open, its owner closes it. */
    void release() {
        if (key == null) {
            return;
        }
        synchronized (OPEN) {
            if (released) {
                return;
            }
            released = true;
            Shared s = OPEN.get(key);
            if (s != null && s.model == model && --s.users == 0) {
                OPEN.remove(key);
                model.close();
            }
        }
    }
}
