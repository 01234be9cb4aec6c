package org.florence2j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.florence2j.tensor.DType;
import org.junit.jupiter.api.Test;

/**
 * {@link VectorKernels#roundToBfloat16} (the vectorised rounding of a decoder step's linear input) gives the same
 * bits as the scalar round-to-nearest-even of {@link ScalarKernels#convert}, on every kind of value and on a count
 * that leaves a scalar tail after the vector loop.
 */
class VectorKernelsTest {
    private static final float[] SPECIALS = {
        0f, -0f, 1f, -1f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE, -Float.MAX_VALUE,
        Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN,
        Float.intBitsToFloat(0x7F80_0001), // signalling NaN: truncating its bits would give infinity
        Float.intBitsToFloat(0xFFC1_2345), // negative quiet NaN with payload
        Float.intBitsToFloat(0x3F80_8000), // tie, even below: rounds down
        Float.intBitsToFloat(0x3F81_8000), // tie, odd below: rounds up
        Float.intBitsToFloat(0x3F80_8001), // just above a tie
        Float.intBitsToFloat(0x7F7F_FFFF), // rounds up to infinity, as PyTorch's rounding does
        Float.intBitsToFloat(0x0000_8000), // subnormal tie
    };

    @Test
    void vectorRoundingMatchesTheScalarConversionBitForBit() {
        int count = 16 * 61 + 11; // a tail for any vector length up to 16 floats
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate((long) count * Float.BYTES, 64);
            SplittableRandom random = new SplittableRandom(17);
            for (int i = 0; i < count; i++) {
                float value = i < SPECIALS.length ? SPECIALS[i]
                        : i % 2 == 0 ? Float.intBitsToFloat(random.nextInt()) : (float) random.nextGaussian();
                src.setAtIndex(ValueLayout.JAVA_FLOAT, i, value);
            }
            // The specials again at the end, so the scalar tail sees them too.
            for (int i = 0; i < 11; i++) {
                src.setAtIndex(ValueLayout.JAVA_FLOAT, count - 11 + i, SPECIALS[i + 8]);
            }
            MemorySegment vector = arena.allocate((long) count * Short.BYTES, 64);
            MemorySegment scalar = arena.allocate((long) count * Short.BYTES, 64);
            VectorKernels.roundToBfloat16(vector, src, count);
            ScalarKernels.convert(scalar, DType.BF16, 0, src, DType.F32, 0, count);
            for (int i = 0; i < count; i++) {
                short expected = scalar.getAtIndex(ValueLayout.JAVA_SHORT, i);
                short actual = vector.getAtIndex(ValueLayout.JAVA_SHORT, i);
                int index = i;
                assertEquals(expected, actual, () -> String.format("element %d: F32 bits %08x", index,
                        Float.floatToRawIntBits(src.getAtIndex(ValueLayout.JAVA_FLOAT, index))));
            }
        }
    }
}
