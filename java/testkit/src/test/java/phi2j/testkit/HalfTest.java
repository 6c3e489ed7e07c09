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
    void bitPatternsAreIeeeBinary16() {
        assertEquals((short) 0x3C00, Half.fromFloat(1.0f));
        assertEquals((short) 0xC000, Half.fromFloat(-2.0f));
        assertEquals((short) 0x3555, Half.fromFloat(1f / 3f));
        assertEquals((short) 0x7BFF, Half.fromFloat(65504f));
        assertEquals((short) 0x0001, Half.fromFloat(5.9604645e-8f)); // the smallest subnormal
        assertEquals((short) 0x8000, Half.fromFloat(-0.0f));
        assertEquals((short) 0x7C00, Half.fromFloat(Float.POSITIVE_INFINITY));
        assertEquals(1.0f, Half.toFloat((short) 0x3C00));
        assertEquals(0.5f, Half.toFloat((short) 0x3800));
    }

    @Test
    void tiesGoToTheEvenNeighbour() {
        // 1 + 2^-11 is exactly halfway between 0x3C00 (even) and 0x3C01: it goes down; 1 + 3 * 2^-11 goes up to 0x3C02
        assertEquals((short) 0x3C00, Half.fromFloat(1f + 0x1p-11f));
        assertEquals((short) 0x3C02, Half.fromFloat(1f + 3 * 0x1p-11f));
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
