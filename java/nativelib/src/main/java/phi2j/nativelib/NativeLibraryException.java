package phi2j.nativelib;

import phi2j.Phi2Exception;

/** The llama.cpp native library could not be found or loaded (a custom build path that is wrong, a missing dependency). */
public class NativeLibraryException extends Phi2Exception {
    public NativeLibraryException(String message) {
        super(message);
    }

    @Override
    public boolean isUserError() {
        return true;
    }
}
