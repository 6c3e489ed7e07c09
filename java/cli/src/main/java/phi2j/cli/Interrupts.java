package phi2j.cli;

import sun.misc.Signal;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Ctrl-C during a generation: the first press cancels it (so what was generated is still printed), a second
 * press exits at once. Outside a generation Ctrl-C keeps its usual meaning.
 */
final class Interrupts {
    private static final AtomicInteger presses = new AtomicInteger();
    private static volatile Runnable onFirst;
    private static boolean installed;

    private Interrupts() {
    }

    static synchronized void onCtrlC(Runnable action) {
        onFirst = action;
        presses.set(0);
        if (installed) {
            return;
        }
        try {
            Signal.handle(new Signal("INT"), sig -> {
                Runnable a = onFirst;
                if (a != null && presses.incrementAndGet() == 1) {
                    System.err.println("\n(stopping; press Ctrl-C again to quit at once)");
                    a.run();
                } else {
                    Runtime.getRuntime().halt(Main.INTERRUPTED);
                }
            });
            installed = true;
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            // no SIGINT on this platform: Ctrl-C ends the process the usual way
        }
    }

    static void reset() {
        onFirst = null;
    }

    /**
     * Reads {@code s} to its end, handing each piece to {@code onPiece}, with Ctrl-C cancelling it meanwhile (what was
     * generated stays), and returns its result. The one streaming loop of generate, demo and chat.
     */
    static phi2j.runtime.GenerationResult drain(phi2j.runtime.TokenStream s, java.util.function.Consumer<String> onPiece) {
        onCtrlC(s::cancel);
        try {
            for (String piece : s.pieces()) {
                onPiece.accept(piece);
            }
            return s.result();
        } finally {
            reset();
        }
    }
}
