package phi2j;

import java.time.Duration;

/** Time since it was started, on the monotonic clock: instead of pairs of {@code System.nanoTime()} calls. */
public final class Timer {
    private final long start = System.nanoTime();

    private Timer() {
    }

    public static Timer start() {
        return new Timer();
    }

    public long nanos() {
        return System.nanoTime() - start;
    }

    public double seconds() {
        return nanos() / 1e9;
    }

    public Duration elapsed() {
        return Duration.ofNanos(nanos());
    }
}
