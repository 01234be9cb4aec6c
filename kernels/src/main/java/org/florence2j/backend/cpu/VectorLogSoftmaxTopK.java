package org.florence2j.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link LogSoftmaxTopK} with the Vector API: each pass runs over whole vectors, and the scalar loops take the
 * tokens after the last one. The selection offers a lane to the scalar top-k list only when it beats the current
 * k-th best. Used where the JVM has the Vector API ({@link VectorApi}).
 */
final class VectorLogSoftmaxTopK extends LogSoftmaxTopK {
    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> DOUBLES = DoubleVector.SPECIES_PREFERRED;
    /** As many floats as {@link #DOUBLES} holds doubles: the slice widened for the exponential. */
    private static final VectorSpecies<Float> WIDENED =
            VectorSpecies.of(float.class, VectorShape.forBitSize(DOUBLES.vectorBitSize() / 2));
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private final float[] laneScores = new float[FLOATS.length()];

    @Override
    float max(MemorySegment x, long rowByte, int vocabulary) {
        FloatVector lanes = FloatVector.broadcast(FLOATS, Float.NEGATIVE_INFINITY);
        int v = 0;
        for (int end = FLOATS.loopBound(vocabulary); v < end; v += FLOATS.length()) {
            lanes = lanes.max(FloatVector.fromMemorySegment(FLOATS, x, rowByte + (long) v * Float.BYTES, LE));
        }
        return maxFrom(x, rowByte, v, vocabulary, lanes.reduceLanes(VectorOperators.MAX));
    }

    @Override
    void sumExp(MemorySegment x, long rowByte, int vocabulary, float max, boolean banning) {
        DoubleVector totalLanes = DoubleVector.zero(DOUBLES);
        DoubleVector keptLanes = totalLanes;
        long laneBits = (1L << WIDENED.length()) - 1;
        int v = 0;
        for (int end = WIDENED.loopBound(vocabulary); v < end; v += WIDENED.length()) {
            FloatVector shifted =
                    FloatVector.fromMemorySegment(WIDENED, x, rowByte + (long) v * Float.BYTES, LE).sub(max);
            DoubleVector exp = ((DoubleVector) shifted.convertShape(VectorOperators.F2D, DOUBLES, 0))
                    .lanewise(VectorOperators.EXP);
            totalLanes = totalLanes.add(exp);
            // The lanes' bits lie in one bitmap word: v is a multiple of the lane count, which divides 64.
            long bannedLanes = banning ? banned[v >>> 6] >>> v & laneBits : 0;
            keptLanes = keptLanes.add(bannedLanes == 0 ? exp : exp.blend(0, VectorMask.fromLong(DOUBLES, bannedLanes)));
        }
        sumExpFrom(x, rowByte, v, vocabulary, max, banning, totalLanes.reduceLanes(VectorOperators.ADD),
                keptLanes.reduceLanes(VectorOperators.ADD));
    }

    @Override
    int offerLeading(MemorySegment x, long rowByte, int vocabulary, float max, float logSum, float offset, int k,
            boolean heap) {
        float threshold = Float.NEGATIVE_INFINITY; // the worst held score: a score must beat it to enter
        int v = 0;
        for (int end = FLOATS.loopBound(vocabulary); v < end; v += FLOATS.length()) {
            FloatVector score = FloatVector.fromMemorySegment(FLOATS, x, rowByte + (long) v * Float.BYTES, LE)
                    .sub(max).sub(logSum).add(offset);
            VectorMask<Float> above = score.compare(VectorOperators.GT, threshold);
            if (above.anyTrue()) {
                score.intoArray(laneScores, 0);
                for (long lanes = above.toLong(); lanes != 0; lanes &= lanes - 1) {
                    int lane = Long.numberOfTrailingZeros(lanes);
                    threshold = offer(laneScores[lane], v + lane, k, heap);
                }
            }
        }
        return v;
    }
}
