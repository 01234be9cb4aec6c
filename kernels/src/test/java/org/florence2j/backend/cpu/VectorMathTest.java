package org.florence2j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

/**
 * {@link VectorMath}: the lane sum equals the same pairwise adds done in scalar code (the fixed order that makes it
 * independent of the JIT), the exponentials' sum is taken in that order, and the exponential stays within 2 ulps of
 * {@link StrictMath#exp} over its whole range (1 measured), with the edges (0 below, infinity above, NaN, subnormal
 * results) right.
 */
class VectorMathTest {
    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final double MAX_ULPS = 2;

    @Test
    void lanesAreSummedPairwiseInAFixedOrder() {
        SplittableRandom random = new SplittableRandom(3);
        for (int trial = 0; trial < 1000; trial++) {
            float[] floats = new float[FLOATS.length()];
            for (int i = 0; i < floats.length; i++) {
                floats[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(-3, 4)));
            }
            assertEquals(pairwise(floats), VectorMath.sumLanes(floats));
        }
    }

    @Test
    void floatExpIsWithinTwoUlpsEverywhere() {
        // Every 97th float bit pattern from -110 to 95 (~4 million values; bit patterns grow away from zero on
        // both sides), shifted by 1.5 on the way, then the edges.
        int[][] bitRanges = {{Float.floatToRawIntBits(0f), Float.floatToRawIntBits(95f)},
            {Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(-110f)}};
        float[] x = new float[1 << 20];
        float[] e = new float[x.length];
        double worst = 0;
        int checked = 0;
        for (int[] range : bitRanges) {
            for (int bits = range[0]; bits <= range[1]; ) {
                int count = 0;
                for (; count < x.length && bits <= range[1]; count++, bits += 97) {
                    x[count] = Float.intBitsToFloat(bits);
                    e[count] = x[count] + 1.5f;
                }
                VectorMath.expShiftedSum(e, 0, count, 1.5f, new float[VectorMath.LANES]);
                for (int i = 0; i < count; i++) {
                    float difference = (x[i] + 1.5f) - 1.5f;
                    worst = Math.max(worst, ulps(e[i], (float) StrictMath.exp(difference), difference));
                }
                checked += count;
            }
        }
        assertTrue(checked > 3_000_000, checked + " values checked");
        assertTrue(worst <= MAX_ULPS, "float exp: " + worst + " ulps at worst");
        float[] edges = {Float.NEGATIVE_INFINITY, -1000f, -104f, -103.5f, -100f, -87.5f, -0f, 0f, 88.72f, 88.73f, 89f,
            1000f, Float.POSITIVE_INFINITY, Float.NaN};
        float[] actual = edges.clone();
        VectorMath.expShiftedSum(actual, 0, actual.length, 0f, new float[VectorMath.LANES]);
        for (int i = 0; i < edges.length; i++) {
            float expected = (float) StrictMath.exp(edges[i]);
            assertTrue(Float.isNaN(expected) ? Float.isNaN(actual[i])
                    : ulps(actual[i], expected, edges[i]) <= MAX_ULPS, "exp(" + edges[i] + "): " + actual[i]
                    + ", expected " + expected);
        }
    }

    /**
     * A value's exponential is the same in a full vector, in the last partial one and alone; nothing outside the
     * range is written.
     */
    @Test
    void aValuesResultDoesNotDependOnWhereItSits() {
        SplittableRandom random = new SplittableRandom(9);
        int count = 3 * FLOATS.length() + 5;
        float[] values = new float[count + 2];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextDouble(-20, 5);
        }
        float[] atOnce = values.clone();
        VectorMath.expShiftedSum(atOnce, 1, count + 1, 0.25f, new float[VectorMath.LANES]);
        assertEquals(values[0], atOnce[0], "before the range");
        assertEquals(values[count + 1], atOnce[count + 1], "after the range");
        for (int i = 1; i <= count; i++) {
            float[] alone = {values[i]};
            VectorMath.expShiftedSum(alone, 0, 1, 0.25f, new float[VectorMath.LANES]);
            assertEquals(alone[0], atOnce[i], "at " + i);
        }
    }

    /**
     * The returned sum is the fixed-order one: each lane's partial sum over the whole vectors in order, those added
     * pairwise, then the last values one by one; from an offset and with a partial last vector.
     */
    @Test
    void theSumIsTakenInAFixedOrder() {
        SplittableRandom random = new SplittableRandom(11);
        float[] lanes = new float[VectorMath.LANES];
        for (int count : new int[] {1, FLOATS.length() - 1, FLOATS.length(), 5 * FLOATS.length() + 7, 584}) {
            float[] values = new float[count + 3];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) random.nextDouble(-30, 2);
            }
            int from = 2;
            float sum = VectorMath.expShiftedSum(values, from, from + count, 0.5f, lanes);
            int whole = count / FLOATS.length() * FLOATS.length();
            float[] partial = new float[FLOATS.length()];
            for (int i = 0; i < whole; i++) {
                partial[i % FLOATS.length()] += values[from + i];
            }
            float expected = pairwise(partial);
            for (int i = whole; i < count; i++) {
                expected += values[from + i];
            }
            assertEquals(expected, sum, count + " values");
        }
    }

    /** {@code |actual - expected|} in ulps of {@code expected} (equal infinities and zeros: 0). */
    private static double ulps(float actual, float expected, float x) {
        if (actual == expected) {
            return 0;
        }
        assertTrue(Float.isFinite(actual) && Float.isFinite(expected), "exp(" + x + "): " + actual
                + ", expected " + expected);
        return Math.abs((double) actual - expected) / Math.ulp(expected);
    }

    private static float pairwise(float[] lanes) {
        float[] v = lanes.clone();
        for (int half = v.length / 2; half > 0; half /= 2) {
            for (int i = 0; i < half; i++) {
                v[i] += v[i + half];
            }
        }
        return v[0];
    }
}
