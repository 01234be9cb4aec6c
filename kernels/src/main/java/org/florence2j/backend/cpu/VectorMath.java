package org.florence2j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * A lane sum and an exponential built only from IEEE lane-wise arithmetic and lane moves, so a kernel gives the
 * same bits whether C2 has compiled it or it still runs interpreted. The Vector API's own
 * {@code reduceLanes(ADD)} leaves the order of its adds to the implementation, and its {@code EXP} is SVML's once
 * compiled and {@link Math#exp} before (697 of 65,536 float results differed by an ulp): a decoder step's result
 * then changed with the JIT's progress, and bf16 greedy runs of the tiny model went 2 to 4 of 16 identical to the
 * goldens from one process to the next.
 *
 * <p>{@link LogSoftmaxTopK} keeps the Vector API's {@code EXP} and {@code reduceLanes}: it sums in double, where an
 * ulp moves the F32 log-sum it feeds by ~1e-10 of an F32 ulp, and SVML's exponential is faster there than this
 * series (a 3-row base call took 140 µs against 200 µs with a double version of it).
 */
final class VectorMath {
    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    /** The lanes of a {@link #FLOATS} vector: the length of a {@link #sumLanes} array. */
    static final int LANES = FLOATS.length();
    /** Lane {@code i} takes lane {@code i + k}: adding folds the upper {@code k} lanes onto the lower ones. */
    private static final VectorShuffle<Float> FOLD_8 = fold(8);
    private static final VectorShuffle<Float> FOLD_4 = fold(4);
    private static final VectorShuffle<Float> FOLD_2 = fold(2);
    private static final float LOG2E = 1.44269504f;
    private static final float LN2_HIGH = 0.693145751953125f; // ln 2's leading bits: n · this is exact
    private static final float LN2_LOW = 1.42860677e-6f;
    private static final float ROUNDER = 0x1.8p23f; // adding and subtracting it rounds to an integer
    private static final float EXP_MIN = -104f; // exp of anything below rounds to 0 in F32
    private static final float EXP_MAX = 89f; // and above, to infinity
    private static final float C7 = 1f / 5040; // 1 / k!, the Taylor series' coefficients
    private static final float C6 = 1f / 720;
    private static final float C5 = 1f / 120;
    private static final float C4 = 1f / 24;
    private static final float C3 = 1f / 6;
    private static final float C2 = 0.5f;

    private VectorMath() {}

    /**
     * The sum of the {@link #LANES} floats of {@code lanes} (a vector of {@link FloatVector#SPECIES_PREFERRED}
     * stored there by {@code intoArray}), added pairwise in a fixed order: lane {@code i} and {@code i + n/2} first,
     * then the halves' halves. Straight-line code with constant shuffles: in a loop, or with {@code slice}, a
     * decoder step's attention took 1.25× as long. Takes the lanes in an array, not the vector: a method of ours
     * that takes or returns a vector boxes it, and runs its ops as allocating fallbacks, whenever C2 does not
     * inline it, which depends on the profile the whole process left (see {@link #expShiftedSum}). Loading the vector
     * back just after it was stored costs little (a summing loop in scalar code instead took 1.9× as long in a
     * decoder step's attention).
     */
    static float sumLanes(float[] lanes) {
        FloatVector v = FloatVector.fromArray(FLOATS, lanes, 0);
        if (LANES > 8) {
            v = v.add(v.rearrange(FOLD_8));
        }
        if (LANES > 4) {
            v = v.add(v.rearrange(FOLD_4));
        }
        if (LANES > 2) {
            v = v.add(v.rearrange(FOLD_2));
        }
        return v.lane(0) + v.lane(1);
    }

    /**
     * {@code values[i] = e^(values[i] - shift)} for {@code i} in {@code [from, to)}, within 2 ulps of
     * {@link Math#exp}: 0 where the difference is minus infinity or under -104, infinity above 89, NaN for NaN.
     * Returns the sum of the new values in a fixed order: {@link #sumLanes} of a vector's partial sums, then the last
     * values one by one. {@code x = n·ln 2 + r} with {@code |r| ≤ ln 2 / 2}, {@code e^r} by its Taylor series to
     * {@code r^7} (under 1e-8 off), times {@code 2^n} in two factors so that subnormal results come out right. The
     * values after the last whole vector take the same steps in scalar code ({@link #exp}), so a value's result does
     * not depend on where it sits. Takes arrays rather than vectors: a vector passed to a method C2 does not inline
     * is boxed, and its ops then run as allocating fallbacks. The sum is taken in the same pass, not by a method of
     * its own: a separate summing method ran as C1 code with boxed vectors for good in some processes (1.5 MB a bf16
     * decoder step, bench/README, seventeenth session). {@code lanes} is scratch of {@link #LANES} floats.
     */
    static float expShiftedSum(float[] values, int from, int to, float shift, float[] lanes) {
        int i = from;
        FloatVector sums = FloatVector.zero(FLOATS);
        for (int vectorEnd = from + FLOATS.loopBound(to - from); i < vectorEnd; i += FLOATS.length()) {
            FloatVector x = FloatVector.fromArray(FLOATS, values, i).sub(shift).max(EXP_MIN).min(EXP_MAX);
            FloatVector n = x.mul(LOG2E).add(ROUNDER).sub(ROUNDER);
            FloatVector r = x.sub(n.mul(LN2_HIGH)).sub(n.mul(LN2_LOW)); // n · LN2_HIGH is exact
            // Horner's rule on 1 / k!, written out: a vector carried around a loop may be boxed. The constants
            // are broadcast here, not by a helper of ours: in some test orders C2 compiled this loop without
            // inlining such a helper, and the boxed vectors it then returned allocated 19 KB a generated token
            // for good.
            FloatVector sum = r.fma(C7, C6);
            sum = sum.fma(r, FloatVector.broadcast(FLOATS, C5));
            sum = sum.fma(r, FloatVector.broadcast(FLOATS, C4));
            sum = sum.fma(r, FloatVector.broadcast(FLOATS, C3));
            sum = sum.fma(r, FloatVector.broadcast(FLOATS, C2));
            sum = sum.fma(r, FloatVector.broadcast(FLOATS, 1f));
            sum = sum.fma(r, FloatVector.broadcast(FLOATS, 1f));
            IntVector exponent = (IntVector) n.convert(VectorOperators.F2I, 0);
            IntVector half = exponent.lanewise(VectorOperators.ASHR, 1);
            FloatVector first = half.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector second = exponent.sub(half).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector result = sum.mul(first).mul(second);
            result.intoArray(values, i);
            sums = sums.add(result);
        }
        sums.intoArray(lanes, 0);
        float total = sumLanes(lanes);
        for (; i < to; i++) {
            values[i] = exp(values[i] - shift);
            total += values[i];
        }
        return total;
    }

    /**
     * Scales {@code values[from, from + count)} by {@code scale} and replaces them by their softmax:
     * {@code e^(s - max) / Σ e^(s - max)} ({@link #scaleAndMax}, then {@link #expShiftedSum}). {@code lanes} is
     * scratch of {@link #LANES} floats.
     */
    static void softmax(float[] values, int from, int count, float scale, float[] lanes) {
        float max = scaleAndMax(values, from, count, scale);
        float sum = expShiftedSum(values, from, from + count, max, lanes);
        for (int i = from; i < from + count; i++) {
            values[i] /= sum;
        }
    }

    /** Scales {@code values[from, from + count)} by {@code scale} and returns their maximum. */
    static float scaleAndMax(float[] values, int from, int count, float scale) {
        float max = Float.NEGATIVE_INFINITY;
        for (int t = from; t < from + count; t++) {
            values[t] *= scale;
            max = Math.max(max, values[t]);
        }
        return max;
    }

    /** {@link #expShiftedSum}'s lane arithmetic on one value, op for op (a masked last vector allocated). */
    private static float exp(float difference) {
        float x = Math.min(Math.max(difference, EXP_MIN), EXP_MAX);
        float n = x * LOG2E + ROUNDER - ROUNDER;
        float r = x - n * LN2_HIGH - n * LN2_LOW;
        float sum = Math.fma(r, C7, C6);
        sum = Math.fma(sum, r, C5);
        sum = Math.fma(sum, r, C4);
        sum = Math.fma(sum, r, C3);
        sum = Math.fma(sum, r, C2);
        sum = Math.fma(sum, r, 1f);
        sum = Math.fma(sum, r, 1f);
        int exponent = (int) n;
        int half = exponent >> 1;
        return sum * Float.intBitsToFloat((half + 127) << 23) * Float.intBitsToFloat((exponent - half + 127) << 23);
    }

    private static VectorShuffle<Float> fold(int k) {
        return VectorShuffle.fromOp(FLOATS, i -> (i + k) % FLOATS.length());
    }
}
