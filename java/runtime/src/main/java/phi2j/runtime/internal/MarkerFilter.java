package phi2j.runtime.internal;

/**
 * Cuts a stream of text pieces at the first occurrence of a marker that may arrive split over pieces.
 * Text that could be the start of the marker is held back until the next piece decides it, so nothing
 * of the marker ever reaches the caller.
 */
public final class MarkerFilter {
    private final String marker;
    private final StringBuilder held = new StringBuilder();
    private boolean found;

    public MarkerFilter(String marker) {
        if (marker.isEmpty()) {
            throw new IllegalArgumentException("empty marker");
        }
        this.marker = marker;
    }

    /** Returns the part of {@code piece} (with earlier held text) that is certainly before the marker. */
    public String feed(String piece) {
        if (found) {
            return "";
        }
        held.append(piece);
        int at = held.indexOf(marker);
        if (at >= 0) {
            found = true;
            String out = held.substring(0, at);
            held.setLength(0);
            return out;
        }
        int keep = heldPrefixLength();
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    /** At the end of the stream: whatever was held back, since the marker did not follow. */
    public String flush() {
        String out = found ? "" : held.toString();
        held.setLength(0);
        return out;
    }

    public boolean found() {
        return found;
    }

    /** Length of the longest suffix of the held text that is a proper prefix of the marker. */
    private int heldPrefixLength() {
        String h = held.toString();
        int max = Math.min(h.length(), marker.length() - 1);
        for (int k = max; k > 0; k--) {
            if (h.regionMatches(h.length() - k, marker, 0, k)) {
                return k;
            }
        }
        return 0;
    }
}
