package org.florence2j.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API loops of a decoder step's small ops that {@link CpuBackend} runs in Java rather than through a
 * oneDNN primitive when {@link CpuBackend#JAVA_DECODE_KERNELS_PROPERTY} allows: each makes a pass or three over a
 * few kilobytes to a row, where a primitive would add a call (several microseconds in a decoder step) and a
 * descriptor for no gain. Loaded only where the JVM has the Vector API ({@link VectorApi}).
 */
final class VectorKernels {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    /** As many shorts as {@link #INTS} has ints, for narrowing rounded bf16 bit patterns. */
    private static final VectorSpecies<Short> HALF_SHORTS =
            VectorSpecies.of(short.class, VectorShape.forBitSize(INTS.vectorBitSize() / 2));

    private VectorKernels() {}

    /**
     * Layer norm of {@code rows × width} F32 elements over each row ({@code out} may be {@code x}), as oneDNN's
     * primitive computes it: the mean, then the variance as the mean of squared deviations, then
     * {@code (x - mean) · (1 / sqrt(variance + eps)) · weight + bias}. {@code lanes} is scratch of
     * {@link VectorMath#LANES} floats.
     *
     * <p>Each pass over a row is its own method because C2 throws away and recompiles this code several times in a
     * process's first requests (its profiled loop predicates fail, "profile_predicate" deoptimizations), and on
     * two cores those compiles take the cores the requests need. As one method each of the 10–12 compiles took
     * 110–290 ms; split, only the pass that failed is recompiled: C2's time over a process's first six base F32
     * captions fell from 4.3–5.0 s to 3.3–3.8 s (bench/README, sixteenth session).
     */
    static void layerNormRows(MemorySegment out, MemorySegment x, MemorySegment weight, MemorySegment bias,
            long rows, long width, float eps, float[] lanes) {
        for (long row = 0; row < rows; row++) {
            long rowByteOffset = row * width * Float.BYTES;
            float mean = rowSum(x, rowByteOffset, width, lanes) / width;
            float squareSum = rowSquaredDeviations(x, rowByteOffset, width, mean, lanes);
            float inverse = 1f / (float) Math.sqrt(squareSum / width + eps);
            normalizeRow(out, x, weight, bias, rowByteOffset, width, mean, inverse);
        }
    }

    private static float rowSum(MemorySegment x, long rowByteOffset, long width, float[] lanes) {
        long vectorEnd = FLOATS.loopBound(width);
        FloatVector sums = FloatVector.zero(FLOATS);
        long i = 0;
        for (; i < vectorEnd; i += FLOATS.length()) {
            sums = sums.add(FloatVector.fromMemorySegment(FLOATS, x, rowByteOffset + i * Float.BYTES, LE));
        }
        sums.intoArray(lanes, 0);
        float sum = VectorMath.sumLanes(lanes);
        for (; i < width; i++) {
            sum += x.get(F32, rowByteOffset + i * Float.BYTES);
        }
        return sum;
    }

    private static float rowSquaredDeviations(MemorySegment x, long rowByteOffset, long width, float mean,
            float[] lanes) {
        long vectorEnd = FLOATS.loopBound(width);
        FloatVector shift = FloatVector.broadcast(FLOATS, mean);
        FloatVector squares = FloatVector.zero(FLOATS);
        long i = 0;
        for (; i < vectorEnd; i += FLOATS.length()) {
            FloatVector deviation = FloatVector.fromMemorySegment(FLOATS, x, rowByteOffset + i * Float.BYTES, LE)
                    .sub(shift);
            squares = deviation.fma(deviation, squares);
        }
        squares.intoArray(lanes, 0);
        float squareSum = VectorMath.sumLanes(lanes);
        for (; i < width; i++) {
            float deviation = x.get(F32, rowByteOffset + i * Float.BYTES) - mean;
            squareSum += deviation * deviation;
        }
        return squareSum;
    }

    private static void normalizeRow(MemorySegment out, MemorySegment x, MemorySegment weight, MemorySegment bias,
            long rowByteOffset, long width, float mean, float inverse) {
        long vectorEnd = FLOATS.loopBound(width);
        FloatVector shift = FloatVector.broadcast(FLOATS, mean);
        FloatVector scale = FloatVector.broadcast(FLOATS, inverse);
        long i = 0;
        for (; i < vectorEnd; i += FLOATS.length()) {
            FloatVector.fromMemorySegment(FLOATS, x, rowByteOffset + i * Float.BYTES, LE).sub(shift).mul(scale)
                    .fma(FloatVector.fromMemorySegment(FLOATS, weight, i * Float.BYTES, LE),
                            FloatVector.fromMemorySegment(FLOATS, bias, i * Float.BYTES, LE))
                    .intoMemorySegment(out, rowByteOffset + i * Float.BYTES, LE);
        }
        for (; i < width; i++) {
            float normed = (x.get(F32, rowByteOffset + i * Float.BYTES) - mean) * inverse;
            out.set(F32, rowByteOffset + i * Float.BYTES,
                    normed * weight.getAtIndex(F32, i) + bias.getAtIndex(F32, i));
        }
    }

    /**
     * Rounds {@code count} F32 elements of {@code src} to BF16 in {@code dst}, to nearest even as
     * {@link ScalarKernels#convert} does (a NaN stays a quiet NaN): a decoder step's linear inputs (a few thousand
     * elements), where a oneDNN reorder cost ~3.5 µs a call, most of it the call.
     */
    static void roundToBfloat16(MemorySegment dst, MemorySegment src, long count) {
        long vectorEnd = INTS.loopBound(count);
        long i = 0;
        for (; i < vectorEnd; i += INTS.length()) {
            IntVector bits = IntVector.fromMemorySegment(INTS, src, i * Float.BYTES, LE);
            IntVector high = bits.lanewise(VectorOperators.LSHR, 16);
            IntVector rounded = bits.add(high.and(1)).add(0x7FFF).lanewise(VectorOperators.LSHR, 16);
            VectorMask<Integer> nan = bits.and(0x7FFF_FFFF).compare(VectorOperators.GT, 0x7F80_0000);
            rounded.blend(high.or(0x40), nan).convertShape(VectorOperators.I2S, HALF_SHORTS, 0)
                    .intoMemorySegment(dst, i * Short.BYTES, LE);
        }
        for (; i < count; i++) {
            dst.setAtIndex(I16, i, ScalarKernels.toBfloat16(src.getAtIndex(F32, i)));
        }
    }

}
