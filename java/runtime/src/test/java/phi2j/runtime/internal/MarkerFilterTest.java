package phi2j.runtime.internal;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class MarkerFilterTest {
    private static final String EOT = "<|endoftext|>";

    @Test
    void passesTextWithoutTheMarker() {
        MarkerFilter f = new MarkerFilter(EOT);
        assertEquals("hello", f.feed("hello"));
        assertEquals(" world", f.feed(" world"));
        assertEquals("", f.flush());
        assertFalse(f.found());
    }

    @Test
    void holdsBackAPossibleStartAndReleasesItWhenItIsNot() {
        MarkerFilter f = new MarkerFilter(EOT);
        assertEquals("a ", f.feed("a <|end"));
        assertEquals("<|endless", f.feed("less"));
        assertEquals("x", f.feed("x<"), "'<' could start the marker: held");
        assertEquals("<", f.flush());
    }

    @Test
    void cutsAMarkerSplitOverPieces() {
        MarkerFilter f = new MarkerFilter(EOT);
        StringBuilder out = new StringBuilder();
        for (String p : new String[] {"The answer", " is 4.<", "|endo", "ftext|>", "Instruct: more"}) {
            out.append(f.feed(p));
        }
        out.append(f.flush());
        assertEquals("The answer is 4.", out.toString());
        assertTrue(f.found());
    }

    @Test
    void heldTextIsFlushedAtTheEnd() {
        MarkerFilter f = new MarkerFilter(EOT);
        assertEquals("abc", f.feed("abc<|"));
        assertEquals("<|", f.flush());
    }
}
