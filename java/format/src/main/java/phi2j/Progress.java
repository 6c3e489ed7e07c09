package phi2j;

/**
 * Told as long work advances, for progress bars: how much is done and how much there is in all (-1 while
 * unknown), and what is being worked on. Each producer states its unit: weights (tensor elements) for
 * conversion and quantization, bytes for downloads and file writes.
 */
@FunctionalInterface
public interface Progress {
    Progress NONE = (done, total, item) -> { };

    void update(long done, long total, String item);
}
