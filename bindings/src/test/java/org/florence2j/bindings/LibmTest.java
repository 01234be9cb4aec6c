package org.florence2j.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link Libm#exp} is the C library's: Python's {@code math.exp} values, where {@link Math#exp} can miss by a bit. */
class LibmTest {
    @Test
    void expGivesPythonsValueWhereJavasDiffers() {
        double x = -1.4525108337402344;
        // Python 3: math.exp(-1.4525108337402344) == 0.23398205988064738 (glibc); Math.exp is one ulp above.
        assertEquals(0.23398205988064738, Libm.exp(x), 0.0);
        assertEquals(Math.ulp(0.23398205988064738), Math.exp(x) - Libm.exp(x), 0.0,
                "the case no longer tells the two apart");
    }

    @Test
    void expAgreesWithJavaWithinOneUlpElsewhere() {
        for (double x = -20; x <= 20; x += 0.0137) {
            double c = Libm.exp(x);
            assertTrue(Math.abs(c - Math.exp(x)) <= Math.ulp(c), x + ": " + c + " vs " + Math.exp(x));
        }
        assertEquals(1.0, Libm.exp(0), 0.0);
        assertEquals(0.0, Libm.exp(Double.NEGATIVE_INFINITY), 0.0);
        assertTrue(Double.isNaN(Libm.exp(Double.NaN)));
    }
}
