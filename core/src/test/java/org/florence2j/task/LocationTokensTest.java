package org.florence2j.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.florence2j.InvalidInputException;
import org.junit.jupiter.api.Test;

class LocationTokensTest {

    @Test
    void tokenIdsFollowTheAddedTokens() {
        assertEquals(50269, LocationTokens.tokenId(0));
        assertEquals(51268, LocationTokens.tokenId(999));
        assertEquals(52, LocationTokens.binOf(50321));
        assertEquals(-1, LocationTokens.binOf(50268));
        assertEquals(-1, LocationTokens.binOf(51269));
        assertTrue(LocationTokens.isLocationToken(51268));
        assertFalse(LocationTokens.isLocationToken(2));
        assertEquals("<loc_7>", LocationTokens.token(7));
        assertThrows(IllegalArgumentException.class, () -> LocationTokens.tokenId(1000));
        assertThrows(IllegalArgumentException.class, () -> LocationTokens.token(-1));
    }

    /** Floor mode in float32: floor(x / float32(size / 1000)), clamped to [0, 999]. */
    @Test
    void quantizeIsTheReferenceFloorMode() {
        assertEquals(52, LocationTokens.quantize(33.6f, 640));     // 33.6 / 0.64 = 52.5
        assertEquals(0, LocationTokens.quantize(0.63f, 640));
        assertEquals(1, LocationTokens.quantize(0.64f, 640));      // float32 quotient 1.0; in double 0.9999999776
        assertEquals(0, LocationTokens.quantize(-3f, 640));
        assertEquals(999, LocationTokens.quantize(640f, 640));
        assertEquals(999, LocationTokens.quantize(1e9f, 640));
        // float32 17.3 / float32 0.173 rounds to 100.0; dividing the same inputs in double gives 99.9999956.
        assertEquals(100, LocationTokens.quantize(17.3f, 173));
        for (int bin = 0; bin < LocationTokens.BINS; bin++) {
            assertEquals(bin, LocationTokens.quantize(LocationTokens.dequantize(bin, 173), 173), "bin " + bin);
            assertEquals(bin, LocationTokens.quantize(LocationTokens.dequantize(bin, 768), 768), "bin " + bin);
        }
    }

    @Test
    void dequantizeIsTheBinCentreInFloat32() {
        assertEquals(33.599998474121094, LocationTokens.dequantize(52, 640));
        assertEquals(9.082499504089355, LocationTokens.dequantize(52, 173));
        assertEquals(639.6799926757812, LocationTokens.dequantize(999, 640));
        // Out-of-range bins are not clamped, as in the reference.
        assertEquals((1500 + 0.5f) * 0.64f, LocationTokens.dequantize(1500, 640));
    }

    @Test
    void regionRefusesWhatCannotBeQuantized() {
        InvalidInputException nan = assertThrows(InvalidInputException.class,
                () -> LocationTokens.region(new Box(Float.NaN, 0, 1, 1), 10, 10));
        assertTrue(nan.getMessage().contains("region") && nan.getMessage().contains("NaN"), nan.getMessage());
        assertThrows(InvalidInputException.class, () -> LocationTokens.region(new Box(0, 0, 1, 1), 0, 10));
        assertEquals("<loc_0><loc_0><loc_999><loc_999>", LocationTokens.region(new Box(0, 0, 10, 10), 10, 10));
    }
}
