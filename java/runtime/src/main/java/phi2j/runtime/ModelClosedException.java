package phi2j.runtime;

import phi2j.Phi2Exception;

/** The model was closed, before this call or while it ran. */
public class ModelClosedException extends Phi2Exception {
    public ModelClosedException(String message) {
        super(message);
    }
}
