package phi2j.testkit;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class HalfTest {
    @Test
    void everyHalfSurvivesARoundTrip() {
        for (int h = 0; h < 0x10000; h++) {
            float f = Half.toFloat((short) h);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(Half.toFloat(Half.fromFloat(f))));
                continue;
            }
            assertEquals((short) h, Half.fromFloat(f), "half 0x" + Integer.toHexString(h));
        }
    }

    @Test
    void roundsToNearestEvenAndSaturates() {
        assertEquals(1f, Half.toFloat(Half.fromFloat(1.0004f)));
        assertEquals(1.0009765625f, Half.toFloat(Half.fromFloat(1.0008f)));
        assertEquals(Float.POSITIVE_INFINITY, Half.toFloat(Half.fromFloat(1e6f)));
        assertEquals(0f, Half.toFloat(Half.fromFloat(1e-9f)));
        assertEquals(65504f, Half.toFloat(Half.fromFloat(65504f)));
    }
}
