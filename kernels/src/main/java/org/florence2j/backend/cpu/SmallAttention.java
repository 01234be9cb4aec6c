package org.florence2j.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * F32 attention of a small problem in Java on the calling thread, for {@link CpuBackend}'s attention ops
 * ({@link CpuBackend#SMALL_ATTENTION_BYTES}). A base decoder step's self-attention over 21 cached tokens (3 beams ×
 * 12 heads) is about a megaflop over 0.4 MB, for which oneDNN's three calls (scores, softmax, values) took 40–70 µs
 * per layer, as long as a 768×768 projection takes to stream its weights; here it takes 19–29 µs.
 *
 * <p>The math is the primitives': {@code scale · q·kᵀ}, the keys after a query's causal position left out,
 * {@code exp(s - max) / Σ exp(s - max)} and then {@code p·v}, all in F32; only the order of the sums differs. Both
 * key layouts of {@link CpuBackend.Attention} are read where they lie: token rows (a head's key is contiguous) and
 * transposed keys (a head dimension's keys are contiguous). Holds its row scratch between calls; not thread-safe
 * (the backend serialises its ops).
 */
final class SmallAttention {
    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    private float[] query = new float[0]; // [heads · headDim]: the query row being processed
    private float[] scores = new float[0]; // [heads, keyRows], then the probabilities
    private float[] output = new float[0]; // [heads · headDim]
    private final float[] lanes = new float[VectorMath.LANES]; // a vector's lanes, for VectorMath.sumLanes

    /**
     * Key and value bytes this class reads for {@code a}: every query row reads its group's visible keys and values
     * once, all heads together (a group's rows do not share the reads).
     */
    static long bytesRead(CpuBackend.Attention a) {
        return 2L * a.groups * a.queryRows * a.keyRows * a.heads * a.headDim * Float.BYTES;
    }

    /**
     * Runs {@code a} on F32 {@code q}, {@code k}, {@code v} and {@code out}, each from its byte offset (the
     * element offsets of {@code a}'s strides start there). A query row's heads are done together, so that the keys
     * and values of token rows are read row after row rather than one head's slice of every row at a time.
     */
    void run(CpuBackend.Attention a, MemorySegment q, long qByteOffset, MemorySegment k, long kByteOffset,
            MemorySegment v, long vByteOffset, MemorySegment out) {
        int heads = (int) a.heads;
        int headDim = (int) a.headDim;
        int keyRows = (int) a.keyRows;
        reserve(heads * headDim, heads * keyRows);
        long qFirst = qByteOffset / Float.BYTES;
        long kFirst = kByteOffset / Float.BYTES;
        long vFirst = vByteOffset / Float.BYTES;
        for (long group = 0; group < a.groups; group++) {
            long keys = kFirst + group * a.keyGroupStride;
            long values = vFirst + group * a.keyGroupStride;
            for (long row = 0; row < a.queryRows; row++) {
                int visible = (int) (a.mask.causal()
                        ? Math.min(keyRows, a.mask.pastTokens() + row % a.queryTokens + 1)
                        : keyRows);
                MemorySegment.copy(q, F32, (qFirst + group * a.queryGroupStride + row * a.queryRowStride)
                        * Float.BYTES, query, 0, heads * headDim);
                if (a.keyTokenStride == 1) {
                    scoresOfTransposedKeys(k, keys, a, visible);
                } else {
                    scoresOfKeyRows(k, keys, a, visible);
                }
                for (int head = 0; head < heads; head++) {
                    VectorMath.softmax(scores, head * keyRows, visible, a.scale, lanes);
                }
                weightedValues(v, values, a, visible);
                MemorySegment.copy(output, 0, out, F32, (group * a.outGroupStride + row * a.outRowStride)
                        * Float.BYTES, heads * headDim);
            }
        }
    }

    private void reserve(int channels, int scoreCount) {
        if (query.length < channels) {
            query = new float[channels];
            output = new float[channels];
        }
        if (scores.length < scoreCount) {
            scores = new float[scoreCount];
        }
    }

    /**
     * {@code scores[h·keyRows + t] = query_h · k_h[t]} over token rows (a head's key contiguous, heads side by
     * side in a row).
     */
    private void scoresOfKeyRows(MemorySegment k, long keys, CpuBackend.Attention a, int visible) {
        int headDim = (int) a.headDim;
        int vectorEnd = FLOATS.loopBound(headDim);
        for (int t = 0; t < visible; t++) {
            for (int head = 0; head < a.heads; head++) {
                long keyByteOffset = (keys + t * a.keyTokenStride + head * a.keyHeadStride) * Float.BYTES;
                int first = head * headDim;
                FloatVector sum = FloatVector.zero(FLOATS);
                int d = 0;
                for (; d < vectorEnd; d += FLOATS.length()) {
                    FloatVector key = FloatVector.fromMemorySegment(FLOATS, k, keyByteOffset + (long) d * Float.BYTES,
                            LE);
                    sum = key.fma(FloatVector.fromArray(FLOATS, query, first + d), sum);
                }
                sum.intoArray(lanes, 0);
                float dot = VectorMath.sumLanes(lanes);
                for (; d < headDim; d++) {
                    dot += query[first + d] * k.get(F32, keyByteOffset + (long) d * Float.BYTES);
                }
                scores[(int) (head * a.keyRows) + t] = dot;
            }
        }
    }

    /**
     * {@code scores[h·keyRows + t] = Σ_d query_h[d] · k[h·headDim + d][t]} over transposed keys (a head
     * dimension's keys contiguous).
     */
    private void scoresOfTransposedKeys(MemorySegment k, long keys, CpuBackend.Attention a, int visible) {
        int headDim = (int) a.headDim;
        int vectorEnd = FLOATS.loopBound(visible);
        for (int head = 0; head < a.heads; head++) {
            int first = (int) (head * a.keyRows);
            Arrays.fill(scores, first, first + visible, 0f);
            for (int d = 0; d < headDim; d++) {
                long rowByteOffset = (keys + head * a.keyHeadStride + d * a.keyDimStride) * Float.BYTES;
                float weight = query[head * headDim + d];
                FloatVector broadcast = FloatVector.broadcast(FLOATS, weight);
                int t = 0;
                for (; t < vectorEnd; t += FLOATS.length()) {
                    FloatVector key = FloatVector.fromMemorySegment(FLOATS, k, rowByteOffset + (long) t * Float.BYTES,
                            LE);
                    key.fma(broadcast, FloatVector.fromArray(FLOATS, scores, first + t)).intoArray(scores, first + t);
                }
                for (; t < visible; t++) {
                    scores[first + t] += weight * k.get(F32, rowByteOffset + (long) t * Float.BYTES);
                }
            }
        }
    }

    /**
     * {@code output_h = Σ_t scores[h·keyRows + t] · v_h[t]}, token after token (a head's value row contiguous in
     * both layouts).
     */
    private void weightedValues(MemorySegment v, long values, CpuBackend.Attention a, int visible) {
        int headDim = (int) a.headDim;
        Arrays.fill(output, 0, (int) (a.heads * headDim), 0f);
        int vectorEnd = FLOATS.loopBound(headDim);
        for (int t = 0; t < visible; t++) {
            for (int head = 0; head < a.heads; head++) {
                long valueByteOffset = (values + t * a.valueRowStride + head * a.valueHeadStride) * Float.BYTES;
                int first = head * headDim;
                float p = scores[(int) (head * a.keyRows) + t];
                FloatVector weight = FloatVector.broadcast(FLOATS, p);
                int d = 0;
                for (; d < vectorEnd; d += FLOATS.length()) {
                    FloatVector value = FloatVector.fromMemorySegment(FLOATS, v,
                            valueByteOffset + (long) d * Float.BYTES, LE);
                    value.fma(weight, FloatVector.fromArray(FLOATS, output, first + d))
                            .intoArray(output, first + d);
                }
                for (; d < headDim; d++) {
                    output[first + d] += p * v.get(F32, valueByteOffset + (long) d * Float.BYTES);
                }
            }
        }
    }
}
